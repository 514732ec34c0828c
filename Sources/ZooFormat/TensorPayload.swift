import Crypto
import ZooCore

/// Where a tensor's bytes come from when the writer hashes and writes them.
///
/// Most tensors are one contiguous buffer (``ContiguousPayload``). Some
/// importers can name the bytes without assembling them: word2vec rows sit
/// between words in the source file, so the embedding importer hands the
/// writer the rows where they lie in the mapped source and the writer gathers
/// them straight into the output file.
public protocol TensorPayload: Sendable {
    /// Total bytes of the tensor.
    var byteCount: Int { get }
    /// Calls `body` with the bytes of `range` (any sub-range of
    /// `0..<byteCount`), in order, in one or more pieces.
    func forEachPiece(in range: Range<Int>, _ body: (UnsafeRawBufferPointer) throws -> Void) rethrows
    /// When something else is already hashing these bytes (an importer that
    /// hashes rows while it finds them), a function that waits for and returns
    /// that SHA-256 (lower-case hex); the writer then only writes the bytes.
    var precomputedSHA256: (@Sendable () throws -> String)? { get }
}

extension TensorPayload {
    public var precomputedSHA256: (@Sendable () throws -> String)? { nil }
}

/// A tensor's own contiguous storage (kept alive by the payload).
public struct ContiguousPayload: TensorPayload {
    public let tensor: Tensor

    public init(_ tensor: Tensor) { self.tensor = tensor }

    public var byteCount: Int { tensor.byteCount }

    public func forEachPiece(in range: Range<Int>, _ body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        guard !range.isEmpty else { return }
        try body(UnsafeRawBufferPointer(rebasing: tensor.bytes[range]))
    }
}

extension Hashing {
    /// SHA-256 of a payload's bytes in order.
    static func sha256Hex(_ payload: any TensorPayload) -> String {
        var h = SHA256()
        payload.forEachPiece(in: 0..<payload.byteCount) { h.update(bufferPointer: $0) }
        return Hex.encode(h.finalize())
    }
}
