extension Tensor {
    /// The tensor with its axes permuted (`perm[i]` is the source axis of output axis i).
    /// Used by importers to bring weights into the IR's layout (e.g. HWIO → OIHW).
    public func transposed(_ perm: [Int]) throws -> Tensor {
        precondition(perm.count == shape.count && Set(perm) == Set(0..<shape.count), "perm \(perm) does not permute rank \(shape.count)")
        let outShape = perm.map { shape[$0] }
        var strides = Array(repeating: 1, count: shape.count)
        for d in stride(from: shape.count - 2, through: 0, by: -1) { strides[d] = strides[d + 1] * shape[d + 1] }
        let srcStrides = perm.map { strides[$0] }
        let item = dtype.itemSize, total = elementCount
        let storage = TensorStorage(count: total * item) { out in
            guard total > 0, let dst = out.baseAddress, let src = bytes.baseAddress else { return }
            var idx = Array(repeating: 0, count: outShape.count)
            var off = 0
            // Four-byte elements (f32, i32) are moved as words: a memcpy call per element is far slower.
            let words = item == 4 ? (src.assumingMemoryBound(to: UInt32.self), dst.assumingMemoryBound(to: UInt32.self)) : nil
            for o in 0..<total {
                if let (s, d) = words { d[o] = s[off] } else { (dst + o * item).copyMemory(from: src + off * item, byteCount: item) }
                var d = outShape.count - 1
                while d >= 0 {
                    idx[d] += 1
                    off += srcStrides[d]
                    if idx[d] < outShape[d] { break }
                    off -= srcStrides[d] * idx[d]
                    idx[d] = 0
                    d -= 1
                }
            }
        }
        return try Tensor(dtype: dtype, shape: outShape, storage: storage)
    }
}
