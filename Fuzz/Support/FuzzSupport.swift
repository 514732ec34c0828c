import CFuzzDriver
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The fuzzer's bytes as a file, for parsers that take a path: one file per
/// process in /dev/shm (memory), rewritten for every input.
public enum FuzzInput {
    nonisolated(unsafe) static var directory: String?

    public static func file(_ data: UnsafePointer<UInt8>, _ size: Int, suffix: String) -> String {
        if directory == nil {
            let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
            let d = "\(base)/zoo-fuzz-\(getpid())"
            mkdir(d, 0o700)
            directory = d
        }
        let path = "\(directory!)/input\(suffix)"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        if fd >= 0 {
            var off = 0
            while off < size {
                let n = write(fd, data + off, size - off)
                if n <= 0 { break }
                off += n
            }
            close(fd)
        }
        return path
    }

    public static func bytes(_ data: UnsafePointer<UInt8>, _ size: Int) -> [UInt8] {
        Array(UnsafeBufferPointer(start: data, count: size))
    }

    /// Runs libFuzzer with `body` as the target (called from each harness's entry point).
    public static func run(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                           _ body: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32 {
        var c = argc
        var v = argv
        return LLVMFuzzerRunDriver(&c, &v, body)
    }
}
