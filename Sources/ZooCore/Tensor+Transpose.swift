extension Tensor {
    /// The tensor with its axes permuted (`perm[i]` is the source axis of output axis i).
    /// Used by importers to bring weights into the IR's layout (e.g. HWIO → OIHW).
    public func transposed(_ perm: [Int]) throws -> Tensor {
        precondition(perm.count == shape.count && Set(perm) == Set(0..<shape.count), "perm \(perm) does not permute rank \(shape.count)")
        // Every output element is written once by the strided copy.
        let storage = TensorStorage(count: byteCount, zeroed: false) { out in
            guard let dst = out.baseAddress, let src = bytes.baseAddress else { return }
            func move<T>(_: T.Type) {
                StridedCopy.transpose(src.assumingMemoryBound(to: T.self), shape: shape, perm: perm, to: dst.assumingMemoryBound(to: T.self))
            }
            switch dtype.itemSize {
            case 8: move(UInt64.self)
            case 4: move(UInt32.self)
            case 2: move(UInt16.self)
            default: move(UInt8.self)
            }
        }
        return try Tensor(dtype: dtype, shape: perm.map { shape[$0] }, storage: storage)
    }
}

extension Tensor {
    /// The same bytes under a new shape (no copy); the element count must match.
    public func reshaped(_ shape: [Int]) throws -> Tensor {
        try Tensor(dtype: dtype, shape: shape, storage: storage)
    }
}
