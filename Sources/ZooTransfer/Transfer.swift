import Crypto
import Foundation
import ZooCore
import ZooEmbeddings
import ZooFormat
import ZooRegistry
import ZooRuntime
import ZooVision

/// The transfer-learning recipe as one call each: `fit` (features → head →
/// new registered model) and `Classifier` (labels for images or documents).
public enum Transfer {
    /// What `zoo fit` asks for.
    public struct FitOptions: Sendable {
        public var trainDirectory: String
        public var validationDirectory: String?
        public var validationSplit: Double?
        public var seed: UInt64 = 0
        public var layer: String?
        public var pool: FeatureExtractor.Pooling?
        /// Overrides for a model whose card has no preprocessing.
        public var preprocess: Preprocessing.Mode?
        public var size: (Int, Int)?
        public var head = HeadTrainer.Options()
        public var name: String
        public var batchSize = 32
        public var skipBad = false
        public var force = false
        public var threads = ProcessInfo.processInfo.activeProcessorCount

        public init(trainDirectory: String, name: String) {
            self.trainDirectory = trainDirectory
            self.name = name
        }
    }

    /// What `zoo fit` did.
    public struct FitReport: Sendable {
        public var name: String
        public var digest: String
        public var path: String
        public var classes: [String]
        public var trainCount: Int
        public var validationCount: Int
        public var history: [HeadTrainer.Epoch]
        public var featureDimension: Int
        public var skipped: [(path: String, reason: String)]
        /// Whether the features came from the cache (no backbone run).
        public var cachedFeatures: Bool
        public var trainAccuracy: Double? { history.last?.trainAccuracy }
        public var validationAccuracy: Double? { history.last?.valAccuracy }
    }

    /// Progress events of a fit, for a progress bar or one line per epoch.
    public enum Event: Sendable {
        case extracting(set: String, FeatureExtractor.Progress)
        case epoch(HeadTrainer.Epoch, of: Int)
    }

    /// Trains a head on `base` (a `.zoo` image backbone or word-embedding model)
    /// and registers backbone + head as `options.name`.
    ///
    /// Nothing is registered unless every step succeeds: the model is written
    /// to a temporary file in the store (removed on any failure or signal)
    /// and renamed into place at the end.
    public static func fit(base file: ZooFile, registry: Registry, options: FitOptions,
                           onEvent: ((Event) -> Void)? = nil) throws -> FitReport {
        let model = try file.model(verify: true)
        let isText = model.tensor(named: "embedding.matrix") != nil
        let extensions = isText ? Dataset.textExtensions : ImageFormat.extensions
        var train = try Dataset.classFolders(options.trainDirectory, extensions: extensions)
        var validation: Dataset?
        if let dir = options.validationDirectory {
            let v = try Dataset.classFolders(dir, extensions: extensions)
            guard let vc = v.classes, let tc = train.classes, Set(vc).isSubset(of: Set(tc)) else {
                let unknown = Set(v.classes ?? []).subtracting(train.classes ?? []).sorted()
                throw TransferError.invalidDataset(path: dir, detail: "class folders \(Dataset.listed(unknown)) are not in the training directory; use the same class names")
            }
            // Validation labels use the training class indices.
            validation = Dataset(files: v.files, labels: v.labels!.map { tc.firstIndex(of: vc[$0])! }, classes: tc)
        } else if let f = options.validationSplit {
            (train, validation) = try train.split(validationFraction: f, seed: options.seed)
        }
        let classes = train.classes!
        for (k, c) in classes.enumerated() where !(train.labels!.contains(k)) {
            throw TransferError.invalidDataset(path: options.trainDirectory, detail: "class '\(c)' has no training examples after the validation split; add files or lower --val-split")
        }

        let cache = FeatureCache(directory: registry.home.appendingPathComponent("cache/features"))
        var skipped: [(String, String)] = []
        var allCached = true
        let trainExamples: HeadTrainer.Examples, validationExamples: HeadTrainer.Examples?
        let trained: Model
        let tempURL = registry.temporaryModelURL()

        if isText {
            let index = try EmbeddingIndex(model: model)
            func vectors(_ d: Dataset) throws -> HeadTrainer.Examples {
                var values: [Float] = [], labels: [Int] = []
                for (i, path) in d.files.enumerated() {
                    do {
                        values += try TextFeatures.vector(path: path, index: index)
                        labels.append(d.labels![i])
                    } catch let e as TransferError {
                        guard options.skipBad else { throw e }
                        skipped.append((path, e.localizedDescription))
                    }
                }
                return HeadTrainer.Examples(features: values, labels: labels, dim: index.dim)
            }
            trainExamples = try vectors(train)
            validationExamples = try validation.map(vectors)
            allCached = false
            let result = try HeadTrainer.train(trainExamples, validation: validationExamples, classes: classes.count, options: options.head) {
                onEvent?(.epoch($0, of: options.head.epochs))
            }
            trained = try TrainedModel.text(embeddings: model, head: result.head, classes: classes, name: options.name, baseDigest: file.digest,
                                            training: summary(result.history, trainExamples.count, validationExamples?.count ?? 0, options))
            return try finish(trained, result.history, tempURL, registry, options, classes, trainExamples, validationExamples, skipped, cached: false)
        }

        let prep = try Preprocessing.from(card: model.card, mode: options.preprocess, size: options.size)
        let extractor = try FeatureExtractor(model: model, layer: options.layer, pool: options.pool ?? .avg, preprocessing: prep, threads: options.threads)
        guard extractor.featureShape.count == 1 else {
            throw TransferError.unusableFeature(layer: extractor.layer, detail: "a head needs one vector per image; use --pool avg or max")
        }
        func examples(_ d: Dataset, _ label: String) throws -> HeadTrainer.Examples {
            let key = FeatureCache.key(digest: file.digest, layer: extractor.layer, pooling: extractor.pooling.rawValue, preprocessing: prep, files: d.files)
            let f: FeatureExtractor.Features
            if let hit = cache.load(key, shape: extractor.featureShape) {
                f = hit
            } else {
                allCached = false
                f = try extractor.extract(d.files, batchSize: options.batchSize, skipBad: options.skipBad) { onEvent?(.extracting(set: label, $0)) }
                cache.store(key, f)
            }
            skipped += f.skipped
            return HeadTrainer.Examples(features: f.values, labels: f.kept.map { d.labels![$0] }, dim: f.width)
        }
        trainExamples = try examples(train, "train")
        validationExamples = try validation.map { try examples($0, "validation") }
        let result = try HeadTrainer.train(trainExamples, validation: validationExamples, classes: classes.count, options: options.head) {
            onEvent?(.epoch($0, of: options.head.epochs))
        }
        trained = try TrainedModel.image(features: extractor, head: result.head, classes: classes, name: options.name, baseDigest: file.digest,
                                         training: summary(result.history, trainExamples.count, validationExamples?.count ?? 0, options))
        return try finish(trained, result.history, tempURL, registry, options, classes, trainExamples, validationExamples, skipped, cached: allCached)
    }

    static func summary(_ history: [HeadTrainer.Epoch], _ n: Int, _ nv: Int, _ o: FitOptions) -> ModelCard.Training {
        let last = history.last
        return ModelCard.Training(trainExamples: n, validationExamples: nv, epochs: history.count, optimizer: o.head.optimizer.rawValue,
                                  l2: o.head.l2, learningRate: o.head.optimizer == .adam ? o.head.learningRate : nil,
                                  seed: o.validationSplit != nil || o.head.optimizer == .adam ? o.seed : nil,
                                  trainAccuracy: last?.trainAccuracy ?? 0, trainLoss: last?.trainLoss ?? 0,
                                  validationAccuracy: last?.valAccuracy, validationLoss: last?.valLoss)
    }

    static func finish(_ model: Model, _ history: [HeadTrainer.Epoch], _ temp: URL, _ registry: Registry, _ options: FitOptions,
                       _ classes: [String], _ train: HeadTrainer.Examples, _ val: HeadTrainer.Examples?,
                       _ skipped: [(String, String)], cached: Bool) throws -> FitReport {
        TemporaryFiles.register(temp.path)
        defer { TemporaryFiles.unregister(temp.path); unlink(temp.path) }
        _ = try ZooWriter.write(model, to: temp)
        let manifest = try registry.registerTrained(model: temp, name: options.name, force: options.force)
        return FitReport(name: options.name, digest: manifest.digest, path: registry.home.appendingPathComponent(manifest.model).path,
                         classes: classes, trainCount: train.count, validationCount: val?.count ?? 0, history: history,
                         featureDimension: train.dim, skipped: skipped, cachedFeatures: cached)
    }
}

/// Features already computed for a list of files, keyed by what determines
/// them: the model digest, layer, pooling, preprocessing, and each file's
/// path, size and modification time. `zoo fit` run again with other head
/// options does not run the backbone again.
struct FeatureCache {
    let directory: URL

    static func key(digest: String, layer: String, pooling: String, preprocessing p: Preprocessing, files: [String]) -> String {
        var h = SHA256()
        func add(_ s: String) { h.update(data: Data((s + "\u{0}").utf8)) }
        add("zoo-features-1"); add(digest); add(layer); add(pooling)
        add("\(p.mode.rawValue) \(p.height)x\(p.width) \(p.resize.rawValue) \(p.shorterSide ?? 0) \(p.interpolation.rawValue) \(p.layout.rawValue)")
        for f in files {
            var st = stat()
            let ok = stat(f, &st) == 0
            add("\(f) \(ok ? Int(st.st_size) : -1) \(ok ? st.st_mtim.tv_sec : 0).\(ok ? st.st_mtim.tv_nsec : 0)")
        }
        return h.finalize().map { String(format: "%02x", $0) }.joined()
    }

    struct Entry: Codable {
        var paths: [String]
        var kept: [Int]
        var skipped: [[String]]
        var shape: [Int]
        var count: Int
    }

    func load(_ key: String, shape: [Int]) -> FeatureExtractor.Features? {
        let meta = directory.appendingPathComponent("\(key).json"), data = directory.appendingPathComponent("\(key).f32")
        guard let m = try? Data(contentsOf: meta), let e = try? JSONDecoder().decode(Entry.self, from: m), e.shape == shape,
              let raw = try? Data(contentsOf: data), raw.count == e.count * shape.reduce(1, *) * 4, e.paths.count == e.count else { return nil }
        let values = raw.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        return FeatureExtractor.Features(paths: e.paths, values: values, shape: shape, skipped: e.skipped.map { ($0[0], $0[1]) }, kept: e.kept)
    }

    /// Best effort: a cache that cannot be written only costs time next run.
    func store(_ key: String, _ f: FeatureExtractor.Features) {
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let e = Entry(paths: f.paths, kept: f.kept, skipped: f.skipped.map { [$0.path, $0.reason] }, shape: f.shape, count: f.paths.count)
        let tmp = directory.appendingPathComponent(".\(key).\(getpid()).tmp")
        let values = f.values.withUnsafeBufferPointer { Data(buffer: $0) }
        guard (try? values.write(to: tmp)) != nil, rename(tmp.path, directory.appendingPathComponent("\(key).f32").path) == 0,
              let json = try? JSONEncoder().encode(e), (try? json.write(to: tmp)) != nil,
              rename(tmp.path, directory.appendingPathComponent("\(key).json").path) == 0 else {
            unlink(tmp.path)
            return
        }
    }
}
