import ArgumentParser
import Foundation
import ZooCore
import ZooEmbeddings
import ZooFormat
import ZooKeras
import ZooONNX
import ZooRegistry

/// `zoo convert MODEL`: import a source model and write it as `.zoo`.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a source model (.onnx, Keras .h5/.keras/.weights.h5) into the native .zoo format.",
        discussion: """
            The output is written atomically: nothing appears at the output path unless \
            conversion fully succeeded. External data files are read only from the model's \
            own directory.
            """)

    @Argument(help: "Source model file: .onnx, Keras .h5/.hdf5 (full model or weights), .keras, or .weights.h5.")
    var model: String

    @Option(help: ArgumentHelp("Architecture for weights-only Keras files: model.to_json() output or a Keras 3 config.json.", valueName: "file"))
    var arch: String?

    @Option(help: ArgumentHelp("For a GloVe .zip holding several files: the member to convert (e.g. glove.6B.300d.txt).", valueName: "name"))
    var member: String?

    @Flag(help: "Store word vectors as float16 (half the size).")
    var f16 = false

    @Option(name: .shortAndLong, help: "Output path (default: MODEL's name with .zoo, in the current directory).")
    var output: String?

    @Option(help: "Model name recorded in the model card (default: the file name).")
    var name: String?

    @Flag(help: "Print machine-readable JSON on stdout.")
    var json = false

    @Flag(help: "Also add the converted model to the registry ($ZOO_HOME), under --name or the file name.")
    var register = false

    @Flag(help: "Print import and write times on stderr (for benchmarks).")
    var timing = false

    /// Set in the child process that does the actual work for HDF5 sources.
    @Flag(help: .hidden)
    var inProcess = false

    struct Output: Encodable {
        var source: String
        var output: String
        var digest: String
        var bytes: Int
        var nodes: Int
        var tensors: Int
        var seconds: Double
    }

    /// The file formats `convert` recognises, by extension.
    enum SourceFormat {
        case onnx, keras, embedding

        init(path: String) throws {
            let lower = path.lowercased()
            if lower.hasSuffix(".onnx") { self = .onnx; return }
            if [".h5", ".hdf5", ".keras"].contains(where: lower.hasSuffix) { self = .keras; return }
            if EmbeddingFormat.guess(path) != nil { self = .embedding; return }
            throw CLIError(message: "\(path): unknown model format; zoo convert reads .onnx, .h5, .hdf5, .keras, .weights.h5 and word vectors (.bin, .bin.gz, .vec, .vec.gz, .txt, .txt.gz, .zip)", code: .inputError)
        }
    }

    /// The full error as JSON on stdout (with --json): every weight problem, not only the first few.
    struct ErrorOutput: Encodable {
        var error: String
        var problems: [String]?
    }

    func run() throws {
        try runReportingErrors {
            do { try convert() } catch let e as KerasError where json && inProcess {
                try printJSON(ErrorOutput(error: e.localizedDescription, problems: e.problems))
                throw e
            }
        }
    }

    func convert() throws {
        do {
            let format = try SourceFormat(path: model)
            if format == .keras && !inProcess {
                try runIsolated()
                return
            }
            if inProcess { try becomeWorker() }
            let start = DispatchTime.now()
            if format == .keras, let arch, !FileManager.default.isReadableFile(atPath: arch) {
                throw CLIError(message: "\(arch): cannot read the architecture file", code: .inputError)
            }
            // Mapped once: the source hash and the importer read the same pages.
            // The hash runs beside import and the data pass; the writer collects
            // it just before it writes the header.
            let mapped: MappedFile
            do { mapped = try MappedFile(path: model) } catch let e as ZooCoreError {
                throw CLIError(message: e.localizedDescription, code: .inputError)
            }
            let sourceDigest = SourceDigest(file: mapped)
            let imported: (card: ModelCard, graph: Graph, items: [ZooWriter.Item])
            switch format {
            case .onnx:
                let m = try ONNXImporter.load(path: model, mapped: mapped, options: .init(name: name, hashSource: false))
                imported = (m.card, m.graph, m.tensors.map { ZooWriter.Item(name: $0.name, tensor: $0.tensor) })
            case .keras:
                let m = try KerasImporter.load(path: model, mapped: mapped, options: .init(architecture: arch, name: name, hashSource: false))
                imported = (m.card, m.graph, m.tensors.map { ZooWriter.Item(name: $0.name, tensor: $0.tensor) })
            case .embedding:
                let p = try EmbeddingImporter.prepare(path: model, mapped: mapped, member: member, name: name, half: f16)
                imported = (p.card, Graph(), p.items)
            }
            let importedAt = DispatchTime.now()
            let out = output ?? ModelFileName.stem(model) + ".zoo"
            let result = try ZooWriter.write(card: imported.card, graph: imported.graph, items: imported.items,
                                             to: URL(fileURLWithPath: out), completeCard: { card in card.source?.sha256 = try sourceDigest.value() })
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
            if timing {
                let importSeconds = Double(importedAt.uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
                FileHandle.standardError.write(Data(String(format: "import %.3f s, write %.3f s\n", importSeconds, seconds - importSeconds).utf8))
            }
            if register {
                let m = try Registry().register(model: out, source: model, name: name ?? ModelFileName.stem(model))
                if !json { print("registered \(m.name) → \(m.digest)") }
            }
            if json {
                try printJSON(Output(source: model, output: out, digest: result.digest, bytes: result.byteCount,
                                     nodes: imported.graph.nodes.count, tensors: imported.items.count, seconds: seconds))
            } else {
                print("converted \(model) → \(out)  \(result.digest)  \(imported.graph.nodes.count) nodes, \(imported.items.count) tensors, \(formatBytes(result.byteCount)) in \(String(format: "%.2f", seconds)) s")
            }
        }
    }

    /// libhdf5 is not robust against malformed or hostile files: some crash
    /// the library itself. HDF5 sources are therefore converted in a child
    /// process; if it dies, the user gets a typed error (exit 65) and any
    /// temporary output it left is removed. The child writes atomically, so
    /// the output path only ever holds a complete model.
    func runIsolated() throws {
        try runInChildProcess(describing: model) { pid in
            let out = URL(fileURLWithPath: output ?? ModelFileName.stem(model) + ".zoo")
            let dir = out.deletingLastPathComponent()
            let prefix = ".\(out.lastPathComponent).tmp-\(pid)-"
            for f in (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [] where f.hasPrefix(prefix) {
                try? FileManager.default.removeItem(at: dir.appendingPathComponent(f))
            }
        }
    }
}
