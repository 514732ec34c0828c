import Foundation
import ZooCore

/// Constants of the `.zoo` layout (docs/FORMAT.md is the normative text).
public enum ZooFormatSpec {
    /// `\x89ZOO\r\n\x1a\n`: non-ASCII first byte and CR/LF/EOF catch text-mode
    /// transfers, like PNG's signature.
    public static let magic: [UInt8] = [0x89, 0x5A, 0x4F, 0x4F, 0x0D, 0x0A, 0x1A, 0x0A]
    public static let majorVersion = 1
    /// 1: dimensions are expressions (docs/FORMAT.md, "Dimensions"), Slice bounds keep ONNX's meaning.
    /// 2: dtypes i16, u16, u32, u64.
    public static let minorVersion = 2
    public static let preambleSize = 128
    /// Data section alignment (file offset); a page on every platform we target.
    public static let dataAlignment = 4096
    /// Tensor alignment within the data section (cache line / AVX-512 width).
    public static let tensorAlignment = 64
    /// Upper bound on the JSON header so a hostile length cannot make us allocate.
    public static let maxHeaderLength = 64 << 20

    /// File offset where the data section starts for a header of `headerLength`
    /// bytes: at least one zero byte follows the header, then page alignment.
    static func dataOffset(headerLength: Int) -> Int? {
        let (end, o) = (preambleSize + headerLength).addingReportingOverflow(1)
        return o ? nil : ShapeMath.alignUp(end, dataAlignment)
    }
}

/// One row of the tensor table in the header.
public struct TensorEntry: Hashable, Sendable, Codable {
    public var name: String
    public var dtype: DType
    public var shape: [Int]
    /// Offset from the start of the data section (a multiple of 64).
    public var offset: Int
    public var length: Int
    /// Lower-case hex SHA-256 of the tensor's `length` bytes.
    public var sha256: String
}

/// The JSON header, as written (keys are sorted when encoded).
struct FileHeader: Codable {
    var card: ModelCard
    var graph: Graph
    var tensors: [TensorEntry]
    var dataLength: Int
}

/// What the reader decodes before validation: dtype stays a string so an
/// unknown dtype can be reported by tensor name instead of as a decode error.
struct RawFileHeader: Decodable {
    struct Entry: Decodable {
        var name: String
        var dtype: String
        var shape: [Int]
        var offset: Int
        var length: Int
        var sha256: String
    }
    var card: ModelCard
    var graph: Graph
    var tensors: [Entry]
    var dataLength: Int
}

/// Lower-case hex, the spelling of every digest in headers, cards and manifests.
public enum Hex {
    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func isSHA256(_ s: String) -> Bool {
        s.utf8.count == 64 && s.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}

extension UnsafeRawBufferPointer {
    func loadLE<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}
