import Crypto
import Foundation
import ZooCore
import ZooFormat
#if canImport(Glibc)
import Glibc
#endif

extension Registry {
    /// Registers a model zoo itself produced (`zoo fit`) under `name`.
    ///
    /// Such a model has no foreign source file: the `.zoo` file is its own
    /// source, so the manifest's source blob is the stored model (nothing is
    /// stored twice). The file at `model` is moved into the store; a name that
    /// already points elsewhere needs `force`.
    @discardableResult
    public func registerTrained(model: URL, name: String, force: Bool = false) throws -> Manifest {
        guard Self.validName(name) else { throw RegistryError.noUsableSource(name: name, detail: Self.nameRule) }
        return try withLock(name) {
            let file: ZooFile
            do { file = try ZooFile(path: model.path) } catch {
                throw RegistryError.conversion(source: name, detail: error.localizedDescription)
            }
            guard file.verify().intact else { throw RegistryError.conversion(source: name, detail: "the trained model failed verification") }
            if !force, let existing = try? manifest(name), existing.digest != file.digest {
                throw RegistryError.nameTaken(name: name, digest: existing.digest, source: existing.source.file ?? existing.source.url ?? existing.source.sha256)
            }
            let data: Data
            do { data = try Data(contentsOf: model, options: .mappedIfSafe) } catch {
                throw RegistryError.io(path: model.path, operation: "read", detail: error.localizedDescription)
            }
            let sha = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
            let hex = String(file.digest.dropFirst("sha256:".count))
            let modelPath = "models/sha256/\(hex).zoo"
            if !FileManager.default.fileExists(atPath: url(modelPath).path) || !((try? ZooFile(path: url(modelPath).path).verify().intact) ?? false) {
                guard rename(model.path, url(modelPath).path) == 0 else {
                    throw RegistryError.io(path: url(modelPath).path, operation: "rename", detail: String(cString: strerror(errno)))
                }
            } else {
                unlink(model.path)
            }
            let manifest = Manifest(name: name, variant: nil, digest: file.digest, model: modelPath,
                                    source: SourceInfo(sha256: sha, byteSize: data.count, format: "zoo", url: nil, file: nil, blob: modelPath),
                                    catalogEntry: nil, parity: nil, converter: "zoo \(ZooVersion.string)")
            try writeRef(manifest, name: name)
            return manifest
        }
    }

    func writeRef(_ manifest: Manifest, name: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(manifest)
        let ref = refURL(name)
        let tmpRef = url("tmp/ref-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).json")
        do {
            try data.write(to: tmpRef)
            guard rename(tmpRef.path, ref.path) == 0 else { throw RegistryError.io(path: ref.path, operation: "rename", detail: String(cString: strerror(errno))) }
        } catch let e as RegistryError { unlink(tmpRef.path); throw e } catch {
            unlink(tmpRef.path)
            throw RegistryError.io(path: ref.path, operation: "write", detail: error.localizedDescription)
        }
    }

    /// A scratch file inside the store (same file system, so it can be renamed into place).
    public func temporaryModelURL() -> URL {
        url("tmp/trained-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).zoo")
    }
}
