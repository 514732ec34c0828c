import Foundation
import ZooCore

/// Data movement, generic over the element type (f32 activations, i64 shape values).
enum DataKernel {
    static func slice<T>(_ x: UnsafePointer<T>, shape: [Int], starts: [Int], steps: [Int], outShape: [Int], to y: UnsafeMutablePointer<T>) {
        let st = StridedCopy.contiguousStrides(shape)
        var offset = 0
        for d in shape.indices { offset += starts[d] * st[d] }
        StridedCopy.copy(x, offset: offset, strides: shape.indices.map { st[$0] * steps[$0] }, shape: outShape, to: y)
    }

    /// The element offset of a slice when its elements are one contiguous run of
    /// the input (every axis after some axis k taken whole, every axis before k
    /// a single index, unit steps on k), so the slice can be a view; else nil.
    static func contiguousOffset(shape: [Int], starts: [Int], steps: [Int], outShape: [Int]) -> Int? {
        guard shape.count == outShape.count, starts.count == shape.count, steps.count == shape.count,
              outShape.allSatisfy({ $0 > 0 }) else { return nil }
        // k: the first axis (from the front) that is not a single index.
        var k = 0
        while k < shape.count && outShape[k] == 1 { k += 1 }
        if k < shape.count {
            guard steps[k] == 1 else { return nil }
            for d in (k + 1)..<shape.count where outShape[d] != shape[d] || starts[d] != 0 || steps[d] != 1 { return nil }
        }
        let strides = StridedCopy.contiguousStrides(shape)
        var offset = 0
        for d in shape.indices {
            guard starts[d] >= 0, starts[d] + (d == k ? outShape[d] : 1) <= shape[d] || d > k else { return nil }
            offset += starts[d] * strides[d]
        }
        return offset
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

    /// Pad (negative pads crop) with `mode` constant / reflect / edge / wrap (ONNX
    /// semantics): the flat source index of every output element, or −1 where
    /// the constant value goes.
    /// Constant padding with non-negative pads: the output filled with `value`,
    /// then every input row (the last axis) copied to its place.
    static func constantPad(_ x: UnsafePointer<Float>, shape: [Int], before: [Int], outShape: [Int], value: Float, to y: UnsafeMutablePointer<Float>) {
        let total = outShape.reduce(1, *)
        y.update(repeating: value, count: total)
        guard shape.allSatisfy({ $0 > 0 }) else { return }
        guard let inner = shape.last else { y[0] = x[0]; return }
        let rank = shape.count
        let outStrides = StridedCopy.contiguousStrides(outShape)
        var base = 0
        for d in 0..<rank { base += before[d] * outStrides[d] }
        let rows = shape.dropLast().reduce(1, *)
        var idx = Array(repeating: 0, count: max(rank - 1, 0))
        var off = base
        for r in 0..<rows {
            (y + off).update(from: x + r * inner, count: inner)
            // Next row: step the multi-index over the leading axes.
            var d = rank - 2
            while d >= 0 {
                idx[d] += 1
                off += outStrides[d]
                if idx[d] < shape[d] { break }
                off -= outStrides[d] * idx[d]
                idx[d] = 0
                d -= 1
            }
        }
    }

    static func padSources(shape: [Int], pads: [Int], mode: String, outShape: [Int]) -> [Int] {
        let rank = shape.count
        // Per axis: output index → source index, or −1 for the constant value.
        let maps: [[Int]] = (0..<rank).map { d in
            (0..<outShape[d]).map { o in
                let i = o - pads[d]
                if i >= 0 && i < shape[d] { return i }
                guard shape[d] > 0 else { return -1 }
                switch mode {
                case "edge": return min(max(i, 0), shape[d] - 1)
                case "wrap": return ((i % shape[d]) + shape[d]) % shape[d]
                case "reflect":
                    guard shape[d] > 1 else { return 0 }
                    let period = 2 * (shape[d] - 1)
                    let r = ((i % period) + period) % period
                    return r < shape[d] ? r : period - r
                default: return -1
                }
            }
        }
        let st = StridedCopy.contiguousStrides(shape)
        let total = outShape.reduce(1, *)
        var out = [Int](repeating: -1, count: total)
        var idx = Array(repeating: 0, count: rank)
        var unused = 0
        let noStrides = Array(repeating: 0, count: rank)
        for o in 0..<total {
            var off = 0
            var inside = true
            for d in 0..<rank {
                let s = maps[d][idx[d]]
                if s < 0 { inside = false; break }
                off += s * st[d]
            }
            out[o] = inside ? off : -1
            _ = StridedCopy.advance(&idx, &unused, shape: outShape, strides: noStrides, through: rank - 1)
        }
        return out
    }
}

/// A data-movement op with its static parameters, applied to any element type:
/// the same kernels move f32 activations and i64 shape values.
enum DataMove {
    case transpose(shape: [Int], perm: [Int])
    case slice(shape: [Int], starts: [Int], steps: [Int], outShape: [Int])
    case gather(shape: [Int], axis: Int, indices: [Int])
    case split(shape: [Int], axis: Int, start: Int, size: Int)
    /// Numpy broadcast of `shape` to `outShape` (Expand).
    case broadcast(shape: [Int], outShape: [Int])

    func apply<T>(_ src: UnsafePointer<T>, _ dst: UnsafeMutablePointer<T>) {
        switch self {
        case let .transpose(shape, perm): StridedCopy.transpose(src, shape: shape, perm: perm, to: dst)
        case let .slice(shape, starts, steps, outShape): DataKernel.slice(src, shape: shape, starts: starts, steps: steps, outShape: outShape, to: dst)
        case let .gather(shape, axis, indices): DataKernel.gather(src, shape: shape, axis: axis, indices: indices, to: dst)
        case let .split(shape, axis, start, size): DataKernel.splitPart(src, shape: shape, axis: axis, start: start, size: size, to: dst)
        case let .broadcast(shape, outShape): StridedCopy.copy(src, offset: 0, strides: broadcastStrides(shape, to: outShape), shape: outShape, to: dst)
        }
    }
}
