import CZooZlib
import Foundation
import ZooCore

/// Content tests for the source formats: magic numbers, and for protobuf and
/// text formats a structural check of the first bytes.
enum Sniff {
    static let hdf5Magic: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
    static let zipMagic: [UInt8] = [0x50, 0x4B, 0x03, 0x04]
    static let gzipMagic: [UInt8] = [0x1F, 0x8B]

    static func starts(_ b: UnsafeRawBufferPointer, with magic: [UInt8], at offset: Int = 0) -> Bool {
        b.count >= offset + magic.count && Swift.zip(magic.indices, magic).allSatisfy { b[offset + $0] == $1 }
    }

    /// HDF5 signature at 0 or at a user-block offset (512, 1024, 2048, …).
    static func isHDF5(_ b: UnsafeRawBufferPointer) -> Bool {
        var off = 0
        while off <= min(b.count, 1 << 20) - hdf5Magic.count {
            if starts(b, with: hdf5Magic, at: off) { return true }
            off = off == 0 ? 512 : off * 2
        }
        return false
    }

    /// Whether a zip's central directory (in its last 64 KiB) names `member`.
    static func zipContains(_ b: UnsafeRawBufferPointer, member: String) -> Bool {
        let needle = Array(member.utf8)
        let tail = UnsafeRawBufferPointer(rebasing: b[max(0, b.count - (64 << 10))...])
        guard tail.count >= needle.count else { return false }
        for i in 0...(tail.count - needle.count) where tail[i] == needle[0] {
            if (0..<needle.count).allSatisfy({ tail[i + $0] == needle[$0] }) { return true }
        }
        return false
    }

    /// An ONNX ModelProto: every top-level field is a well-formed protobuf
    /// field (varint, 64-bit, length-delimited within the file, or 32-bit) and
    /// one of them is the graph (field 7). Text files fail at the first byte.
    static func isONNX(_ b: UnsafeRawBufferPointer) -> Bool {
        var i = 0, sawGraph = false, fields = 0
        func varint() -> UInt64? {
            var v: UInt64 = 0, shift: UInt64 = 0
            while i < b.count, shift < 64 {
                let byte = b[i]; i += 1
                v |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return v }
                shift += 7
            }
            return nil
        }
        while i < b.count {
            guard let tag = varint(), tag >> 3 >= 1, tag >> 3 <= 64 else { return false }
            switch tag & 7 {
            case 0: guard varint() != nil else { return false }
            case 1: i += 8
            case 2:
                guard let n = varint(), n <= UInt64(b.count - i) else { return false }
                if tag >> 3 == 7 { sawGraph = true }
                i += Int(n)
            case 5: i += 4
            default: return false
            }
            fields += 1
            guard i <= b.count, fields <= 1 << 16 else { return false }
        }
        return sawGraph
    }

    /// The embedding text/binary format of decompressed leading bytes `b`.
    static func embedding(_ b: UnsafeRawBufferPointer) -> String? {
        guard let nl = b.firstIndex(of: 0x0A), nl > 0 else { return nil }
        let first = String(decoding: UnsafeRawBufferPointer(rebasing: b[0..<nl]), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let fields = first.split(whereSeparator: { $0 == " " || $0 == "\t" })
        if fields.count == 2, let rows = Int(fields[0]), let dim = Int(fields[1]), rows > 0, dim > 0 {
            // "V D" header: word2vec binary if the body holds raw floats, text otherwise.
            let body = UnsafeRawBufferPointer(rebasing: b[(nl + 1)...].prefix(4096))
            let textual = body.allSatisfy { $0 == 0x0A || $0 == 0x0D || $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }
            return textual ? "word2vec-txt" : "word2vec-bin"
        }
        // GloVe: a word (which may contain spaces) followed by numbers only.
        let numbers = fields.reversed().prefix { Double($0) != nil }.count
        return numbers >= 2 && numbers < fields.count ? "glove-txt" : nil
    }

    /// Up to `limit` bytes of a gzip stream's decompressed start.
    static func gunzipPrefix(_ b: UnsafeRawBufferPointer, limit: Int = 1 << 16) -> [UInt8]? {
        var stream = z_stream()
        guard czlib_inflate_init(&stream) == Z_OK else { return nil }
        defer { inflateEnd(&stream) }
        var out = [UInt8](repeating: 0, count: limit)
        let n: Int = out.withUnsafeMutableBytes { dst in
            stream.next_in = UnsafeMutablePointer(mutating: b.bindMemory(to: UInt8.self).baseAddress)
            stream.avail_in = uInt(min(b.count, 1 << 20))
            stream.next_out = dst.bindMemory(to: UInt8.self).baseAddress
            stream.avail_out = uInt(limit)
            let r = inflate(&stream, Z_SYNC_FLUSH)
            return r == Z_OK || r == Z_STREAM_END || r == Z_BUF_ERROR ? Int(stream.total_out) : -1
        }
        return n > 0 ? Array(out.prefix(n)) : nil
    }
}
