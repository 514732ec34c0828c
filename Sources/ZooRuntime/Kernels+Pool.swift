import CZooSupport
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
    /// The C kernels' geometry; nil when a size does not fit their 32-bit fields
    /// (the N-D kernel takes those).
    static func geometry(_ p: PoolParams) -> czoo_pool2d? {
        let v = [p.h, p.w, p.kh, p.kw, p.oh, p.ow, p.strideH, p.strideW, p.dilH, p.dilW, p.padTop, p.padLeft]
        // Products such as oh·strideH + kh·dilH must stay inside Int32 too.
        guard v.allSatisfy({ $0 >= 0 && $0 <= Int(Int32.max) / 4 }),
              p.oh * p.strideH + p.kh * p.dilH <= Int(Int32.max) / 2,
              p.ow * p.strideW + p.kw * p.dilW <= Int(Int32.max) / 2 else { return nil }
        let i = { (x: Int) in Int32(x) }
        return czoo_pool2d(h: i(p.h), w: i(p.w), kh: i(p.kh), kw: i(p.kw), oh: i(p.oh), ow: i(p.ow), sh: i(p.strideH),
                           sw: i(p.strideW), dh: i(p.dilH), dw: i(p.dilW), pt: i(p.padTop), pl: i(p.padLeft))
    }

    /// Max over each window (CZooSupport's `czoo_maxpool2d`: tap by tap over
    /// each output row's valid range, vectorised), planes split over workers.
    static func maxPool(_ p: PoolParams, _ g: czoo_pool2d, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, threads: Int) {
        let plane = p.oh * p.ow
        withUnsafePointer(to: g) { gp in
            parallelFor(p.n * p.c, threads: threads, grain: max(1, 4096 / max(plane, 1))) { r in
                czoo_maxpool2d(gp, x + r.lowerBound * p.h * p.w, y + r.lowerBound * plane, r.count)
            }
        }
    }

    /// Average over the window. With count_include_pad the divisor counts the
    /// padded positions inside [−pad_begin, size + pad_end), as onnxruntime does;
    /// without it, only the input positions. Taps are summed in the window's
    /// order, and the divisor factors into a row count times a column count.
    static func averagePool(_ p: PoolParams, _ g: czoo_pool2d, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, threads: Int) {
        let plane = p.oh * p.ow
        func count(_ o: Int, stride: Int, pad: Int, dil: Int, k: Int, size: Int, padEnd: Int, includePad: Bool) -> Int32 {
            var n: Int32 = 0
            for t in 0..<k {
                let i = o * stride - pad + t * dil
                if includePad ? (i >= -pad && i < size + padEnd) : (i >= 0 && i < size) { n += 1 }
            }
            return n
        }
        let colCount = (0..<p.ow).map { count($0, stride: p.strideW, pad: p.padLeft, dil: p.dilW, k: p.kw, size: p.w, padEnd: p.padRight, includePad: p.countIncludePad) }
        let rowCount = (0..<p.oh).map { count($0, stride: p.strideH, pad: p.padTop, dil: p.dilH, k: p.kh, size: p.h, padEnd: p.padBottom, includePad: p.countIncludePad) }
        withUnsafePointer(to: g) { gp in
            rowCount.withUnsafeBufferPointer { rows in
                colCount.withUnsafeBufferPointer { cols in
                    parallelFor(p.n * p.c, threads: threads, grain: max(1, 4096 / max(plane, 1))) { r in
                        czoo_avgpool2d(gp, x + r.lowerBound * p.h * p.w, y + r.lowerBound * plane, r.count, rows.baseAddress, cols.baseAddress)
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
