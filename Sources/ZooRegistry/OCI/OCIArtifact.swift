import Crypto
import Foundation
import ZooCore
import ZooFormat

/// How a zoo model is laid out as an OCI artifact (docs/REGISTRY.md, "OCI
/// artifacts"): an image manifest with zoo's `artifactType`, the model card as
/// the config blob and the `.zoo` file as the one layer.
public enum OCIArtifact {
    public static let manifestMediaType = "application/vnd.oci.image.manifest.v1+json"
    public static let indexMediaType = "application/vnd.oci.image.index.v1+json"
    /// The manifest's `artifactType`: this is a zoo model.
    public static let artifactType = "application/vnd.zoo.model.v1"
    /// The config blob: the model card as JSON (ModelCard, docs/FORMAT.md).
    public static let cardMediaType = "application/vnd.zoo.model.card.v1+json"
    /// The layer: the `.zoo` file itself, uncompressed (it is checksummed and mostly float data).
    public static let modelMediaType = "application/vnd.zoo.model.layer.v1.zoo"
    /// Annotation keys zoo adds beside the standard ones.
    public static let digestAnnotation = "org.zoo.model.digest"
    public static let nameAnnotation = "org.zoo.model.name"
    /// Largest manifest or config zoo reads (the distribution spec's usual limit).
    public static let maxManifestBytes = 4 << 20

    public struct Descriptor: Codable, Equatable, Sendable {
        public var mediaType: String
        public var digest: String
        public var size: Int
        public var annotations: [String: String]?
        public var artifactType: String?
        public init(mediaType: String, digest: String, size: Int, annotations: [String: String]? = nil, artifactType: String? = nil) {
            self.mediaType = mediaType
            self.digest = digest
            self.size = size
            self.annotations = annotations
            self.artifactType = artifactType
        }
    }

    public struct Manifest: Codable, Equatable, Sendable {
        public var schemaVersion: Int
        public var mediaType: String?
        public var artifactType: String?
        public var config: Descriptor
        public var layers: [Descriptor]
        public var annotations: [String: String]?
    }

    public struct Index: Codable, Equatable, Sendable {
        public var schemaVersion: Int
        public var mediaType: String?
        public var manifests: [Descriptor]
    }

    /// A manifest ready to push or write: its bytes, and the blobs it names.
    public struct Built {
        public var manifest: Manifest
        public var manifestBytes: Data
        public var cardBytes: Data
        public var modelPath: String
        public var modelSize: Int
        public var manifestDigest: String { OCIArtifact.digest(of: manifestBytes) }
    }

    public static func digest(of data: Data) -> String {
        "sha256:" + SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    static func canonicalJSON<T: Encodable>(_ value: T) throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try e.encode(value)
    }

    /// The artifact for the model file at `modelPath` (its SHA-256 given, as the
    /// registry records it), with the standard annotations from its card.
    static func build(file: ZooFile, modelPath: String, modelSHA256: String, modelSize: Int, name: String, version: String?,
                      created: Date = Date()) throws -> Built {
        let card = file.card
        let cardBytes = try canonicalJSON(card)
        var annotations: [String: String] = [
            "org.opencontainers.image.created": ISO8601DateFormatter().string(from: created),
            "org.opencontainers.image.title": name,
            "org.opencontainers.image.description": describe(card),
            digestAnnotation: file.digest,
            nameAnnotation: card.name,
        ]
        if let u = card.source?.url { annotations["org.opencontainers.image.source"] = u }
        if let l = card.license { annotations["org.opencontainers.image.licenses"] = l }
        if let v = version ?? card.metadata?["version"] { annotations["org.opencontainers.image.version"] = v }
        let layer = Descriptor(mediaType: modelMediaType, digest: "sha256:" + modelSHA256, size: modelSize,
                               annotations: ["org.opencontainers.image.title": fileTitle(name)])
        let config = Descriptor(mediaType: cardMediaType, digest: digest(of: cardBytes), size: cardBytes.count)
        let manifest = Manifest(schemaVersion: 2, mediaType: manifestMediaType, artifactType: artifactType, config: config,
                                layers: [layer], annotations: annotations)
        return Built(manifest: manifest, manifestBytes: try canonicalJSON(manifest), cardBytes: cardBytes, modelPath: modelPath, modelSize: modelSize)
    }

    /// `NAME.zoo`, with characters unsafe in a file name replaced.
    static func fileTitle(_ name: String) -> String {
        String(name.map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "_" }) + ".zoo"
    }

    static func describe(_ card: ModelCard) -> String {
        var parts = [card.family, card.task].compactMap { $0 }
        parts.append("model '\(card.name)'")
        if let f = card.source?.format { parts.append("converted from \(f) by zoo") }
        return parts.joined(separator: " ")
    }

    /// Parses and checks a manifest zoo is to pull: an OCI image manifest with
    /// zoo's artifact type (or config media type) and exactly one `.zoo` layer.
    static func parseManifest(_ data: Data, reference: String) throws -> (Manifest, Descriptor) {
        func bad(_ why: String) -> RegistryError { .ociManifest(reference: reference, detail: why) }
        guard data.count <= maxManifestBytes else { throw bad("the manifest is \(data.count) bytes, over the 4 MiB limit") }
        if let text = String(data: data.prefix(512), encoding: .utf8)?.lowercased(), text.contains("<html") {
            throw bad("the registry sent an HTML page, not a manifest (a proxy or login page?)")
        }
        let m: Manifest
        do { m = try JSONDecoder().decode(Manifest.self, from: data) } catch {
            if let index = try? JSONDecoder().decode(Index.self, from: data), index.mediaType == indexMediaType || !index.manifests.isEmpty {
                throw bad("this is an image index (a multi-platform list), not a zoo model")
            }
            throw bad("not an OCI image manifest (\(String(describing: error).prefix(200)))")
        }
        guard m.schemaVersion == 2 else { throw bad("schemaVersion \(m.schemaVersion), expected 2") }
        if let mt = m.mediaType, mt != manifestMediaType {
            throw bad("media type \(mt.prefix(100)) is not an OCI image manifest (\(manifestMediaType))")
        }
        let type = m.artifactType ?? m.config.mediaType
        guard type == artifactType || m.config.mediaType == cardMediaType else {
            throw bad("artifact type \(type.prefix(100)) is not a zoo model (\(artifactType)); this reference holds something else (a container image?)")
        }
        guard m.config.mediaType == cardMediaType else { throw bad("config media type \(m.config.mediaType.prefix(100)), expected \(cardMediaType)") }
        let models = m.layers.filter { $0.mediaType == modelMediaType }
        guard models.count == 1, let layer = models.first else {
            let types = MessageText.list(m.layers.map(\.mediaType), itemLength: 100)
            throw bad("\(models.count) layers of type \(modelMediaType), expected exactly one (layer types: \(types))")
        }
        for d in [m.config, layer] {
            guard OCIReference.validDigest(d.digest) else { throw bad("blob digest '\(d.digest.prefix(80))' is not sha256:<64 hex>") }
            guard d.size >= 0 else { throw bad("blob \(d.digest) declares a negative size") }
        }
        guard m.config.size <= maxManifestBytes else { throw bad("the config blob declares \(m.config.size) bytes, over the 4 MiB limit") }
        return (m, layer)
    }
}
