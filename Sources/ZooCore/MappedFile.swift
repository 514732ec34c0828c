import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A read-only memory map of a whole file.
///
/// Opening a `.zoo` model must be O(1): tensors are views into this mapping
/// (no copy), and BLAS reads weights straight from the page cache. The class
/// owns the mapping and unmaps it when the last view goes away.
public final class MappedFile: @unchecked Sendable {
    /// The mapped bytes; empty for an empty file.
    public let bytes: UnsafeRawBufferPointer
    /// Path the mapping was made from, for error messages.
    public let path: String

    /// Maps `path` read-only. Fails with `ZooCoreError.io` naming the failing call.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ZooCoreError.io(path: path, operation: "open", errno: errno) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ZooCoreError.io(path: path, operation: "fstat", errno: errno) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw ZooCoreError.io(path: path, operation: "open (not a regular file)", errno: EINVAL) }
        let size = Int(st.st_size)
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw ZooCoreError.io(path: path, operation: "mmap", errno: errno)
        }
        bytes = UnsafeRawBufferPointer(start: p, count: size)
    }

    /// Hints the kernel that the whole file is about to be read front to back
    /// (full verification), so it reads ahead in large chunks.
    public func adviseSequential() {
        guard let base = bytes.baseAddress else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base), bytes.count, MADV_SEQUENTIAL)
        _ = madvise(UnsafeMutableRawPointer(mutating: base), bytes.count, MADV_WILLNEED)
    }

    /// Drops the whole pages inside [start, start + count) from this process's
    /// resident set (MADV_DONTNEED on a read-only file mapping: the data stay
    /// in the page cache and are faulted back in if read again).
    public func releasePages(in start: UnsafeRawPointer, count: Int) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let lo = (Int(bitPattern: start) + page - 1) / page * page
        let hi = (Int(bitPattern: start) + count) / page * page
        guard hi > lo, let base = bytes.baseAddress,
              lo >= Int(bitPattern: base), hi <= Int(bitPattern: base) + bytes.count else { return }
        _ = madvise(UnsafeMutableRawPointer(bitPattern: lo), hi - lo, MADV_DONTNEED)
    }

    deinit {
        if let base = bytes.baseAddress {
            munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        }
    }
}
