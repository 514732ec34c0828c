import ArgumentParser
import Foundation
import ZooCore
import ZooFormat
import ZooRuntime

/// `zoo run MODEL --input x.npy`: inference on the CPU runtime.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a .zoo model on NumPy inputs.",
        discussion: "Inputs and outputs are .npy/.npz files, so tensors move to and from Python unchanged.")

    @OptionGroup var options: ModelRunOptions

    @Option(name: .customShort("o"), help: ArgumentHelp("Write the outputs to FILE.npy (one output) or FILE.npz.", valueName: "file"))
    var outFile: String?

    @Option(help: "Print the K highest-scoring classes of each row, with labels when the model card has them.")
    var top: Int?

    @Option(help: "Run the model this many times (after one warm-up run) and report latency with --timing.")
    var `repeat`: Int = 1

    @Flag(help: "Print latency on stderr.")
    var timing = false

    @Flag(help: "Print time per op kind on stderr (for the last run).")
    var profile = false

    @Flag(help: "Print machine-readable JSON on stdout.")
    var json = false

    func validate() throws {
        if let top, top < 1 { throw ValidationError("--top must be at least 1") }
        guard `repeat` >= 1 else { throw ValidationError("--repeat must be at least 1") }
    }

    struct Ranked: Encodable {
        var index: Int
        var label: String?
        var score: Float
    }

    struct OutputSummary: Encodable {
        var name: String
        var dtype: String
        var shape: [Int]
        var min: Double?
        var max: Double?
        var mean: Double?
        var top: [[Ranked]]?
    }

    func run() throws {
        try runReportingErrors {
            let session = try options.session()
            session.profiling = profile
            let inputs = try options.inputs(for: session)
            var outputs = try options.run(session, inputs)
            if timing {
                // The first run planned shapes for this input signature; later runs reuse the plan.
                FileHandle.standardError.write(Data(String(format: "plan: %.3f ms for input shape %@ (%d plan%@)\n",
                                                           session.planStatistics.lastSeconds * 1e3,
                                                           inputs.sorted { $0.key < $1.key }.map { ShapeMath.describe($0.value.shape) }.joined(separator: ", "),
                                                           session.planStatistics.count, session.planStatistics.count == 1 ? "" : "s").utf8))
            }
            var latencies: [Double] = []
            if `repeat` > 1 || timing {
                for _ in 0..<`repeat` {
                    let t0 = DispatchTime.now()
                    outputs = try options.run(session, inputs)
                    latencies.append(Double(DispatchTime.now().uptimeNanoseconds - t0.uptimeNanoseconds) / 1e6)
                }
            }
            if timing, !latencies.isEmpty {
                let sorted = latencies.sorted()
                let median = sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
                FileHandle.standardError.write(Data(String(format: "latency: median %.3f ms, min %.3f ms, mean %.3f ms over %d runs\n",
                                                           median, sorted[0], latencies.reduce(0, +) / Double(latencies.count), latencies.count).utf8))
            }
            if profile {
                let total = session.profile.values.reduce(0) { $0 + $1.ms }
                var rows = [["op", "nodes", "ms", "share"]]
                for (op, v) in session.profile.sorted(by: { $0.value.ms > $1.value.ms }) {
                    rows.append([op, String(v.count), String(format: "%.3f", v.ms), String(format: "%.1f%%", 100 * v.ms / max(total, 1e-9))])
                }
                FileHandle.standardError.write(Data((renderTable(rows, indent: "") + "\n").utf8))
                FileHandle.standardError.write(Data("activation and scratch buffers: \(formatBytes(session.activationBytes))\n".utf8))
            }
            let ordered = session.outputNames.map { ($0, outputs[$0]!) }
            if let outFile { try TensorFiles.write(ordered, to: outFile) }
            let summaries = ordered.map { summarize($0.0, $0.1, labels: session.card.labels) }
            if json {
                try printJSON(summaries)
            } else if outFile == nil || top != nil {
                for s in summaries { print(render(s)) }
            }
        }
    }

    func summarize(_ name: String, _ t: Tensor, labels: [String]?) -> OutputSummary {
        let values = Parity.doubles(t)
        var s = OutputSummary(name: name, dtype: t.dtype.rawValue, shape: t.shape)
        if !values.isEmpty {
            s.min = values.min()
            s.max = values.max()
            s.mean = values.reduce(0, +) / Double(values.count)
        }
        if let k = top, let classes = t.shape.last, classes > 0 {
            let rows = values.count / classes
            s.top = (0..<rows).map { r in
                let row = Array(values[(r * classes)..<((r + 1) * classes)])
                return Parity.topK(row, k).map { i in
                    Ranked(index: i, label: labels.flatMap { i < $0.count ? $0[i] : nil }, score: Float(row[i]))
                }
            }
        }
        return s
    }

    func render(_ s: OutputSummary) -> String {
        var out = "\(s.name)  \(s.dtype)  \(ShapeMath.describe(s.shape))"
        if let mn = s.min, let mx = s.max, let mean = s.mean {
            out += String(format: "  min %.6g  max %.6g  mean %.6g", mn, mx, mean)
        }
        for (r, row) in (s.top ?? []).enumerated() {
            out += "\n  row \(r):"
            out += "\n" + renderTable(row.enumerated().map { rank, c in
                ["#\(rank + 1)", String(c.index), c.label ?? "", String(format: "%.6g", c.score)]
            }, indent: "    ")
        }
        return out
    }
}
