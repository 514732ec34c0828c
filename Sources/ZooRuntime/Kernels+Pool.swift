import Foundation

/// Static parameters of 2-D pooling (1-D pooling runs as H = 1).
struct PoolParams {
    var n, c, h, w: Int
    var kh, kw: Int
    var oh, ow: Int
    var strideH, strideW, dilH, dilW: Int
    var padTop, padLeft, padBottom, padRight: Int
    var countIncludePad: Bool
}

enum PoolKernel {
    /// Max over each window, accumulated tap by tap over each output row's
    /// valid range (no bounds checks in the inner loop), like the depthwise conv.
    static func maxPool(_ p: PoolParams, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, threads: Int) {
        let plane = p.oh * p.ow
        let ranges: [(lo: Int, hi: Int, shift: Int)] = (0..<p.kw).map { kj in
            let shift = kj * p.dilW - p.padLeft
            let lo = shift >= 0 ? 0 : min(p.ow, (-shift + p.strideW - 1) / p.strideW)
            let hi = max(lo, min(p.ow, (p.w - 1 - shift) >= 0 ? (p.w - 1 - shift) / p.strideW + 1 : 0))
            return (lo, hi, shift)
        }
        parallelFor(p.n * p.c, threads: threads, grain: max(1, 4096 / max(plane, 1))) { r in
            for nc in r {
                let src = x + nc * p.h * p.w
                for oh in 0..<p.oh {
                    let row = y + nc * plane + oh * p.ow
                    row.update(repeating: -.infinity, count: p.ow)
                    for i in 0..<p.kh {
                        let ih = oh * p.strideH - p.padTop + i * p.dilH
                        if ih < 0 || ih >= p.h { continue }
                        let srow = src + ih * p.w
                        for (lo, hi, shift) in ranges {
                            if p.strideW == 1 {
                                for ow in lo..<hi { row[ow] = max(row[ow], srow[ow + shift]) }
                            } else {
                                for ow in lo..<hi { row[ow] = max(row[ow], srow[ow * p.strideW + shift]) }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Average over the window. With count_include_pad the divisor counts the
    /// padded positions inside [−pad_begin, size + pad_end), as onnxruntime does;
    /// without it, only the input positions.
    static func averagePool(_ p: PoolParams, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, threads: Int) {
        let plane = p.oh * p.ow
        parallelFor(p.n * p.c, threads: threads, grain: max(1, 4096 / max(plane, 1))) { r in
            for nc in r {
                let src = x + nc * p.h * p.w, dst = y + nc * plane
                for oh in 0..<p.oh {
                    for ow in 0..<p.ow {
                        var sum: Float = 0
                        var inside = 0, padded = 0
                        for i in 0..<p.kh {
                            let ih = oh * p.strideH - p.padTop + i * p.dilH
                            let rowInPad = ih >= -p.padTop && ih < p.h + p.padBottom
                            for j in 0..<p.kw {
                                let iw = ow * p.strideW - p.padLeft + j * p.dilW
                                if rowInPad && iw >= -p.padLeft && iw < p.w + p.padRight { padded += 1 }
                                if ih >= 0 && ih < p.h && iw >= 0 && iw < p.w {
                                    sum += src[ih * p.w + iw]
                                    inside += 1
                                }
                            }
                        }
                        let divisor = p.countIncludePad ? padded : inside
                        dst[oh * p.ow + ow] = divisor > 0 ? sum / Float(divisor) : 0
                    }
                }
            }
        }
    }

    static func global(max isMax: Bool, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, planes: Int, size: Int, threads: Int) {
        parallelFor(planes, threads: threads, grain: max(1, 16384 / max(size, 1))) { r in
            for pIndex in r {
                let src = x + pIndex * size
                if isMax {
                    var m = -Float.infinity
                    for i in 0..<size { m = max(m, src[i]) }
                    y[pIndex] = m
                } else {
                    var s: Float = 0
                    for i in 0..<size { s += src[i] }
                    y[pIndex] = s / Float(size)
                }
            }
        }
    }
}
