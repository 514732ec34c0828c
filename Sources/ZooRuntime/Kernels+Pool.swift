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
    /// For each kernel column kj: the output columns [lo, hi) whose input column
    /// ow·stride + shift (shift = kj·dilation − padLeft) lies inside the row, so
    /// window loops over a row need no bounds checks (pools and depthwise convolutions).
    static func validColumns(kw: Int, dilW: Int, padLeft: Int, strideW: Int, ow: Int, w: Int) -> [(lo: Int, hi: Int, shift: Int)] {
        (0..<kw).map { kj in
            let shift = kj * dilW - padLeft
            let lo = shift >= 0 ? 0 : min(ow, (-shift + strideW - 1) / strideW)
            let hi = max(lo, min(ow, (w - 1 - shift) >= 0 ? (w - 1 - shift) / strideW + 1 : 0))
            return (lo, hi, shift)
        }
    }

    /// Max over each window, accumulated tap by tap over each output row's
    /// valid range (no bounds checks in the inner loop), like the depthwise conv.
    static func maxPool(_ p: PoolParams, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, threads: Int) {
        let plane = p.oh * p.ow
        let ranges = PoolKernel.validColumns(kw: p.kw, dilW: p.dilW, padLeft: p.padLeft, strideW: p.strideW, ow: p.ow, w: p.w)
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
                                var ow = lo
                                // Eight outputs per step; the same comparison as the scalar loop.
                                while ow + 8 <= hi {
                                    let v = UnsafeRawPointer(srow + ow + shift).loadUnaligned(as: SIMD8<Float>.self)
                                    let r = UnsafeRawPointer(row + ow).loadUnaligned(as: SIMD8<Float>.self)
                                    UnsafeMutableRawPointer(row + ow).storeBytes(of: r.replacing(with: v, where: v .> r), as: SIMD8<Float>.self)
                                    ow += 8
                                }
                                while ow < hi { if srow[ow + shift] > row[ow] { row[ow] = srow[ow + shift] }; ow += 1 }
                            } else if p.strideW == 2 {
                                var ow = lo
                                // Sixteen consecutive inputs give eight outputs (the even lanes);
                                // only while all sixteen lie inside the row.
                                while ow + 8 <= hi && 2 * ow + shift + 16 <= p.w {
                                    let v = UnsafeRawPointer(srow + 2 * ow + shift).loadUnaligned(as: SIMD16<Float>.self).evenHalf
                                    let r = UnsafeRawPointer(row + ow).loadUnaligned(as: SIMD8<Float>.self)
                                    UnsafeMutableRawPointer(row + ow).storeBytes(of: r.replacing(with: v, where: v .> r), as: SIMD8<Float>.self)
                                    ow += 8
                                }
                                while ow < hi { if srow[2 * ow + shift] > row[ow] { row[ow] = srow[2 * ow + shift] }; ow += 1 }
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
    /// without it, only the input positions. Taps are summed row by row over each
    /// output row's valid range (in the window's order, so the sums are the same
    /// as tap by tap per output), and the divisor factors into a row count times
    /// a column count.
    static func averagePool(_ p: PoolParams, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, threads: Int) {
        let plane = p.oh * p.ow
        let ranges = PoolKernel.validColumns(kw: p.kw, dilW: p.dilW, padLeft: p.padLeft, strideW: p.strideW, ow: p.ow, w: p.w)
        func count(_ o: Int, stride: Int, pad: Int, dil: Int, k: Int, size: Int, padEnd: Int, includePad: Bool) -> Int {
            var n = 0
            for t in 0..<k {
                let i = o * stride - pad + t * dil
                if includePad ? (i >= -pad && i < size + padEnd) : (i >= 0 && i < size) { n += 1 }
            }
            return n
        }
        let colCount = (0..<p.ow).map { count($0, stride: p.strideW, pad: p.padLeft, dil: p.dilW, k: p.kw, size: p.w, padEnd: p.padRight, includePad: p.countIncludePad) }
        let rowCount = (0..<p.oh).map { count($0, stride: p.strideH, pad: p.padTop, dil: p.dilH, k: p.kh, size: p.h, padEnd: p.padBottom, includePad: p.countIncludePad) }
        parallelFor(p.n * p.c, threads: threads, grain: max(1, 4096 / max(plane, 1))) { r in
            for nc in r {
                let src = x + nc * p.h * p.w
                for oh in 0..<p.oh {
                    let row = y + nc * plane + oh * p.ow
                    row.update(repeating: 0, count: p.ow)
                    for i in 0..<p.kh {
                        let ih = oh * p.strideH - p.padTop + i * p.dilH
                        if ih < 0 || ih >= p.h { continue }
                        let srow = src + ih * p.w
                        for (lo, hi, shift) in ranges {
                            if p.strideW == 1 {
                                for ow in lo..<hi { row[ow] += srow[ow + shift] }
                            } else {
                                for ow in lo..<hi { row[ow] += srow[ow * p.strideW + shift] }
                            }
                        }
                    }
                    let rows = rowCount[oh]
                    for ow in 0..<p.ow {
                        let divisor = rows * colCount[ow]
                        row[ow] = divisor > 0 ? row[ow] / Float(divisor) : 0
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
