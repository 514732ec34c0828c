import Foundation
import Testing
import ZooConvert
import ZooCore
import ZooEmbeddings
import ZooFormat
import ZooRegistry
import ZooTestSupport
import ZooVision
@testable import ZooTransfer

/// References from fixtures/generator/make_transfer.py (Keras, scikit-learn) and make_transfer_text.py (gensim).
enum Refs {
    static let features = try! NPZ.read(VisionFixtures.url("features.npz"))
    static let paths = try! NPZ.strings(VisionFixtures.url("features.npz"))["paths"]!
    nonisolated(unsafe) static let head = try! VisionFixtures.json("head.json")

    /// The backbone converted once per test, through the conversion pipeline.
    static func backbone(_ dir: TempDir, preprocess: Bool = true) throws -> ZooFile {
        var options = ConversionOptions()
        if preprocess { options.preprocessing = try Preprocessing.card(mode: .tf, size: (64, 64)) }
        let out = URL(fileURLWithPath: dir.path("backbone.zoo"))
        _ = try Conversion.convert(VisionFixtures.url("backbone.keras").path, to: out, options: options)
        return try ZooFile(path: out.path)
    }

    static func rows(_ prefix: String) -> [Int] { paths.indices.filter { paths[$0].hasPrefix(prefix) } }
    static func values(_ key: String, rows: [Int]) -> [Float] {
        let t = features[key]!, d = t.shape[1], all = t.scalars(as: Float.self)
        return rows.flatMap { all[($0 * d)..<(($0 + 1) * d)] }
    }
}

@Suite struct FeatureExtractionTests {
    func close(_ a: [Float], _ b: [Float], rtol: Float = 1e-4, atol: Float = 1e-5, _ what: String) {
        #expect(a.count == b.count, "\(what): \(a.count) vs \(b.count) values")
        var worst: Float = 0
        for (x, y) in zip(a, b) { worst = max(worst, abs(x - y) - rtol * abs(y)) }
        #expect(worst <= atol, "\(what): exceeds rtol \(rtol) + atol \(atol) by \(worst - atol)")
    }

    @Test(arguments: [FeatureExtractor.Pooling.avg, .max])
    func kerasBackboneFeaturesEqualKerasAfterPooling(_ pool: FeatureExtractor.Pooling) throws {
        let dir = try TempDir()
        let file = try Refs.backbone(dir)
        let model = try file.model()
        let fx = try FeatureExtractor(model: model, pool: pool, preprocessing: try Preprocessing.from(card: model.card), threads: 2)
        #expect(fx.featureShape == [64])
        let files = Refs.paths.map { VisionFixtures.url($0).path }
        let f = try fx.extract(files, batchSize: 32)
        #expect(f.paths == files)
        close(f.values, Refs.values(pool.rawValue, rows: Array(Refs.paths.indices)), "\(pool) features")
    }

    @Test func unpooledMapsKeepKerasLayout() throws {
        let dir = try TempDir()
        let model = try Refs.backbone(dir).model()
        let fx = try FeatureExtractor(model: model, pool: FeatureExtractor.Pooling.none, preprocessing: try Preprocessing.from(card: model.card), threads: 2)
        #expect(fx.featureShape == [8, 8, 64])
        let f = try fx.extract(Refs.paths.prefix(3).map { VisionFixtures.url($0).path }, batchSize: 2)
        close(f.values, Refs.features["maps"]!.scalars(as: Float.self), "feature maps")
    }

    @Test func anIntermediateLayerCanBeTheFeature() throws {
        let dir = try TempDir()
        let model = try Refs.backbone(dir).model()
        let prep = try Preprocessing.from(card: model.card)
        let fx = try FeatureExtractor(model: model, layer: "block1_pw", preprocessing: prep, threads: 1)
        #expect(fx.layer == "block1_pw" && fx.featureShape == [64])
        // The truncated graph keeps only what the layer needs.
        #expect(fx.featureModel.graph.nodes.count < model.graph.nodes.count)
        #expect(throws: TransferError.self) { try FeatureExtractor(model: model, layer: "no_such_layer", preprocessing: prep) }
    }

    @Test func badImagesAreNamedOrSkipped() throws {
        let dir = try TempDir()
        let model = try Refs.backbone(dir).model()
        let fx = try FeatureExtractor(model: model, preprocessing: try Preprocessing.from(card: model.card), threads: 1)
        let good = VisionFixtures.url(Refs.paths[0]).path
        let bad = ["zero.jpg", "truncated.jpg", "text_named.jpg", "truncated.png"].map { VisionFixtures.url("bad/\($0)").path }
        do {
            _ = try fx.extract([good] + bad, batchSize: 2)
            Issue.record("a damaged file did not stop the run")
        } catch let e as TransferError {
            #expect(e.localizedDescription.hasPrefix(bad[0]), "\(e.localizedDescription)")
        }
        let f = try fx.extract([good] + bad + [good], batchSize: 2, skipBad: true)
        #expect(f.paths == [good, good])
        #expect(f.skipped.map(\.path) == bad)
        #expect(f.kept == [0, 5])
    }

    @Test func aModelWithoutAnImageInputIsRefused() throws {
        let file = try ZooFile(path: Manifest.repoRoot.appendingPathComponent("fixtures/zoo/tiny-mlp.zoo").path)
        #expect(throws: VisionError.self) { try Preprocessing.from(card: try file.model().card, mode: .tf, size: (8, 8)) }
    }
}

@Suite struct HeadTrainingTests {
    static func demo(_ key: String = "avg") -> (HeadTrainer.Examples, HeadTrainer.Examples) {
        let labels = Refs.features["labels"]!.scalars(as: Int64.self).map(Int.init)
        let tr = Refs.rows("demo/train/"), va = Refs.rows("demo/val/")
        return (HeadTrainer.Examples(features: Refs.values(key, rows: tr), labels: tr.map { labels[$0] }, dim: 64),
                HeadTrainer.Examples(features: Refs.values(key, rows: va), labels: va.map { labels[$0] }, dim: 64))
    }

    static var sklearnHeads: [[String: Any]] { (Refs.head["demo"] as! [String: Any])["heads"] as! [[String: Any]] }

    @Test(arguments: [1e-3, 1e-2])
    func validationAccuracyMatchesScikitLearn(_ l2: Double) throws {
        let (train, val) = Self.demo()
        let ref = Self.sklearnHeads.first { ($0["l2"] as! Double) == l2 }!
        let r = try HeadTrainer.train(train, validation: val, classes: 4, options: .init(epochs: 300, l2: l2))
        let acc = try #require(r.history.last?.valAccuracy)
        #expect(abs(acc - (ref["val_accuracy"] as! Double)) <= 0.02 + 1e-9, "zoo \(acc) vs scikit-learn \(ref["val_accuracy"]!)")
        // Same objective: ours can approach scikit-learn's optimum but never go below it.
        let optimum = ref["objective"] as! Double, final = r.history.last!.objective
        #expect(final >= optimum - 1e-5, "objective \(final) below the optimum \(optimum): the objectives differ")
        #expect(final <= optimum * 1.02, "objective \(final) vs scikit-learn's optimum \(optimum)")
    }

    @Test func lbfgsLossDecreasesEveryEpoch() throws {
        let (train, val) = Self.demo()
        let r = try HeadTrainer.train(train, validation: val, classes: 4, options: .init(epochs: 60))
        #expect(r.history.count >= 30)
        for (a, b) in zip(r.history, r.history.dropFirst()) { #expect(b.objective < a.objective, "epoch \(b.epoch): \(b.objective) ≥ \(a.objective)") }
    }

    @Test func syntheticClustersMatchScikitLearn() throws {
        let h = try NPZ.read(VisionFixtures.url("head_synthetic.npz"))
        let x = h["features"]!.scalars(as: Float.self), y = h["labels"]!.scalars(as: Int64.self).map(Int.init)
        let n = 480, d = 64
        let train = HeadTrainer.Examples(features: Array(x[0..<(n * d)]), labels: Array(y[0..<n]), dim: d)
        let val = HeadTrainer.Examples(features: Array(x[(n * d)...]), labels: Array(y[n...]), dim: d)
        let ref = ((Refs.head["synthetic"] as! [String: Any])["head"] as! [String: Any])["val_accuracy"] as! Double
        let r = try HeadTrainer.train(train, validation: val, classes: 5, options: .init(epochs: 200, l2: 1e-3))
        #expect(abs(r.history.last!.valAccuracy! - ref) <= 0.02 + 1e-9, "zoo \(r.history.last!.valAccuracy!) vs scikit-learn \(ref)")
    }

    @Test func adamIsDeterministicForASeed() throws {
        let (train, val) = Self.demo()
        let o = HeadTrainer.Options(epochs: 20, optimizer: .adam, learningRate: 0.05, batchSize: 16, seed: 7)
        let a = try HeadTrainer.train(train, validation: val, classes: 4, options: o)
        let b = try HeadTrainer.train(train, validation: val, classes: 4, options: o)
        #expect(a.head.weights == b.head.weights)
        #expect(a.history.last!.valAccuracy! >= 0.85)
    }

    @Test func badOptionsAreRefused() {
        let (train, _) = Self.demo()
        #expect(throws: TransferError.self) { try HeadTrainer.train(train, classes: 1) }
        #expect(throws: TransferError.self) { try HeadTrainer.train(train, classes: 4, options: .init(epochs: 0)) }
        #expect(throws: TransferError.self) { try HeadTrainer.train(train, classes: 4, options: .init(l2: -1)) }
        var nan = train
        nan.features[3] = .nan
        #expect(throws: TransferError.self) { try HeadTrainer.train(nan, classes: 4) }
    }
}

@Suite struct FitTests {
    @Test func fittedModelClassifiesItsValidationSetAsReported() throws {
        let dir = try TempDir()
        let registry = try Registry(home: dir.url.appendingPathComponent("home"))
        let base = try Refs.backbone(dir)
        var o = Transfer.FitOptions(trainDirectory: VisionFixtures.url("demo/train").path, name: "shapes")
        o.validationDirectory = VisionFixtures.url("demo/val").path
        o.threads = 2
        let report = try Transfer.fit(base: base, registry: registry, options: o)
        #expect(report.classes == ["blobs", "checkers", "circles", "stripes"])
        #expect(report.trainCount == 120 && report.validationCount == 40)
        let reported = try #require(report.validationAccuracy)
        #expect(reported >= 0.9)

        let file = try registry.open("shapes")
        let card = try file.model().card
        #expect(card.labels == report.classes)
        #expect(card.lineage?.baseDigest == base.digest)
        #expect(card.lineage?.training.trainExamples == 120)
        #expect(card.lineage?.training.validationAccuracy == reported)
        #expect(card.preprocessing?.mode == "tf")

        let classifier = try Classifier(file: file, threads: 2)
        let val = try Dataset.classFolders(VisionFixtures.url("demo/val").path, extensions: ImageFormat.extensions)
        let (predictions, _) = try classifier.classify(val.files, top: 1)
        let right = zip(predictions, val.labels!).filter { $0.0.top[0].label == report.classes[$0.1] }.count
        #expect(Double(right) / Double(val.files.count) == reported)

        // A second fit of the same data reads the cached features.
        o.name = "shapes-again"
        o.head.epochs = 5
        #expect(try Transfer.fit(base: base, registry: registry, options: o).cachedFeatures)
    }

    @Test func validationSplitIsDeterministicAndKeepsEveryClass() throws {
        let d = try Dataset.classFolders(VisionFixtures.url("demo/train").path, extensions: ImageFormat.extensions)
        let (a, b) = try d.split(validationFraction: 0.25, seed: 1)
        let (c, e) = try d.split(validationFraction: 0.25, seed: 1)
        #expect(a == c && b == e)
        #expect(b.files.count == 30 && a.files.count == 90)
        #expect(Set(a.files).isDisjoint(with: b.files))
        #expect(try d.split(validationFraction: 0.25, seed: 2).validation != b)
    }

    @Test func unusableFoldersAreClearErrors() throws {
        let dir = try TempDir()
        let fm = FileManager.default
        // One class only.
        try fm.createDirectory(atPath: dir.path("one/cats"), withIntermediateDirectories: true)
        try fm.copyItem(atPath: VisionFixtures.url("demo/test/blobs_1.jpg").path, toPath: dir.path("one/cats/a.jpg"))
        #expect { try Dataset.classFolders(dir.path("one"), extensions: ImageFormat.extensions) } throws: { e in
            (e as? TransferError)?.localizedDescription.contains("only one class") == true
        }
        // An empty class.
        try fm.createDirectory(atPath: dir.path("one/dogs"), withIntermediateDirectories: true)
        #expect { try Dataset.classFolders(dir.path("one"), extensions: ImageFormat.extensions) } throws: { e in
            (e as? TransferError)?.localizedDescription.contains("class 'dogs' has no") == true
        }
        // No class folders at all, and a missing directory.
        try fm.createDirectory(atPath: dir.path("flat"), withIntermediateDirectories: true)
        #expect(throws: TransferError.self) { try Dataset.classFolders(dir.path("flat"), extensions: ImageFormat.extensions) }
        #expect(throws: TransferError.self) { try Dataset.classFolders(dir.path("missing"), extensions: ImageFormat.extensions) }
    }

    @Test func aFailedFitRegistersNothingAndLeavesNoFiles() throws {
        let dir = try TempDir()
        let home = dir.url.appendingPathComponent("home")
        let registry = try Registry(home: home)
        let base = try Refs.backbone(dir)
        // A damaged image in a class folder stops the fit before anything is written.
        let data = dir.path("data")
        for c in ["a", "b"] {
            try FileManager.default.createDirectory(atPath: "\(data)/\(c)", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: VisionFixtures.url("demo/test/blobs_1.jpg").path, toPath: "\(data)/\(c)/1.jpg")
        }
        try FileManager.default.copyItem(atPath: VisionFixtures.url("bad/truncated.jpg").path, toPath: "\(data)/b/2.jpg")
        #expect { try Transfer.fit(base: base, registry: registry, options: .init(trainDirectory: data, name: "broken")) } throws: { e in
            (e as? TransferError)?.localizedDescription.hasPrefix("\(data)/b/2.jpg") == true
        }
        #expect(try registry.list().isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: home.appendingPathComponent("tmp").path).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: home.appendingPathComponent("models/sha256").path).isEmpty)
        // With skipBad the same data fits, and an invalid name registers nothing.
        var o = Transfer.FitOptions(trainDirectory: data, name: "bad/name")
        o.skipBad = true
        #expect(throws: RegistryError.self) { try Transfer.fit(base: base, registry: registry, options: o) }
        #expect(try registry.list().isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: home.appendingPathComponent("tmp").path).isEmpty)
        o.name = "fine"
        let r = try Transfer.fit(base: base, registry: registry, options: o)
        #expect(r.skipped.count == 1 && r.trainCount == 2)
    }
}

@Suite struct TextTransferTests {
    nonisolated(unsafe) static let tokens = try! VisionFixtures.json("text/tokens.json")

    @Test func tokensEqualGensimSimplePreprocess() throws {
        let strings = try #require(Self.tokens["strings"] as? [[String: Any]])
        let documents = try #require(Self.tokens["documents"] as? [String: [String]])
        #expect(strings.count >= 20 && documents.count >= 48)
        for c in strings {
            #expect(TextFeatures.tokens(c["text"] as! String) == c["tokens"] as! [String], "\(c["text"]!)")
        }
        for (path, want) in documents {
            let text = try TextFeatures.read(VisionFixtures.url(path).path)
            #expect(TextFeatures.tokens(text) == want, "\(path)")
        }
    }

    func embeddings(_ dir: TempDir) throws -> ZooFile {
        let out = URL(fileURLWithPath: dir.path("vectors.zoo"))
        _ = try Conversion.convert(VisionFixtures.url("text/vectors.txt").path, to: out, options: .init())
        return try ZooFile(path: out.path)
    }

    @Test func documentVectorsEqualGensimMeans() throws {
        let dir = try TempDir()
        let index = try EmbeddingIndex(file: try embeddings(dir))
        let ref = try NPZ.read(VisionFixtures.url("text/docvectors.npz"))["vectors"]!.scalars(as: Float.self)
        let paths = try NPZ.strings(VisionFixtures.url("text/docvectors.npz"))["paths"]!
        for (i, p) in paths.enumerated() {
            let v = try TextFeatures.vector(path: VisionFixtures.url(p).path, index: index)
            for j in 0..<16 { #expect(abs(v[j] - ref[i * 16 + j]) <= 1e-5, "\(p)[\(j)]") }
        }
    }

    @Test func textHeadMatchesScikitLearnAndClassifiesFiles() throws {
        let dir = try TempDir()
        let registry = try Registry(home: dir.url.appendingPathComponent("home"))
        var o = Transfer.FitOptions(trainDirectory: VisionFixtures.url("text/train").path, name: "topics")
        o.validationDirectory = VisionFixtures.url("text/val").path
        let report = try Transfer.fit(base: try embeddings(dir), registry: registry, options: o)
        let ref = ((Refs.head["text"] as! [String: Any])["head"] as! [String: Any])["val_accuracy"] as! Double
        #expect(abs(report.validationAccuracy! - ref) <= 0.02 + 1e-9, "zoo \(report.validationAccuracy!) vs scikit-learn \(ref)")
        let classifier = try Classifier(file: try registry.open("topics"))
        #expect(classifier.isText)
        let val = try Dataset.classFolders(VisionFixtures.url("text/val").path, extensions: Dataset.textExtensions)
        let (p, _) = try classifier.classify(val.files, top: 1)
        let right = zip(p, val.labels!).filter { $0.0.top[0].label == report.classes[$0.1] }.count
        #expect(Double(right) / Double(val.files.count) == report.validationAccuracy)
    }
}
