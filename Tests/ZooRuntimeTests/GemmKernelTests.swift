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
        for (portable, token) in [(false, UInt64(0)), (false, UInt64(0xABCD_0001)), (true, UInt64(0))] {
            KernelSelection.forcePortable(portable)
            defer { KernelSelection.forcePortable(false) }
            var c = [Float](repeating: .nan, count: m * n)
            // Twice with the same token: the second run reads the cached packing.
            for _ in 0..<2 {
                a.withUnsafeBufferPointer { ap in
                    b.withUnsafeBufferPointer { bp in
                        c.withUnsafeMutableBufferPointer { cp in
                            Sgemm.nn(m: m, n: n, k: k, a: ap.baseAddress!, lda: k, b: bp.baseAddress!, ldb: n, c: cp.baseAddress!, ldc: n, token: token)
                        }
                    }
                }
            }
            let worst = zip(c, want).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
            #expect(worst <= 1e-5, "\(m)×\(n)×\(k), portable \(portable), token \(token): relative error \(worst)")
        }
    }

    @Test func portableAndVectorisedPathsAgreeOnAConvolutionNetwork() throws {
        print("GEMM kernel: \(KernelSelection.vectorised ? "AVX-512" : "portable (BLAS)")")
        for name in ["resnet_bottleneck", "vgg_block", "inception_block"] {
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
