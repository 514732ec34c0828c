import Foundation

/// Data movement, generic over the element type (f32 activations, i64 shape values).
enum DataKernel {
    /// dst (contiguous, `shape`) ← src read at `offset` + Σ index·srcStrides.
    static func stridedCopy<T>(_ src: UnsafePointer<T>, offset: Int, strides: [Int], shape: [Int], to dst: UnsafeMutablePointer<T>) {
        let total = shape.reduce(1, *)
        guard total > 0 else { return }
        guard !shape.isEmpty else { dst[0] = src[offset]; return }
        let rank = shape.count
        let inner = shape[rank - 1], innerStride = strides[rank - 1]
        var idx = Array(repeating: 0, count: rank)
        var off = offset
        var out = 0
        while out < total {
            if innerStride == 1 {
                (dst + out).update(from: src + off, count: inner)
            } else {
                for i in 0..<inner { dst[out + i] = src[off + i * innerStride] }
            }
            out += inner
            var d = rank - 2
            while d >= 0 {
                idx[d] += 1
                off += strides[d]
                if idx[d] < shape[d] { break }
                off -= strides[d] * idx[d]
                idx[d] = 0
                d -= 1
            }
            if d < 0 { break }
        }
    }

    static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var s = Array(repeating: 1, count: shape.count)
        var acc = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            s[d] = acc
            acc *= shape[d]
        }
        return s
    }

    static func transpose<T>(_ x: UnsafePointer<T>, shape: [Int], perm: [Int], to y: UnsafeMutablePointer<T>) {
        let st = contiguousStrides(shape)
        stridedCopy(x, offset: 0, strides: perm.map { st[$0] }, shape: perm.map { shape[$0] }, to: y)
    }

    static func slice<T>(_ x: UnsafePointer<T>, shape: [Int], starts: [Int], steps: [Int], outShape: [Int], to y: UnsafeMutablePointer<T>) {
        let st = contiguousStrides(shape)
        var offset = 0
        for d in shape.indices { offset += starts[d] * st[d] }
        stridedCopy(x, offset: offset, strides: shape.indices.map { st[$0] * steps[$0] }, shape: outShape, to: y)
    }

    /// Concatenation along `axis` of inputs with `shapes`.
    static func concat<T>(_ inputs: [UnsafePointer<T>], shapes: [[Int]], axis: Int, to y: UnsafeMutablePointer<T>) {
        let outer = shapes[0][0..<axis].reduce(1, *)
        let blocks = shapes.map { $0[axis...].reduce(1, *) }
        let row = blocks.reduce(0, +)
        for o in 0..<outer {
            var at = o * row
            for (k, x) in inputs.enumerated() {
                (y + at).update(from: x + o * blocks[k], count: blocks[k])
                at += blocks[k]
            }
        }
    }

    /// One output of Split: the `size` slices starting at `start` along `axis`.
    static func splitPart<T>(_ x: UnsafePointer<T>, shape: [Int], axis: Int, start: Int, size: Int, to y: UnsafeMutablePointer<T>) {
        let outer = shape[0..<axis].reduce(1, *)
        let inner = shape[(axis + 1)...].reduce(1, *)
        for o in 0..<outer {
            (y + o * size * inner).update(from: x + (o * shape[axis] + start) * inner, count: size * inner)
        }
    }

    static func gather<T>(_ x: UnsafePointer<T>, shape: [Int], axis: Int, indices: [Int], to y: UnsafeMutablePointer<T>) {
        let outer = shape[0..<axis].reduce(1, *)
        let inner = shape[(axis + 1)...].reduce(1, *)
        var at = 0
        for o in 0..<outer {
            for i in indices {
                (y + at).update(from: x + (o * shape[axis] + i) * inner, count: inner)
                at += inner
            }
        }
    }

    /// Pad with `mode` constant / reflect / edge (ONNX semantics).
    static func pad(_ x: UnsafePointer<Float>, shape: [Int], pads: [Int], mode: String, value: Float, outShape: [Int], to y: UnsafeMutablePointer<Float>) {
        let rank = shape.count
        // Per axis: output index → source index, or −1 for the constant value.
        let maps: [[Int]] = (0..<rank).map { d in
            (0..<outShape[d]).map { o in
                let i = o - pads[d]
                if i >= 0 && i < shape[d] { return i }
                switch mode {
                case "edge": return min(max(i, 0), shape[d] - 1)
                case "reflect":
                    guard shape[d] > 1 else { return 0 }
                    var r = i
                    let period = 2 * (shape[d] - 1)
                    r = ((r % period) + period) % period
                    return r < shape[d] ? r : period - r
                default: return -1
                }
            }
        }
        let st = contiguousStrides(shape)
        let total = outShape.reduce(1, *)
        var idx = Array(repeating: 0, count: rank)
        for o in 0..<total {
            var off = 0
            var inside = true
            for d in 0..<rank {
                let s = maps[d][idx[d]]
                if s < 0 { inside = false; break }
                off += s * st[d]
            }
            y[o] = inside ? x[off] : value
            var d = rank - 1
            while d >= 0 {
                idx[d] += 1
                if idx[d] < outShape[d] { break }
                idx[d] = 0
                d -= 1
            }
        }
    }
}
