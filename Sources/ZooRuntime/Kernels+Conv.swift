import CBLAS
import CZooSupport
import Foundation

/// Activation fused into a producer's epilogue (Conv/Gemm + Relu/Clip/LeakyRelu).
enum Activation: Equatable {
    case none
    case relu
    case clip(Float, Float)
    case leaky(Float)
    /// x · sigmoid(x) (SiLU / Swish, EfficientNet's activation): a Sigmoid and the Mul of
    /// its input by it, fused (16 lanes with AVX-512, `czoo_silu_inplace`).
    case silu
}

/// Static parameters of a 2-D convolution (1-D convolutions run as H = 1).
struct ConvParams {
    var n, c, h, w: Int
    var m, kh, kw: Int
    var oh, ow: Int
    var strideH, strideW, dilH, dilW: Int
    var padTop, padLeft: Int
    var group: Int
    var activation: Activation

    var cg: Int { c / group }
    var mg: Int { m / group }
    var isPointwise: Bool { kh == 1 && kw == 1 && strideH == 1 && strideW == 1 && padTop == 0 && padLeft == 0 && oh == h && ow == w }
    var isDepthwise: Bool { group == c && group == m && group > 1 }
}

enum ConvKernel {
    /// Scratch floats per worker for im2col blocks (~4 MiB: stays in L2/L3 between im2col and GEMM).
    static let scratchPerWorker = 1 << 20

    /// Output columns per im2col block for `rows` rows.
    static func blockColumns(rows: Int, plane: Int, workers: Int) -> Int {
        let byCache = max(16, scratchPerWorker / max(rows, 1))
        // Enough blocks that every worker has work.
        let byWorkers = max(16, (plane + workers - 1) / workers)
        return max(1, min(plane, byCache, byWorkers))
    }

    /// y[n, m, oh, ow] = act(b[m] + Σ w[m, c, i, j] · x[n, g·cg + c, oh·s − p + i·d, ow·s − p + j·d])
    ///
    /// Work is split by output columns: each worker im2col's a block into its
    /// own scratch, multiplies it (single-threaded BLAS) and applies bias and
    /// activation while the block is still in cache. One level of threads, so
    /// BLAS threads and ours never compete for the cores.
    ///
    /// `residual`, when given, is added before the activation (a fused
    /// ResNet shortcut: act(conv + bias + residual)), in the same pass.
    static func run(_ p: ConvParams, x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                    residual: UnsafePointer<Float>? = nil,
                    y: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>?, threads: Int,
                    packed: [PackedMatrix]? = nil) {
        let plane = p.oh * p.ow
        if p.isDepthwise {
            depthwise(p, x: x, w: w, bias: bias, residual: residual, y: y, threads: threads)
            return
        }
        let kSize = p.cg * p.kh * p.kw
        if batchParallel(p, threads: threads) {
            // A batch of at least one image per worker: each worker convolves whole
            // images on its own (single-threaded GEMM, its own scratch), so the
            // cores never wait for each other inside an image.
            let block = blockColumns(rows: kSize, plane: plane, workers: 1)
            parallelWorkers(p.n, threads: threads) { worker, images in
                let col = scratch.map { $0 + worker * kSize * block }
                for n in images {
                    for g in 0..<p.group {
                        let xg = x + (n * p.c + g * p.cg) * p.h * p.w
                        let wg = w + g * p.mg * kSize
                        let yg = y + (n * p.m + g * p.mg) * plane
                        let bg = bias.map { $0 + g * p.mg }
                        let rg = residual.map { $0 + (n * p.m + g * p.mg) * plane }
                        let pm = packed?[g]
                        if p.isPointwise {
                            if pm == nil || !Sgemm.packed(pm!, rows: 0..<p.mg, n: plane, b: xg, ldb: plane, c: yg, ldc: plane) {
                                Sgemm.nn(m: p.mg, n: plane, k: p.cg, a: wg, lda: p.cg, b: xg, ldb: plane, c: yg, ldc: plane)
                            }
                            epilogue(yg, ld: plane, rows: 0..<p.mg, cols: 0..<plane, bias: bg, residual: rg, activation: p.activation)
                            continue
                        }
                        for start in stride(from: 0, to: plane, by: block) {
                            let cols = min(block, plane - start)
                            im2col(p, x: xg, col: col!, start: start, cols: cols, rows: 0..<kSize)
                            if pm == nil || !Sgemm.packed(pm!, rows: 0..<p.mg, n: cols, b: col!, ldb: cols, c: yg + start, ldc: plane) {
                                Sgemm.nn(m: p.mg, n: cols, k: kSize, a: wg, lda: kSize, b: col!, ldb: cols, c: yg + start, ldc: plane)
                            }
                            epilogue(yg, ld: plane, rows: 0..<p.mg, cols: start..<(start + cols), bias: bg, residual: rg, activation: p.activation)
                        }
                    }
                }
            }
            return
        }
        for n in 0..<p.n {
            for g in 0..<p.group {
                let xg = x + (n * p.c + g * p.cg) * p.h * p.w
                let wg = w + g * p.mg * kSize
                let yg = y + (n * p.m + g * p.mg) * plane
                let bg = bias.map { $0 + g * p.mg }
                let rg = residual.map { $0 + (n * p.m + g * p.mg) * plane }
                if p.isPointwise {
                    Gemm.parallel(m: p.mg, n: plane, k: p.cg, a: wg, lda: p.cg, b: xg, ldb: plane, c: yg, ldc: plane, threads: threads,
                                  packed: packed?[g]) { rows, cols in
                        epilogue(yg, ld: plane, rows: rows, cols: cols, bias: bg, residual: rg, activation: p.activation)
                    }
                    continue
                }
                if plane < Gemm.columnSplitThreshold * threads {
                    // Few output columns (late stages): one im2col, then split the filters across workers.
                    parallelFor(kSize, threads: threads, grain: 64) { rows in
                        im2col(p, x: xg, col: scratch!, start: 0, cols: plane, rows: rows)
                    }
                    Gemm.parallel(m: p.mg, n: plane, k: kSize, a: wg, lda: kSize, b: scratch!, ldb: plane, c: yg, ldc: plane, threads: threads,
                                  packed: packed?[g]) { rows, cols in
                        epilogue(yg, ld: plane, rows: rows, cols: cols, bias: bg, residual: rg, activation: p.activation)
                    }
                    continue
                }
                let block = blockColumns(rows: kSize, plane: plane, workers: threads)
                let blocks = (plane + block - 1) / block
                parallelWorkers(blocks, threads: threads) { worker, range in
                    for bi in range {
                        let start = bi * block, cols = min(block, plane - start)
                        let col = scratch! + worker * kSize * block
                        im2col(p, x: xg, col: col, start: start, cols: cols, rows: 0..<kSize)
                        if packed == nil || !Sgemm.packed(packed![g], rows: 0..<p.mg, n: cols, b: col, ldb: cols, c: yg + start, ldc: plane) {
                            Sgemm.nn(m: p.mg, n: cols, k: kSize, a: wg, lda: kSize, b: col, ldb: cols, c: yg + start, ldc: plane)
                        }
                        epilogue(yg, ld: plane, rows: 0..<p.mg, cols: start..<(start + cols), bias: bg, residual: rg, activation: p.activation)
                    }
                }
            }
        }
    }

    /// Whether `run` splits the batch (whole images per worker) rather than each image.
    static func batchParallel(_ p: ConvParams, threads: Int) -> Bool {
        threads > 1 && p.n >= threads && !p.isDepthwise
    }

    /// Scratch floats `run` needs for `threads` workers.
    static func scratchFloats(_ p: ConvParams, threads: Int) -> Int {
        if p.isPointwise || p.isDepthwise { return 0 }
        let kSize = p.cg * p.kh * p.kw, plane = p.oh * p.ow
        if batchParallel(p, threads: threads) { return threads * kSize * blockColumns(rows: kSize, plane: plane, workers: 1) }
        if plane < Gemm.columnSplitThreshold * threads { return kSize * plane }
        let block = blockColumns(rows: kSize, plane: plane, workers: threads)
        return threads * kSize * block
    }

    /// Adds the per-row bias and applies the activation to a block of a row-major matrix.
    static func epilogue(_ y: UnsafeMutablePointer<Float>, ld: Int, rows: Range<Int>, cols: Range<Int>, bias: UnsafePointer<Float>?,
                         residual: UnsafePointer<Float>? = nil, activation: Activation) {
        if bias == nil && residual == nil && activation == .none { return }
        for r in rows {
            let b = bias?[r] ?? 0
            let row = y + r * ld
            if let res = residual {
                let rrow = res + r * ld
                for i in cols { row[i] += b + rrow[i] }
            } else if b != 0 {
                for i in cols { row[i] += b }
            }
            Activations.apply(activation, row + cols.lowerBound, count: cols.count)
        }
    }

    /// Columns [start, start+cols) of the im2col matrix (rows = cg·kh·kw).
    /// Each output row segment is split analytically into left padding, the
    /// valid run (a memcpy when the stride is 1) and right padding, so the
    /// inner loop has no bounds checks.
    static func im2col(_ p: ConvParams, x: UnsafePointer<Float>, col: UnsafeMutablePointer<Float>, start: Int, cols: Int, rows: Range<Int>) {
        do {
            for row in rows {
                let c = row / (p.kh * p.kw), ki = (row / p.kw) % p.kh, kj = row % p.kw
                let src = x + c * p.h * p.w
                let dst = col + row * cols
                // Valid output columns for this kj: 0 <= ow*s - pad + kj*d < w.
                let shift = kj * p.dilW - p.padLeft
                let owLo = shift >= 0 ? 0 : min(p.ow, (-shift + p.strideW - 1) / p.strideW)
                let owHi = max(owLo, min(p.ow, (p.w - 1 - shift) >= 0 ? (p.w - 1 - shift) / p.strideW + 1 : 0))
                var j = 0
                var oh = start / p.ow, ow0 = start % p.ow
                while j < cols {
                    let n = min(cols - j, p.ow - ow0)
                    let ih = oh * p.strideH - p.padTop + ki * p.dilH
                    let seg = dst + j
                    if ih < 0 || ih >= p.h {
                        seg.update(repeating: 0, count: n)
                    } else {
                        let srow = src + ih * p.w + shift
                        let end = ow0 + n
                        let lo = min(max(owLo, ow0), end), hi = max(min(owHi, end), lo)
                        if lo > ow0 { seg.update(repeating: 0, count: lo - ow0) }
                        if p.strideW == 1 {
                            (seg + (lo - ow0)).update(from: srow + lo, count: hi - lo)
                        } else {
                            for ow in lo..<hi { seg[ow - ow0] = srow[ow * p.strideW] }
                        }
                        if end > hi { (seg + (hi - ow0)).update(repeating: 0, count: end - hi) }
                    }
                    j += n
                    ow0 = 0
                    oh += 1
                }
            }
        }
    }

    /// The C kernel's geometry for a depthwise convolution; nil beyond its 32-bit
    /// fields (the Conv kernel sends those to the N-D kernel instead).
    static func depthwiseGeometry(_ p: ConvParams) -> czoo_pool2d? {
        PoolKernel.geometry(PoolParams(n: p.n, c: p.c, h: p.h, w: p.w, kh: p.kh, kw: p.kw, oh: p.oh, ow: p.ow, strideH: p.strideH, strideW: p.strideW,
                                       dilH: p.dilH, dilW: p.dilW, padTop: p.padTop, padLeft: p.padLeft, padBottom: 0, padRight: 0, countIncludePad: false))
    }

    /// One filter per channel: a direct loop beats im2col + GEMM with M = 1.
    /// CZooSupport's `czoo_depthwise2d` (16 output columns per step under
    /// AVX-512, every tap accumulated in registers, the borders bounds-checked;
    /// a portable C loop otherwise) computes bias + taps and a Relu/Clip; a
    /// fused shortcut and other activations are applied per plane after it.
    static func depthwise(_ p: ConvParams, x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                          residual: UnsafePointer<Float>? = nil, y: UnsafeMutablePointer<Float>, threads: Int) {
        let plane = p.oh * p.ow
        guard let g = depthwiseGeometry(p) else {
            preconditionFailure("depthwise geometry beyond 32 bits reaches ConvKernel.depthwise; the Conv kernel routes it to the N-D kernel")
        }
        // Relu and Clip clamp inside the kernel unless a shortcut must be added first.
        var lo = -Float.infinity, hi = Float.infinity
        var after = p.activation
        if residual == nil {
            switch p.activation {
            case .relu: lo = 0; after = .none
            case .clip(let l, let h): lo = l; hi = h; after = .none
            default: break
            }
        }
        withUnsafePointer(to: g) { gp in
            parallelFor(p.n * p.c, threads: threads, grain: max(1, 4096 / max(plane, 1))) { r in
                let out = y + r.lowerBound * plane
                czoo_depthwise2d(gp, x + r.lowerBound * p.h * p.w, w, bias, out, r.count, p.c, r.lowerBound % p.c, lo, hi)
                if let res = residual {
                    let s = res + r.lowerBound * plane
                    for i in 0..<(r.count * plane) { out[i] += s[i] }
                }
                Activations.apply(after, out, count: r.count * plane)
            }
        }
    }
}

/// Activations applied in place, one specialised loop per kind.
enum Activations {
    static func apply(_ a: Activation, _ y: UnsafeMutablePointer<Float>, count: Int) {
        switch a {
        case .none: return
        case .relu: for i in 0..<count { y[i] = max(y[i], 0) }
        case .clip(let lo, let hi): for i in 0..<count { y[i] = min(max(y[i], lo), hi) }
        case .leaky(let s): for i in 0..<count { let v = y[i]; y[i] = v >= 0 ? v : v * s }
        case .silu: czoo_silu_inplace(y, count)
        }
    }
}
