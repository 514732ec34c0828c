import Foundation

/// Temporary files being written right now (the writer's `.NAME.zoo.tmp-…`),
/// so an interrupted command can remove them: the CLI's SIGINT/SIGTERM handler
/// calls `removeAll()` before it exits.
public enum TemporaryFiles {
    nonisolated(unsafe) private static var paths = Set<String>()
    private static let lock = NSLock()

    public static func register(_ path: String) {
        lock.lock(); defer { lock.unlock() }
        paths.insert(path)
    }

    public static func unregister(_ path: String) {
        lock.lock(); defer { lock.unlock() }
        paths.remove(path)
    }

    /// Unlinks every registered file; returns how many.
    @discardableResult
    public static func removeAll() -> Int {
        lock.lock(); defer { lock.unlock() }
        for p in paths { unlink(p) }
        defer { paths.removeAll() }
        return paths.count
    }

    /// A new private (0700) directory under the system temporary directory,
    /// named `zoo-<purpose>-<pid>-<uuid>`: the process id in the name lets the
    /// parent of a worker that was killed (a CPU or memory limit, a crash in a
    /// C library) remove what the worker had extracted (`removeScratch`).
    public static func makeScratchDirectory(purpose: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-\(purpose)-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        return dir
    }

    /// Removes every scratch directory process `pid` made (for a worker that
    /// could not clean up after itself); returns how many.
    @discardableResult
    public static func removeScratch(ofProcess pid: Int32) -> Int {
        let tmp = FileManager.default.temporaryDirectory
        let names = (try? FileManager.default.contentsOfDirectory(atPath: tmp.path)) ?? []
        var removed = 0
        for n in names where n.hasPrefix("zoo-") && n.contains("-\(pid)-") {
            let parts = n.split(separator: "-")
            // zoo-<purpose>-<pid>-<uuid in 5 parts>: the pid is the third field from a known purpose.
            guard parts.count >= 8, parts[parts.count - 6] == Substring(String(pid)) else { continue }
            if (try? FileManager.default.removeItem(at: tmp.appendingPathComponent(n))) != nil { removed += 1 }
        }
        return removed
    }
}
