import Foundation
import Testing
import ZIPFoundation
import ZooTestSupport
import ZooCore
import ZooKeras
import ZooONNX
@testable import ZooRuntime

/// The op registry is the single definition of the IR's ops: every op has a
/// shape rule (by construction), a runtime kernel, and at least one parity
/// fixture whose converted graph uses it.
@Suite struct OpRegistryTests {
    /// Ops used by the converted graphs of every ONNX and Keras parity fixture.
    static func opsInParityFixtures() throws -> Set<String> {
        var ops = Set<String>()
        for e in Manifest.entries("ok") {
            ops.formUnion(try ONNXImporter.load(path: Manifest.path(e.file)).graph.nodes.map(\.op))
        }
        let keras = Manifest.repoRoot.appendingPathComponent("fixtures/keras")
        for dir in [keras, keras.appendingPathComponent("dynamic")] {
            let data = try Data(contentsOf: dir.appendingPathComponent("manifest.json"))
            let models = (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["models"] as? [[String: Any]] ?? []
            for m in models where (m["expect"] as? String ?? "ok") == "ok" {
                guard let file = (m["files"] as? [String: String])?["keras"] else { continue }
                ops.formUnion(try KerasImporter.load(path: dir.appendingPathComponent(file).path).graph.nodes.map(\.op))
            }
        }
        // ONNX conformance cases zoo passes (those not on the expected-failure list) count too.
        let conformance = Manifest.repoRoot.appendingPathComponent("fixtures/onnx/conformance")
        let failing = Set((try String(contentsOf: conformance.appendingPathComponent("expected_failures.txt"), encoding: .utf8))
            .split(separator: "\n").filter { !$0.hasPrefix("#") }.map { String($0.split(separator: " ")[0]) })
        let index = try JSONDecoder().decode(ConformanceTests.Index.self, from: Data(contentsOf: conformance.appendingPathComponent("index.json")))
        for c in index.cases where c.scope == "in" && !failing.contains(c.name) {
            guard let archive = c.archive, let zip = try? Archive(url: conformance.appendingPathComponent(archive), accessMode: .read),
                  let entry = zip["\(c.name)/model.onnx"] else { continue }
            let dir = try TempDir()
            let path = dir.path("model.onnx")
            _ = try zip.extract(entry, to: URL(fileURLWithPath: path))
            ops.formUnion(try ONNXImporter.load(path: path).graph.nodes.map(\.op))
        }
        return ops
    }

    @Test func everyOpHasAKernelAndAParityFixture() throws {
        let used = try Self.opsInParityFixtures()
        for name in OpRegistry.names.sorted() {
            #expect(KernelRegistry.kernels[name] != nil, "op \(name) has no runtime kernel")
        }
        #expect(OpRegistry.names.subtracting(used).isEmpty, "ops in no parity fixture: \(OpRegistry.names.subtracting(used).sorted())")
        #expect(Set(KernelRegistry.kernels.keys) == OpRegistry.names, "kernels for ops the registry does not define")
        #expect(InferenceSession.supportedOps == OpRegistry.names)
        // Importers emit only registry ops, and every op the ONNX importer reads has a normaliser.
        #expect(used.isSubset(of: OpRegistry.names), "not registry ops: \(used.subtracting(OpRegistry.names).sorted())")
        #expect(ONNXImporter.supportedOps.isSuperset(of: ["Conv", "Shape", "Constant", "Range", "Expand", "Size"]))
    }

    @Test func everyAttributeDefaultIsOfItsDeclaredKind() {
        for spec in OpRegistry.specs.values {
            for a in spec.attributes {
                #expect(!(a.required && a.defaultValue != nil), "\(spec.name).\(a.name): required with a default")
                guard let d = a.defaultValue else { continue }
                switch (a.kind, d) {
                case (.int, .int), (.ints, .ints), (.float, .float), (.floats, .floats), (.string, .string), (.strings, .strings): break
                default: Issue.record("\(spec.name).\(a.name): default \(d) is not a \(a.kind)")
                }
            }
        }
    }

    /// A node that leaves an attribute out computes what the default says, in
    /// the shape rule, the kernel and the fusion pass alike.
    @Test func anAbsentAttributeMeansItsDefaultEverywhere() throws {
        func run(_ attrs: [String: Attribute]) throws -> [Float] {
            let m = Model(card: ModelCard(name: "leaky"), graph: Graph(
                inputs: [ValueInfo(name: "x", dtype: .f32, shape: [.fixed(1), .fixed(1), .fixed(1), .fixed(4)])],
                outputs: [ValueInfo(name: "y", dtype: .f32, shape: [.fixed(1), .fixed(1), .fixed(1), .fixed(4)])],
                nodes: [
                    Node(name: "conv", op: "Conv", inputs: ["x", "w"], outputs: ["c"]),
                    Node(name: "act", op: "LeakyRelu", inputs: ["c"], outputs: ["y"], attributes: attrs),
                ]),
                tensors: [("w", try Tensor(floats: [1], shape: [1, 1, 1, 1]))])
            let s = try InferenceSession(model: m)
            #expect(s.steps.count == 1 && s.steps[0].activation != .none, "LeakyRelu fused into the Conv")
            return try s.run(["x": try Tensor(floats: [-2, -1, 0, 3], shape: [1, 1, 1, 4])])["y"]!.scalars(as: Float.self)
        }
        #expect(OpRegistry.spec("LeakyRelu")?.attribute("alpha")?.defaultValue == .float(0.01))
        #expect(try run([:]) == run(["alpha": .float(0.01)]))
        #expect(try run([:]) == [-0.02, -0.01, 0, 3])
    }
}
