import Foundation

/// The bytes behind a tensor: either an owned, 64-byte aligned allocation or a
/// window into a memory-mapped file kept alive by `owner`.
///
/// Storage is immutable once built, which is what lets many tensors (and
/// threads) share one mapping safely.
public final class TensorStorage: @unchecked Sendable {
    /// Alignment of owned allocations; matches the `.zoo` tensor alignment so
    /// owned and mapped tensors behave the same under SIMD/BLAS.
    public static let alignment = 64

    public let bytes: UnsafeRawBufferPointer
    private let owner: AnyObject?
    private let allocation: UnsafeMutableRawPointer?

    /// Copies `source` into a fresh aligned allocation.
    public init(copying source: UnsafeRawBufferPointer) {
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(source.count, 1), alignment: Self.alignment)
        if let src = source.baseAddress, source.count > 0 {
            p.copyMemory(from: src, byteCount: source.count)
        }
        allocation = p
        owner = nil
        bytes = UnsafeRawBufferPointer(start: p, count: source.count)
    }

    /// Allocates `count` bytes and lets `fill` write them. They start zeroed
    /// unless the caller says `fill` writes every byte (`zeroed: false`), so
    /// big buffers are not written twice.
    public init(count: Int, zeroed: Bool = true, fill: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: Self.alignment)
        if zeroed { p.initializeMemory(as: UInt8.self, repeating: 0, count: max(count, 1)) }
        allocation = p
        owner = nil
        bytes = UnsafeRawBufferPointer(start: p, count: count)
        // Every property is set: if `fill` throws, deinit frees the allocation (freeing it
        // here as well was a double free, found by bench/mutate_keras.py).
        try fill(UnsafeMutableRawBufferPointer(start: p, count: count))
    }

    /// Takes ownership of `count` bytes at `pointer` (allocated with Swift's
    /// allocator), so large buffers built elsewhere become tensors without a copy.
    public init(adopting pointer: UnsafeMutableRawPointer, count: Int) {
        allocation = pointer
        owner = nil
        bytes = UnsafeRawBufferPointer(start: pointer, count: count)
    }

    /// A view of `bytes`, which `owner` (typically a `MappedFile`) keeps valid.
    public init(viewing bytes: UnsafeRawBufferPointer, owner: AnyObject) {
        self.bytes = bytes
        self.owner = owner
        self.allocation = nil
    }

    deinit { allocation?.deallocate() }

    /// Tells the kernel this view's pages are no longer needed (they are
    /// re-read from the file if touched again). Only file-backed views are
    /// released: on owned memory the hint would discard data.
    public func releaseResidentPages() {
        guard let mapped = owner as? MappedFile, let base = bytes.baseAddress, bytes.count > 0 else { return }
        mapped.releasePages(in: base, count: bytes.count)
    }
}

/// A dense, row-major, little-endian n-dimensional array.
///
/// A value type over shared immutable storage: copying a `Tensor` is cheap and
/// never copies the data (weights can be hundreds of megabytes).
public struct Tensor: Sendable {
    public let dtype: DType
    public let shape: [Int]
    public let storage: TensorStorage

    /// Wraps existing storage after checking that dtype × shape equals its size.
    public init(dtype: DType, shape: [Int], storage: TensorStorage, name: String = "") throws {
        guard let expected = ShapeMath.byteCount(dtype, shape) else {
            throw ZooCoreError.invalidShape(name: name, shape: shape)
        }
        guard expected == storage.bytes.count else {
            throw ZooCoreError.tensorSizeMismatch(name: name, dtype: dtype, shape: shape,
                                                  expectedBytes: expected, actualBytes: storage.bytes.count)
        }
        self.dtype = dtype
        self.shape = shape
        self.storage = storage
    }

    /// Copies raw little-endian bytes into a new tensor.
    public init(dtype: DType, shape: [Int], bytes: some Collection<UInt8>, name: String = "") throws {
        let array = Array(bytes)
        let storage = array.withUnsafeBytes { TensorStorage(copying: $0) }
        try self.init(dtype: dtype, shape: shape, storage: storage, name: name)
    }

    /// A float32 tensor from values in row-major order.
    public init(floats: [Float], shape: [Int], name: String = "") throws {
        let storage = floats.withUnsafeBytes { TensorStorage(copying: $0) }
        try self.init(dtype: .f32, shape: shape, storage: storage, name: name)
    }

    /// The tensor's bytes (valid as long as the tensor is alive).
    public var bytes: UnsafeRawBufferPointer { storage.bytes }
    public var byteCount: Int { storage.bytes.count }
    public var elementCount: Int { byteCount / dtype.itemSize }

    /// Copies the elements out as `T`; `T` must match the dtype's width.
    public func scalars<T>(as _: T.Type = T.self) -> [T] {
        precondition(MemoryLayout<T>.stride == dtype.itemSize, "element type does not match \(dtype)")
        return Array(storage.bytes.bindMemory(to: T.self))
    }
}
