import CBLAS
import CZooSupport
import Foundation
import ZooCore

protocol BinaryOp { static func apply(_ a: Float, _ b: Float) -> Float }
enum AddOp: BinaryOp { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a + b } }
enum SubOp: BinaryOp { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a - b } }
enum MulOp: BinaryOp { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a * b } }
enum DivOp: BinaryOp { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a / b } }

/// Row-major strides of `shape`, with 0 for dimensions broadcast to `out`.
func broadcastStrides(_ shape: [Int], to out: [Int]) -> [Int] {
    let pad = out.count - shape.count
    let full = Array(repeating: 1, count: pad) + shape
    var strides = Array(repeating: 0, count: out.count)
    var acc = 1
    for d in stride(from: out.count - 1, through: 0, by: -1) {
        strides[d] = full[d] == 1 && out[d] != 1 ? 0 : acc
        acc *= full[d]
    }
    return strides
}

enum Elementwise {
    static func binary(_ op: String, a: UnsafePointer<Float>, aShape: [Int], b: UnsafePointer<Float>, bShape: [Int],
                       y: UnsafeMutablePointer<Float>, outShape: [Int], threads: Int) {
        switch op {
        case "Add": run(AddOp.self, a, aShape, b, bShape, y, outShape, threads)
        case "Sub": run(SubOp.self, a, aShape, b, bShape, y, outShape, threads)
        case "Mul": run(MulOp.self, a, aShape, b, bShape, y, outShape, threads)
        default: run(DivOp.self, a, aShape, b, bShape, y, outShape, threads)
        }
    }

    static func run<Op: BinaryOp>(_: Op.Type, _ a: UnsafePointer<Float>, _ aShape: [Int], _ b: UnsafePointer<Float>, _ bShape: [Int],
                                  _ y: UnsafeMutablePointer<Float>, _ out: [Int], _ threads: Int) {
        let count = out.reduce(1, *)
        guard count > 0 else { return }
        let aCount = aShape.reduce(1, *), bCount = bShape.reduce(1, *)
        if aCount == count && bCount == count {
            parallelFor(count, threads: threads, grain: 1 << 15) { r in for i in r { y[i] = Op.apply(a[i], b[i]) } }
            return
        }
        if bCount == 1 && aCount == count {
            let s = b[0]
            parallelFor(count, threads: threads, grain: 1 << 15) { r in for i in r { y[i] = Op.apply(a[i], s) } }
            return
        }
        if aCount == 1 && bCount == count {
            let s = a[0]
            parallelFor(count, threads: threads, grain: 1 << 15) { r in for i in r { y[i] = Op.apply(s, b[i]) } }
            return
        }
        let rank = max(out.count, 1)
        let shape = out.isEmpty ? [1] : out
        let sa = out.isEmpty ? [0] : broadcastStrides(aShape, to: out)
        let sb = out.isEmpty ? [0] : broadcastStrides(bShape, to: out)
        let inner = shape[rank - 1]
        let outer = count / inner
        let ia = sa[rank - 1], ib = sb[rank - 1]
        parallelFor(outer, threads: threads, grain: max(1, (1 << 15) / max(inner, 1))) { r in
            for o in r {
                var rem = o, offA = 0, offB = 0
                for d in stride(from: rank - 2, through: 0, by: -1) {
                    let idx = rem % shape[d]
                    rem /= shape[d]
                    offA += idx * sa[d]
                    offB += idx * sb[d]
                }
                let dst = y + o * inner
                if ia == 1 && ib == 0 {
                    let s = b[offB]
                    for i in 0..<inner { dst[i] = Op.apply(a[offA + i], s) }
                } else if ia == 0 && ib == 1 {
                    let s = a[offA]
                    for i in 0..<inner { dst[i] = Op.apply(s, b[offB + i]) }
                } else {
                    for i in 0..<inner { dst[i] = Op.apply(a[offA + i * ia], b[offB + i * ib]) }
                }
            }
        }
    }

    /// Unary ops, one specialised loop each (a closure call per element costs more than the op).
    enum Unary {
        case relu, sigmoid, tanh, hardSwish
        case leaky(Float)
        case thresholded(Float)
        case elu(Float)
        case selu(Float, Float)
        case gelu, geluTanh, softplus, softsign
        case clip(Float, Float)
        case hardSigmoid(Float, Float)
        case celu(Float), mish, swish(Float)
        case shrink(bias: Float, lambda: Float)
    }

    static func unary(_ op: Unary, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int, threads: Int) {
        parallelFor(count, threads: threads, grain: 1 << 15) { r in
            switch op {
            case .relu: for i in r { y[i] = max(x[i], 0) }
            case .leaky(let a): for i in r { let v = x[i]; y[i] = v >= 0 ? v : v * a }
            case .thresholded(let t): for i in r { let v = x[i]; y[i] = v > t ? v : 0 }
            case .elu(let a): for i in r { let v = x[i]; y[i] = v >= 0 ? v : a * (expf(v) - 1) }
            case .selu(let a, let g): for i in r { let v = x[i]; y[i] = g * (v > 0 ? v : a * (expf(v) - 1)) }
            case .gelu: for i in r { let v = x[i]; y[i] = 0.5 * v * (1 + erff(v * 0.70710678118654752)) }
            case .geluTanh: for i in r { let v = x[i]; y[i] = 0.5 * v * (1 + tanhf(0.7978845608028654 * (v + 0.044715 * v * v * v))) }
            case .softplus: for i in r { let v = x[i]; y[i] = v > 20 ? v : log1pf(expf(v)) }
            case .softsign: for i in r { let v = x[i]; y[i] = v / (1 + abs(v)) }
            case .clip(let lo, let hi): for i in r { y[i] = min(max(x[i], lo), hi) }
            case .sigmoid: czoo_sigmoid(x + r.lowerBound, y + r.lowerBound, r.count)
            case .tanh: for i in r { y[i] = tanhf(x[i]) }
            case .hardSigmoid(let a, let b): for i in r { y[i] = max(0, min(1, a * x[i] + b)) }
            case .hardSwish: for i in r { let v = x[i]; y[i] = v * max(0, min(1, v / 6 + 0.5)) }
            case .celu(let a): for i in r { let v = x[i]; y[i] = max(0, v) + min(0, a * (expf(v / a) - 1)) }
            case .mish: for i in r { let v = x[i]; y[i] = v * tanhf(v > 20 ? v : log1pf(expf(v))) }
            case .swish(let a): for i in r { let v = x[i]; y[i] = v / (1 + expf(-a * v)) }
            case .shrink(let b, let l): for i in r { let v = x[i]; y[i] = v < -l ? v + b : v > l ? v - b : 0 }
            }
        }
    }

    static func softmax(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, outer: Int, axis: Int, inner: Int, threads: Int) {
        parallelFor(outer * inner, threads: threads, grain: max(1, 4096 / max(axis, 1))) { r in
            for oi in r {
                let o = oi / inner, i = oi % inner
                let base = o * axis * inner + i
                var m = -Float.infinity
                for k in 0..<axis { m = max(m, x[base + k * inner]) }
                var s: Float = 0
                for k in 0..<axis {
                    let e = expf(x[base + k * inner] - m)
                    y[base + k * inner] = e
                    s += e
                }
                let inv = 1 / s
                for k in 0..<axis { y[base + k * inner] *= inv }
            }
        }
    }

    /// y = x · scale[c] + shift[c] over NC… (BatchNormalization not folded into a Conv).
    static func channelAffine(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, n: Int, c: Int, plane: Int,
                              scale: [Float], shift: [Float], activation: Activation = .none, threads: Int) {
        parallelFor(n * c, threads: threads, grain: max(1, 16384 / max(plane, 1))) { r in
            for nc in r {
                let s = scale[nc % c], t = shift[nc % c]
                let src = x + nc * plane, dst = y + nc * plane
                for i in 0..<plane { dst[i] = src[i] * s + t }
                // A fused activation (BatchNormalization → Relu, DenseNet's pre-activation) while the plane is in cache.
                Activations.apply(activation, dst, count: plane)
            }
        }
    }

    /// Local response normalisation across channels (ONNX LRN).
    static func lrn(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, n: Int, c: Int, plane: Int,
                    size: Int, alpha: Float, beta: Float, bias: Float, threads: Int) {
        let before = (size - 1) / 2, after = size - 1 - before
        parallelFor(n * c, threads: threads, grain: max(1, 4096 / max(plane, 1))) { r in
            for nc in r {
                let nn = nc / c, ch = nc % c
                let lo = max(0, ch - before), hi = min(c - 1, ch + after)
                for i in 0..<plane {
                    var sq: Float = 0
                    for k in lo...hi {
                        let v = x[(nn * c + k) * plane + i]
                        sq += v * v
                    }
                    y[nc * plane + i] = x[nc * plane + i] / powf(bias + alpha / Float(size) * sq, beta)
                }
            }
        }
    }

    /// Mean over `axes` of a tensor of `shape` into `y` (keepdims does not change the data).
    static func reduceMean(_ x: UnsafePointer<Float>, shape: [Int], axes: Set<Int>, y: UnsafeMutablePointer<Float>, outCount: Int) {
        // Each input element adds into the output element at its index with
        // the reduced axes dropped (stride 0 along them).
        let kept = StridedCopy.contiguousStrides(shape.indices.map { axes.contains($0) ? 1 : shape[$0] })
        let outStrides = shape.indices.map { axes.contains($0) ? 0 : kept[$0] }
        let total = shape.reduce(1, *)
        for i in 0..<outCount { y[i] = 0 }
        var idx = Array(repeating: 0, count: shape.count)
        var off = 0
        for i in 0..<total {
            y[off] += x[i]
            _ = StridedCopy.advance(&idx, &off, shape: shape, strides: outStrides, through: shape.count - 1)
        }
        let n = Float(total / max(outCount, 1))
        for i in 0..<outCount { y[i] /= n }
    }
}

/// Matrix products on our threads over single-threaded BLAS calls.
/// Which matrix-multiply kernel the runtime uses: zoo's AVX-512 micro-kernel
/// (`CZooSupport/gemm.c`) when the CPU has AVX-512F, else OpenBLAS. The
/// choice is made at run time, so one build serves every x86-64 machine.
public enum KernelSelection {
    /// Whether the AVX-512 kernel is in use.
    public static var vectorised: Bool { czoo_sgemm_available() != 0 }
    /// Forces the portable (BLAS) path, as `ZOO_KERNELS=portable` does; for tests and comparisons.
    public static func forcePortable(_ on: Bool) { czoo_sgemm_force_portable(on ? 1 : 0) }
}

/// C[m×n] = A[m×k] · B[k×n], row-major, on the calling thread.
enum Sgemm {
    @inline(__always)
    static func nn(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                   c: UnsafeMutablePointer<Float>, ldc: Int) {
        if czoo_sgemm(Int32(m), Int32(n), Int32(k), a, Int32(lda), b, Int32(ldb), c, Int32(ldc), 0) == 0 { return }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), 0, c, Int32(ldc))
    }
}

/// A constant matrix (a convolution's filters) packed once into the AVX-512
/// kernel's panels, kept for the session's lifetime.
final class PackedMatrix: @unchecked Sendable {
    /// Rows per panel: row ranges given to `Sgemm.packed` start at multiples of this.
    static let panelRows = 12
    let m: Int, k: Int
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    /// nil when the kernel is not in use (portable path).
    init?(m: Int, k: Int, a: UnsafePointer<Float>, lda: Int) {
        guard KernelSelection.vectorised, m > 0, k > 0 else { return nil }
        self.m = m
        self.k = k
        count = czoo_sgemm_packed_floats(Int32(m), Int32(k))
        pointer = .allocate(capacity: count)
        czoo_sgemm_pack(Int32(m), Int32(k), a, Int32(lda), pointer)
    }

    deinit { pointer.deallocate() }

    var bytes: Int { count * 4 }
}

extension Sgemm {
    /// Rows `rows` of C = A·B with A prepacked; false when the kernel is unavailable (nothing written).
    static func packed(_ a: PackedMatrix, rows: Range<Int>, n: Int, b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int) -> Bool {
        czoo_sgemm_packed(Int32(a.m), Int32(n), Int32(a.k), a.pointer, Int32(rows.lowerBound), Int32(rows.upperBound), b, Int32(ldb), c, Int32(ldc)) == 0
    }
}

enum Gemm {
    /// Below this many output columns per worker, split by rows instead:
    /// BLAS is inefficient on narrow blocks.
    static let columnSplitThreshold = 128

    /// C[m×n] = A[m×k] · B[k×n] (row-major, no transposes), split across
    /// threads by columns (or by rows when there are few columns); `finish`
    /// runs on each finished block, while it is in cache.
    static func parallel(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                         c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int, packed: PackedMatrix? = nil,
                         finish: (Range<Int>, Range<Int>) -> Void) {
        let flops = 2 * m * n * k
        // Below ~8 MFLOP (tens of microseconds) a second worker costs more than it saves
        // (measured on ShuffleNetV2 and SqueezeNet at batch 1).
        let workers = flops < (1 << 23) ? 1 : threads
        if let packed, packed.m == m, packed.k == k {
            if n >= columnSplitThreshold * workers || m < workers * 2 * PackedMatrix.panelRows {
                parallelFor(n, threads: workers, grain: 16) { cols in
                    if !Sgemm.packed(packed, rows: 0..<m, n: cols.count, b: b + cols.lowerBound, ldb: ldb, c: c + cols.lowerBound, ldc: ldc) {
                        Sgemm.nn(m: m, n: cols.count, k: k, a: a, lda: lda, b: b + cols.lowerBound, ldb: ldb, c: c + cols.lowerBound, ldc: ldc)
                    }
                    finish(0..<m, cols)
                }
            } else {
                // Split by whole panels of rows.
                let panels = (m + PackedMatrix.panelRows - 1) / PackedMatrix.panelRows
                parallelFor(panels, threads: workers) { ps in
                    let rows = (ps.lowerBound * PackedMatrix.panelRows)..<min(m, ps.upperBound * PackedMatrix.panelRows)
                    if !Sgemm.packed(packed, rows: rows, n: n, b: b, ldb: ldb, c: c, ldc: ldc) {
                        Sgemm.nn(m: rows.count, n: n, k: k, a: a + rows.lowerBound * lda, lda: lda, b: b, ldb: ldb, c: c + rows.lowerBound * ldc, ldc: ldc)
                    }
                    finish(rows, 0..<n)
                }
            }
            return
        }
        if n >= columnSplitThreshold * workers || m < workers * 16 {
            parallelFor(n, threads: workers, grain: 16) { cols in
                Sgemm.nn(m: m, n: cols.count, k: k, a: a, lda: lda, b: b + cols.lowerBound, ldb: ldb, c: c + cols.lowerBound, ldc: ldc)
                finish(0..<m, cols)
            }
        } else {
            parallelFor(m, threads: workers, grain: 16) { rows in
                Sgemm.nn(m: rows.count, n: n, k: k, a: a + rows.lowerBound * lda, lda: lda, b: b, ldb: ldb, c: c + rows.lowerBound * ldc, ldc: ldc)
                finish(rows, 0..<n)
            }
        }
    }
}

enum GemmKernel {
    /// Y[M,N] = alpha · op(A) · op(B) + beta · C (C broadcast to [M, N]).
    static func gemm(a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafePointer<Float>?, cShape: [Int],
                     y: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int, transA: Bool, transB: Bool,
                     alpha: Float, beta: Float, activation: Activation, threads: Int) {
        var betaBLAS: Float = 0
        if let c, beta != 0 {
            let cm = cShape.count == 2 ? cShape[0] : 1
            let cn = cShape.last ?? 1
            for i in 0..<m {
                for j in 0..<n { y[i * n + j] = beta * c[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)] }
            }
            betaBLAS = 1
        }
        // Split the output columns across threads (a classifier at batch 1 is one row).
        let workers = 2 * m * n * k < (1 << 21) ? 1 : threads
        parallelFor(n, threads: workers, grain: 16) { cols in
            let bCols = transB ? b + cols.lowerBound * k : b + cols.lowerBound
            cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                        Int32(m), Int32(cols.count), Int32(k), alpha, a, Int32(transA ? m : k), bCols, Int32(transB ? k : n),
                        betaBLAS, y + cols.lowerBound, Int32(n))
            if activation != .none {
                for r in 0..<m { Activations.apply(activation, y + r * n + cols.lowerBound, count: cols.count) }
            }
        }
    }

    /// For each matrix of a broadcast batch `batch`, the index of the A and B
    /// matrices it reads (numpy matmul's batch broadcasting).
    static func batchOffsets(_ aBatch: [Int], _ bBatch: [Int], to batch: [Int]) -> [(a: Int, b: Int)] {
        let stA = broadcastStrides(aBatch, to: batch), stB = broadcastStrides(bBatch, to: batch)
        return (0..<batch.reduce(1, *)).map { bi in
            var rem = bi, offA = 0, offB = 0
            for d in stride(from: batch.count - 1, through: 0, by: -1) {
                let idx = rem % batch[d]
                rem /= batch[d]
                offA += idx * stA[d]
                offB += idx * stB[d]
            }
            return (offA, offB)
        }
    }

    /// Numpy matmul with broadcast batch dimensions.
    static func matmul(a: UnsafePointer<Float>, aShape: [Int], b: UnsafePointer<Float>, bShape: [Int], y: UnsafeMutablePointer<Float>, outShape: [Int]) {
        var sa = aShape, sb = bShape
        if sa.count == 1 { sa.insert(1, at: 0) }
        if sb.count == 1 { sb.append(1) }
        let m = sa[sa.count - 2], k = sa[sa.count - 1], n = sb[sb.count - 1]
        let batchShape = Array(outShape.dropLast(aShape.count == 1 ? 0 : 1).dropLast(bShape.count == 1 ? 0 : 1))
        let batch = batchShape.reduce(1, *)
        let aBatch = Array(sa.dropLast(2)), bBatch = Array(sb.dropLast(2))
        let offsets = batchOffsets(aBatch, bBatch, to: batchShape)
        for bi in 0..<batch {
            let (offA, offB) = offsets[bi]
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1,
                        a + offA * m * k, Int32(k), b + offB * k * n, Int32(n), 0, y + bi * m * n, Int32(n))
        }
    }
}
