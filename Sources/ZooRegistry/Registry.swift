import Crypto
import Foundation
import ZooCore
import ZooFormat
import ZooKeras
import ZooONNX
#if canImport(Glibc)
import Glibc
#endif

/// The local model store (docs/REGISTRY.md): content-addressed source blobs,
/// converted models by model digest, and one JSON manifest per name that
/// other tools can read without zoo.
public final class Registry: @unchecked Sendable {
    public let home: URL

    /// What a name points at. Stored as `refs/<name>.json`.
    public struct Manifest: Codable, Sendable, Equatable {
        public var name: String
        public var variant: String?
        /// `sha256:<hex>`: the model digest (docs/FORMAT.md).
        public var digest: String
        /// The `.zoo` file, relative to the registry home.
        public var model: String
        public var source: SourceInfo
        public var catalogEntry: String?
        public var parity: Catalog.Parity?
        public var converter: String
    }

    public struct SourceInfo: Codable, Sendable, Equatable {
        public var sha256: String
        public var byteSize: Int
        public var format: String
        public var url: String?
        public var file: String?
        /// The source blob, relative to the registry home.
        public var blob: String
    }

    /// `$ZOO_HOME`, else `$XDG_CACHE_HOME/zoo`, else `~/.cache/zoo`.
    public static func defaultHome() -> URL {
        let env = ProcessInfo.processInfo.environment
        if let h = env["ZOO_HOME"], !h.isEmpty { return URL(fileURLWithPath: h) }
        if let x = env["XDG_CACHE_HOME"], !x.isEmpty { return URL(fileURLWithPath: x).appendingPathComponent("zoo") }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/zoo")
    }

    /// Opens the registry at `home`; `create: false` (read-only commands) creates nothing.
    public init(home: URL = Registry.defaultHome(), create: Bool = true) throws {
        self.home = home
        guard create else { return }
        for dir in ["blobs/sha256", "models/sha256", "refs", "tmp", "locks"] {
            let url = home.appendingPathComponent(dir)
            do { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) } catch {
                throw RegistryError.io(path: url.path, operation: "create directory", detail: error.localizedDescription)
            }
        }
    }

    func url(_ relative: String) -> URL { home.appendingPathComponent(relative) }

    // MARK: names

    /// What a valid name is, for messages.
    static let nameRule = "not a valid model name: use letters, digits and - _ . : (at most 200 characters, not starting with '.'); give --name"

    static func validName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 200 && !name.hasPrefix(".") &&
            name.allSatisfy { $0.isLetter || $0.isNumber || "-_.:".contains($0) }
    }

    func refURL(_ name: String) -> URL { url("refs/\(name.replacingOccurrences(of: ":", with: "@")).json") }

    public func manifest(_ name: String) throws -> Manifest {
        let u = refURL(name)
        guard let data = try? Data(contentsOf: u) else { throw RegistryError.notRegistered(name: name) }
        do { return try JSONDecoder().decode(Manifest.self, from: data) } catch {
            throw RegistryError.io(path: u.path, operation: "read manifest", detail: "\(error)")
        }
    }

    public func list() throws -> [Manifest] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: url("refs").path)) ?? []
        return files.filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.sorted().compactMap { f in
            try? JSONDecoder().decode(Manifest.self, from: Data(contentsOf: url("refs/\(f)")))
        }
    }

    /// Absolute path of the model registered as `name`.
    public func path(_ name: String) throws -> String { url(try manifest(name).model).path }

    /// The registered model, opened (O(1), tensors verified on use).
    public func open(_ name: String) throws -> ZooFile { try ZooFile(path: try path(name)) }

    /// Removes the name; the blob and model stay until `gc` finds them unreferenced.
    public func remove(_ name: String) throws {
        let u = refURL(name)
        guard FileManager.default.fileExists(atPath: u.path) else { throw RegistryError.notRegistered(name: name) }
        _ = try withLock(name) { unlink(u.path) }
    }

    public struct GCResult: Codable, Sendable {
        public var removedBlobs: Int
        public var removedModels: Int
        public var removedTemporary: Int
        public var freedBytes: Int
    }

    /// Deletes blobs and models no manifest references, and leftover temporary files.
    ///
    /// Takes the store lock exclusively, so it waits for pulls and
    /// registrations in progress (which hold it shared): their partial
    /// downloads, staged models and not-yet-referenced blobs are not garbage.
    public func gc() throws -> GCResult {
        try withFlock("store", LOCK_EX) {
            let refs = try list()
            let keep = Set(refs.flatMap { [$0.model, $0.source.blob] })
            var r = GCResult(removedBlobs: 0, removedModels: 0, removedTemporary: 0, freedBytes: 0)
            func sweep(_ dir: String, _ counter: WritableKeyPath<GCResult, Int>, all: Bool = false) {
                for f in (try? FileManager.default.contentsOfDirectory(atPath: url(dir).path)) ?? [] where all || !keep.contains("\(dir)/\(f)") {
                    let p = url("\(dir)/\(f)").path
                    var st = stat()
                    let size = stat(p, &st) == 0 ? Int(st.st_size) : 0
                    if unlink(p) == 0 {
                        r[keyPath: counter] += 1
                        r.freedBytes += size
                    }
                }
            }
            sweep("blobs/sha256", \.removedBlobs)
            sweep("models/sha256", \.removedModels)
            sweep("tmp", \.removedTemporary, all: true)
            // Cached features (zoo fit) are only a speed-up.
            sweep("cache/features", \.removedTemporary, all: true)
            // Partial downloads are kept for resuming; gc drops them.
            sweep("downloads", \.removedTemporary, all: true)
            return r
        }
    }

    // MARK: locking

    /// Runs `body` holding an exclusive lock on `key` (flock; released if the
    /// process dies), inside the store lock held shared (see ``gc()``).
    func withLock<T>(_ key: String, _ body: () throws -> T) throws -> T {
        try withFlock("store", LOCK_SH) { try withFlock(key, LOCK_EX, body) }
    }

    /// Runs `body` holding `operation` (LOCK_SH or LOCK_EX) on locks/KEY.lock.
    func withFlock<T>(_ key: String, _ operation: Int32, _ body: () throws -> T) throws -> T {
        let safe = key.map { $0.isLetter || $0.isNumber ? $0 : "_" }
        let path = url("locks/\(String(safe)).lock").path
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw RegistryError.io(path: path, operation: "open lock", detail: String(cString: strerror(errno))) }
        defer { close(fd) }
        while flock(fd, operation) != 0 {
            if errno != EINTR { throw RegistryError.io(path: path, operation: "lock", detail: String(cString: strerror(errno))) }
        }
        defer { _ = flock(fd, LOCK_UN) }
        return try body()
    }
}
