import Foundation
import Testing
import ZooCore
import ZooFormat
@testable import ZooKeras
import ZooRuntime

/// fixtures/keras/applications (make_applications.py --committed): weights-only
/// files in the exact Keras Applications layout, written by Keras's own legacy
/// saver, with no architecture file; tf_keras's outputs as references.
struct KerasApplicationFixtures: Decodable {
    struct Run: Decodable { var size: [Int]; var input: String; var output: String }
    struct Model: Decodable { var name: String; var expected_id: String; var weights: String; var runs: [Run] }
    var models: [Model]
    static let directory = KerasManifest.directory.appendingPathComponent("applications")
    static let shared = try! JSONDecoder().decode(KerasApplicationFixtures.self, from: Data(contentsOf: directory.appendingPathComponent("index.json")))
    static func path(_ f: String) -> String { directory.appendingPathComponent(f).path }
}

@Suite struct KerasApplicationsTests {
    @Test func everyCatalogKerasVariantHasABuiltInArchitecture() throws {
        let catalog = try JSONSerialization.jsonObject(with: Data(contentsOf: KerasManifest.directory
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("zoo.json"))) as! [String: Any]
        var refs: [String] = []
        for m in catalog["models"] as! [[String: Any]] {
            for v in (m["variants"] as? [[String: Any]]) ?? [] where (v["architecture"] as? [String: Any])?["keras_application"] != nil {
                refs.append("\(m["name"]!):\(v["name"]!)")
            }
        }
        #expect(refs.count >= 28)
        for r in refs {
            let a = try #require(KerasApplications.architecture(r), "\(r)")
            #expect(a.reference == r)
            if r.hasSuffix(":notop") {
                for pool in ["none", "avg", "max"] { #expect(KerasApplications.architecture(r, pooling: pool)?.pooling == pool, "\(r) \(pool)") }
            }
        }
    }

    /// No flags: the file is recognised by its weights, converted with that
    /// architecture, and matches Keras at every size.
    @Test(arguments: KerasApplicationFixtures.shared.models.map(\.name))
    func weightsOnlyApplicationFileConvertsWithNoArchitectureAndMatchesKeras(_ name: String) throws {
        let m = KerasApplicationFixtures.shared.models.first { $0.name == name }!
        let model = try KerasImporter.load(path: KerasApplicationFixtures.path(m.weights))
        #expect(model.card.metadata?["keras.application"] == m.expected_id)
        let session = try InferenceSession(model: model, threads: 2)
        for run in m.runs {
            let x = try NPY.read(path: KerasApplicationFixtures.path(run.input))
            let y = try #require(try session.run([session.graph.inputs[0].name: x])[session.graph.outputs[0].name])
            // Real architectures with random (untrained) weights: float32 differences grow with
            // depth, so the absolute tolerance scales with the output's magnitude (1e-4 · max |ref|).
            let expected = try NPY.read(path: KerasApplicationFixtures.path(run.output))
            let scale = expected.scalars(as: Float.self).map { abs(Double($0)) }.max() ?? 1
            let r = try Parity.compare(y, expected, output: run.output, atol: 1e-4 * max(1, scale))
            #expect(r.passed, "\(name) \(run.size): max abs \(r.maxAbsError), max rel \(r.maxRelError)")
        }
    }

    @Test func aBuiltInArchitectureCanBeNamedAndPooled() throws {
        let m = KerasApplicationFixtures.shared.models.first { $0.name == "mobilenet_0_25_notop" }!
        let pooled = try KerasImporter.load(path: KerasApplicationFixtures.path(m.weights), options: .init(pooling: "avg"))
        #expect(pooled.card.metadata?["keras.pooling"] == "avg")
        #expect(pooled.graph.outputs[0].shape == [.symbolic("N"), .fixed(256)])
        let named = try KerasImporter.load(path: KerasApplicationFixtures.path(m.weights), options: .init(architecture: "MobileNet(alpha=0.25)/notop", pooling: "max"))
        #expect(named.card.metadata?["keras.application"] == "MobileNet(alpha=0.25)/notop/max")
        #expect(throws: KerasError.unknownArchitectureReference(reference: "keras-nope:top")) {
            try KerasImporter.load(path: KerasApplicationFixtures.path(m.weights), options: .init(architecture: "keras-nope:top"))
        }
        #expect(KerasApplications.architecture("keras-vgg16:notop")?.id == "VGG16/notop")
        #expect(KerasApplications.architecture("keras-vgg16")?.id == "VGG16/top")
    }

    @Test func aWeightsFileMatchingNoArchitectureNamesTheClosestAndTheDifference() throws {
        let e = KerasManifest.shared.models.first { $0.name == "vgg_block" }!
        let err = #expect(throws: KerasError.self) { try KerasImporter.load(path: KerasManifest.path(e.files["k2_weights_h5"]!)) }
        guard case .unknownArchitecture(_, let closest, let difference)? = err else { Issue.record("\(String(describing: err))"); return }
        #expect(closest != nil)
        #expect(difference.contains("layers with weights") && difference.contains("first difference"), "\(difference)")
    }
}
