import ArgumentParser
import Foundation
import ZooCore
import ZooFormat
import ZooONNX

/// `zoo convert MODEL`: import a source model and write it as `.zoo`.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a source model (.onnx) into the native .zoo format.",
        discussion: """
            The output is written atomically: nothing appears at the output path unless \
            conversion fully succeeded. External data files are read only from the model's \
            own directory.
            """)

    @Argument(help: "Source model file (.onnx).")
    var model: String

    @Option(name: .shortAndLong, help: "Output path (default: MODEL's name with .zoo, in the current directory).")
    var output: String?

    @Option(help: "Model name recorded in the model card (default: the file name).")
    var name: String?

    @Flag(help: "Print machine-readable JSON on stdout.")
    var json = false

    @Flag(help: "Print import and write times on stderr (for benchmarks).")
    var timing = false

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
        case onnx

        init(path: String) throws {
            let lower = path.lowercased()
            if lower.hasSuffix(".onnx") { self = .onnx; return }
            if [".h5", ".hdf5", ".keras"].contains(where: lower.hasSuffix) {
                throw CLIError(message: "\(path): Keras files are not supported yet; convert the model to ONNX (e.g. with tf2onnx) or wait for the Keras importer", code: .inputError)
            }
            throw CLIError(message: "\(path): unknown model format; zoo convert reads .onnx files", code: .inputError)
        }
    }

    func run() throws {
        try runReportingErrors {
            let format = try SourceFormat(path: model)
            let start = DispatchTime.now()
            // The source hash runs beside import and the data pass; the writer
            // collects it just before it writes the header.
            let mapped: MappedFile
            do { mapped = try MappedFile(path: model) } catch let e as ZooCoreError {
                throw CLIError(message: e.localizedDescription, code: .inputError)
            }
            let sourceDigest = SourceDigest(file: mapped)
            let imported: Model
            switch format {
            case .onnx: imported = try ONNXImporter.load(path: model, mapped: mapped, options: .init(name: name, hashSource: false))
            }
            let importedAt = DispatchTime.now()
            let stem = ((model as NSString).lastPathComponent as NSString).deletingPathExtension
            let out = output ?? stem + ".zoo"
            let result = try ZooWriter.write(imported, to: URL(fileURLWithPath: out)) { card in
                card.source?.sha256 = try sourceDigest.value()
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
            if timing {
                let importSeconds = Double(importedAt.uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
                FileHandle.standardError.write(Data(String(format: "import %.3f s, write %.3f s\n", importSeconds, seconds - importSeconds).utf8))
            }
            if json {
                try printJSON(Output(source: model, output: out, digest: result.digest, bytes: result.byteCount,
                                     nodes: imported.graph.nodes.count, tensors: imported.tensors.count, seconds: seconds))
            } else {
                print("converted \(model) → \(out)  \(result.digest)  \(imported.graph.nodes.count) nodes, \(imported.tensors.count) tensors, \(formatBytes(result.byteCount)) in \(String(format: "%.2f", seconds)) s")
            }
        }
    }
}
