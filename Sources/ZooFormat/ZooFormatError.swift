import Foundation
import ZooCore

/// Everything that can be wrong with a `.zoo` file or with a model handed to the writer.
///
/// Each case names the file and the field, tensor or byte offset at fault, so a
/// user can tell a truncated download from a damaged tensor from a file written
/// by a newer zoo. Offsets are absolute byte offsets in the file.
public enum ZooFormatError: Error, LocalizedError, Equatable {
    case truncated(path: String, expectedSize: Int, actualSize: Int)
    case badMagic(path: String)
    case unsupportedMajorVersion(path: String, found: Int, supported: Int)
    case nonZeroReserved(path: String, field: String, offset: Int)
    case headerTooLarge(path: String, length: UInt64, limit: Int)
    case headerExceedsFile(path: String, length: UInt64, available: Int)
    case headerLengthMismatch(path: String, declared: Int, offset: Int)
    case nonZeroPadding(path: String, offset: Int)
    case headerDigestMismatch(path: String, stored: String, computed: String)
    case malformedHeader(path: String, field: String, detail: String)
    case unknownDType(path: String, tensor: String, dtype: String)
    case invalidShape(path: String, tensor: String, shape: [Int])
    case lengthMismatch(path: String, tensor: String, dtype: DType, shape: [Int], expected: Int, declared: Int)
    case misaligned(path: String, tensor: String, offset: Int)
    case overlap(path: String, tensor: String, previous: String, offset: Int)
    case hole(path: String, tensor: String, offset: Int, expectedOffset: Int)
    case tensorOutOfBounds(path: String, tensor: String, offset: Int, length: Int, dataEnd: Int)
    case dataLengthMismatch(path: String, declared: Int, used: Int)
    case duplicateTensor(path: String, tensor: String)
    case trailingBytes(path: String, expectedSize: Int, actualSize: Int)
    case invalidGraph(path: String, detail: String)
    case tensorDigestMismatch(path: String, tensor: String, offset: Int)
    case tensorNotFound(path: String, tensor: String)
    /// The in-memory model cannot be written (writer-side checks).
    case invalidModel(detail: String)
    case io(path: String, operation: String, errno: Int32)

    /// True when the error means the bytes on disk are damaged or inconsistent
    /// (as opposed to a missing file or an I/O failure); `zoo verify` reports
    /// these as integrity failures.
    public var isIntegrityFailure: Bool {
        switch self {
        case .io, .tensorNotFound, .invalidModel: return false
        default: return true
        }
    }

    /// Damage to a .zoo file (as opposed to a file that is not a .zoo at all, or
    /// one of a newer major version): every command exits 66 for these.
    public var isDamage: Bool {
        switch self {
        case .badMagic, .unsupportedMajorVersion: return false
        default: return isIntegrityFailure
        }
    }

    private static let damaged = "the file is damaged or incompletely written; re-download or re-convert it"

    public var errorDescription: String? {
        switch self {
        case let .truncated(p, e, a):
            return "\(p): truncated: expected \(e) bytes, found \(a); \(Self.damaged)"
        case let .badMagic(p):
            return "\(p): not a .zoo file (bad magic at offset 0); convert the source model with 'zoo convert'"
        case let .unsupportedMajorVersion(p, f, s):
            return "\(p): format major version \(f) at offset 8 is not supported (this zoo reads version \(s)); upgrade zoo or re-convert the model with this version"
        case let .nonZeroReserved(p, field, o):
            return "\(p): reserved field '\(field)' at offset \(o) is not zero; \(Self.damaged)"
        case let .headerTooLarge(p, l, lim):
            return "\(p): header length \(l) (offset 16) exceeds the limit of \(lim) bytes; \(Self.damaged)"
        case let .headerExceedsFile(p, l, a):
            return "\(p): header length \(l) (offset 16) runs past the end of the file (\(a) bytes available); \(Self.damaged)"
        case let .headerLengthMismatch(p, d, o):
            return "\(p): header length \(d) (offset 16) does not end the JSON header at offset \(o); \(Self.damaged)"
        case let .nonZeroPadding(p, o):
            return "\(p): padding byte at offset \(o) is not zero; \(Self.damaged)"
        case let .headerDigestMismatch(p, s, c):
            return "\(p): header damaged: SHA-256 is \(c), the preamble (offset 24) records \(s); \(Self.damaged)"
        case let .malformedHeader(p, f, d):
            return "\(p): malformed header at '\(f)': \(d); \(Self.damaged)"
        case let .unknownDType(p, t, d):
            return "\(p): tensor '\(t)' has unknown dtype '\(d)'; upgrade zoo or re-convert the model"
        case let .invalidShape(p, t, s):
            return "\(p): tensor '\(t)' has invalid shape \(s); \(Self.damaged)"
        case let .lengthMismatch(p, t, d, s, e, dl):
            return "\(p): tensor '\(t)': \(d.rawValue) \(ShapeMath.describe(s)) needs \(e) bytes but the header declares \(dl); \(Self.damaged)"
        case let .misaligned(p, t, o):
            return "\(p): tensor '\(t)' at offset \(o) is not 64-byte aligned; \(Self.damaged)"
        case let .overlap(p, t, prev, o):
            return "\(p): tensor '\(t)' at offset \(o) overlaps tensor '\(prev)'; \(Self.damaged)"
        case let .hole(p, t, o, e):
            return "\(p): tensor '\(t)' starts at offset \(o) but the previous tensor's padding ends at \(e) (unaccounted bytes); \(Self.damaged)"
        case let .tensorOutOfBounds(p, t, o, l, end):
            return "\(p): tensor '\(t)' (offset \(o), \(l) bytes) runs past the data section end at \(end); \(Self.damaged)"
        case let .dataLengthMismatch(p, d, u):
            return "\(p): header declares \(d) data bytes but its tensors use \(u); \(Self.damaged)"
        case let .duplicateTensor(p, t):
            return "\(p): tensor name '\(t)' appears twice in the tensor table; \(Self.damaged)"
        case let .trailingBytes(p, e, a):
            return "\(p): \(a - e) unexpected bytes after the end of the data section at offset \(e); \(Self.damaged)"
        case let .invalidGraph(p, d):
            return "\(p): invalid graph: \(d); \(Self.damaged)"
        case let .tensorDigestMismatch(p, t, o):
            return "\(p): tensor '\(t)' (offset \(o)) is damaged: its SHA-256 does not match the header; \(Self.damaged)"
        case let .tensorNotFound(p, t):
            return "\(p): no tensor named '\(t)'; list the tensors with 'zoo inspect'"
        case let .invalidModel(d):
            return "cannot write model: \(d)"
        case let .io(p, op, e):
            return "\(p): \(op) failed: \(String(cString: strerror(e)))"
        }
    }
}
