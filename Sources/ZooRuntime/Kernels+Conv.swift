import CBLAS
import Foundation

/// Activation fused into a producer's epilogue (Conv/Gemm + Relu/Clip/LeakyRelu).
enum Activation: Equatable {
    case none
    case relu
    case clip(Float, Float)
    case leaky(Float)

    @inline(__always) func apply(_ v: Float) -> Float {
        switch self {
        case .none: return v
        case .relu: return max(v, 0)
        case .clip(let lo, let hi): return min(max(v, lo), hi)
        case .leaky(let a): return v >= 0 ? v : v * a
        }
    }
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
    /// Scratch floats needed for one im2col block (0 when no im2col is needed).
    var scratchFloats: Int {
        if isPointwise || isDepthwise { return 0 }
        let rows = cg * kh * kw
        return rows * blockColumns
    }
    /// Output columns per im2col block: caps the scratch at ~4M floats.
    var blockColumns: Int {
        let rows = max(1, cg * kh * kw)
        return max(1, min(oh * ow, (4 << 20) / rows))
    }
}

enum ConvKernel {
    /// y[n, m, oh, ow] = act(b[m] + Σ w[m, c, i, j] · x[n, g·cg + c, oh·s − p + i·d, ow·s − p + j·d])
    static func run(_ p: ConvParams, x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                    y: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>?, threads: Int) {
        let plane = p.oh * p.ow
        if p.isDepthwise {
            depthwise(p, x: x, w: w, bias: bias, y: y, threads: threads)
            return
        }
        let kSize = p.cg * p.kh * p.kw
        for n in 0..<p.n {
            for g in 0..<p.group {
                let xg = x + (n * p.c + g * p.cg) * p.h * p.w
                let wg = w + g * p.mg * kSize
                let yg = y + (n * p.m + g * p.mg) * plane
                if p.isPointwise {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(p.mg), Int32(plane), Int32(p.cg),
                                1, wg, Int32(p.cg), xg, Int32(plane), 0, yg, Int32(plane))
                    continue
                }
                let block = p.blockColumns
                var start = 0
                while start < plane {
                    let cols = min(block, plane - start)
                    im2col(p, x: xg, col: scratch!, start: start, cols: cols, threads: threads)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(p.mg), Int32(cols), Int32(kSize),
                                1, wg, Int32(kSize), scratch!, Int32(cols), 0, yg + start, Int32(plane))
                    start += cols
                }
            }
        }
        epilogue(y, channels: p.m, plane: plane, batch: p.n, bias: bias, activation: p.activation, threads: threads)
    }

    /// Adds the per-channel bias and applies the fused activation in place.
    static func epilogue(_ y: UnsafeMutablePointer<Float>, channels: Int, plane: Int, batch: Int, bias: UnsafePointer<Float>?,
                         activation: Activation, threads: Int) {
        if bias == nil && activation == .none { return }
        parallelFor(batch * channels, threads: threads, grain: max(1, 16384 / max(plane, 1))) { r in
            for nc in r {
                let b = bias?[nc % channels] ?? 0
                let row = y + nc * plane
                switch activation {
                case .none: for i in 0..<plane { row[i] += b }
                case .relu: for i in 0..<plane { row[i] = max(row[i] + b, 0) }
                default: for i in 0..<plane { row[i] = activation.apply(row[i] + b) }
                }
            }
        }
    }

    /// Columns [start, start+cols) of the im2col matrix (rows = cg·kh·kw).
    static func im2col(_ p: ConvParams, x: UnsafePointer<Float>, col: UnsafeMutablePointer<Float>, start: Int, cols: Int, threads: Int) {
        let rows = p.cg * p.kh * p.kw
        parallelFor(rows, threads: threads, grain: max(1, 8192 / max(cols, 1))) { r in
            for row in r {
                let c = row / (p.kh * p.kw), ki = (row / p.kw) % p.kh, kj = row % p.kw
                let src = x + c * p.h * p.w
                let dst = col + row * cols
                var oh = start / p.ow, ow = start % p.ow
                for j in 0..<cols {
                    let ih = oh * p.strideH - p.padTop + ki * p.dilH
                    let iw = ow * p.strideW - p.padLeft + kj * p.dilW
                    dst[j] = (ih >= 0 && ih < p.h && iw >= 0 && iw < p.w) ? src[ih * p.w + iw] : 0
                    ow += 1
                    if ow == p.ow { ow = 0; oh += 1 }
                }
            }
        }
    }

    /// One filter per channel: a direct loop beats im2col + GEMM with M = 1.
    static func depthwise(_ p: ConvParams, x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                          y: UnsafeMutablePointer<Float>, threads: Int) {
        let plane = p.oh * p.ow
        parallelFor(p.n * p.c, threads: threads, grain: max(1, 4096 / max(plane, 1))) { r in
            for nc in r {
                let c = nc % p.c
                let src = x + nc * p.h * p.w
                let dst = y + nc * plane
                let k = w + c * p.kh * p.kw
                let b = bias?[c] ?? 0
                for oh in 0..<p.oh {
                    let ih0 = oh * p.strideH - p.padTop
                    for ow in 0..<p.ow {
                        let iw0 = ow * p.strideW - p.padLeft
                        var acc = b
                        for i in 0..<p.kh {
                            let ih = ih0 + i * p.dilH
                            if ih < 0 || ih >= p.h { continue }
                            let srow = src + ih * p.w
                            let krow = k + i * p.kw
                            for j in 0..<p.kw {
                                let iw = iw0 + j * p.dilW
                                if iw >= 0 && iw < p.w { acc += srow[iw] * krow[j] }
                            }
                        }
                        dst[oh * p.ow + ow] = p.activation.apply(acc)
                    }
                }
            }
        }
    }
}
