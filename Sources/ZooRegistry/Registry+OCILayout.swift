import Foundation
import ZooCore
import ZooFormat
#if canImport(Glibc)
import Glibc
#endif

/// The local store as an OCI image layout (`oci-layout`, `index.json`,
/// `blobs/sha256/…`), so `skopeo copy oci:DIR docker://…` and other OCI tools
/// move zoo models with no zoo installed.
extension Registry {
    struct LayoutFile: Codable { var imageLayoutVersion: String }
    static let refNameAnnotation = "org.opencontainers.image.ref.name"

    /// Writes the model registered as `name` into the OCI layout at `dir`
    /// (created, or an existing layout the tag is added to) under `tag`.
    /// Blobs are hard links into the store when it is on the same file system.
    @discardableResult
    public func export(_ name: String, to dir: URL, tag: String = "latest") throws -> OCIArtifact.Descriptor {
        guard OCIReference.validTag(tag) else { throw RegistryError.ociReference(reference: tag, detail: "not a tag (at most 128 of A-Z a-z 0-9 _ . -)") }
        let m = try manifest(name)
        let path = url(m.model).path
        let (sha, size, file) = try verifiedFileDigest(path: path, label: name)
        let built = try OCIArtifact.build(file: file, modelPath: path, modelSHA256: sha, modelSize: size, name: name, version: tag,
                                          created: Self.modificationDate(path))
        let fm = FileManager.default
        let layoutURL = dir.appendingPathComponent("oci-layout"), indexURL = dir.appendingPathComponent("index.json")
        var index = OCIArtifact.Index(schemaVersion: 2, mediaType: OCIArtifact.indexMediaType, manifests: [])
        if fm.fileExists(atPath: dir.path) {
            let entries = (try? fm.contentsOfDirectory(atPath: dir.path)) ?? []
            if !entries.isEmpty {
                guard let data = try? Data(contentsOf: layoutURL), let layout = try? JSONDecoder().decode(LayoutFile.self, from: data),
                      layout.imageLayoutVersion == "1.0.0" else {
                    throw RegistryError.ociLayout(path: dir.path, detail: "the directory is not empty and not an OCI image layout; give an empty or new directory")
                }
                index = try Self.readIndex(dir)
            }
        }
        let blobs = dir.appendingPathComponent("blobs/sha256")
        do { try fm.createDirectory(at: blobs, withIntermediateDirectories: true) } catch {
            throw RegistryError.io(path: blobs.path, operation: "create directory", detail: error.localizedDescription)
        }
        try Self.writeBlob(built.cardBytes, digest: built.manifest.config.digest, in: dir)
        let layerDest = blobs.appendingPathComponent(sha).path
        if !fm.fileExists(atPath: layerDest) {
            let tmp = layerDest + ".tmp-\(getpid())"
            unlink(tmp)
            if link(path, tmp) != 0 {
                do { try fm.copyItem(atPath: path, toPath: tmp) } catch {
                    unlink(tmp)
                    throw RegistryError.io(path: layerDest, operation: "copy", detail: error.localizedDescription)
                }
            }
            guard rename(tmp, layerDest) == 0 else { unlink(tmp); throw RegistryError.io(path: layerDest, operation: "rename", detail: String(cString: strerror(errno))) }
        }
        try Self.writeBlob(built.manifestBytes, digest: built.manifestDigest, in: dir)
        let descriptor = OCIArtifact.Descriptor(mediaType: OCIArtifact.manifestMediaType, digest: built.manifestDigest, size: built.manifestBytes.count,
                                                annotations: [Self.refNameAnnotation: tag], artifactType: OCIArtifact.artifactType)
        index.manifests.removeAll { $0.annotations?[Self.refNameAnnotation] == tag }
        index.manifests.append(descriptor)
        try Self.atomicWrite(try OCIArtifact.canonicalJSON(LayoutFile(imageLayoutVersion: "1.0.0")), to: layoutURL)
        try Self.atomicWrite(try OCIArtifact.canonicalJSON(index), to: indexURL)
        return descriptor
    }

    /// Registers a model from the OCI layout at `dir`: the manifest tagged
    /// `tag` (or the only one), checked like a pull, blobs verified by digest.
    @discardableResult
    public func importLayout(_ dir: URL, tag: String? = nil, options: OCIOptions = .init()) throws -> Manifest {
        guard let data = try? Data(contentsOf: dir.appendingPathComponent("oci-layout")),
              let layout = try? JSONDecoder().decode(LayoutFile.self, from: data) else {
            throw RegistryError.ociLayout(path: dir.path, detail: "no readable oci-layout file")
        }
        guard layout.imageLayoutVersion == "1.0.0" else { throw RegistryError.ociLayout(path: dir.path, detail: "layout version \(layout.imageLayoutVersion.prefix(20)), expected 1.0.0") }
        let index = try Self.readIndex(dir)
        let candidates = index.manifests.filter { tag == nil || $0.annotations?[Self.refNameAnnotation] == tag }
        guard let chosen = candidates.count == 1 ? candidates.first : nil else {
            let tags = index.manifests.compactMap { $0.annotations?[Self.refNameAnnotation] }
            throw RegistryError.ociLayout(path: dir.path, detail: candidates.isEmpty
                ? "no manifest tagged '\(MessageText.clip(tag ?? ""))'; tags: \(MessageText.list(tags))"
                : "\(candidates.count) manifests; name one with --tag (tags: \(MessageText.list(tags)))")
        }
        let label = "oci:\(dir.path):\(chosen.annotations?[Self.refNameAnnotation] ?? chosen.digest)"
        let manifestBytes = try Self.readBlob(chosen, in: dir, label: label, limit: OCIArtifact.maxManifestBytes)
        let (m, layer) = try OCIArtifact.parseManifest(manifestBytes, reference: label)
        let card = try Self.checkedCard(try Self.readBlob(m.config, in: dir, label: label, limit: OCIArtifact.maxManifestBytes), descriptor: m.config, label: label)
        let name = options.name ?? (chosen.annotations?[Self.refNameAnnotation].flatMap { $0 == "latest" ? nil : "\(card.name):\($0)" } ?? card.name)
        guard Self.validName(name) else { throw RegistryError.noUsableSource(name: name, detail: Self.nameRule) }
        let layerPath = try Self.blobPath(layer.digest, in: dir, label: label)
        return try withLock(name) {
            // Copied into the store's staging area while hashing; checked before anything is registered.
            let staged = url("tmp/import-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).zoo")
            // Gone by then when it was moved into the store.
            defer { unlink(staged.path) }
            let copied = try Self.streamFile(layerPath, copyTo: staged.path)
            let blob = BlobInfo(sha256: copied.sha256, size: copied.size)
            guard blob.size == layer.size else {
                throw RegistryError.sizeMismatch(source: "\(label) model layer", expected: layer.size, actual: blob.size)
            }
            guard "sha256:" + blob.sha256 == layer.digest else {
                throw RegistryError.hashMismatch(source: "\(label) model layer", algorithm: "SHA-256", expected: layer.digest, actual: "sha256:" + blob.sha256)
            }
            return try registerOCIModel(file: staged.path, sha256: blob.sha256, size: blob.size, name: name, sourceURL: label, force: options.force)
        }
    }

    static func readIndex(_ dir: URL) throws -> OCIArtifact.Index {
        let u = dir.appendingPathComponent("index.json")
        guard let data = try? Data(contentsOf: u), data.count <= OCIArtifact.maxManifestBytes else {
            throw RegistryError.ociLayout(path: dir.path, detail: "no readable index.json (at most 4 MiB)")
        }
        do { return try JSONDecoder().decode(OCIArtifact.Index.self, from: data) } catch {
            throw RegistryError.ociLayout(path: dir.path, detail: "index.json is not an OCI image index (\(String(describing: error).prefix(200)))")
        }
    }

    static func blobPath(_ digest: String, in dir: URL, label: String) throws -> String {
        guard OCIReference.validDigest(digest) else { throw RegistryError.ociManifest(reference: label, detail: "blob digest '\(digest.prefix(80))' is not sha256:<64 hex>") }
        let p = dir.appendingPathComponent("blobs/sha256/\(digest.dropFirst(7))").path
        guard FileManager.default.fileExists(atPath: p) else { throw RegistryError.ociLayout(path: dir.path, detail: "blob \(digest) is missing") }
        return p
    }

    static func readBlob(_ d: OCIArtifact.Descriptor, in dir: URL, label: String, limit: Int) throws -> Data {
        // The digest is checked first, so messages quote only a well-formed one.
        let p = try blobPath(d.digest, in: dir, label: label)
        guard d.size <= limit else { throw RegistryError.ociManifest(reference: label, detail: "blob \(d.digest) declares \(d.size) bytes, over the \(limit)-byte limit") }
        var st = stat()
        guard stat(p, &st) == 0, Int(st.st_size) <= limit, let data = FileManager.default.contents(atPath: p) else {
            throw RegistryError.ociLayout(path: dir.path, detail: "blob \(d.digest) is unreadable or over \(limit) bytes")
        }
        let got = OCIArtifact.digest(of: data)
        guard got == d.digest else { throw RegistryError.hashMismatch(source: "\(label) blob", algorithm: "SHA-256", expected: d.digest, actual: got) }
        guard data.count == d.size else { throw RegistryError.sizeMismatch(source: "\(label) blob \(d.digest)", expected: d.size, actual: data.count) }
        return data
    }

    static func writeBlob(_ data: Data, digest: String, in dir: URL) throws {
        let u = dir.appendingPathComponent("blobs/sha256/\(digest.dropFirst(7))")
        if FileManager.default.fileExists(atPath: u.path) { return }
        try atomicWrite(data, to: u)
    }

    static func atomicWrite(_ data: Data, to u: URL) throws {
        do { try data.write(to: u, options: .atomic) } catch {
            throw RegistryError.io(path: u.path, operation: "write", detail: error.localizedDescription)
        }
    }
}
