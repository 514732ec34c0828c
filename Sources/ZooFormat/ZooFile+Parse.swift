import Crypto
import Foundation
import ZooCore

extension ZooFile {
    struct Parsed {
        var header: FileHeader
        var digest: String
        var major: Int
        var minor: Int
        var dataOffset: Int
    }

    /// Structural validation in file order; the first violation is thrown with
    /// its field and absolute offset. Never reads outside `b` and never traps:
    /// every length and offset from the file goes through checked arithmetic.
    static func parse(_ b: UnsafeRawBufferPointer, path: String) throws -> Parsed {
        let pre = ZooFormatSpec.preambleSize
        guard b.count >= pre else { throw ZooFormatError.truncated(path: path, expectedSize: pre, actualSize: b.count) }
        guard Array(b[0..<8]) == ZooFormatSpec.magic else { throw ZooFormatError.badMagic(path: path) }
        let major = Int(b.loadLE(UInt16.self, at: 8))
        let minor = Int(b.loadLE(UInt16.self, at: 10))
        guard major == ZooFormatSpec.majorVersion else {
            throw ZooFormatError.unsupportedMajorVersion(path: path, found: major, supported: ZooFormatSpec.majorVersion)
        }
        guard b.loadLE(UInt32.self, at: 12) == 0 else { throw ZooFormatError.nonZeroReserved(path: path, field: "flags", offset: 12) }
        if let bad = firstNonZero(b, from: 56, to: pre) {
            throw ZooFormatError.nonZeroReserved(path: path, field: "reserved", offset: bad)
        }
        let declared = b.loadLE(UInt64.self, at: 16)
        guard declared <= UInt64(ZooFormatSpec.maxHeaderLength) else {
            throw ZooFormatError.headerTooLarge(path: path, length: declared, limit: ZooFormatSpec.maxHeaderLength)
        }
        let hl = Int(declared)
        guard hl > 0 else { throw ZooFormatError.headerLengthMismatch(path: path, declared: 0, offset: pre) }
        // The header must be followed by at least one padding byte.
        guard pre + hl < b.count else {
            throw ZooFormatError.headerExceedsFile(path: path, length: declared, available: max(0, b.count - pre - 1))
        }
        // A JSON object ends with '}' and the first padding byte is zero: a
        // header length that lies is caught here, before hashing.
        guard b[pre + hl - 1] == UInt8(ascii: "}"), b[pre + hl] == 0 else {
            throw ZooFormatError.headerLengthMismatch(path: path, declared: hl, offset: pre + hl)
        }
        let dataOffset = ZooFormatSpec.dataOffset(headerLength: hl)!
        guard dataOffset <= b.count else { throw ZooFormatError.truncated(path: path, expectedSize: dataOffset, actualSize: b.count) }
        if let bad = firstNonZero(b, from: pre + hl, to: dataOffset) {
            throw ZooFormatError.nonZeroPadding(path: path, offset: bad)
        }
        let headerBytes = UnsafeRawBufferPointer(rebasing: b[pre..<(pre + hl)])
        let stored = Hex.encode(b[24..<56])
        let computed = Hashing.sha256Hex(headerBytes)
        guard stored == computed else {
            throw ZooFormatError.headerDigestMismatch(path: path, stored: stored, computed: computed)
        }

        let raw: RawFileHeader
        do {
            raw = try JSONDecoder().decode(RawFileHeader.self, from: Data(headerBytes))
        } catch let DecodingError.keyNotFound(key, ctx) {
            throw ZooFormatError.malformedHeader(path: path, field: fieldPath(ctx.codingPath + [key]), detail: "missing")
        } catch let DecodingError.typeMismatch(_, ctx), let DecodingError.valueNotFound(_, ctx), let DecodingError.dataCorrupted(ctx) {
            throw ZooFormatError.malformedHeader(path: path, field: fieldPath(ctx.codingPath), detail: ctx.debugDescription)
        } catch {
            throw ZooFormatError.malformedHeader(path: path, field: "", detail: "\(error)")
        }
        if let dup = JSONKeyCheck.firstDuplicate(in: headerBytes) {
            throw ZooFormatError.malformedHeader(path: path, field: dup.object.isEmpty ? dup.key : "\(dup.object).\(dup.key)",
                                                 detail: "the key '\(dup.key)' appears twice in one object; readers could disagree on its value, so the header is refused")
        }

        let dataLength = raw.dataLength
        guard dataLength >= 0 else {
            throw ZooFormatError.malformedHeader(path: path, field: "dataLength", detail: "negative")
        }
        let (expectedSize, o) = dataOffset.addingReportingOverflow(dataLength)
        guard !o, expectedSize <= b.count else {
            throw ZooFormatError.truncated(path: path, expectedSize: o ? Int.max : expectedSize, actualSize: b.count)
        }
        guard expectedSize == b.count else {
            throw ZooFormatError.trailingBytes(path: path, expectedSize: expectedSize, actualSize: b.count)
        }

        var entries: [TensorEntry] = []
        entries.reserveCapacity(raw.tensors.count)
        var names = Set<String>()
        var position = 0
        var previous = ""
        for (i, r) in raw.tensors.enumerated() {
            guard !r.name.isEmpty else {
                throw ZooFormatError.malformedHeader(path: path, field: "tensors[\(i)].name", detail: "empty")
            }
            guard names.insert(r.name).inserted else { throw ZooFormatError.duplicateTensor(path: path, tensor: r.name) }
            guard let dtype = DType(rawValue: r.dtype) else {
                throw ZooFormatError.unknownDType(path: path, tensor: r.name, dtype: r.dtype)
            }
            guard let need = ShapeMath.byteCount(dtype, r.shape) else {
                throw ZooFormatError.invalidShape(path: path, tensor: r.name, shape: r.shape)
            }
            guard need == r.length else {
                throw ZooFormatError.lengthMismatch(path: path, tensor: r.name, dtype: dtype, shape: r.shape, expected: need, declared: r.length)
            }
            guard Hex.isSHA256(r.sha256) else {
                throw ZooFormatError.malformedHeader(path: path, field: "tensors[\(i)].sha256", detail: "not 64 lower-case hex digits")
            }
            guard r.offset >= 0, r.offset % ZooFormatSpec.tensorAlignment == 0 else {
                throw ZooFormatError.misaligned(path: path, tensor: r.name, offset: r.offset >= 0 ? dataOffset + r.offset : r.offset)
            }
            guard r.offset >= position else {
                throw ZooFormatError.overlap(path: path, tensor: r.name, previous: previous, offset: dataOffset + r.offset)
            }
            let expected = ShapeMath.alignUp(position, ZooFormatSpec.tensorAlignment)!
            guard r.offset == expected else {
                throw ZooFormatError.hole(path: path, tensor: r.name, offset: dataOffset + r.offset, expectedOffset: dataOffset + expected)
            }
            let (end, o2) = r.offset.addingReportingOverflow(r.length)
            guard !o2, end <= dataLength else {
                throw ZooFormatError.tensorOutOfBounds(path: path, tensor: r.name, offset: dataOffset + r.offset,
                                                       length: r.length, dataEnd: dataOffset + dataLength)
            }
            entries.append(TensorEntry(name: r.name, dtype: dtype, shape: r.shape, offset: r.offset, length: r.length, sha256: r.sha256))
            position = end
            previous = r.name
        }
        guard position == dataLength else {
            throw ZooFormatError.dataLengthMismatch(path: path, declared: dataLength, used: position)
        }
        do {
            try raw.graph.validate(initializers: names)
        } catch {
            throw ZooFormatError.invalidGraph(path: path, detail: error.localizedDescription)
        }
        return Parsed(header: FileHeader(card: raw.card, graph: raw.graph, tensors: entries, dataLength: dataLength),
                      digest: "sha256:" + stored, major: major, minor: minor, dataOffset: dataOffset)
    }

    private static func fieldPath(_ path: [CodingKey]) -> String {
        var s = ""
        for k in path {
            if let i = k.intValue { s += "[\(i)]" } else { s += (s.isEmpty ? "" : ".") + k.stringValue }
        }
        return s
    }
}
