import ArgumentParser
import Foundation
import ZooCore
import ZooFormat

/// `zoo inspect FILE`: what a model is, without reading its weights.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a .zoo model's card, inputs/outputs, graph summary and tensor table.",
        discussion: "Opens the file without hashing tensor data; use 'zoo verify' to check integrity.")

    @Argument(help: "A .zoo file or a registered model name.")
    var file: String

    @Flag(help: "Print machine-readable JSON on stdout.")
    var json = false

    @Flag(help: "Print the wall time to open the file and list its tensors on stderr (for benchmarks).")
    var timing = false

    struct Output: Encodable {
        var path: String
        var digest: String
        var formatVersion: String
        var fileSize: Int
        var dataLength: Int
        var card: ModelCard
        var graph: Graph
        var tensors: [TensorEntry]
    }

    func run() throws {
        try runReportingErrors {
            let start = DispatchTime.now()
            let f = try ZooFile(path: try resolveModelPath(file))
            let listed = f.entries.map { "\($0.name) \($0.dtype.rawValue) \($0.shape)" }
            if timing {
                let ms = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6
                FileHandle.standardError.write(Data(String(format: "opened and listed %d tensors in %.3f ms\n", listed.count, ms).utf8))
            }
            if json {
                try printJSON(Output(path: file, digest: f.digest, formatVersion: "\(f.majorVersion).\(f.minorVersion)",
                                     fileSize: f.fileSize, dataLength: f.dataLength, card: f.card, graph: f.graph, tensors: f.entries))
            } else {
                print(Self.describe(f))
            }
        }
    }

    static func describe(_ f: ZooFile) -> String {
        let c = f.card
        var about: [[String]] = [
            ["model", c.name],
            ["digest", f.digest],
            ["file", "\(f.path) (.zoo \(f.majorVersion).\(f.minorVersion), \(formatBytes(f.fileSize)))"],
        ]
        if let v = c.family { about.append(["family", v]) }
        if let v = c.task { about.append(["task", v]) }
        if let s = c.source {
            var parts = [s.format]
            if let v = s.file { parts.append(v) }
            if let v = s.url { parts.append(v) }
            if let v = s.byteSize { parts.append(formatBytes(v)) }
            if let v = s.sha256 { parts.append("sha256:" + v) }
            about.append(["source", parts.joined(separator: "  ")])
        }
        if let fw = c.framework {
            var parts = [fw.name]
            if let v = fw.version { parts.append(v) }
            if let v = fw.opset { parts.append("opset \(v)") }
            if let v = fw.producer { parts.append("producer \(v)") }
            if let v = fw.backend { parts.append("backend \(v)") }
            about.append(["framework", parts.joined(separator: " ")])
        }
        about.append(["converter", "\(c.converter.name) \(c.converter.version)"])
        if let v = c.license { about.append(["license", v]) }
        if let v = c.labels {
            let shown = v.prefix(5).joined(separator: ", ") + (v.count > 5 ? ", …" : "")
            about.append(["labels", "\(v.count) classes (\(shown))" + (c.metadata?["labels"].map { " [\($0)]" } ?? "")])
        }
        if let p = c.preprocessing {
            var parts: [String] = []
            if let v = p.mode { parts.append("mode \(v)") }
            if let v = p.inputSize { parts.append("size " + v.map(String.init).joined(separator: "×")) }
            if let v = p.channelOrder { parts.append(v) }
            if let v = p.mean { parts.append("mean \(v)") }
            if let v = p.std { parts.append("std \(v)") }
            if let v = p.scale { parts.append("scale \(v)") }
            if let v = p.resizeShorterSide { parts.append("shorter side \(v), centre crop") } else if let v = p.resize { parts.append("resize \(v)") }
            if let v = p.interpolation { parts.append(v) }
            about.append(["preprocess", parts.joined(separator: ", ")])
        }
        if let l = c.lineage {
            about.append(["base", "\(l.base) \(l.baseDigest)"])
            about.append(["head", "\(l.head) on '\(l.featureLayer)' (pool \(l.pooling))"])
            let t = l.training
            var parts = ["\(t.trainExamples) examples", "\(t.epochs) epochs \(t.optimizer)", "l2 \(t.l2)", String(format: "train accuracy %.4f", t.trainAccuracy)]
            if let v = t.validationAccuracy { parts.append(String(format: "validation accuracy %.4f (%d examples)", v, t.validationExamples)) }
            about.append(["training", parts.joined(separator: ", ")])
        }
        var out = renderTable(about, indent: "")

        func io(_ title: String, _ specs: [ModelCard.IOSpec], _ values: [ValueInfo]) {
            let rows: [[String]] = specs.isEmpty
                ? values.map { [$0.name, $0.dtype.rawValue, ShapeMath.describe($0.shape)] }
                : specs.map { [$0.name, $0.dtype.rawValue, ShapeMath.describe($0.shape), $0.layout ?? ""] }
            out += "\n\n\(title)\n" + (rows.isEmpty ? "  (none)" : renderTable(rows))
        }
        io("inputs", c.inputs, f.graph.inputs)
        io("outputs", c.outputs, f.graph.outputs)

        var counts: [String: Int] = [:]
        for n in f.graph.nodes { counts[n.op, default: 0] += 1 }
        let ops = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
        out += "\n\ngraph\n  \(f.graph.nodes.count) nodes" + (ops.isEmpty ? "" : ": " + ops)

        var rows: [[String]] = [["name", "dtype", "shape", "bytes", "offset"]]
        for e in f.entries {
            rows.append([e.name, e.dtype.rawValue, ShapeMath.describe(e.shape), String(e.length), String(f.dataOffset + e.offset)])
        }
        let params = f.entries.reduce(0) { $0 + ($1.dtype.isFloatingPoint ? $1.length / $1.dtype.itemSize : 0) }
        // The tensors' own bytes (what verify hashes), and the data section with its alignment padding.
        let tensorBytes = f.entries.reduce(0) { $0 + $1.length }
        out += "\n\ntensors (\(f.entries.count), \(formatBytes(tensorBytes)) in a \(formatBytes(f.dataLength)) data section, \(params) parameters)\n" + renderTable(rows)
        return out
    }
}
