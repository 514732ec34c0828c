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

    /// One filter per channel: a direct loop beats im2col + GEMM with M = 1.
    /// Taps are accumulated row by row over the valid output range of each
    /// tap, so the inner loop is a branch-free multiply-add the compiler vectorises.
    static func depthwise(_ p: ConvParams, x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                          residual: UnsafePointer<Float>? = nil, y: UnsafeMutablePointer<Float>, threads: Int) {
        let plane = p.oh * p.ow
        /// Epilogue of one output row: the fused shortcut, then the activation.
        func finish(_ row: UnsafeMutablePointer<Float>, at offset: Int) {
            if let res = residual {
                let s = res + offset
                for i in 0..<p.ow { row[i] += s[i] }
            }
            Activations.apply(p.activation, row, count: p.ow)
        }
        // Valid output columns per kernel column (0 <= ow*s - pad + kj*d < w).
        let ranges = PoolKernel.validColumns(kw: p.kw, dilW: p.dilW, padLeft: p.padLeft, strideW: p.strideW, ow: p.ow, w: p.w)
        let is3x3 = p.kh == 3 && p.kw == 3 && p.dilH == 1 && p.dilW == 1
        parallelFor(p.n * p.c, threads: threads, grain: max(1, 4096 / max(plane, 1))) { r in
            for nc in r {
                let c = nc % p.c
                let src = x + nc * p.h * p.w
                let k = w + c * p.kh * p.kw
                let b = bias?[c] ?? 0
                for oh in 0..<p.oh {
                    let offset = nc * plane + oh * p.ow
                    let row = y + offset
                    let ih0 = oh * p.strideH - p.padTop
                    if is3x3 && ih0 >= 0 && ih0 + 2 < p.h {
                        // All three input rows exist: nine taps in registers for the
                        // interior columns, the generic path only at the edges.
                        let lo = max(ranges[0].lo, ranges[1].lo, ranges[2].lo)
                        let hi = max(lo, min(ranges[0].hi, ranges[1].hi, ranges[2].hi))
                        let r0 = src + ih0 * p.w - p.padLeft, r1 = r0 + p.w, r2 = r1 + p.w
                        let k0 = k[0], k1 = k[1], k2 = k[2], k3 = k[3], k4 = k[4], k5 = k[5], k6 = k[6], k7 = k[7], k8 = k[8]
                        let st = p.strideW
                        var start = lo
                        if st == 1 {
                            // Four outputs per step with SIMD (unaligned loads at the tap offsets).
                            func load(_ q: UnsafePointer<Float>) -> SIMD4<Float> { UnsafeRawPointer(q).loadUnaligned(as: SIMD4<Float>.self) }
                            let bv = SIMD4<Float>(repeating: b)
                            while start + 4 <= hi {
                                let i = start
                                var acc = bv + k0 * load(r0 + i) + k1 * load(r0 + i + 1) + k2 * load(r0 + i + 2)
                                acc += k3 * load(r1 + i) + k4 * load(r1 + i + 1) + k5 * load(r1 + i + 2)
                                acc += k6 * load(r2 + i) + k7 * load(r2 + i + 1) + k8 * load(r2 + i + 2)
                                UnsafeMutableRawPointer(row + i).storeBytes(of: acc, as: SIMD4<Float>.self)
                                start += 4
                            }
                        }
                        for ow in start..<hi {
                            let i = ow * st
                            var acc = b + k0 * r0[i] + k1 * r0[i + 1] + k2 * r0[i + 2]
                            acc += k3 * r1[i] + k4 * r1[i + 1] + k5 * r1[i + 2]
                            acc += k6 * r2[i] + k7 * r2[i + 1] + k8 * r2[i + 2]
                            row[ow] = acc
                        }
                        for ow in 0..<p.ow where ow < lo || ow >= hi {
                            var acc = b
                            for i in 0..<3 {
                                let srow = src + (ih0 + i) * p.w
                                for j in 0..<3 {
                                    let iw = ow * st - p.padLeft + j
                                    if iw >= 0 && iw < p.w { acc += srow[iw] * k[i * 3 + j] }
                                }
                            }
                            row[ow] = acc
                        }
                        finish(row, at: offset)
                        continue
                    }
                    row.update(repeating: b, count: p.ow)
                    for i in 0..<p.kh {
                        let ih = oh * p.strideH - p.padTop + i * p.dilH
                        if ih < 0 || ih >= p.h { continue }
                        let srow = src + ih * p.w
                        for j in 0..<p.kw {
                            let kv = k[i * p.kw + j]
                            let (lo, hi, shift) = ranges[j]
                            if p.strideW == 1 {
                                let s = srow + shift
                                var ow = lo
                                // Eight outputs per step, the same multiply and add as the scalar loop.
                                let kv8 = SIMD8<Float>(repeating: kv)
                                while ow + 8 <= hi {
                                    let acc = UnsafeRawPointer(row + ow).loadUnaligned(as: SIMD8<Float>.self)
                                    let v = UnsafeRawPointer(s + ow).loadUnaligned(as: SIMD8<Float>.self)
                                    UnsafeMutableRawPointer(row + ow).storeBytes(of: acc + v * kv8, as: SIMD8<Float>.self)
                                    ow += 8
                                }
                                while ow < hi { row[ow] += s[ow] * kv; ow += 1 }
                            } else if p.strideW == 2 {
                                var ow = lo
                                let kv8 = SIMD8<Float>(repeating: kv)
                                // Sixteen consecutive inputs, the even lanes, while all sixteen are inside the row.
                                while ow + 8 <= hi && 2 * ow + shift + 16 <= p.w {
                                    let acc = UnsafeRawPointer(row + ow).loadUnaligned(as: SIMD8<Float>.self)
                                    let v = UnsafeRawPointer(srow + 2 * ow + shift).loadUnaligned(as: SIMD16<Float>.self).evenHalf
                                    UnsafeMutableRawPointer(row + ow).storeBytes(of: acc + v * kv8, as: SIMD8<Float>.self)
                                    ow += 8
                                }
                                while ow < hi { row[ow] += srow[2 * ow + shift] * kv; ow += 1 }
                            } else {
                                for ow in lo..<hi { row[ow] += srow[ow * p.strideW + shift] * kv }
                            }
                        }
                    }
                    finish(row, at: offset)
                }
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
