import Foundation

/// NumPy `.npy` reading and writing, so tensors cross to and from Python
/// unchanged (reference inputs/outputs, `zoo run` input and output).
public enum NPY {
    /// Why an .npy file could not be read.
    public enum Failure: Error, LocalizedError, Equatable {
        case malformed(path: String, detail: String)
        case unsupportedDType(path: String, descr: String)

        public var errorDescription: String? {
            switch self {
            case let .malformed(p, d): return "\(p): not a valid .npy file: \(d); save it with numpy.save"
            case let .unsupportedDType(p, d): return "\(p): .npy dtype '\(d)' is not supported; convert it with arr.astype('float32')"
            }
        }
    }

    private static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    private static let descrs: [String: DType] = [
        "<f4": .f32, "<f8": .f64, "<f2": .f16, "<i8": .i64, "<i4": .i32, "|i1": .i8, "|u1": .u8, "|b1": .bool,
        "i1": .i8, "u1": .u8, "b1": .bool,
        "<i2": .i16, "<u2": .u16, "<u4": .u32, "<u8": .u64,
    ]

    public static func read(path: String) throws -> Tensor {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ZooCoreError.io(path: path, operation: "read", errno: (error as NSError).code == 260 ? ENOENT : EIO)
        }
        return try decode(Array(data), path: path)
    }

    public static func decode(_ b: [UInt8], path: String = "<memory>") throws -> Tensor {
        func bad(_ d: String) -> Failure { .malformed(path: path, detail: d) }
        guard b.count >= 10, Array(b[0..<6]) == magic else { throw bad("missing \\x93NUMPY magic") }
        let major = b[6]
        var headerLength: Int, start: Int
        switch major {
        case 1: headerLength = Int(b[8]) | Int(b[9]) << 8; start = 10
        case 2, 3:
            guard b.count >= 12 else { throw bad("truncated preamble") }
            headerLength = Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24; start = 12
        default: throw bad("unknown version \(major)")
        }
        guard start + headerLength <= b.count else { throw bad("header runs past the end of the file") }
        let header = String(decoding: b[start..<(start + headerLength)], as: UTF8.self)
        func field(_ key: String) -> String? {
            guard let r = header.range(of: "'\(key)':") else { return nil }
            return String(header[r.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        guard let d = field("descr"), let q1 = d.firstIndex(of: "'"),
              let q2 = d[d.index(after: q1)...].firstIndex(of: "'") else { throw bad("no descr in header") }
        let descr = String(d[d.index(after: q1)..<q2])
        guard let dtype = descrs[descr] else { throw Failure.unsupportedDType(path: path, descr: descr) }
        if let f = field("fortran_order"), f.hasPrefix("True") { throw bad("Fortran-ordered arrays are not supported; save with np.ascontiguousarray") }
        // The ")" that closes the shape's "(" (a stray ")" before it is malformed, not a range to trap on).
        guard let s = field("shape"), let open = s.firstIndex(of: "("), let close = s[open...].firstIndex(of: ")") else { throw bad("no shape in header") }
        let parts = s[s.index(after: open)..<close].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let shape = try parts.map { p -> Int in
            guard let v = Int(p), v >= 0 else { throw bad("invalid dimension '\(p)'") }
            return v
        }
        guard let n = ShapeMath.byteCount(dtype, shape) else { throw bad("shape \(shape) is too large") }
        let body = start + headerLength
        guard b.count - body == n else { throw bad("data has \(b.count - body) bytes, \(descr) \(shape) needs \(n)") }
        return try Tensor(dtype: dtype, shape: shape, bytes: b[body...])
    }

    public static func encode(_ t: Tensor) -> [UInt8] {
        // numpy has no bfloat16: its raw 16-bit patterns are written as uint16,
        // so the header's shape still matches the data.
        let descr = t.dtype == .bf16 ? "<u2" : descrs.first { $0.value == t.dtype && $0.key.count == 3 }?.key ?? "|u1"
        let shape = t.shape.isEmpty ? "()" : t.shape.count == 1 ? "(\(t.shape[0]),)" : "(" + t.shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }"
        let total = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
        let hl = header.utf8.count
        return magic + [1, 0, UInt8(hl & 0xFF), UInt8(hl >> 8)] + Array(header.utf8) + Array(t.bytes)
    }

    /// A 1-D numpy unicode array (`<U` n, UTF-32LE, zero-padded to the longest
    /// string), so file paths and class names load with `np.load` and no pickle.
    public static func encode(strings: [String]) -> [UInt8] {
        let scalars = strings.map { Array($0.unicodeScalars) }
        let width = max(1, scalars.map(\.count).max() ?? 1)
        var header = "{'descr': '<U\(width)', 'fortran_order': False, 'shape': (\(strings.count),), }"
        let total = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
        let hl = header.utf8.count
        var out = magic + [1, 0, UInt8(hl & 0xFF), UInt8(hl >> 8)] + Array(header.utf8)
        out.reserveCapacity(out.count + strings.count * width * 4)
        for s in scalars {
            for k in 0..<width {
                let v = k < s.count ? s[k].value : 0
                out += [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)]
            }
        }
        return out
    }

    public static func write(_ t: Tensor, path: String) throws {
        do { try Data(encode(t)).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw ZooCoreError.io(path: path, operation: "write", errno: EIO)
        }
    }
}
