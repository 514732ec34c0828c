import CZooZlib
import Foundation
import ZooCore
import ZooFormat
#if canImport(Glibc)
import Glibc
#endif

/// Feeds a file's bytes, in chunks, to a parser: plain, gzip (zlib,
/// streamed: the decompressed file never exists in full) or one zip member.
enum ByteSources {
    static let chunk = 4 << 20

    static func plain(_ path: String, chunk: Int = chunk, _ consume: (UnsafeRawBufferPointer) throws -> Void) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw EmbeddingError.io(path: path, detail: "cannot open (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 64)
        defer { buffer.deallocate() }
        while true {
            let n = read(fd, buffer, chunk)
            if n < 0 { if errno == EINTR { continue }; throw EmbeddingError.io(path: path, detail: "read failed (\(String(cString: strerror(errno))))") }
            if n == 0 { return }
            try consume(UnsafeRawBufferPointer(start: buffer, count: n))
        }
    }

    /// Concatenated gzip members (as `cat a.gz b.gz` makes) are read one after
    /// another, wherever a member ends relative to the read chunks; a file
    /// that ends inside a member is an error, not a silently short result.
    static func gzip(_ path: String, chunk: Int = chunk, _ consume: (UnsafeRawBufferPointer) throws -> Void) throws {
        let inflater = Inflater()
        guard czlib_inflate_init(&inflater.stream) == Z_OK else { throw EmbeddingError.gzip(path: path, detail: "cannot initialise zlib") }
        inflater.ready = true
        let out = UnsafeMutablePointer<UInt8>.allocate(capacity: chunk)
        defer { out.deallocate() }
        // Bytes of a member have been inflated and its end not yet seen.
        var inMember = false
        try plain(path, chunk: chunk) { input in
            inflater.stream.next_in = UnsafeMutablePointer(mutating: input.bindMemory(to: UInt8.self).baseAddress)
            inflater.stream.avail_in = UInt32(input.count)
            repeat {
                inflater.stream.next_out = out
                inflater.stream.avail_out = UInt32(chunk)
                let r = inflate(&inflater.stream, Z_NO_FLUSH)
                guard r == Z_OK || r == Z_STREAM_END || r == Z_BUF_ERROR else {
                    throw EmbeddingError.gzip(path: path, detail: inflater.stream.msg.map { String(cString: $0) } ?? "error \(r)")
                }
                let produced = chunk - Int(inflater.stream.avail_out)
                if produced > 0 { try consume(UnsafeRawBufferPointer(start: out, count: produced)) }
                if r == Z_STREAM_END {
                    // The next member, if any, starts in this chunk or a later one.
                    inflateReset(&inflater.stream)
                    inMember = false
                } else if r == Z_OK {
                    inMember = true
                }
            } while inflater.stream.avail_in > 0 || inflater.stream.avail_out == 0
        }
        if inMember { throw EmbeddingError.gzip(path: path, detail: "the file ends inside a compressed stream; it is truncated") }
    }

    /// Owns a z_stream and ends it on release.
    final class Inflater {
        var stream = z_stream()
        var ready = false
        deinit { if ready { inflateEnd(&stream) } }
    }

    /// Streams one member of a zip archive (GloVe's .zip holds several dimensions).
    static func zipMember(_ path: String, member: String?, _ consume: (UnsafeRawBufferPointer) throws -> Void) throws {
        let archive: ZipArchive
        do { archive = try ZipArchive(path) } catch let e as ZipArchive.Failure {
            throw EmbeddingError.archive(path: path, detail: e.description)
        }
        let files = archive.filter(\.isFile).map(\.path)
        let name: String
        if let m = member {
            guard files.contains(m) else { throw EmbeddingError.archive(path: path, detail: "no member '\(MessageText.clip(m))'; members: \(MessageText.list(files))") }
            name = m
        } else {
            guard files.count == 1 else { throw EmbeddingError.archive(path: path, detail: "holds \(files.count) files; choose one with --member (\(MessageText.list(files)))") }
            name = files[0]
        }
        guard !name.contains(".."), !name.hasPrefix("/"), let entry = archive[name] else {
            throw EmbeddingError.archive(path: path, detail: "member '\(MessageText.clip(name))' has an unsafe path")
        }
        // Streamed, never past what the member declares (a zip bomb stops at the first chunk past it).
        do {
            try archive.stream(entry, limit: Int.max, bufferSize: chunk) { data in
                try data.withUnsafeBytes { try consume($0) }
            }
        } catch let e as ZipArchive.Failure {
            throw EmbeddingError.archive(path: path, detail: e.description)
        }
    }
}
