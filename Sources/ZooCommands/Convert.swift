import ArgumentParser
import Foundation
import ZooConvert
import ZooCore
import ZooFormat
import ZooKeras
import ZooRegistry
import ZooVision

/// `zoo convert MODEL`: import a source model and write it as `.zoo`, through
/// the one conversion pipeline (`Conversion.convert`, shared with `zoo pull`).
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a source model (ONNX, Keras .h5/.keras/.weights.h5, word vectors) into the native .zoo format.",
        discussion: """
            The format is recognised by the file's content (the name does not matter; --format \
            overrides). A Keras Applications weights file needs no architecture: zoo recognises \
            it by its weights. The output is written atomically: nothing appears at the output \
            path unless conversion fully succeeded. External data files are read only from the \
            model's own directory.
            """)

    @Argument(help: "Source model file: ONNX, Keras (full model, weights only, .keras), or word vectors.")
    var model: String

    @OptionGroup var registryOptions: RegistryOptions

    @Option(help: ArgumentHelp("Architecture for weights-only Keras files: model.to_json() output, a Keras 3 config.json, or a catalog reference (keras-vgg16:notop).", valueName: "file|ref"))
    var arch: String?

    @Option(help: ArgumentHelp("Global pooling for a built-in Keras notop architecture: none, avg or max.", valueName: "mode"))
    var pooling: String?

    @Option(help: ArgumentHelp("The source format, instead of recognising it by content (\(Conversion.formats.joined(separator: ", "))).", valueName: "name"))
    var format: String?

    @Option(help: ArgumentHelp("For a GloVe .zip holding several files: the member to convert (e.g. glove.6B.300d.txt).", valueName: "name"))
    var member: String?

    @Option(help: ArgumentHelp("Record how images are prepared for this model: caffe, tf, torch (Keras modes), torchvision, or none.", valueName: "mode"))
    var preprocess: String?

    @Option(help: ArgumentHelp("With --preprocess: the network input size H,W to record.", valueName: "H,W"))
    var size: String?

    @Flag(help: "Store word vectors as float16 (half the size).")
    var f16 = false

    @Option(name: .shortAndLong, help: "Output path (default: MODEL's name with .zoo, in the current directory).")
    var output: String?

    @Option(help: "Model name recorded in the model card (default: the catalog's name for a recognised model, else the file name).")
    var name: String?

    @Flag(name: .shortAndLong, help: "Replace an existing output file.")
    var force = false

    @Flag(help: "Print machine-readable JSON on stdout.")
    var json = false

    @Flag(help: "Also add the converted model to the registry ($ZOO_HOME), under --name or the file name.")
    var register = false

    @Flag(help: "Print import and write times on stderr (for benchmarks).")
    var timing = false

    /// Set in the child process that does the actual work for sources whose library can crash (HDF5).
    @Flag(help: .hidden)
    var inProcess = false

    func validate() throws {
        if let p = pooling, !["none", "avg", "max"].contains(p) { throw ValidationError("--pooling must be none, avg or max") }
        if let p = preprocess, Preprocessing.Mode(rawValue: p) == nil {
            throw ValidationError("--preprocess must be one of \(Preprocessing.Mode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let s = size, ImageInputOptions.parseSize(s) == nil { throw ValidationError("--size must be H,W with positive integers, e.g. 224,224") }
        if size != nil && preprocess == nil { throw ValidationError("--size goes with --preprocess") }
    }

    struct Output: Encodable {
        var source: String
        var output: String
        var format: String
        var recognised: String?
        var digest: String
        var bytes: Int
        var nodes: Int
        var tensors: Int
        var seconds: Double
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
        if !inProcess, try Conversion.requiresIsolation(model, format: format) {
            try runIsolated()
            return
        }
        if inProcess { try becomeWorker(sourceBytes: fileBytes(model)) }
        if let arch, arch.hasSuffix(".json"), !FileManager.default.isReadableFile(atPath: arch) {
            throw CLIError(message: "\(arch): cannot read the architecture file", code: .inputError)
        }
        let catalog = (try? registryOptions.openCatalog()) ?? nil
        let out = output ?? ModelFileName.stem(model) + ".zoo"
        var options = ConversionOptions(
            name: name, format: format, architecture: arch, pooling: pooling, member: member, half: f16,
            catalogLookup: { c in catalog?.entry(c)?.cardDefaults }, overwrite: force)
        if let p = preprocess.flatMap(Preprocessing.Mode.init(rawValue:)) {
            options.preprocessing = try Preprocessing.card(mode: p, size: size.flatMap(ImageInputOptions.parseSize))
        }
        let result = try Conversion.convert(model, to: URL(fileURLWithPath: out), options: options)
        if timing {
            FileHandle.standardError.write(Data(String(format: "import %.3f s, write %.3f s\n", result.importSeconds, result.seconds - result.importSeconds).utf8))
        }
        let meta = result.card.metadata ?? [:]
        let recognised: String? = meta["keras.application"].map { app in
            if let model = meta["catalog.model"] { return "\(model):\(meta["catalog.variant"] ?? "") (keras.applications \(app))" }
            return "keras.applications \(app)"
        }
        if register {
            let m = try Registry().register(model: out, source: model, name: name ?? result.card.name)
            if !json { print("registered \(m.name) → \(m.digest)") }
        }
        if json {
            try printJSON(Output(source: model, output: out, format: result.format, recognised: recognised, digest: result.digest,
                                 bytes: result.byteCount, nodes: result.nodes, tensors: result.tensors, seconds: result.seconds))
        } else {
            if let r = recognised { print("recognised \(r)") }
            print("converted \(model) → \(out)  \(result.digest)  \(result.nodes) nodes, \(result.tensors) tensors, \(formatBytes(result.byteCount)) in \(String(format: "%.2f", result.seconds)) s")
        }
    }

    /// libhdf5 is not robust against malformed or hostile files: some crash
    /// the library itself. Such sources are therefore converted in a child
    /// process; if it dies, the user gets a typed error (exit 65) and any
    /// temporary output it left is removed. The child writes atomically, so
    /// the output path only ever holds a complete model.
    func runIsolated() throws {
        try runInChildProcess(describing: model, captureErrors: true) { pid in
            let out = URL(fileURLWithPath: output ?? ModelFileName.stem(model) + ".zoo")
            let dir = out.deletingLastPathComponent()
            let prefix = ".\(out.lastPathComponent).tmp-\(pid)-"
            for f in (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [] where f.hasPrefix(prefix) {
                try? FileManager.default.removeItem(at: dir.appendingPathComponent(f))
            }
        }
    }
}
