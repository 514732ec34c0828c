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
}
