import Crypto
import Foundation
import ZooConvert
import ZooCore
import ZooFormat
#if canImport(Glibc)
import Glibc
#endif

extension Registry {
    /// How `pull` should behave.
    public struct PullOptions: Sendable {
        public var catalog: Catalog?
        /// Serve from the cache only (also `ZOO_OFFLINE=1`).
        public var offline: Bool
        /// A file downloaded by hand to use instead of the network (still hash-checked).
        public var from: String?
        /// Architecture for weights-only Keras files: a JSON file or a built-in reference
        /// (default for a catalog entry: its own variant's architecture).
        public var architecture: String?
        /// Global pooling of a built-in Keras notop architecture (`none`, `avg`, `max`).
        public var pooling: String?
        /// Name to register under (default: the catalog name or the file stem).
        public var name: String?
        /// For archives holding several files (GloVe zips): the member to convert.
        public var member: String?
        /// Replace a name that points to a model from another source.
        public var force = false

        public init(catalog: Catalog? = nil, offline: Bool = ProcessInfo.processInfo.environment["ZOO_OFFLINE"] == "1",
                    from: String? = nil, architecture: String? = nil, name: String? = nil) {
            self.catalog = catalog
            self.offline = offline
            self.from = from
            self.architecture = architecture
            self.name = name
        }
    }

    /// Fetches (or finds in the cache), verifies, converts, verifies again and
    /// registers `spec`: a catalog `NAME[:VARIANT]`, a local path or a `file://` URL.
    /// Nothing is registered unless every step succeeded; concurrent pulls of
    /// the same name wait for each other and share one blob.
    @discardableResult
    public func pull(_ spec: String, options: PullOptions = .init()) throws -> Manifest {
        let local = spec.hasPrefix("file://") ? String(spec.dropFirst(7)) : spec
        if FileManager.default.fileExists(atPath: local) {
            let name = options.name ?? ModelFileName.stem(local)
            guard Self.validName(name) else { throw RegistryError.noUsableSource(name: name, detail: Self.nameRule) }
            return try withLock(name) {
                let blob = try ingest(file: local, expected: nil, label: local)
                return try convertAndRegister(name: name, variant: nil, blob: blob, format: nil,
                                              originalName: (local as NSString).lastPathComponent, url: nil, entry: nil, options: options)
            }
        }
        if spec.hasPrefix("http://") || spec.hasPrefix("https://") {
            guard let u = URL(string: spec) else { throw RegistryError.network(url: spec, detail: "not a valid URL") }
            let name = options.name ?? ModelFileName.stem(u.lastPathComponent)
            guard Self.validName(name) else { throw RegistryError.noUsableSource(name: name, detail: Self.nameRule) }
            return try withLock(name) {
                // A URL pulled before is served from its blob (also offline).
                if let cached = cachedBlob(url: spec) {
                    return try convertAndRegister(name: name, variant: nil, blob: cached, format: nil,
                                                  originalName: u.lastPathComponent, url: spec, entry: nil, options: options)
                }
                if options.offline { throw RegistryError.offline(name: name) }
                let blob = try download(Catalog.Source(url: spec), label: spec)
                return try convertAndRegister(name: name, variant: nil, blob: blob, format: nil,
                                              originalName: u.lastPathComponent, url: spec, entry: nil, options: options)
            }
        }
        let parts = spec.split(separator: ":", maxSplits: 1).map(String.init)
        let base = parts[0], requestedVariant = parts.count > 1 ? parts[1] : nil
        guard let catalog = options.catalog, let entry = catalog.entry(base) else {
            throw RegistryError.unknownModel(name: base, catalog: options.catalog?.path, suggestions: options.catalog?.closest(to: base) ?? [])
        }
        let (variant, sources) = try catalog.sources(entry, variant: requestedVariant)
        let name = options.name ?? entry.name + (requestedVariant.map { ":\($0)" } ?? "")
        return try withLock(name) {
            // 1. A blob we already have (offline works from here on).
            for s in sources {
                if let sha = s.sha256, FileManager.default.fileExists(atPath: url("blobs/sha256/\(sha)").path) {
                    return try convertAndRegister(name: name, variant: variant, blob: BlobInfo(sha256: sha, size: try fileSize(url("blobs/sha256/\(sha)").path)),
                                                  format: entry.format, originalName: Self.fileName(s), url: s.url, entry: entry, options: options)
                }
            }
            // 2. A file given by hand, a bundled fixture, or (online) a download.
            if let from = options.from {
                guard let s = sources.first else { throw RegistryError.noUsableSource(name: name, detail: "the catalog lists no source to check --from against") }
                let blob = try ingest(file: from, expected: s, label: from)
                return try convertAndRegister(name: name, variant: variant, blob: blob, format: entry.format,
                                              originalName: Self.fileName(s), url: s.url, entry: entry, options: options)
            }
            if let s = sources.first(where: { $0.fixture != nil }), let fixture = s.fixture {
                guard let bytes = catalog.fixture(fixture) else {
                    throw RegistryError.noUsableSource(name: name, detail: "the catalog's fixture \(fixture) is missing")
                }
                // Ingested from a private copy (a built-in fixture has no file of its own).
                let copy = url("tmp/fixture-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
                defer { unlink(copy.path) }
                let fd = Glibc.open(copy.path, O_CREAT | O_WRONLY | O_EXCL | O_CLOEXEC, 0o600)
                guard fd >= 0 else { throw RegistryError.io(path: copy.path, operation: "create", detail: String(cString: strerror(errno))) }
                let wrote = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                close(fd)
                guard wrote == bytes.count else { throw RegistryError.io(path: copy.path, operation: "write", detail: String(cString: strerror(errno))) }
                let blob = try ingest(file: copy.path, expected: s, label: fixture)
                return try convertAndRegister(name: name, variant: variant, blob: blob, format: entry.format,
                                              originalName: (fixture as NSString).lastPathComponent, url: nil, entry: entry, options: options)
            }
            if options.offline { throw RegistryError.offline(name: name) }
            var lastError: Error = RegistryError.noUsableSource(name: name, detail: "the catalog lists no download URL")
            for s in sources where s.url != nil {
                do {
                    let blob = try download(s, label: s.url!)
                    return try convertAndRegister(name: name, variant: variant, blob: blob, format: entry.format,
                                                  originalName: Self.fileName(s), url: s.url, entry: entry, options: options)
                } catch let e as RegistryError {
                    if case .hashMismatch = e { throw e }
                    if case .sizeMismatch = e { throw e }
                    if case .notAModel = e { throw e }
                    lastError = e
                }
            }
            throw lastError
        }
    }

    /// The blob a manifest recorded for `url`, when it is still in the store.
    func cachedBlob(url source: String) -> BlobInfo? {
        for m in (try? list()) ?? [] where m.source.url == source {
            let path = url(m.source.blob).path
            if let size = try? fileSize(path) { return BlobInfo(sha256: m.source.sha256, size: size) }
        }
        return nil
    }

    /// Downloads `source` (resuming a previous partial download), then checks
    /// and moves the completed file into the blob store. A file that fails
    /// its checks is deleted so the next pull starts clean.
    func download(_ source: Catalog.Source, label: String) throws -> BlobInfo {
        guard let s = source.url, let u = URL(string: s) else { throw RegistryError.network(url: label, detail: "not a valid URL") }
        let dir = url("downloads")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let key = Hex.encode(SHA256.hash(data: Data(s.utf8)).prefix(12))
        let partial = dir.appendingPathComponent("\(key).partial").path
        let downloader = Downloader(url: u, partial: partial, expectedSize: source.byteSize, needMD5: source.sha256 == nil && source.md5 != nil)
        let path = try downloader.run()
        do {
            // Hashed while it arrived: check, then move into the store without re-reading.
            let d = downloader.digests
            var head = [UInt8](repeating: 0, count: 512)
            let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
            // Read first, then trim: `Array(head.prefix(read(fd, &head, …)))` took the prefix of the
            // zeros head held before the read, so HTML pages and LFS pointers passed the check.
            var n = 0
            if fd >= 0 { n = max(0, read(fd, &head, 512)); close(fd) }
            head = Array(head.prefix(n))
            try Self.check(head: head, size: d.size, sha256: d.sha256, md5: d.md5, expected: source, label: label)
            let blob = BlobInfo(sha256: d.sha256, size: d.size)
            try moveIntoStore(path, blob)
            return blob
        } catch {
            unlink(partial)
            throw error
        }
    }

    /// Registers an already converted model under `name`, with `source` (the
    /// file it was converted from) stored as its blob (`zoo convert --register`).
    @discardableResult
    public func register(model: String, source: String, name: String) throws -> Manifest {
        guard Self.validName(name) else { throw RegistryError.noUsableSource(name: name, detail: Self.nameRule) }
        return try withLock(name) {
            let blob = try ingest(file: source, expected: nil, label: source)
            let staged = url("tmp/model-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).zoo")
            defer { unlink(staged.path) }
            do { try FileManager.default.copyItem(atPath: model, toPath: staged.path) } catch {
                throw RegistryError.io(path: model, operation: "copy", detail: error.localizedDescription)
            }
            let format = (try? Conversion.detect(try Conversion.open(source)).format) ?? "unknown"
            return try registerStaged(staged, name: name, variant: nil, blob: blob, format: format,
                                      originalName: (source as NSString).lastPathComponent, url: nil, entry: nil)
        }
    }

    static func fileName(_ s: Catalog.Source) -> String? {
        (s.url ?? s.fixture).map { ($0 as NSString).lastPathComponent }
    }

    struct BlobInfo {
        var sha256: String
        var size: Int
        var path: String { "blobs/sha256/\(sha256)" }
    }

    func fileSize(_ path: String) throws -> Int {
        var st = stat()
        guard stat(path, &st) == 0 else { throw RegistryError.io(path: path, operation: "stat", detail: String(cString: strerror(errno))) }
        return Int(st.st_size)
    }

    /// Copies `file` into the blob store while hashing it, checks it against
    /// the published size and hash, refuses HTML pages and Git LFS pointers,
    /// and only then moves it into place (temp file, fsync, rename).
    func ingest(file: String, expected: Catalog.Source?, label: String) throws -> BlobInfo {
        let tmp = url("tmp/blob-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        var keep = false
        defer { if !keep { unlink(tmp) } }
        // MD5 only decides anything when the publisher gives no SHA-256 (as the Downloader does).
        let needMD5 = expected.map { $0.sha256 == nil && $0.md5 != nil } ?? false
        let copied = try Self.streamFile(file, copyTo: tmp, mode: 0o444, md5: needMD5)
        let shaHex = copied.sha256, total = copied.size
        try Self.check(head: copied.head, size: total, sha256: shaHex, md5: copied.md5 ?? "",
                       expected: expected, label: label)
        let blob = BlobInfo(sha256: shaHex, size: total)
        try moveIntoStore(tmp, blob)
        keep = true
        return blob
    }

    /// Moves a checked file to its content address (or drops it when that blob exists already).
    func moveIntoStore(_ file: String, _ blob: BlobInfo) throws {
        let dest = url(blob.path).path
        if FileManager.default.fileExists(atPath: dest) {
            unlink(file)
            return
        }
        _ = chmod(file, 0o444)
        guard rename(file, dest) == 0 else { throw RegistryError.io(path: dest, operation: "rename", detail: String(cString: strerror(errno))) }
    }

    /// Refuses HTML pages and LFS pointers, then checks size and hash against the catalog.
    static func check(head: [UInt8], size total: Int, sha256 shaHex: String, md5 md5Hex: String, expected: Catalog.Source?, label: String) throws {
        let text = String(decoding: head, as: UTF8.self).lowercased()
        if text.hasPrefix("version https://git-lfs.github.com/spec") {
            throw RegistryError.notAModel(source: label, detail: "this is a Git LFS pointer file, not the model; download the real file (e.g. from media.githubusercontent.com)")
        }
        if text.trimmingCharacters(in: .whitespacesAndNewlines).hasPrefix("<!doctype html") || text.contains("<html") {
            throw RegistryError.notAModel(source: label, detail: "this is an HTML page (a login or error page?), not a model file")
        }
        if let e = expected {
            if let s = e.byteSize, s != total { throw RegistryError.sizeMismatch(source: label, expected: s, actual: total) }
            if let s = e.sha256, s != shaHex { throw RegistryError.hashMismatch(source: label, algorithm: "SHA-256", expected: s, actual: shaHex) }
            if e.sha256 == nil, let m = e.md5, m != md5Hex { throw RegistryError.hashMismatch(source: label, algorithm: "MD5", expected: m, actual: md5Hex) }
        }
    }

    /// Converts a blob through the one conversion pipeline (`Conversion.convert`,
    /// format by content unless the catalog names it; a `.zoo` is stored as it
    /// is), verifies the result, stores it by model digest and writes the name's manifest last.
    func convertAndRegister(name: String, variant: String?, blob: BlobInfo, format: String?, originalName: String?, url sourceURL: String?,
                            entry: Catalog.Entry?, options: PullOptions) throws -> Manifest {
        let blobPath = url(blob.path).path
        let staged = url("tmp/model-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).zoo")
        defer { unlink(staged.path) }
        let detected: String
        do {
            let source = try Conversion.open(blobPath)
            detected = try Conversion.detect(source, format: format).format
            if detected == "zoo" {
                try FileManager.default.copyItem(atPath: blobPath, toPath: staged.path)
            } else {
                let catalog = options.catalog
                _ = try Conversion.convert(blobPath, to: staged, options: ConversionOptions(
                    name: entry?.name ?? (options.name ?? name), format: format,
                    architecture: options.architecture ?? entry?.kerasArchitecture(variant: variant), pooling: options.pooling,
                    member: options.member, cardDefaults: entry?.cardDefaults,
                    catalogLookup: { model in catalog?.entry(model)?.cardDefaults },
                    originalName: originalName, sourceURL: sourceURL, sha256: blob.sha256))
            }
        } catch let e as RegistryError {
            throw e
        } catch {
            throw RegistryError.conversion(source: originalName ?? name, detail: error.localizedDescription)
        }
        return try registerStaged(staged, name: name, variant: variant, blob: blob, format: detected, originalName: originalName, url: sourceURL,
                                  entry: entry, force: options.force)
    }

    /// Verifies a staged `.zoo`, moves it into the store by model digest and writes the name's manifest last.
    func registerStaged(_ staged: URL, name: String, variant: String?, blob: BlobInfo, format: String, originalName: String?,
                        url sourceURL: String?, entry: Catalog.Entry?, force: Bool = false) throws -> Manifest {
        let file: ZooFile
        do { file = try ZooFile(path: staged.path) } catch {
            throw RegistryError.conversion(source: originalName ?? name, detail: error.localizedDescription)
        }
        let report = file.verify()
        guard report.intact else { throw RegistryError.conversion(source: originalName ?? name, detail: "the converted model failed verification") }
        // A name is not silently re-pointed at a model from another source.
        if !force, let existing = try? manifest(name), existing.source.sha256 != blob.sha256 {
            throw RegistryError.nameTaken(name: name, digest: existing.digest, source: existing.source.file ?? existing.source.url ?? existing.source.sha256)
        }
        let hex = String(file.digest.dropFirst("sha256:".count))
        let modelPath = "models/sha256/\(hex).zoo"
        // A stored model that no longer verifies (a flipped byte) is replaced by the fresh conversion.
        let storedIntact = FileManager.default.fileExists(atPath: url(modelPath).path)
            && ((try? ZooFile(path: url(modelPath).path).verify().intact) ?? false)
        if !storedIntact {
            guard rename(staged.path, url(modelPath).path) == 0 else {
                throw RegistryError.io(path: url(modelPath).path, operation: "rename", detail: String(cString: strerror(errno)))
            }
        }
        let manifest = Manifest(name: name, variant: variant, digest: file.digest, model: modelPath,
                                source: SourceInfo(sha256: blob.sha256, byteSize: blob.size, format: format, url: sourceURL, file: originalName, blob: blob.path),
                                catalogEntry: entry?.name, parity: entry?.parity, converter: "zoo \(ZooVersion.string)")
        try writeRef(manifest, name: name)
        return manifest
    }
}
