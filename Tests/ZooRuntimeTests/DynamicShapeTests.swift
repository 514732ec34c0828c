import Foundation
import Testing
import ZooTestSupport
import ZooCore
import ZooFormat
import ZooONNX
@testable import ZooRuntime

/// Models whose inputs have symbolic batch, height, width or sequence length:
/// one converted model, one session, every size onnxruntime ran it at.
@Suite struct DynamicShapeTests {
    static let dynamic = Manifest.shared.models.filter { ($0.runs?.count ?? 0) > 1 }

    @Test func dynamicFixturesExist() {
        #expect(Self.dynamic.count >= 6)
    }

    @Test(arguments: dynamic.map(\.name))
    func oneSessionMatchesOnnxruntimeAtEverySize(name: String) throws {
        let entry = Self.dynamic.first { $0.name == name }!
        let (file, _, dir) = try ONNXParityTests.run(entry)
        let session = try InferenceSession(file: file, threads: 2)
        // Twice through the sizes: the second pass is served by the plan cache.
        for pass in 0..<2 {
            for (k, run) in entry.runs!.enumerated() {
                var inputs: [String: Tensor] = [:]
                for io in run.inputs { inputs[io.name] = try NPY.read(path: Manifest.path(io.file)) }
                let outputs = try session.run(inputs)
                for io in run.outputs {
                    let expected = try NPY.read(path: Manifest.path(io.file))
                    let actual = try #require(outputs[io.name])
                    let r = try Parity.compare(actual, expected, output: io.name)
                    #expect(r.passed, "\(name) run \(k) pass \(pass) \(io.name): shape \(actual.shape) vs \(expected.shape), max abs \(r.maxAbsError)")
                }
            }
        }
        #expect(session.planStatistics.count == entry.runs!.count, "\(name): one plan per input signature")
        withExtendedLifetime(dir) {}
    }

    @Test func symbolicInputDimensionsKeepTheirNames() throws {
        let paddle = try ONNXImporter.load(path: Manifest.path("dyn_paddle_names.onnx"))
        #expect(paddle.graph.inputs[0].shape == [.symbolic("p2o.DynamicDimension.0"), .fixed(3), .symbolic("H"), .symbolic("W")])
        let unnamed = try ONNXImporter.load(path: Manifest.path("dyn_unnamed_dims.onnx"))
        let dims = unnamed.graph.inputs[0].shape.map(SymDim.init)
        #expect(dims.count == 4 && dims[1] == SymDim(4))
        // Every unnamed dimension is its own symbol.
        #expect(Set([dims[0], dims[2], dims[3]].compactMap(\.symbolName)).count == 3)
        // Symbolic sizes are carried through the stride-2 stack in closed form.
        let resnet = try ONNXImporter.load(path: Manifest.path("dyn_resnet_hw.onnx"))
        #expect(resnet.graph.outputs[0].shape == [.symbolic("N"), .fixed(5)])
    }

    @Test func twoInputsDisagreeingOnASymbolIsAnErrorNamingBoth() throws {
        let model = try ONNXImporter.load(path: Manifest.path("dyn_shared_symbol.onnx"))
        let session = try InferenceSession(model: model)
        let a = try Tensor(floats: [Float](repeating: 1, count: 2 * 3 * 8), shape: [2, 3, 8])
        let b = try Tensor(floats: [Float](repeating: 1, count: 2 * 4 * 8), shape: [2, 4, 8])
        let e = #expect(throws: RuntimeError.self) { try session.run(["a": a, "b": b]) }
        guard case .inputDimension(let name, let axis, let actual, let expected, let reason, _)? = e else {
            Issue.record("expected an inputDimension error, got \(String(describing: e))")
            return
        }
        #expect(name == "b" && axis == 1 && actual == 4 && expected == 3)
        #expect(reason.contains("T = 3") && reason.contains("input 'a'"), "\(reason)")
        // Wrong fixed size and wrong rank.
        let c = try Tensor(floats: [Float](repeating: 1, count: 2 * 3 * 5), shape: [2, 3, 5])
        #expect(throws: RuntimeError.inputDimension(name: "a", axis: 2, actual: 5, expected: 8, reason: "a fixed size", declared: model.graph.inputs[0].shape)) {
            try session.run(["a": c, "b": c])
        }
        #expect(throws: RuntimeError.self) { try session.run(["a": try Tensor(floats: [1], shape: [1]), "b": b]) }
    }

    @Test func aSpatialSizeTooSmallForTheStrideStackIsATypedErrorNamingTheNode() throws {
        let model = try ONNXImporter.load(path: Manifest.path("dyn_paddle_names.onnx"))
        let session = try InferenceSession(model: model)
        let x = try Tensor(floats: [Float](repeating: 0.5, count: 3 * 2 * 2), shape: [1, 3, 2, 2])
        let e = #expect(throws: RuntimeError.self) { try session.run(["x": x]) }
        guard case .shape(let node, let op, let detail)? = e else { Issue.record("expected a shape error, got \(String(describing: e))"); return }
        #expect(op == "Conv" && !node.isEmpty, "\(node) \(op)")
        #expect(detail.contains("does not fit") && detail.contains("2"), "\(detail)")
        // The session still serves a valid size afterwards.
        let ok = try Tensor(floats: [Float](repeating: 0.5, count: 3 * 12 * 12), shape: [1, 3, 12, 12])
        #expect(try session.run(["x": ok])["y"] != nil)
    }

    @Test func aReshapeWhoseElementCountDoesNotMatchIsATypedError() throws {
        let m = Model(card: ModelCard(name: "r"), graph: Graph(
            inputs: [ValueInfo(name: "x", dtype: .f32, shape: [.symbolic("N"), .symbolic("T")])],
            outputs: [ValueInfo(name: "y", dtype: .f32, shape: [.symbolic("?1"), .fixed(4)])],
            nodes: [Node(name: "to4", op: "Reshape", inputs: ["x"], outputs: ["y"], attributes: ["shape": .ints([-1, 4])])]),
            tensors: [])
        let session = try InferenceSession(model: m)
        #expect(try session.run(["x": try Tensor(floats: [Float](repeating: 1, count: 8), shape: [2, 4])])["y"]!.shape == [2, 4])
        #expect(throws: RuntimeError.self) { try session.run(["x": try Tensor(floats: [Float](repeating: 1, count: 6), shape: [2, 3])]) }
    }

    @Test func aFixedShapeModelPlansOnce() throws {
        let entry = Manifest.shared.models.first { $0.name == "vgg_block" }!
        let model = try ONNXImporter.load(path: Manifest.path(entry.file))
        let session = try InferenceSession(model: model, threads: 2)
        let x = try NPY.read(path: Manifest.path(entry.inputs![0].file))
        for _ in 0..<3 { _ = try session.run([entry.inputs![0].name: x]) }
        #expect(session.planStatistics.count == 1)
    }
}
