/// Element types a `.zoo` tensor can hold.
///
/// The raw values are the spellings used in the native format's JSON header
/// (docs/FORMAT.md), so they are part of the file format and must never change.
public enum DType: String, Codable, CaseIterable, Sendable {
    case f32, f16, bf16, f64, i8, u8, i32, i64, bool
    /// Added in format 1.2 (ONNX INT16, UINT16, UINT32, UINT64).
    case i16, u16, u32, u64
    /// Opaque bytes (vocabularies, label blobs): one "element" is one byte.
    case bytes

    /// Size of one element in bytes; every dtype is fixed-width.
    public var itemSize: Int {
        switch self {
        case .f64, .i64, .u64: return 8
        case .f32, .i32, .u32: return 4
        case .f16, .bf16, .i16, .u16: return 2
        case .i8, .u8, .bool, .bytes: return 1
        }
    }

    /// Whether the runtime treats the values as floating point.
    public var isFloatingPoint: Bool {
        switch self {
        case .f32, .f16, .bf16, .f64: return true
        default: return false
        }
    }
}
