import ArgumentParser
import Foundation
import Glibc
import ZooCore
import ZooFormat
import ZooRegistry
import ZooTransfer
import ZooVision

/// How images become model inputs when the model card does not say, and how to batch them.
struct ImageInputOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Preprocessing for a model whose card has none: caffe, tf, torch (Keras modes), torchvision, or none.", valueName: "mode"))
    var preprocess: String?

    @Option(help: ArgumentHelp("Network input size H,W (for a model that takes any size).", valueName: "H,W"))
    var size: String?

    @Option(help: "Images per batch.")
    var batch: Int = 32

    @Flag(help: "Skip files that cannot be read or decoded (reported and counted) instead of stopping.")
    var skipBad = false

    @Option(name: .customLong("threads"), help: "Threads (default: all cores).")
    var threadsOption: Int?
    var threads: Int { threadsOption ?? ProcessInfo.processInfo.activeProcessorCount }

    func validate() throws {
        if let p = preprocess, Preprocessing.Mode(rawValue: p) == nil {
            throw ValidationError("--preprocess must be one of \(Preprocessing.Mode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let s = size, Self.parseSize(s) == nil { throw ValidationError("--size must be H,W with positive integers, e.g. 224,224") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
    }

    var mode: Preprocessing.Mode? { preprocess.flatMap(Preprocessing.Mode.init(rawValue:)) }
    var hw: (Int, Int)? { size.flatMap(Self.parseSize) }

    static func parseSize(_ s: String) -> (Int, Int)? {
        let parts = s.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let h = parts[0], let w = parts[1], h > 0, w > 0, h <= 16384, w <= 16384 else { return nil }
        return (h, w)
    }
}

/// A one-line progress bar on a terminal (stderr); silent otherwise.
final class ProgressLine: @unchecked Sendable {
    let enabled = isatty(2) != 0
    private var shown = false

    func update(_ label: String, done: Int, total: Int, rate: String, eta: Double?) {
        guard enabled else { return }
        let width = 28
        let filled = total > 0 ? width * done / total : width
        let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
        let etaText = eta.map { String(format: "ETA %d:%02d", Int($0) / 60, Int($0) % 60) } ?? ""
        FileHandle.standardError.write(Data("\r\(label) [\(bar)] \(done)/\(total) \(rate) \(etaText)\u{1B}[K".utf8))
        shown = true
    }

    func finish() {
        if shown { FileHandle.standardError.write(Data("\n".utf8)) }
        shown = false
    }

    func images(_ label: String, _ p: FeatureExtractor.Progress) {
        update(label, done: p.done, total: p.total, rate: String(format: "%.1f img/s", p.imagesPerSecond), eta: p.remainingSeconds)
    }
}

func reportSkipped(_ skipped: [(path: String, reason: String)]) {
    guard !skipped.isEmpty else { return }
    for s in skipped.prefix(20) { printError("skipped \(s.reason)") }
    if skipped.count > 20 { printError("… and \(skipped.count - 20) more") }
    printError("skipped \(skipped.count) file\(skipped.count == 1 ? "" : "s") that could not be used")
}

/// `zoo classify MODEL IMAGE|DIR…`: top-K labels per image (or per document for a text model).
struct Classify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Label images (or text files, for a model zoo fit trained on word vectors) with a classifier.",
        discussion: """
            Images are decoded and prepared as the model's card says (Keras or torchvision \
            preprocessing). ImageNet models answer like Keras's decode_predictions: WordNet id, \
            class name, score; models made by zoo fit answer with their own classes.
            """)

    @Argument(help: "A .zoo file or a registered model name.")
    var model: String

    @Argument(help: "Image files or directories (or .txt files for a text model).")
    var inputs: [String]

    @Option(help: "How many labels per input.")
    var top: Int = 5

    @OptionGroup var image: ImageInputOptions

    @Flag(help: "Print machine-readable JSON on stdout.")
    var json = false

    func validate() throws { guard top >= 1 else { throw ValidationError("--top must be at least 1") } }

    struct Output: Encodable {
        var model: String
        var predictions: [Classifier.Prediction]
        var skipped: [[String]]
    }

    func run() throws {
        try runReportingErrors {
            let classifier = try Classifier(file: try ZooFile(path: try resolveModelPath(model)), preprocess: image.mode, size: image.hw, threads: image.threads)
            let files = try Dataset.inputs(inputs, extensions: classifier.extensions).files
            let bar = ProgressLine()
            let (predictions, skipped) = try classifier.classify(files, top: top, batchSize: image.batch, skipBad: image.skipBad) { bar.images("classify", $0) }
            bar.finish()
            if json {
                try printJSON(Output(model: classifier.card.name, predictions: predictions, skipped: skipped.map { [$0.path, $0.reason] }))
            } else {
                for p in predictions {
                    print(p.path)
                    for (i, l) in p.top.enumerated() {
                        let name = [l.wnid, l.label ?? "class \(l.index)"].compactMap { $0 }.joined(separator: " ")
                        print(String(format: "  %d. %@  %.4f", i + 1, name, l.score))
                    }
                }
            }
            reportSkipped(skipped)
        }
    }
}

/// `zoo features MODEL IMAGE|DIR… -o FILE.npz`: feature vectors for transfer learning.
struct Features: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Extract features of images with a backbone and write them as .npz.",
        discussion: """
            The .npz holds `features` (N×D float32, or the N×H×W×C / N×C×H×W map with --pool none), \
            `paths`, and for a directory of class folders `labels` (int64) and `classes`. The \
            feature layer is any value or Keras layer of the model (default: its output; for a \
            notop backbone, its last feature map, average-pooled).
            """)

    @Argument(help: "A .zoo file or a registered model name.")
    var model: String

    @Argument(help: "Image files or directories (a directory of class folders keeps its labels).")
    var inputs: [String]

    @Option(help: "Value or Keras layer name to take features from (default: the model's output).")
    var layer: String?

    @Option(help: "Pooling over height and width for a feature map: avg (default), max, none.")
    var pool: String?

    @OptionGroup var image: ImageInputOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Output .npz file.", valueName: "file.npz"))
    var output: String

    @Flag(help: "Print a JSON summary on stdout.")
    var json = false

    func validate() throws {
        if let p = pool, FeatureExtractor.Pooling(rawValue: p) == nil { throw ValidationError("--pool must be avg, max or none") }
        guard output.lowercased().hasSuffix(".npz") else { throw ValidationError("-o must name an .npz file") }
    }

    struct Output: Encodable {
        var output: String
        var count: Int
        var shape: [Int]
        var layer: String
        var pooling: String
        var skipped: Int
        var seconds: Double
        var imagesPerSecond: Double
    }

    func run() throws {
        try runReportingErrors {
            let file = try ZooFile(path: try resolveModelPath(model))
            let m = try file.model(verify: true)
            let prep = try Preprocessing.from(card: m.card, mode: image.mode, size: image.hw)
            let extractor = try FeatureExtractor(model: m, layer: layer, pool: pool.flatMap(FeatureExtractor.Pooling.init(rawValue:)),
                                                 preprocessing: prep, threads: image.threads)
            let data = try Dataset.inputs(inputs, extensions: ImageFormat.extensions)
            let bar = ProgressLine()
            let t0 = Date()
            let f = try extractor.extract(data.files, batchSize: image.batch, skipBad: image.skipBad) { bar.images("features", $0) }
            bar.finish()
            let seconds = Date().timeIntervalSince(t0)
            var members: [(String, [UInt8])] = [
                ("features", NPY.encode(try Tensor(floats: f.values, shape: [f.paths.count] + f.shape))),
                ("paths", NPY.encode(strings: f.paths)),
            ]
            if let labels = data.labels, let classes = data.classes {
                let kept = f.kept.map { Int64(labels[$0]) }
                members.append(("labels", NPY.encode(try Tensor(dtype: .i64, shape: [kept.count], bytes: kept.withUnsafeBytes { Array($0) }))))
                members.append(("classes", NPY.encode(strings: classes)))
            }
            try TensorFiles.writeNPZ(members, to: output)
            reportSkipped(f.skipped)
            let summary = Output(output: output, count: f.paths.count, shape: [f.paths.count] + f.shape, layer: extractor.layer,
                                 pooling: extractor.pooling.rawValue, skipped: f.skipped.count, seconds: seconds,
                                 imagesPerSecond: seconds > 0 ? Double(f.paths.count) / seconds : 0)
            if json { try printJSON(summary) } else {
                print("wrote \(output): features \(ShapeMath.describe(summary.shape)) from '\(extractor.layer)' (pool \(extractor.pooling.rawValue)), \(String(format: "%.1f", summary.imagesPerSecond)) images/s")
            }
        }
    }
}

/// `zoo fit MODEL TRAIN_DIR --name NEW`: train a classifier head on frozen features and register backbone + head.
struct Fit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a new classifier on a folder of labelled images (or text files) and register it.",
        discussion: """
            TRAIN_DIR holds one subfolder per class (sorted names are the labels, as in Keras's \
            image_dataset_from_directory). Features are extracted once with the frozen backbone \
            (and cached), a softmax head is trained on them, and backbone + head are written as \
            one new model, registered under --name. For a word-embedding model, the features of a \
            .txt document are the mean of its word vectors (tokenised like gensim's simple_preprocess).
            """)

    @Argument(help: "The base: an image backbone or a word-embedding model (.zoo file or registered name).")
    var model: String

    @Argument(help: "Directory with one subfolder per class.")
    var trainDirectory: String

    @Option(help: ArgumentHelp("Validation directory with the same class subfolders.", valueName: "dir"))
    var val: String?

    @Option(help: ArgumentHelp("Hold out this fraction of TRAIN_DIR for validation instead.", valueName: "fraction"))
    var valSplit: Double?

    @Option(help: "Seed of the validation split and of Adam's batch order.")
    var seed: UInt64 = 0

    @Option(help: "Value or Keras layer of the backbone to train on (default: its output).")
    var layer: String?

    @Option(help: "Pooling over height and width: avg (default) or max.")
    var pool: String = "avg"

    @Option(help: "Optimiser: lbfgs (full batch, default) or adam (mini-batch).")
    var optimizer: String = "lbfgs"

    @Option(help: "Epochs (L-BFGS iterations, or passes of Adam).")
    var epochs: Int = 100

    @Option(help: "Adam's learning rate.")
    var lr: Double = 0.01

    @Option(help: "L2 penalty on the weights: loss = mean cross-entropy + l2/2·‖W‖² (scikit-learn's C = 1/(l2·N)).")
    var l2: Double = 1e-3

    @Option(help: "Name to register the new model under.")
    var name: String

    @Flag(help: "Replace a registered model of the same name.")
    var force = false

    @OptionGroup var image: ImageInputOptions

    @Flag(help: "Print the per-epoch history and the final accuracies as JSON on stdout.")
    var json = false

    func validate() throws {
        if val != nil && valSplit != nil { throw ValidationError("give --val or --val-split, not both") }
        if let f = valSplit, !(f > 0 && f < 1) { throw ValidationError("--val-split must be between 0 and 1") }
        guard ["avg", "max"].contains(pool) else { throw ValidationError("--pool must be avg or max (a head needs vectors)") }
        guard HeadTrainer.Optimizer(rawValue: optimizer) != nil else { throw ValidationError("--optimizer must be lbfgs or adam") }
        guard epochs >= 1 && epochs <= 1_000_000 else { throw ValidationError("--epochs must be between 1 and 1000000") }
        guard lr > 0 && lr.isFinite else { throw ValidationError("--lr must be positive") }
        guard l2 >= 0 && l2.isFinite else { throw ValidationError("--l2 must be ≥ 0") }
    }

    struct Output: Encodable {
        var name: String
        var digest: String
        var path: String
        var classes: [String]
        var trainCount: Int
        var valCount: Int
        var featureDimension: Int
        var epochs: Int
        var trainAccuracy: Double?
        var valAccuracy: Double?
        var cachedFeatures: Bool
        var skipped: Int
        var history: [HeadTrainer.Epoch]
    }

    func run() throws {
        try runReportingErrors {
            let file = try ZooFile(path: try resolveModelPath(model))
            var options = Transfer.FitOptions(trainDirectory: trainDirectory, name: name)
            options.validationDirectory = val
            options.validationSplit = valSplit
            options.seed = seed
            options.layer = layer
            options.pool = FeatureExtractor.Pooling(rawValue: pool)
            options.preprocess = image.mode
            options.size = image.hw
            options.head = HeadTrainer.Options(epochs: epochs, l2: l2, optimizer: HeadTrainer.Optimizer(rawValue: optimizer)!,
                                               learningRate: lr, seed: seed)
            options.batchSize = image.batch
            options.skipBad = image.skipBad
            options.force = force
            options.threads = image.threads
            let bar = ProgressLine()
            let quiet = json
            let report = try Transfer.fit(base: file, registry: try Registry(), options: options) { event in
                switch event {
                case let .extracting(set, p): bar.images("features (\(set))", p)
                case let .epoch(e, total):
                    var line = String(format: "epoch %d/%d  loss %.4f  acc %.4f", e.epoch, total, e.trainLoss, e.trainAccuracy)
                    if let vl = e.valLoss, let va = e.valAccuracy { line += String(format: "  val_loss %.4f  val_acc %.4f", vl, va) }
                    if bar.enabled { bar.update("train", done: e.epoch, total: total, rate: line, eta: nil) } else if !quiet {
                        FileHandle.standardError.write(Data((line + "\n").utf8))
                    }
                }
            }
            bar.finish()
            reportSkipped(report.skipped)
            if json {
                try printJSON(Output(name: report.name, digest: report.digest, path: report.path, classes: report.classes,
                                     trainCount: report.trainCount, valCount: report.validationCount, featureDimension: report.featureDimension,
                                     epochs: report.history.count, trainAccuracy: report.trainAccuracy, valAccuracy: report.validationAccuracy,
                                     cachedFeatures: report.cachedFeatures, skipped: report.skipped.count, history: report.history))
            } else {
                var line = "registered \(report.name) → \(report.digest): \(report.classes.count) classes, \(report.trainCount) training examples, \(report.history.count) epochs"
                if let a = report.trainAccuracy { line += String(format: ", train accuracy %.4f", a) }
                if let v = report.validationAccuracy { line += String(format: ", validation accuracy %.4f (%d examples)", v, report.validationCount) }
                print(line)
            }
        }
    }
}
