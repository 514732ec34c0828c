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
        guard let inflater = ZlibInflater(.gzipOrZlib, bufferSize: chunk) else { throw EmbeddingError.gzip(path: path, detail: "cannot initialise zlib") }
        // Bytes of a member have been inflated and its end not yet seen.
        var inMember = false
        try plain(path, chunk: chunk) { input in
            var rest = input
            while true {
                let progress: ZlibInflater.Progress
                do { progress = try inflater.inflate(rest, into: consume) } catch let e as ZlibInflater.Damaged {
                    throw EmbeddingError.gzip(path: path, detail: e.message ?? "error \(e.status)")
                }
                guard case .ended(let unconsumed) = progress else { inMember = true; return }
                // The next member, if any, starts in this chunk or a later one.
                inflater.reset()
                inMember = false
                if unconsumed == 0 { return }
                rest = UnsafeRawBufferPointer(rebasing: rest.suffix(unconsumed))
            }
        }
        if inMember { throw EmbeddingError.gzip(path: path, detail: "the file ends inside a compressed stream; it is truncated") }
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
            try archive.stream(entry, limit: Int.max, bufferSize: chunk, into: consume)
        } catch let e as ZipArchive.Failure {
            throw EmbeddingError.archive(path: path, detail: e.description)
        }
    }
}
