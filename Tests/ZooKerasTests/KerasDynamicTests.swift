import Foundation
import Testing
import ZooCore
import ZooFormat
@testable import ZooKeras
import ZooRuntime

/// fixtures/keras/dynamic (make_keras_dynamic.py): headless models with
/// (None, None, 3) inputs, one per family with a notop variant in the catalog.
struct KerasDynamicManifest: Decodable {
    struct IO: Decodable { var name: String; var file: String; var shape: [Int] }
    struct Run: Decodable { var inputs: [IO]; var outputs: [IO]; var framework_spread: Double }
    struct Entry: Decodable { var name: String; var family: String; var files: [String: String]; var runs: [Run] }
    var models: [Entry]

    static let directory = KerasManifest.directory.appendingPathComponent("dynamic")
    static let shared: KerasDynamicManifest = try! JSONDecoder().decode(
        KerasDynamicManifest.self, from: Data(contentsOf: directory.appendingPathComponent("manifest.json")))
    static func path(_ f: String) -> String { directory.appendingPathComponent(f).path }
    static var cases: [String] { shared.models.flatMap { e in e.files.keys.sorted().map { "\(e.name):\($0)" } } }
}

@Suite struct KerasDynamicTests {
    @Test func everyNotopFamilyOfTheCatalogHasAFixture() {
        // The MobileNets are the real architectures in fixtures/keras/applications (KerasApplicationsTests).
        let families = Set(KerasDynamicManifest.shared.models.map(\.family))
        #expect(families.isSuperset(of: ["vgg", "resnet", "resnet_v2", "inception", "xception", "densenet", "efficientnet"]))
        #expect(Set(KerasApplicationFixtures.shared.models.map(\.expected_id)).isSuperset(of: ["MobileNet(alpha=0.25)/notop", "MobileNetV2(alpha=0.35)/notop"]))
    }

    /// One conversion, one session, three input sizes, each matching what Keras computed.
    @Test(arguments: KerasDynamicManifest.cases)
    func notopModelMatchesKerasAtEverySize(_ testCase: String) throws {
        let parts = testCase.split(separator: ":").map(String.init)
        let e = KerasDynamicManifest.shared.models.first { $0.name == parts[0] }!
        let model = try KerasImporter.load(path: KerasDynamicManifest.path(e.files[parts[1]]!))
        let input = model.graph.inputs[0]
        #expect(input.shape == [.symbolic("N"), .symbolic("H"), .symbolic("W"), .fixed(3)], "\(testCase): \(input.shape)")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-keras-dyn-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("m.zoo")
        try ZooWriter.write(model, to: url)
        let session = try InferenceSession(file: try ZooFile(path: url.path), threads: 2)
        for (k, run) in e.runs.enumerated() {
            let x = try NPY.read(path: KerasDynamicManifest.path(run.inputs[0].file))
            let y = try #require(try session.run([input.name: x])[session.graph.outputs[0].name])
            let expected = try NPY.read(path: KerasDynamicManifest.path(run.outputs[0].file))
            // Deep real architectures: Keras 3 and tf_keras differ by up to `framework_spread`
            // themselves, so the absolute tolerance is never tighter than 4× that.
            let atol = max(Parity.defaultAtol, 4 * run.framework_spread)
            let r = try Parity.compare(y, expected, output: run.outputs[0].name, atol: atol)
            #expect(r.passed, "\(testCase) run \(k) \(x.shape): shape \(y.shape) vs \(expected.shape), max abs \(r.maxAbsError), max rel \(r.maxRelError)")
        }
        #expect(session.planStatistics.count == e.runs.count)
    }

    @Test func aDenseAfterAFlattenOfASymbolicSizeFailsAtRunTimeNamingTheLayer() throws {
        // A Keras model cannot be built this way, but a hand-edited config can say it: the
        // Dense kernel fixes the width, and a run at another size is an error naming the layer.
        let e = KerasDynamicManifest.shared.models.first { $0.name == "vgg_notop" }!
        var model = try KerasImporter.load(path: KerasDynamicManifest.path(e.files["keras"]!))
        let last = model.graph.outputs[0]
        // Flatten of [N, 8, H/4, W/4] (NHWC order is irrelevant here) and a Gemm of width 8*4*4.
        let w = try Tensor(floats: [Float](repeating: 0.01, count: 128 * 2), shape: [128, 2])
        model.tensors.append(("fc.kernel", w))
        model.graph.nodes.append(Node(name: "flatten", op: "Flatten", inputs: [last.name], outputs: ["flat"], attributes: ["axis": .int(1)]))
        model.graph.nodes.append(Node(name: "fc", op: "Gemm", inputs: ["flat", "fc.kernel"], outputs: ["logits"]))
        model.graph.outputs = [ValueInfo(name: "logits", dtype: .f32, shape: [.symbolic("N"), .fixed(2)])]
        let session = try InferenceSession(model: model)
        #expect(try session.run(["input": try Tensor(floats: [Float](repeating: 1, count: 16 * 16 * 3), shape: [1, 16, 16, 3])])["logits"]!.shape == [1, 2])
        let e2 = #expect(throws: RuntimeError.self) {
            try session.run(["input": try Tensor(floats: [Float](repeating: 1, count: 20 * 16 * 3), shape: [1, 20, 16, 3])])
        }
        guard case .shape(let node, _, let detail)? = e2 else { Issue.record("\(String(describing: e2))"); return }
        #expect(node == "fc" && detail.contains("160") && detail.contains("128"), "\(node): \(detail)")
    }
}
