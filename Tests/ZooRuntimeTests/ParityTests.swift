import Foundation
import Testing
import ZooTestSupport
import ZooCore
import ZooFormat
import ZooONNX
@testable import ZooRuntime

/// Every importable ONNX fixture goes import → .zoo → runtime and must match
/// the outputs onnxruntime computed (fixtures/generator/make_onnx.py).
@Suite struct ONNXParityTests {
    static func run(_ entry: Manifest.Entry, threads: Int = 2) throws -> (ZooFile, [String: Tensor], TempDir) {
        let dir = try TempDir()
        let model = try ONNXImporter.load(path: Manifest.path(entry.file))
        let out = URL(fileURLWithPath: dir.path("m.zoo"))
        try ZooWriter.write(model, to: out)
        let file = try ZooFile(path: out.path)
        let session = try InferenceSession(file: file, threads: threads)
        var inputs: [String: Tensor] = [:]
        for io in entry.inputs ?? [] { inputs[io.name] = try NPY.read(path: Manifest.path(io.file)) }
        return (file, try session.run(inputs), dir)
    }

    @Test(arguments: Manifest.entries("ok").map(\.name))
    func fixtureMatchesOnnxruntime(name: String) throws {
        let entry = Manifest.shared.models.first { $0.name == name }!
        let (file, outputs, _) = try Self.run(entry)
        for io in entry.outputs ?? [] {
            let expected = try NPY.read(path: Manifest.path(io.file))
            let actual = try #require(outputs[io.name])
            let r = try Parity.compare(actual, expected, output: io.name)
            if !r.passed {
                Issue.record("\(name).\(io.name): max abs \(r.maxAbsError), max rel \(r.maxRelError); first diverging node: \(try Self.firstDivergence(entry, file) ?? "unknown (no intermediates dumped for this fixture)")")
            }
        }
    }

    /// Walks the dumped intermediates in node order and names the first value that differs.
    static func firstDivergence(_ entry: Manifest.Entry, _ file: ZooFile) throws -> String? {
        guard let mids = entry.intermediates, !mids.isEmpty else { return nil }
        let model = try file.model()
        let names = Set(model.graph.nodes.flatMap(\.outputs))
        let present = mids.filter { names.contains($0.name) }
        let session = try InferenceSession(model: model, threads: 1, outputs: present.map(\.name))
        var inputs: [String: Tensor] = [:]
        for io in entry.inputs ?? [] { inputs[io.name] = try NPY.read(path: Manifest.path(io.file)) }
        let got = try session.run(inputs)
        for m in present {
            let r = try Parity.compare(got[m.name]!, try NPY.read(path: Manifest.path(m.file)), output: m.name)
            if !r.passed {
                let node = model.graph.nodes.first { $0.outputs.contains(m.name) }!
                return "\(node.name) (\(node.op)) → \(m.name), max abs \(r.maxAbsError)"
            }
        }
        return "none: every dumped intermediate matches when run unfused, so the difference comes from a load-time fusion (BatchNorm folding or activation fusion)"
    }

    @Test func batchSizeIsFreeAtRunTime() throws {
        let entry = Manifest.shared.models.first { $0.name == "resnet_bottleneck" }!
        let model = try ONNXImporter.load(path: Manifest.path(entry.file))
        let session = try InferenceSession(model: model, threads: 2)
        let x = try NPY.read(path: Manifest.path(entry.inputs![0].file))
        let expected = try NPY.read(path: Manifest.path(entry.outputs![0].file))
        // Run the reference batch one sample at a time: each row must match.
        let rows = x.shape[0], per = x.elementCount / rows, outPer = expected.elementCount / rows
        for r in 0..<rows {
            let xs = try Tensor(floats: Array(x.scalars(as: Float.self)[(r * per)..<((r + 1) * per)]), shape: [1] + x.shape.dropFirst())
            let y = try session.run([entry.inputs![0].name: xs])[entry.outputs![0].name]!
            let e = try Tensor(floats: Array(expected.scalars(as: Float.self)[(r * outPer)..<((r + 1) * outPer)]), shape: [1] + expected.shape.dropFirst())
            #expect(try Parity.compare(y, e, output: "row \(r)").passed)
        }
    }

    @Test func intermediateOutputIsAvailableForFeatureExtraction() throws {
        let entry = Manifest.shared.models.first { $0.name == "vgg_block" }!
        let model = try ONNXImporter.load(path: Manifest.path(entry.file))
        let mid = try #require(entry.intermediates?.first { m in model.graph.nodes.contains { $0.op == "Relu" && $0.outputs.contains(m.name) } })
        let session = try InferenceSession(model: model, threads: 2, outputs: [mid.name])
        let x = try NPY.read(path: Manifest.path(entry.inputs![0].file))
        let y = try session.run([entry.inputs![0].name: x])[mid.name]!
        #expect(try Parity.compare(y, try NPY.read(path: Manifest.path(mid.file)), output: mid.name).passed)
    }

    @Test func wrongInputShapeNamesTheInputAndExpectedShape() throws {
        let model = try ONNXImporter.load(path: Manifest.path("vgg_block.onnx"))
        let session = try InferenceSession(model: model)
        let bad = try Tensor(floats: [Float](repeating: 0, count: 3 * 5 * 5), shape: [1, 3, 5, 5])
        let input = model.graph.inputs[0]
        let e = #expect(throws: RuntimeError.self) { try session.run([input.name: bad]) }
        let message = e?.localizedDescription ?? ""
        #expect(message.contains("input '\(input.name)'"), "\(message)")
        #expect(message.contains(ShapeMath.describe(input.shape)), "expected shape missing: \(message)")
        let wrongType = try Tensor(dtype: .f64, shape: [1], bytes: [UInt8](repeating: 0, count: 8))
        #expect(throws: RuntimeError.inputDType(name: model.graph.inputs[0].name, expected: .f32, actual: .f64)) {
            try session.run([model.graph.inputs[0].name: wrongType])
        }
    }

    /// Attributes a hand-edited model could carry: typed errors, never a crash or an unbounded allocation.
    @Test func hostileGraphAttributesAreTypedErrors() throws {
        var lrn = try ONNXImporter.load(path: Manifest.path("lrn.onnx"))
        for i in lrn.graph.nodes.indices where lrn.graph.nodes[i].op == "LRN" { lrn.graph.nodes[i].attributes["size"] = .int(0) }
        let x = try NPY.read(path: Manifest.path("lrn.in0.npy"))
        #expect(throws: RuntimeError.self) { try InferenceSession(model: lrn).run([lrn.graph.inputs[0].name: x]) }

        let huge = Model(card: ModelCard(name: "huge"), graph: Graph(
            inputs: [ValueInfo(name: "s", dtype: .i64, shape: [.fixed(2)])],
            outputs: [ValueInfo(name: "y", dtype: .f32, shape: [.symbolic("a"), .symbolic("b")])],
            nodes: [Node(name: "fill", op: "ConstantOfShape", inputs: ["s"], outputs: ["y"], attributes: ["value": .float(1), "dtype": .string("f32")])]),
            tensors: [])
        let dims = try Tensor(dtype: .i64, shape: [2], storage: [Int64(1 << 24), Int64(1 << 24)].withUnsafeBytes { TensorStorage(copying: $0) })
        #expect(throws: RuntimeError.self) { try InferenceSession(model: huge).run(["s": dims]) }

        // Slice bounds past either end are clamped per ONNX, never read out of bounds.
        func slice(starts: Int, ends: Int, step: Int) throws -> [Float] {
            let m = Model(card: ModelCard(name: "slice"), graph: Graph(
                inputs: [ValueInfo(name: "x", dtype: .f32, shape: [.fixed(4)])],
                outputs: [ValueInfo(name: "y", dtype: .f32, shape: [.symbolic("?1")])],
                nodes: [Node(name: "s", op: "Slice", inputs: ["x"], outputs: ["y"],
                             attributes: ["starts": .ints([starts]), "ends": .ints([ends]), "axes": .ints([0]), "steps": .ints([step])])]),
                tensors: [])
            return try InferenceSession(model: m).run(["x": try Tensor(floats: [1, 2, 3, 4], shape: [4])])["y"]!.scalars(as: Float.self)
        }
        #expect(try slice(starts: 4, ends: -1, step: -1) == [])          // x[3:3:-1]
        #expect(try slice(starts: 10, ends: -10, step: -1) == [4, 3, 2, 1])
        #expect(try slice(starts: -10, ends: 10, step: 3) == [1, 4])
    }

    @Test func opsWithoutKernelsAreRefusedAtLoad() throws {
        var model = try ONNXImporter.load(path: Manifest.path("vgg_block.onnx"))
        model.graph.nodes[0].op = "RandomNormal"
        #expect(throws: RuntimeError.unsupportedOps(["RandomNormal": 1])) { try InferenceSession(model: model) }
    }

    @Test func batchNormIsFoldedAndReluFusedAtLoad() throws {
        let model = try ONNXImporter.load(path: Manifest.path("resnet_bottleneck.onnx"))
        let session = try InferenceSession(model: model)
        #expect(!session.steps.contains { $0.node.op == "BatchNormalization" })
        #expect(session.steps.contains { $0.node.op == "Conv" && $0.activation == .relu })
        // The shortcut Add (and the Relu after it) run in a convolution's epilogue.
        #expect(session.steps.contains { $0.node.op == "Conv" && $0.residual != nil && $0.activation == .relu })
        #expect(!session.steps.contains { $0.node.op == "Add" })
        #expect(session.steps.count < model.graph.nodes.count)
    }
}

@Suite struct ParityMetricTests {
    @Test func identicalOutputsPassWithPerfectScores() throws {
        let t = try Tensor(floats: [1, 2, 3, 4, 5, 6], shape: [1, 6])
        let r = try Parity.compare(t, t, output: "y")
        #expect(r.passed && r.maxAbsError == 0 && r.cosine == 1 && r.top1Agreement == 1 && r.top5Agreement == 1)
    }

    @Test func errorBeyondToleranceFailsAndIsLocated() throws {
        let e = try Tensor(floats: [1, 2, 3, 4, 5, 6], shape: [1, 6])
        let a = try Tensor(floats: [1, 2, 3.01, 4, 5, 6], shape: [1, 6])
        let r = try Parity.compare(a, e, output: "y")
        #expect(!r.passed)
        #expect(r.worstIndex == 2)
        #expect(abs(r.maxAbsError - 0.01) < 1e-6)
    }
}

/// The bundled demo model as the README runs it, in the current format and as version 1.0 wrote it.
@Suite struct BundledModelTests {
    @Test func bundledDemoModelRunsAndVersion10FileGivesTheSameAnswer() throws {
        let dir = Manifest.repoRoot.appendingPathComponent("fixtures/zoo")
        let current = try ZooFile(path: dir.appendingPathComponent("tiny-mlp.zoo").path)
        let old = try ZooFile(path: dir.appendingPathComponent("tiny-mlp-v1.0.zoo").path)
        #expect(current.minorVersion == ZooFormatSpec.minorVersion && old.minorVersion == 0)
        // Gemm nodes in these files carry only transB: every other attribute takes its registry default.
        #expect(current.graph.nodes.contains { $0.op == "Gemm" && $0.attributes["transA"] == nil })
        let x = try Tensor(floats: (0..<8).map { Float($0) / 4 - 1 }, shape: [2, 4])
        let a = try InferenceSession(file: current).run(["x": x])["probs"]!
        let b = try InferenceSession(file: old).run(["x": x])["probs"]!
        #expect(a.shape == [2, 3])
        #expect(a.scalars(as: Float.self) == b.scalars(as: Float.self))
        for row in 0..<2 {
            let p = a.scalars(as: Float.self)[(row * 3)..<(row * 3 + 3)]
            #expect(abs(p.reduce(0, +) - 1) < 1e-5 && p.allSatisfy { $0 > 0 })
        }
    }
}
