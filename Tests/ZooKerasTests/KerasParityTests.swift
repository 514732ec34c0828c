import Foundation
import Testing
import ZooCore
import ZooFormat
@testable import ZooKeras
import ZooRuntime

/// The Keras fixture manifest written by fixtures/generator/make_keras.py.
struct KerasManifest: Decodable {
    struct IO: Decodable {
        var name: String
        var file: String
        var shape: [Int]
    }
    struct Entry: Decodable {
        var name: String
        var expect: String
        var reason: String?
        var files: [String: String]
        var inputs: [IO]?
        var outputs: [IO]?
    }
    var models: [Entry]

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("fixtures/keras")
    static let shared: KerasManifest = try! JSONDecoder().decode(KerasManifest.self, from: Data(contentsOf: directory.appendingPathComponent("manifest.json")))
    static func path(_ f: String) -> String { directory.appendingPathComponent(f).path }

    /// (model, format key) for every importable file of every "ok" fixture.
    static var cases: [String] {
        shared.models.filter { $0.expect == "ok" }.flatMap { e in
            e.files.keys.filter { !["config_json", "k2_json"].contains($0) }.sorted().map { "\(e.name):\($0)" }
        }
    }

    /// The architecture file a weights-only format needs.
    static func architecture(_ e: Entry, format: String) -> String? {
        switch format {
        case "weights_h5": return e.files["config_json"].map(path)
        case "k2_weights_h5", "k2v3_weights_h5": return e.files["k2_json"].map(path)
        default: return nil
        }
    }
}

@Suite struct KerasParityTests {
    /// Every fixture in every file format: import → .zoo → runtime, compared
    /// with the outputs Keras itself computed (Keras 2 files with Keras 2's
    /// reference where the two differ, e.g. hard_sigmoid).
    @Test(arguments: KerasManifest.cases)
    func fixtureMatchesKeras(_ testCase: String) throws {
        let parts = testCase.split(separator: ":").map(String.init)
        let e = KerasManifest.shared.models.first { $0.name == parts[0] }!
        let format = parts[1]
        let model = try KerasImporter.load(path: KerasManifest.path(e.files[format]!),
                                           options: .init(architecture: KerasManifest.architecture(e, format: format)))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-keras-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("m.zoo")
        try ZooWriter.write(model, to: url)
        let session = try InferenceSession(file: try ZooFile(path: url.path), threads: 2)
        var inputs: [String: Tensor] = [:]
        for (io, spec) in zip(e.inputs ?? [], session.graph.inputs) { inputs[spec.name] = try NPY.read(path: KerasManifest.path(io.file)) }
        let outputs = try session.run(inputs)
        #expect(session.graph.outputs.map(\.name) == (e.outputs ?? []).map(\.name), "\(testCase): output names")
        for (k, io) in (e.outputs ?? []).enumerated() {
            let k2Reference = "\(e.name).k2.out\(k).npy"
            let refFile = format.hasPrefix("k2") && FileManager.default.fileExists(atPath: KerasManifest.path(k2Reference)) ? k2Reference : io.file
            let expected = try NPY.read(path: KerasManifest.path(refFile))
            let actual = try #require(outputs[session.graph.outputs[k].name])
            let r = try Parity.compare(actual, expected, output: io.name)
            #expect(r.passed, "\(testCase).\(io.name): max abs \(r.maxAbsError), max rel \(r.maxRelError)")
        }
    }
}

@Suite struct KerasHostileInputTests {
    func error(_ file: String, arch: String? = nil) -> KerasError? {
        do { _ = try KerasImporter.load(path: KerasManifest.path(file), options: .init(architecture: arch)); return nil } catch let e as KerasError { return e } catch { return nil }
    }

    @Test(arguments: KerasManifest.shared.models.filter { $0.expect == "refused" }.map(\.name))
    func hostileFixtureIsRefusedWithATypedError(name: String) {
        let e = KerasManifest.shared.models.first { $0.name == name }!
        for (format, file) in e.files where !["config_json", "k2_json"].contains(format) {
            let err = error(file, arch: KerasManifest.architecture(e, format: format))
            #expect(err != nil, "\(name) (\(format)) was not refused")
            switch err {
            case .refusedLayer?, .refusedLink?, .refusedStorage?, .unsupportedLayers?: break
            default: Issue.record("\(name) (\(format)): expected a refusal, got \(String(describing: err))")
            }
        }
    }

    @Test func lambdaLayerIsRefusedByName() {
        let e = KerasManifest.shared.models.first { $0.name == "lambda_layer" }!
        let err = error(e.files["k2_h5"]!)
        #expect(err?.localizedDescription.contains("Lambda") == true, "\(String(describing: err))")
        #expect(err?.localizedDescription.contains("never executes") == true)
    }

    @Test(arguments: KerasManifest.shared.models.filter { $0.expect == "malformed" }.map(\.name))
    func malformedFileGivesATypedError(name: String) {
        let e = KerasManifest.shared.models.first { $0.name == name }!
        for file in e.files.values { #expect(error(file) != nil, "\(name)") }
    }

    @Test func weightsOnlyFileWithoutArchitectureSaysWhatToDo() {
        let e = KerasManifest.shared.models.first { $0.name == "vgg_block" }!
        let err = error(e.files["weights_h5"]!)
        #expect(err == .missingArchitecture(path: KerasManifest.path(e.files["weights_h5"]!)))
    }

    @Test func weightsForAnotherArchitectureAreReportedByLayer() {
        let vgg = KerasManifest.shared.models.first { $0.name == "vgg_block" }!
        let resnet = KerasManifest.shared.models.first { $0.name == "resnet_block" }!
        let err = error(vgg.files["k2_weights_h5"]!, arch: KerasManifest.path(resnet.files["k2_json"]!))
        guard case .weightMismatch(_, let problems)? = err else {
            Issue.record("expected a weight mismatch, got \(String(describing: err))")
            return
        }
        #expect(problems.contains { $0.contains("missing weight") })
        #expect(problems.contains { $0.contains("no such layer") })
    }
}

@Suite struct KerasConfigTests {
    @Test func snakeCaseMatchesKerasNaming() {
        #expect(KerasConfigParser.snakeCase("Conv2D") == "conv2d")
        #expect(KerasConfigParser.snakeCase("DepthwiseConv2D") == "depthwise_conv2d")
        #expect(KerasConfigParser.snakeCase("BatchNormalization") == "batch_normalization")
        #expect(KerasConfigParser.snakeCase("ReLU") == "re_lu")
        #expect(KerasConfigParser.snakeCase("GlobalAveragePooling2D") == "global_average_pooling2d")
    }
}

@Suite struct KerasStrictMatchingTests {
    /// An architecture whose Dense layer is wider than the stored weights:
    /// the error names the layer, the weight and both shapes.
    @Test func shapeMismatchIsReportedWithBothShapes() throws {
        let e = KerasManifest.shared.models.first { $0.name == "vgg_block" }!
        var json = try String(contentsOfFile: KerasManifest.path(e.files["k2_json"]!), encoding: .utf8)
        let units = try #require(json.range(of: "\"units\": 10") ?? json.range(of: "\"units\":10"))
        json.replaceSubrange(units, with: "\"units\": 11")
        let arch = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-arch-\(UUID().uuidString).json")
        try json.write(to: arch, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: arch) }
        do {
            _ = try KerasImporter.load(path: KerasManifest.path(e.files["k2_weights_h5"]!), options: .init(architecture: arch.path))
            Issue.record("a wrong architecture was accepted")
        } catch let KerasError.weightMismatch(_, problems) {
            #expect(problems.contains { $0.contains("predictions") && $0.contains("[8×10]") && $0.contains("[8×11]") }, "\(problems)")
        }
    }
}

/// `--output LAYER` on a Keras model gives what Keras's `model.get_layer(LAYER).output`
/// gives: after the activation, in Keras's layout (the fixtures dump every layer's output).
@Suite struct KerasLayerOutputTests {
    struct Mid: Decodable { var name: String; var file: String }
    struct Entry: Decodable { var name: String; var expect: String; var files: [String: String]; var intermediates: [Mid]?; var inputs: [KerasManifest.IO]? }
    struct File: Decodable { var models: [Entry] }
    static let entries = try! JSONDecoder().decode(File.self, from: Data(contentsOf: KerasManifest.directory.appendingPathComponent("manifest.json")))
        .models.filter { $0.expect == "ok" && ($0.intermediates?.isEmpty == false) && $0.files["keras"] != nil }

    @Test(arguments: entries.map(\.name))
    func everyLayerNameGivesKerasLayerOutput(_ name: String) throws {
        let e = Self.entries.first { $0.name == name }!
        let model = try KerasImporter.load(path: KerasManifest.path(e.files["keras"]!))
        let outputNames = Set(model.graph.outputs.map(\.name))
        let mids = (e.intermediates ?? []).filter { model.card.layers?[$0.name] != nil || outputNames.contains($0.name) }
        #expect(mids.count >= (e.intermediates ?? []).count - 1, "\(name): layers without an output: \(Set((e.intermediates ?? []).map(\.name)).subtracting(mids.map(\.name)))")
        let session = try InferenceSession(model: model, threads: 2, outputs: mids.map(\.name))
        var inputs: [String: Tensor] = [:]
        for (io, spec) in zip(e.inputs ?? [], session.graph.inputs) { inputs[spec.name] = try NPY.read(path: KerasManifest.path(io.file)) }
        let got = try session.run(inputs)
        for m in mids {
            let expected = try NPY.read(path: KerasManifest.path(m.file))
            let actual = try #require(got[m.name])
            #expect(actual.shape == expected.shape, "\(name).\(m.name): shape \(actual.shape) vs Keras \(expected.shape)")
            if actual.shape == expected.shape {
                let r = try Parity.compare(actual, expected, output: m.name)
                #expect(r.passed, "\(name).\(m.name): max abs \(r.maxAbsError)")
            }
        }
    }
}

/// Keras 2.0 to 2.2.2 saved a Sequential model's `config` as the bare list of
/// its layers (later versions wrap it as `{"name", "layers"}`). Keras 2's own
/// JSON of the Sequential fixture, put back into that older layout, must give
/// the model Keras computed the reference with.
@Suite struct KerasOldSequentialLayoutTests {
    @Test func sequentialConfigAsBareLayerListMatchesKeras() throws {
        let e = try #require(KerasManifest.shared.models.first { $0.name == "vgg_sequential" })
        let raw = try Data(contentsOf: URL(fileURLWithPath: KerasManifest.path(e.files["k2_json"]!)))
        var root = try #require(try JSONSerialization.jsonObject(with: raw) as? [String: Any])
        let config = try #require(root["config"] as? [String: Any])
        #expect(root["class_name"] as? String == "Sequential")
        root["config"] = try #require(config["layers"] as? [[String: Any]])
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-keras-old-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let arch = dir.appendingPathComponent("old.json")
        try JSONSerialization.data(withJSONObject: root).write(to: arch)
        let model = try KerasImporter.load(path: KerasManifest.path(e.files["k2_weights_h5"]!), options: .init(architecture: arch.path))
        let session = try InferenceSession(model: model, threads: 2)
        let input = try NPY.read(path: KerasManifest.path(try #require(e.inputs?.first).file))
        let outputs = try session.run([session.graph.inputs[0].name: input])
        let reference = FileManager.default.fileExists(atPath: KerasManifest.path("vgg_sequential.k2.out0.npy")) ? "vgg_sequential.k2.out0.npy" : try #require(e.outputs?.first).file
        let r = try Parity.compare(try #require(outputs[session.graph.outputs[0].name]), try NPY.read(path: KerasManifest.path(reference)), output: "predictions")
        #expect(r.passed, "max abs \(r.maxAbsError)")
    }
}
