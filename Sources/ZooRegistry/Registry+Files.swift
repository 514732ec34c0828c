import Crypto
import Foundation
import ZooFormat
#if canImport(Glibc)
import Glibc
#endif

extension Registry {
    /// What one pass over a file produced.
    struct StreamedFile {
        var sha256: String
        /// Only when asked for (publishers that give nothing better).
        var md5: String?
        var size: Int
        /// The first 512 bytes (to recognise HTML pages and Git LFS pointers).
        var head: [UInt8]
    }

    /// Reads `source` once in 4 MiB chunks, hashing it (SHA-256, and MD5 if
    /// asked) and, when `dest` is given, copying it there (created exclusively
    /// with `mode`, fsynced). The one read-hash-copy loop of the store: blob
    /// ingestion, layout import and the digests of stored models use it.
    static func streamFile(_ source: String, copyTo dest: String? = nil, mode: mode_t = 0o644, md5 wantMD5: Bool = false) throws -> StreamedFile {
        let input = Glibc.open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw RegistryError.io(path: source, operation: "open", detail: String(cString: strerror(errno))) }
        defer { close(input) }
        var output: Int32 = -1
        if let dest {
            output = Glibc.open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
            guard output >= 0 else { throw RegistryError.io(path: dest, operation: "create", detail: String(cString: strerror(errno))) }
        }
        defer { if output >= 0 { close(output) } }
        var sha = SHA256(), md5 = Insecure.MD5()
        var total = 0
        var head = [UInt8]()
        let size = 1 << 22
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        defer { buffer.deallocate() }
        while true {
            let n = read(input, buffer, size)
            if n < 0 { if errno == EINTR { continue }; throw RegistryError.io(path: source, operation: "read", detail: String(cString: strerror(errno))) }
            if n == 0 { break }
            let chunk = UnsafeRawBufferPointer(start: buffer, count: n)
            if head.count < 512 { head += chunk.prefix(512 - head.count) }
            sha.update(bufferPointer: chunk)
            if wantMD5 { md5.update(bufferPointer: chunk) }
            var off = 0
            while output >= 0 && off < n {
                let w = write(output, buffer + off, n - off)
                if w < 0 { if errno == EINTR { continue }; throw RegistryError.io(path: dest!, operation: "write", detail: String(cString: strerror(errno))) }
                off += w
            }
            total += n
        }
        if output >= 0, fsync(output) != 0 { throw RegistryError.io(path: dest!, operation: "fsync", detail: String(cString: strerror(errno))) }
        return StreamedFile(sha256: Hex.encode(sha.finalize()), md5: wantMD5 ? Hex.encode(md5.finalize()) : nil, size: total, head: head)
    }
}
