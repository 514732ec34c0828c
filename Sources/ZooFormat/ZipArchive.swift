import CZooZlib
import Foundation
import ZooCore

/// A zip archive (`.keras`, GloVe `.zip`, `.npz`) whose directory zoo has read
/// and checked itself: every offset and size the end records and central
/// directory declare lies inside the file. ZIPFoundation 0.9 converts those
/// 64-bit values to `off_t` without checking (a 100-byte file declaring an
/// offset of 2^63 traps the process) and its inflate loop never ends on a
/// deflate stream cut short (both found by fuzzing), so zoo reads zips with
/// this type only.
///
/// A member is read in chunks and never past the size its directory entry
/// declares nor the caller's cap: a zip bomb that declares little stops at the
/// first chunk past it, and one that declares its size honestly is refused
/// before anything is inflated.
public struct ZipArchive: Sequence {
    /// Why an archive or a member could not be read. `description` names the
    /// member and is written to follow "PATH: " in the caller's own error.
    public struct Failure: Error, CustomStringConvertible {
        public let member: String
        public let description: String
    }

    /// One central-directory entry.
    public struct Member {
        /// The name as stored (UTF-8).
        public let path: String
        /// The inflated size the entry declares.
        public let size: UInt64
        /// Directories are entries whose name ends in `/`.
        public var isFile: Bool { !path.hasSuffix("/") }
        let local: UInt64, compressedSize: UInt64, method: UInt64, crc: UInt64
    }

    public let path: String
    /// Members in central-directory order.
    public let members: [Member]
    /// Where the central directory starts: no member's data lies past it.
    let directoryStart: UInt64

    /// Reads and checks the archive's directory (not its members' data).
    public init(_ path: String) throws {
        self.path = path
        (members, directoryStart) = try Self.readDirectory(path)
    }

    public func makeIterator() -> IndexingIterator<[Member]> { members.makeIterator() }

    /// The first member stored under `name`.
    public subscript(name: String) -> Member? { members.first { $0.path == name } }

    static func readDirectory(_ path: String) throws -> ([Member], UInt64) {
        func bad(_ what: String) -> Failure { Failure(member: "", description: "not a valid zip archive (\(what))") }
        guard let handle = FileHandle(forReadingAtPath: path) else { throw bad("cannot be opened") }
        defer { try? handle.close() }
        let size = UInt64((try? handle.seekToEnd()) ?? 0)
        func read(_ offset: UInt64, _ count: Int) throws -> [UInt8] {
            guard offset <= size, UInt64(count) <= size - offset else { throw bad("a record at byte \(offset) runs past the end") }
            try handle.seek(toOffset: offset)
            let data = try handle.read(upToCount: count) ?? Data()
            guard data.count == count else { throw bad("short read at byte \(offset)") }
            return [UInt8](data)
        }
        func u16(_ b: [UInt8], _ i: Int) -> UInt64 { UInt64(b[i]) | UInt64(b[i + 1]) << 8 }
        func u32(_ b: [UInt8], _ i: Int) -> UInt64 { u16(b, i) | u16(b, i + 2) << 16 }
        func u64(_ b: [UInt8], _ i: Int) -> UInt64 { u32(b, i) | u32(b, i + 4) << 32 }
        // The end-of-central-directory record: the last signature in the final 64 KiB + 22 bytes.
        let tailLength = Int(Swift.min(size, 65_557))
        let tail = try read(size - UInt64(tailLength), tailLength)
        guard tailLength >= 22, let e = stride(from: tailLength - 22, through: 0, by: -1).first(where: {
            tail[$0] == 0x50 && tail[$0 + 1] == 0x4B && tail[$0 + 2] == 0x05 && tail[$0 + 3] == 0x06
        }) else { throw bad("no end-of-central-directory record") }
        let eocdOffset = size - UInt64(tailLength) + UInt64(e)
        var entries = u16(tail, e + 10), cdSize = u32(tail, e + 12), cdOffset = u32(tail, e + 16)
        if entries == 0xFFFF || cdSize == 0xFFFF_FFFF || cdOffset == 0xFFFF_FFFF || e >= 20 && u32(tail, e - 20) == 0x0706_4B50 {
            // ZIP64: the locator just before the record points at the ZIP64 end record.
            guard e >= 20, u32(tail, e - 20) == 0x0706_4B50 else { throw bad("ZIP64 sizes without a ZIP64 locator") }
            let z = u64(tail, e - 12)
            guard z < eocdOffset else { throw bad("ZIP64 end record at byte \(z)") }
            let rec = try read(z, 56)
            guard u32(rec, 0) == 0x0606_4B50 else { throw bad("no ZIP64 end record at byte \(z)") }
            entries = u64(rec, 32); cdSize = u64(rec, 40); cdOffset = u64(rec, 48)
        }
        guard cdOffset <= eocdOffset, cdSize <= eocdOffset - cdOffset else {
            throw bad("central directory at byte \(cdOffset), \(cdSize) bytes, in a \(size)-byte file")
        }
        guard entries <= cdSize / 46 else { throw bad("\(entries) entries in a \(cdSize)-byte central directory") }
        var members: [Member] = []
        members.reserveCapacity(Int(entries))
        var at = cdOffset
        for _ in 0..<entries {
            let h = try read(at, 46)
            guard u32(h, 0) == 0x0201_4B50 else { throw bad("central directory entry at byte \(at)") }
            var csize = u32(h, 20), usize = u32(h, 24), local = u32(h, 42)
            let name = Int(u16(h, 28)), extraLength = Int(u16(h, 30)), comment = Int(u16(h, 32))
            let extra = try read(at + 46 + UInt64(name), extraLength)
            var i = 0
            while i + 4 <= extra.count {
                let id = u16(extra, i), n = Int(u16(extra, i + 2))
                if id == 1 {
                    var j = i + 4
                    func next() -> UInt64? { guard j + 8 <= i + 4 + n, j + 8 <= extra.count else { return nil }; defer { j += 8 }; return u64(extra, j) }
                    if usize == 0xFFFF_FFFF { usize = next() ?? usize }
                    if csize == 0xFFFF_FFFF { csize = next() ?? csize }
                    if local == 0xFFFF_FFFF { local = next() ?? local }
                }
                i += 4 + n
            }
            guard local < cdOffset, csize <= cdOffset - local else {
                throw bad("an entry's data at byte \(local), \(csize) bytes, outside the file's \(cdOffset) bytes of entries")
            }
            let nameBytes = try read(at + 46, name)
            members.append(Member(path: String(decoding: nameBytes, as: UTF8.self), size: usize,
                                  local: local, compressedSize: csize, method: u16(h, 10), crc: u32(h, 16)))
            at += 46 + UInt64(name + extraLength + comment)
            guard at <= cdOffset + cdSize else { throw bad("central directory entries run past its size") }
        }
        return (members, cdOffset)
    }

    /// Calls `sink` with each inflated chunk of `member` (valid only during the
    /// call), at most `limit` bytes in all. Errors `sink` throws propagate unchanged.
    public func stream(_ member: Member, limit: Int, bufferSize: Int = 1 << 16,
                       into sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        let name = MessageText.clip(member.path)
        func fail(_ what: String) -> Failure { Failure(member: member.path, description: "member '\(name)' \(what)") }
        guard member.isFile else { throw fail("is not a file") }
        guard member.size <= UInt64(limit) else { throw fail("is too large (\(member.size) bytes; at most \(limit))") }
        guard let handle = FileHandle(forReadingAtPath: path) else { throw fail("cannot be read") }
        defer { try? handle.close() }
        func read(_ count: Int) throws -> Data {
            do { return try handle.read(upToCount: count) ?? Data() } catch {
                throw fail("cannot be read (\(MessageText.clip(error.localizedDescription, 200)))")
            }
        }
        do { try handle.seek(toOffset: member.local) } catch { throw fail("cannot be read at byte \(member.local)") }
        let header = [UInt8](try read(30))
        guard header.count == 30, header[0] == 0x50, header[1] == 0x4B, header[2] == 0x03, header[3] == 0x04 else {
            throw fail("has no local header at byte \(member.local)")
        }
        let nameLength = UInt64(header[26]) | UInt64(header[27]) << 8
        let extraLength = UInt64(header[28]) | UInt64(header[29]) << 8
        let start: UInt64 = member.local + 30 + nameLength + extraLength
        guard start <= directoryStart, member.compressedSize <= directoryStart - start else { throw fail("has data past the central directory") }
        do { try handle.seek(toOffset: start) } catch { throw fail("cannot be read at byte \(start)") }
        var remaining = member.compressedSize, seen: UInt64 = 0, crc: uLong = crc32(0, nil, 0)
        func emit(_ chunk: UnsafeRawBufferPointer) throws {
            seen += UInt64(chunk.count)
            guard seen <= member.size else { throw fail("inflates past the \(member.size) bytes it declares (a zip bomb or a damaged archive)") }
            crc = crc32(crc, chunk.bindMemory(to: Bytef.self).baseAddress, uInt(chunk.count))
            try sink(chunk)
        }
        func nextInput() throws -> Data {
            let n = Int(Swift.min(remaining, UInt64(bufferSize)))
            let d = try read(n)
            guard d.count == n else { throw fail("is cut short (the file ends inside it)") }
            remaining -= UInt64(n)
            return d
        }
        switch member.method {
        case 0:
            while remaining > 0 { try nextInput().withUnsafeBytes { try emit($0) } }
        case 8:
            guard let inflater = ZlibInflater(.raw, bufferSize: bufferSize) else { throw fail("cannot be inflated (zlib)") }
            // zoo inflates members itself: ZIPFoundation 0.9's inflate loop never ends on a
            // deflate stream cut short (found by fuzzing).
            var ended = false
            while !ended {
                guard remaining > 0 else { throw fail("has a deflate stream that ends early (the archive is damaged)") }
                let input = try nextInput()
                do {
                    ended = try input.withUnsafeBytes { try inflater.inflate($0, into: emit) } != .needsInput
                } catch let e as ZlibInflater.Damaged {
                    throw fail("has damaged deflate data (zlib status \(e.status))")
                }
            }
        default:
            throw fail("uses compression method \(member.method); zoo reads stored and deflated members")
        }
        guard seen == member.size else { throw fail("inflates to \(seen) bytes, not the \(member.size) it declares") }
        guard UInt64(crc) == member.crc else { throw fail("fails its CRC-32 check (the archive is damaged)") }
    }

    /// The whole member in memory (for small members: configs, metadata, arrays).
    public func read(_ member: Member, limit: Int) throws -> Data {
        var data = Data()
        try stream(member, limit: limit) { data.append(contentsOf: $0) }
        return data
    }
}
