/// Strided element copies: the one loop behind transposes and slices, used by
/// importers (weight layout changes) and the runtime (data-movement ops).
public enum StridedCopy {
    /// dst (contiguous, `shape`) ← src read at `offset` + Σ index·`strides`.
    public static func copy<T>(_ src: UnsafePointer<T>, offset: Int, strides: [Int], shape: [Int], to dst: UnsafeMutablePointer<T>) {
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
            if !advance(&idx, &off, shape: shape, strides: strides, through: rank - 2) { break }
        }
    }

    /// Steps a row-major multi-index over `shape` (axes `0...last`) by one and
    /// keeps `offset` = Σ index·`strides` in step; false once every index wrapped.
    @inlinable @inline(__always)
    public static func advance(_ idx: inout [Int], _ offset: inout Int, shape: [Int], strides: [Int], through last: Int) -> Bool {
        var d = last
        while d >= 0 {
            idx[d] += 1
            offset += strides[d]
            if idx[d] < shape[d] { return true }
            offset -= strides[d] * idx[d]
            idx[d] = 0
            d -= 1
        }
        return false
    }

    /// Row-major strides of `shape`, in elements.
    public static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var s = Array(repeating: 1, count: shape.count)
        var acc = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            s[d] = acc
            acc *= shape[d]
        }
        return s
    }

    /// `x` of `shape` with axes permuted (`perm[i]` is the source axis of output axis i).
    public static func transpose<T>(_ x: UnsafePointer<T>, shape: [Int], perm: [Int], to y: UnsafeMutablePointer<T>) {
        let st = contiguousStrides(shape)
        copy(x, offset: 0, strides: perm.map { st[$0] }, shape: perm.map { shape[$0] }, to: y)
    }
}
