import Crypto
import Foundation
import ZooCore
#if canImport(Glibc)
import Glibc
#endif

/// SHA-256 of a source file, computed in the background.
///
/// Converters record the source's hash in the model card; hashing a large
/// download takes as long as writing the model, so `zoo convert` starts it
/// first and collects it just before the header is written.
public final class SourceDigest: @unchecked Sendable {
    private let group = DispatchGroup()
    private var result: Result<String, Error> = .success("")

    /// Starts hashing `path` on a background thread.
    public init(path: String) {
        DispatchQueue.global().async(group: group) { [self] in
            // Streamed through a small buffer rather than mapped, so the pages
            // it reads do not count a second time in the process's memory.
            result = Result {
                let fd = open(path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw ZooFormatError.io(path: path, operation: "open", errno: errno) }
                defer { close(fd) }
                let size = 4 << 20
                let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
                defer { buffer.deallocate() }
                var h = SHA256()
                while true {
                    let n = read(fd, buffer, size)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw ZooFormatError.io(path: path, operation: "read", errno: errno)
                    }
                    if n == 0 { break }
                    h.update(bufferPointer: UnsafeRawBufferPointer(start: buffer, count: n))
                }
                return Hex.encode(h.finalize())
            }
        }
    }

    /// Starts hashing an already mapped file (shares its pages: no second copy).
    public init(file: MappedFile) {
        DispatchQueue.global().async(group: group) { [self] in
            var h = SHA256()
            h.update(bufferPointer: file.bytes)
            result = .success(Hex.encode(h.finalize()))
        }
    }

    /// Waits for and returns the lower-case hex SHA-256.
    public func value() throws -> String {
        group.wait()
        return try result.get()
    }
}
