import Foundation
import Testing
import ZooTestSupport
import ZooCore
import ZooFormat
import ZooONNX
@testable import ZooRuntime

/// The runtime's own GEMM (AVX-512 micro-kernel, chosen at run time) against a
/// plain double-precision product, and the portable (BLAS) path against it.
@Suite(.serialized) struct GemmKernelTests {
    static func reference(_ m: Int, _ n: Int, _ k: Int, _ a: [Float], _ b: [Float]) -> [Float] {
        var c = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for t in 0..<k { s += Double(a[i * k + t]) * Double(b[t * n + j]) }
                c[i * n + j] = Float(s)
            }
        }
        return c
    }

    static func values(_ count: Int, seed: Int) -> [Float] {
        (0..<count).map { Float((($0 &* 2_654_435_761 &+ seed) % 2001) - 1000) / 1000 }
    }

    @Test(arguments: [(1, 1, 1), (13, 33, 257), (12, 32, 256), (25, 70, 513), (64, 49, 576), (5, 600, 3), (100, 17, 1)])
    func productMatchesAPlainProductOnEveryEdge(_ shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        let a = Self.values(m * k, seed: 1), b = Self.values(k * n, seed: 2)
        let want = Self.reference(m, n, k, a, b)
        for portable in [false, true] {
            KernelSelection.forcePortable(portable)
            defer { KernelSelection.forcePortable(false) }
            var c = [Float](repeating: .nan, count: m * n)
            a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                    c.withUnsafeMutableBufferPointer { cp in
                        Sgemm.nn(m: m, n: n, k: k, a: ap.baseAddress!, lda: k, b: bp.baseAddress!, ldb: n, c: cp.baseAddress!, ldc: n)
                    }
                }
            }
            let worst = zip(c, want).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
            #expect(worst <= 1e-5, "\(m)×\(n)×\(k), portable \(portable): relative error \(worst)")
        }
        // Prepacked A (convolution filters), in whole-panel row ranges as the workers split it.
        guard let packed = a.withUnsafeBufferPointer({ PackedMatrix(m: m, k: k, a: $0.baseAddress!, lda: k) }) else {
            #expect(!KernelSelection.vectorised)
            return
        }
        var c = [Float](repeating: .nan, count: m * n)
        let split = min(m, PackedMatrix.panelRows)
        for rows in [0..<split, split..<m] where !rows.isEmpty {
            let done = b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { Sgemm.packed(packed, rows: rows, n: n, b: bp.baseAddress!, ldb: n, c: $0.baseAddress!, ldc: n) }
            }
            #expect(done)
        }
        let worst = zip(c, want).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
        #expect(worst <= 1e-5, "\(m)×\(n)×\(k), packed: relative error \(worst)")
    }

    @Test func portableAndVectorisedKernelsMatchOnnxruntimeOnConvolutionDepthwiseAndPoolingFixtures() throws {
        print("GEMM kernel: \(KernelSelection.vectorised ? "AVX-512" : "portable (BLAS)")")
        for name in ["resnet_bottleneck", "vgg_block", "inception_block", "mobilenetv2_block", "depthwise_residual", "conv_group", "squeezenet_fire", "shufflenet_unit", "densenet_block", "avgpool_ceil", "avgpool_pads", "maxpool_opset11"] {
            let entry = Manifest.shared.models.first { $0.name == name }!
            let fast = try ONNXParityTests.run(entry).1
            KernelSelection.forcePortable(true)
            defer { KernelSelection.forcePortable(false) }
            #expect(!KernelSelection.vectorised)
            let portable = try ONNXParityTests.run(entry).1
            for io in entry.outputs ?? [] {
                let expected = try NPY.read(path: Manifest.path(io.file))
                for (label, t) in [("vectorised", fast[io.name]!), ("portable", portable[io.name]!)] {
                    let r = try Parity.compare(t, expected, output: io.name)
                    #expect(r.passed, "\(name) \(label): max abs \(r.maxAbsError)")
                }
            }
        }
    }
}

/// x · Sigmoid(x) after a convolution (EfficientNet's SiLU) is fused into the convolution;
/// the fused and unfused runs of the same graph agree.
@Suite struct SiLUFusionTests {
    @Test func convSigmoidMulFusesAndMatchesTheUnfusedGraph() throws {
        let w: [Float] = (0..<108).map { (i: Int) -> Float in Float((i * 37) % 19 - 9) / 10 }
        let b: [Float] = [0.5, -1, 0.25, 2]
        let graph = Graph(inputs: [ValueInfo(name: "x", dtype: .f32, shape: [.fixed(1), .fixed(3), .fixed(9), .fixed(11)])],
                          outputs: [ValueInfo(name: "y", dtype: .f32, shape: [.fixed(1), .fixed(4), .fixed(9), .fixed(11)])],
                          nodes: [Node(name: "conv", op: "Conv", inputs: ["x", "w", "b"], outputs: ["c"], attributes: ["pads": .ints([1, 1, 1, 1])]),
                                  Node(name: "sig", op: "Sigmoid", inputs: ["c"], outputs: ["s"]),
                                  Node(name: "mul", op: "Mul", inputs: ["s", "c"], outputs: ["y"])])
        let model = Model(card: ModelCard(name: "silu"), graph: graph,
                          tensors: [("w", try Tensor(floats: w, shape: [4, 3, 3, 3])), ("b", try Tensor(floats: b, shape: [4]))])
        let xs: [Float] = (0..<297).map { (i: Int) -> Float in Float((i * 53) % 41 - 20) / 4 }
        let x = try Tensor(floats: xs, shape: [1, 3, 9, 11])
        let fused = try InferenceSession(model: model, threads: 2)
        #expect(fused.steps.map { $0.node.op } == ["Conv"])
        #expect(fused.steps.first?.activation == .silu)
        // Asking for the sigmoid's output keeps the three nodes apart.
        let plain = try InferenceSession(model: model, threads: 2, outputs: ["s", "y"])
        #expect(plain.steps.count == 3)
        let a = try fused.run(["x": x])["y"]!.scalars(as: Float.self), e = try plain.run(["x": x])["y"]!.scalars(as: Float.self)
        #expect(a.count == e.count)
        for (u, v) in zip(a, e) { #expect((u - v).magnitude <= 1e-6 + 1e-6 * v.magnitude, "\(u) vs \(v)") }
    }
}
