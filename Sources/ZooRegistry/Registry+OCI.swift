import Crypto
import Foundation
import ZooCore
import ZooFormat
#if canImport(Glibc)
import Glibc
#endif

/// Sharing models through OCI distribution registries and OCI image layouts
/// (docs/REGISTRY.md, "OCI registries").
extension Registry {
    public struct OCIOptions: Sendable {
        /// Plain HTTP to a registry that is not on a loopback address.
        public var insecure = false
        /// Name to register a pulled or imported model under (default: from the reference).
        public var name: String?
        /// Replace a name that points to another model.
        public var force = false
        /// Blobs up to this size go up in one PUT; larger ones in PATCH chunks of `chunkSize`.
        public var monolithicLimit = 16 << 20
        public var chunkSize = 64 << 20
        /// Credentials to use instead of the stored ones.
        public var credentials: OCICredentials?

        public init(insecure: Bool = false, name: String? = nil, force: Bool = false) {
            self.insecure = insecure
            self.name = name
            self.force = force
            let env = ProcessInfo.processInfo.environment
            if let c = env["ZOO_OCI_CHUNK_BYTES"].flatMap(Int.init), c >= 1 << 10 { chunkSize = c; monolithicLimit = min(monolithicLimit, c) }
        }
    }

    /// What a push did with each blob.
    public struct OCIPushResult: Codable, Sendable {
        public var reference: String
        public var manifestDigest: String
        public var modelDigest: String
        /// Blobs already in the repository (HEAD found them), mounted from another repository, or sent.
        public var present: [String]
        public var mounted: [String]
        public var uploaded: [String]
        public var bytesUploaded: Int
        /// Whether an interrupted chunked upload was resumed rather than restarted.
        public var resumed: Bool
    }

    /// What `zoo info oci://…` shows: the manifest and the card, without the model's bytes.
    public struct OCIRemoteInfo: Codable, Sendable {
        public var reference: String
        public var manifestDigest: String
        public var manifest: OCIArtifact.Manifest
        public var card: ModelCard
    }

    // MARK: push

    /// Pushes the model registered as `name` to `reference`: the card and the
    /// `.zoo` file as blobs (skipping what the repository has, mounting what
    /// another repository of the same registry has, resuming an interrupted
    /// chunked upload), then the manifest, last, so the registry never serves
    /// a manifest whose blobs are missing.
    public func push(_ name: String, to reference: OCIReference, options: OCIOptions = .init()) throws -> OCIPushResult {
        let m = try manifest(name)
        let path = url(m.model).path
        let (sha, size, file) = try verifiedFileDigest(path: path, label: name)
        guard reference.digest == nil else {
            throw RegistryError.ociReference(reference: reference.description, detail: "push to a tag (oci://HOST/REPO:TAG), not to a digest")
        }
        let built = try OCIArtifact.build(file: file, modelPath: path, modelSHA256: sha, modelSize: size, name: name, version: reference.tag,
                                          created: Self.modificationDate(path))
        let client = try OCIClient(reference: reference, insecure: options.insecure, credentials: options.credentials)
        var result = OCIPushResult(reference: reference.description, manifestDigest: built.manifestDigest, modelDigest: file.digest,
                                   present: [], mounted: [], uploaded: [], bytesUploaded: 0, resumed: false)
        let mapped: Data
        do { mapped = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw RegistryError.io(path: path, operation: "map", detail: error.localizedDescription)
        }
        for (digest, data) in [(built.manifest.config.digest, built.cardBytes), (built.manifest.layers[0].digest, mapped)] {
            let outcome = try uploadBlob(client: client, reference: reference, digest: digest, data: data, options: options)
            switch outcome {
            case .present: result.present.append(digest)
            case .mounted: result.mounted.append(digest)
            case .uploaded(let bytes, let resumed):
                result.uploaded.append(digest)
                result.bytesUploaded += bytes
                result.resumed = result.resumed || resumed
            }
            try rememberBlob(digest, at: reference)
        }
        let scope = "repository:\(reference.repository):pull,push"
        let r = try client.send("PUT", client.url("/v2/\(reference.repository)/manifests/\(reference.manifestReference)"),
                                headers: ["Content-Type": OCIArtifact.manifestMediaType], body: built.manifestBytes, scope: scope)
        guard r.status == 201 || r.status == 200 else {
            throw registryFailure(r, reference: reference, what: "the manifest upload")
        }
        if let d = r.header("Docker-Content-Digest"), d != built.manifestDigest {
            throw RegistryError.ociRegistry(url: reference.description, status: r.status,
                                            detail: "the registry stored the manifest as \(d.prefix(80)), but its bytes hash to \(built.manifestDigest)")
        }
        return result
    }

    enum BlobOutcome { case present, mounted, uploaded(bytes: Int, resumed: Bool) }

    /// One blob into `reference`'s repository, unless it is there already.
    ///
    /// Two pushes from one home of the same blob to the same repository take turns:
    /// the second would otherwise find the first's saved upload state, resume its
    /// upload session, and lose it the moment the first one finishes the upload.
    /// After its turn the second finds the blob present.
    func uploadBlob(client: OCIClient, reference: OCIReference, digest: String, data: Data, options: OCIOptions) throws -> BlobOutcome {
        try withFlock("oci-upload-" + uploadKey(reference: reference, digest: digest), LOCK_EX) {
            try uploadBlobHoldingItsLock(client: client, reference: reference, digest: digest, data: data, options: options)
        }
    }

    private func uploadBlobHoldingItsLock(client: OCIClient, reference: OCIReference, digest: String, data: Data, options: OCIOptions) throws -> BlobOutcome {
        let repo = reference.repository
        let scope = "repository:\(repo):pull,push"
        let head = try client.send("HEAD", client.url("/v2/\(repo)/blobs/\(digest)"), scope: scope, limit: 0)
        if head.status == 200 {
            if let l = head.header("Content-Length").flatMap(Int.init), l != data.count {
                throw RegistryError.ociRegistry(url: reference.description, status: 200,
                                                detail: "the registry reports blob \(digest) as \(l) bytes; it is \(data.count)")
            }
            return .present
        }
        guard head.status == 404 else { throw registryFailure(head, reference: reference, what: "checking blob \(digest.prefix(19))…") }

        let stateFile = uploadStateURL(reference: reference, digest: digest)
        var location: URL?
        var offset = 0
        var resumed = false
        // An upload a killed push left behind: ask the registry how far it got.
        if let saved = try? JSONDecoder().decode(UploadState.self, from: Data(contentsOf: stateFile)), let u = try? client.resolve(location: saved.location) {
            let status = try client.send("GET", u, scope: scope, limit: 1 << 16)
            if status.status == 204 || status.status == 200, let got = Self.rangeEnd(status.header("Range")) {
                location = try status.header("Location").map { try client.resolve(location: $0) } ?? u
                offset = got.map { $0 + 1 } ?? 0
                resumed = offset > 0
                if offset > data.count { location = nil; offset = 0; resumed = false }
            }
        }
        if location == nil {
            // Another repository of this registry that has the blob (a push or pull recorded it) can lend it.
            for other in knownRepositories(digest, registry: reference.registry) where other != repo {
                let mountScope = scope + " repository:\(other):pull"
                let r = try client.send("POST", client.url("/v2/\(repo)/blobs/uploads/", query: [("mount", digest), ("from", other)]),
                                        headers: ["Content-Length": "0"], body: Data(), scope: mountScope, limit: 1 << 16)
                if r.status == 201 { return .mounted }
                if r.status == 202, let l = r.header("Location") { location = try client.resolve(location: l); break }
            }
        }
        if location == nil {
            let r = try client.send("POST", client.url("/v2/\(repo)/blobs/uploads/"), headers: ["Content-Length": "0"], body: Data(), scope: scope, limit: 1 << 16)
            guard r.status == 202, let l = r.header("Location") else { throw registryFailure(r, reference: reference, what: "starting the upload of \(digest.prefix(19))…") }
            location = try client.resolve(location: l)
        }
        var at = location!
        var sent = 0
        if offset == 0 && data.count <= options.monolithicLimit {
            let r = try client.send("PUT", Self.adding(digest: digest, to: at), headers: ["Content-Type": "application/octet-stream"],
                                    body: data, scope: scope, limit: 1 << 16)
            guard r.status == 201 else { throw registryFailure(r, reference: reference, what: "uploading \(digest.prefix(19))…") }
            return .uploaded(bytes: data.count, resumed: false)
        }
        var rangeRetries = 0
        while offset < data.count {
            let n = min(options.chunkSize, data.count - offset)
            let chunk = data[data.startIndex + offset ..< data.startIndex + offset + n]
            let r = try client.send("PATCH", at, headers: ["Content-Type": "application/octet-stream", "Content-Range": "\(offset)-\(offset + n - 1)"],
                                    body: chunk, scope: scope, limit: 1 << 16)
            if r.status == 416, rangeRetries < 3 {
                // Out of step with the registry: take its offset and go on from there.
                rangeRetries += 1
                let status = try client.send("GET", at, scope: scope, limit: 1 << 16)
                guard let got = Self.rangeEnd(status.header("Range")) else { throw registryFailure(r, reference: reference, what: "uploading \(digest.prefix(19))…") }
                offset = got.map { $0 + 1 } ?? 0
                continue
            }
            guard r.status == 202, let l = r.header("Location") else { throw registryFailure(r, reference: reference, what: "uploading \(digest.prefix(19))…") }
            at = try client.resolve(location: l)
            // The registry says how much it holds; trust that over our own count.
            if let got = Self.rangeEnd(r.header("Range")), let end = got {
                // It must hold more than before and no more than the blob: else the loop would never end.
                guard end + 1 <= data.count, end + 1 > offset else {
                    throw RegistryError.ociRegistry(url: reference.description, status: r.status,
                                                    detail: "after a chunk at \(offset) the registry claims \(end + 1) bytes of a \(data.count)-byte blob")
                }
                offset = end + 1
            } else {
                offset += n
            }
            sent += n
            try? saveUploadState(UploadState(location: at.absoluteString), to: stateFile)
        }
        let r = try client.send("PUT", Self.adding(digest: digest, to: at), headers: ["Content-Length": "0"], body: Data(), scope: scope, limit: 1 << 16)
        guard r.status == 201 else { throw registryFailure(r, reference: reference, what: "finishing the upload of \(digest.prefix(19))…") }
        unlink(stateFile.path)
        return .uploaded(bytes: sent, resumed: resumed)
    }

    struct UploadState: Codable { var location: String }

    func uploadStateURL(reference: OCIReference, digest: String) -> URL {
        url("oci/uploads/\(uploadKey(reference: reference, digest: digest)).json")
    }

    /// A short name for one blob in one repository of one registry.
    private func uploadKey(reference: OCIReference, digest: String) -> String {
        let key = "\(reference.registry)/\(reference.repository)/\(digest)"
        return SHA256.hash(data: Data(key.utf8)).prefix(16).map { String(format: "%02x", $0) }.joined()
    }

    func saveUploadState(_ s: UploadState, to u: URL) throws {
        try FileManager.default.createDirectory(at: u.deletingLastPathComponent(), withIntermediateDirectories: true)
        let tmp = u.appendingPathExtension("tmp-\(getpid())")
        try JSONEncoder().encode(s).write(to: tmp)
        guard rename(tmp.path, u.path) == 0 else { unlink(tmp.path); return }
    }

    /// `0-<end>` (distribution's upload Range): the last byte index, nil for an empty upload.
    static func rangeEnd(_ header: String?) -> Int?? {
        guard let h = header?.trimmingCharacters(in: .whitespaces) else { return nil }
        let body = h.hasPrefix("bytes=") ? String(h.dropFirst(6)) : h
        let parts = body.split(separator: "-")
        guard parts.count == 2, let start = Int(parts[0]), let end = Int(parts[1]), start == 0, end >= 0 else { return nil }
        // distribution reports an empty upload as 0-0 as well; a 1-byte upload is indistinguishable, and a 416 corrects it.
        return .some(end == 0 ? nil : end)
    }

    static func adding(digest: String, to u: URL) -> URL {
        var c = URLComponents(url: u, resolvingAgainstBaseURL: false)!
        var items = c.queryItems ?? []
        items.append(URLQueryItem(name: "digest", value: digest))
        c.queryItems = items
        c.percentEncodedQuery = c.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        return c.url!
    }

    func registryFailure(_ r: OCIClient.Response, reference: OCIReference, what: String) -> RegistryError {
        let summary = OCIClient.errorSummary(r.body)
        let hint: String
        switch r.status {
        case 403: hint = "the credentials may not push or pull this repository"
        case 404: hint = "no such repository, manifest or blob"
        case 413: hint = "the registry refused the size; lower ZOO_OCI_CHUNK_BYTES"
        default: hint = r.status >= 500 ? "the registry failed; try again" : "unexpected answer"
        }
        return .ociRegistry(url: reference.description, status: r.status, detail: "\(what): \(summary ?? hint)")
    }

    // MARK: digests of stored models

    /// The `.zoo` file's SHA-256 and size (cached by size and mtime in
    /// `cache/oci/`), and the file, verified when its digest is first computed.
    func verifiedFileDigest(path: String, label: String) throws -> (String, Int, ZooFile) {
        var st = stat()
        guard stat(path, &st) == 0 else { throw RegistryError.io(path: path, operation: "stat", detail: String(cString: strerror(errno))) }
        let size = Int(st.st_size), mtime = Int(st.st_mtim.tv_sec) * 1_000_000_000 + Int(st.st_mtim.tv_nsec)
        let file: ZooFile
        do { file = try ZooFile(path: path) } catch { throw RegistryError.conversion(source: label, detail: error.localizedDescription) }
        struct Cached: Codable { var size: Int; var mtime: Int; var sha256: String }
        let cacheURL = url("cache/oci/\(file.digest.dropFirst(7)).json")
        if let c = try? JSONDecoder().decode(Cached.self, from: Data(contentsOf: cacheURL)), c.size == size, c.mtime == mtime {
            return (c.sha256, size, file)
        }
        guard file.verify().intact else {
            throw RegistryError.conversion(source: label, detail: "the stored model failed verification; pull or convert it again before pushing")
        }
        let sha = try Self.streamFile(path).sha256
        try? FileManager.default.createDirectory(at: cacheURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? JSONEncoder().encode(Cached(size: size, mtime: mtime, sha256: sha)).write(to: cacheURL, options: .atomic)
        return (sha, size, file)
    }

    /// When the stored model was written: the artifact's `created`, so pushing one model twice gives one manifest.
    static func modificationDate(_ path: String) -> Date {
        var st = stat()
        guard stat(path, &st) == 0 else { return Date() }
        return Date(timeIntervalSince1970: TimeInterval(st.st_mtim.tv_sec))
    }

    // MARK: where blobs are known to be

    /// Records that `digest` is in `reference`'s repository (for cross-repository mounts).
    func rememberBlob(_ digest: String, at reference: OCIReference) throws {
        try withFlock("oci-blobs", LOCK_EX) {
            let u = url("oci/blobs.json")
            var known = (try? JSONDecoder().decode([String: [String]].self, from: Data(contentsOf: u))) ?? [:]
            let where_ = "\(reference.registry)/\(reference.repository)"
            var list = known[digest] ?? []
            if !list.contains(where_) { list.append(where_) }
            known[digest] = Array(list.suffix(16))
            if known.count > 10_000 { known = known.filter { $0.key == digest } }
            try? FileManager.default.createDirectory(at: u.deletingLastPathComponent(), withIntermediateDirectories: true)
            try? JSONEncoder().encode(known).write(to: u, options: .atomic)
        }
    }

    func knownRepositories(_ digest: String, registry: String) -> [String] {
        let u = url("oci/blobs.json")
        let known = (try? JSONDecoder().decode([String: [String]].self, from: Data(contentsOf: u))) ?? [:]
        return (known[digest] ?? []).compactMap { entry in
            entry.hasPrefix(registry + "/") ? String(entry.dropFirst(registry.count + 1)) : nil
        }
    }

    // MARK: pull

    /// Fetches the manifest and card of `reference`, checked, without the model's bytes.
    public func remoteInfo(_ reference: OCIReference, options: OCIOptions = .init()) throws -> OCIRemoteInfo {
        let client = try OCIClient(reference: reference, insecure: options.insecure, credentials: options.credentials)
        let (m, digest, _, card) = try fetchManifestAndCard(client: client, reference: reference)
        return OCIRemoteInfo(reference: reference.description, manifestDigest: digest, manifest: m, card: card)
    }

    func fetchManifestAndCard(client: OCIClient, reference: OCIReference) throws -> (OCIArtifact.Manifest, String, OCIArtifact.Descriptor, ModelCard) {
        let repo = reference.repository
        let scope = "repository:\(repo):pull"
        let r = try client.send("GET", client.url("/v2/\(repo)/manifests/\(reference.manifestReference)"),
                                headers: ["Accept": "\(OCIArtifact.manifestMediaType), \(OCIArtifact.indexMediaType)"], scope: scope)
        guard r.status == 200 else { throw registryFailure(r, reference: reference, what: "fetching the manifest") }
        let digest = OCIArtifact.digest(of: r.body)
        if let want = reference.digest, want != digest {
            throw RegistryError.hashMismatch(source: reference.description, algorithm: "manifest SHA-256", expected: want, actual: digest)
        }
        if let said = r.header("Docker-Content-Digest"), said.hasPrefix("sha256:"), said != digest {
            throw RegistryError.hashMismatch(source: reference.description, algorithm: "manifest SHA-256 (Docker-Content-Digest)", expected: String(said.prefix(80)), actual: digest)
        }
        let (m, layer) = try OCIArtifact.parseManifest(r.body, reference: reference.description)
        let c = try client.send("GET", client.url("/v2/\(repo)/blobs/\(m.config.digest)"), scope: scope)
        guard c.status == 200 else { throw registryFailure(c, reference: reference, what: "fetching the model card (config blob \(m.config.digest.prefix(19))…)") }
        let card = try Self.checkedCard(c.body, descriptor: m.config, label: reference.description)
        return (m, digest, layer, card)
    }

    static func checkedCard(_ data: Data, descriptor: OCIArtifact.Descriptor, label: String) throws -> ModelCard {
        guard data.count == descriptor.size else { throw RegistryError.sizeMismatch(source: "\(label) config blob", expected: descriptor.size, actual: data.count) }
        let got = OCIArtifact.digest(of: data)
        guard got == descriptor.digest else { throw RegistryError.hashMismatch(source: "\(label) config blob", algorithm: "SHA-256", expected: descriptor.digest, actual: got) }
        do { return try JSONDecoder().decode(ModelCard.self, from: data) } catch {
            throw RegistryError.ociManifest(reference: label, detail: "the config blob is not a zoo model card (\(String(describing: error).prefix(200)))")
        }
    }

    /// The name a pulled reference registers under: the repository's last
    /// component, with the tag unless it is `latest`.
    static func derivedName(_ r: OCIReference) -> String {
        let last = r.repository.split(separator: "/").last.map(String.init) ?? r.repository
        if let t = r.tag, t != "latest" { return "\(last):\(t)" }
        return last
    }

    /// Pulls `reference`: manifest by tag or digest, card, then the `.zoo`
    /// layer through the resumable download path; its SHA-256 and the model's
    /// own checksums are verified before the name is registered. Concurrent
    /// pulls of one model wait for each other and download it once.
    @discardableResult
    public func pull(oci reference: OCIReference, options: OCIOptions = .init()) throws -> Manifest {
        let client = try OCIClient(reference: reference, insecure: options.insecure, credentials: options.credentials)
        let (_, manifestDigest, layer, _) = try fetchManifestAndCard(client: client, reference: reference)
        let name = options.name ?? Self.derivedName(reference)
        guard Self.validName(name) else { throw RegistryError.noUsableSource(name: name, detail: Self.nameRule) }
        let hex = String(layer.digest.dropFirst(7))
        let pinned = OCIReference(registry: reference.registry, repository: reference.repository, tag: reference.tag, digest: manifestDigest)
        let result: Manifest = try withLock("oci-\(hex)") {
            // A model with this file is in the store already (an earlier or concurrent pull): no download.
            if let existing = try list().first(where: { $0.source.sha256 == hex && FileManager.default.fileExists(atPath: url($0.model).path) }) {
                return try withLock(name) { try registerOCIModel(existing: existing, name: name, sourceURL: pinned.description, force: options.force) }
            }
            let scope = "repository:\(reference.repository):pull"
            let blobURL = client.url("/v2/\(reference.repository)/blobs/\(layer.digest)")
            try FileManager.default.createDirectory(at: url("downloads"), withIntermediateDirectories: true)
            let partial = url("downloads/oci-\(hex).partial").path
            var digests: (sha256: String, md5: String, size: Int)?
            for attempt in 0..<2 {
                // The token (if any) is current after a request that needed it; HEAD makes one.
                let head = try client.send("HEAD", blobURL, scope: scope, limit: 0)
                if head.status == 404 {
                    throw RegistryError.ociRegistry(url: reference.description, status: 404,
                                                    detail: "the manifest names layer \(layer.digest), which the registry does not have; push the model again")
                }
                var headers: [String: String] = ["Accept": "application/octet-stream"]
                if let auth = client.currentAuthorization(scope: scope) { headers["Authorization"] = auth }
                let d = Downloader(url: blobURL, partial: partial, expectedSize: layer.size, headers: headers)
                do {
                    _ = try d.run()
                    digests = d.digests
                    break
                } catch RegistryError.network(_, let detail) where detail.hasPrefix("HTTP 401") && attempt == 0 {
                    continue   // the token expired mid-download: renew and resume
                }
            }
            guard let got = digests else { throw RegistryError.network(url: reference.description, detail: "the model layer could not be downloaded") }
            guard got.size == layer.size else {
                unlink(partial)
                throw RegistryError.sizeMismatch(source: "\(reference.description) model layer", expected: layer.size, actual: got.size)
            }
            guard got.sha256 == hex else {
                unlink(partial)
                throw RegistryError.hashMismatch(source: "\(reference.description) model layer", algorithm: "SHA-256", expected: layer.digest, actual: "sha256:" + got.sha256)
            }
            return try withLock(name) {
                try registerOCIModel(file: partial, sha256: hex, size: layer.size, name: name, sourceURL: pinned.description, force: options.force)
            }
        }
        try? rememberBlob(layer.digest, at: reference)
        return result
    }

    /// Registers a downloaded or imported `.zoo` (already checked against its
    /// layer digest) under `name`: verified, moved into the store by model digest.
    func registerOCIModel(file: String, sha256: String, size: Int, name: String, sourceURL: String, force: Bool) throws -> Manifest {
        let zoo: ZooFile
        do { zoo = try ZooFile(path: file) } catch {
            unlink(file)
            throw RegistryError.notAModel(source: sourceURL, detail: "the layer is not a valid .zoo file: \(error.localizedDescription)")
        }
        guard zoo.verify().intact else {
            unlink(file)
            throw RegistryError.notAModel(source: sourceURL, detail: "the model's own checksums do not match (the pushed file was damaged)")
        }
        if !force, let existing = try? manifest(name), existing.digest != zoo.digest {
            throw RegistryError.nameTaken(name: name, digest: existing.digest, source: existing.source.url ?? existing.source.file ?? existing.source.sha256)
        }
        let modelPath = "models/sha256/\(zoo.digest.dropFirst(7)).zoo"
        if FileManager.default.fileExists(atPath: url(modelPath).path), (try? ZooFile(path: url(modelPath).path).verify().intact) == true {
            unlink(file)
        } else {
            _ = chmod(file, 0o444)
            guard rename(file, url(modelPath).path) == 0 else {
                throw RegistryError.io(path: url(modelPath).path, operation: "rename", detail: String(cString: strerror(errno)))
            }
        }
        let manifest = Manifest(name: name, variant: nil, digest: zoo.digest, model: modelPath,
                                source: SourceInfo(sha256: sha256, byteSize: size, format: "zoo", url: sourceURL, file: nil, blob: modelPath),
                                catalogEntry: nil, parity: nil, converter: "zoo \(ZooVersion.string)")
        try writeRef(manifest, name: name)
        return manifest
    }

    /// A second name for a model the store has (same file): only a manifest is written.
    func registerOCIModel(existing: Manifest, name: String, sourceURL: String, force: Bool) throws -> Manifest {
        if existing.name == name { return existing }
        if !force, let other = try? manifest(name), other.digest != existing.digest {
            throw RegistryError.nameTaken(name: name, digest: other.digest, source: other.source.url ?? other.source.file ?? other.source.sha256)
        }
        var m = existing
        m.name = name
        m.source.url = sourceURL
        try writeRef(m, name: name)
        return m
    }

    // MARK: login

    /// Checks `credentials` against the registry at `host` (its `/v2/` endpoint,
    /// through whatever challenge it sends), then stores them for later commands.
    public static func login(host: String, credentials: OCICredentials, insecure: Bool) throws {
        guard OCIReference.validHost(host) else { throw RegistryError.ociReference(reference: String(host.prefix(300)), detail: "not a registry host (HOST or HOST:PORT)") }
        let ref = OCIReference(registry: host, repository: "zoo", tag: "latest")
        let client = try OCIClient(reference: ref, insecure: insecure, credentials: credentials)
        // Ask for credentials to be used even where anonymous access would do.
        let r = try client.send("GET", client.url("/v2/"), scope: "", limit: 1 << 16)
        guard r.status == 200 else {
            throw RegistryError.ociRegistry(url: host, status: r.status, detail: "the registry's /v2/ endpoint did not answer 200; is this an OCI registry?")
        }
        try OCICredentialStore.save(credentials, for: host)
    }

    // MARK: tags

    /// The repository's tags (following the registry's `Link` pagination, at most 10,000).
    public func remoteTags(_ reference: OCIReference, options: OCIOptions = .init()) throws -> [String] {
        let client = try OCIClient(reference: reference, insecure: options.insecure, credentials: options.credentials)
        struct Tags: Decodable { var tags: [String]? }
        var tags: [String] = []
        var next: URL? = client.url("/v2/\(reference.repository)/tags/list", query: [("n", "1000")])
        var pages = 0
        // At most 100 pages: a registry whose Link never ends (or sends empty pages) cannot keep zoo here.
        while let u = next, tags.count < 10_000, pages < 100 {
            pages += 1
            let r = try client.send("GET", u, headers: ["Accept": "application/json"], scope: "repository:\(reference.repository):pull")
            guard r.status == 200 else { throw registryFailure(r, reference: reference, what: "listing tags") }
            guard let page = try? JSONDecoder().decode(Tags.self, from: r.body) else {
                throw RegistryError.ociRegistry(url: reference.description, status: 200, detail: "the tag list is not JSON")
            }
            tags += page.tags ?? []
            next = nil
            if let link = r.header("Link"), let open = link.firstIndex(of: "<"), let close = link.firstIndex(of: ">"), open < close, link.contains("rel=\"next\"") {
                next = try client.resolve(location: String(link[link.index(after: open)..<close]))
            }
        }
        return tags
    }
}
