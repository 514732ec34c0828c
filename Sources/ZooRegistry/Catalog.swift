import Foundation
import ZooConvert
import ZooCore

/// The pullable models of `zoo.json` (docs/CATALOG.md), the fields the registry uses.
public struct Catalog: Sendable {
    public struct Source: Codable, Sendable, Equatable {
        public var url: String?
        public var fixture: String?
        public var md5: String?
        public var sha256: String?
        public var byteSize: Int?

        public init(url: String? = nil, fixture: String? = nil, md5: String? = nil, sha256: String? = nil, byteSize: Int? = nil) {
            self.url = url
            self.fixture = fixture
            self.md5 = md5
            self.sha256 = sha256
            self.byteSize = byteSize
        }
    }
    public struct Parity: Codable, Sendable, Equatable {
        public var input: String?
        public var expect: String?
        public var rtol: Double?
        public var atol: Double?
    }
    public struct Variant: Codable, Sendable {
        public var name: String
        public var `default`: Bool?
        public var sources: [Source]?
    }
    public struct Entry: Codable, Sendable {
        public var name: String
        public var aliases: [String]?
        public var family: String?
        public var task: String?
        public var format: String
        public var weightsOnly: Bool?
        public var sources: [Source]?
        public var variants: [Variant]?
        public var parity: Parity?
        public var license: String?
        /// How the model wants its pixels prepared (keys as in `ModelCard.Preprocessing`).
        public var preprocessing: ModelCard.Preprocessing?
        /// The label set by name, e.g. `imagenet-1k`.
        public var labels: String?

        /// What the entry contributes to a converted model's card.
        public var cardDefaults: CardDefaults {
            CardDefaults(name: name, family: family, task: task, license: license, preprocessing: preprocessing, labels: labels)
        }

        /// The built-in Keras architecture of a weights-only Keras variant (`keras-vgg16:notop`).
        public func kerasArchitecture(variant: String?) -> String? {
            guard format == "keras-h5", weightsOnly == true else { return nil }
            return "\(name):\(variant ?? "top")"
        }
    }
    private struct File: Codable {
        var schema: Int
        var models: [Entry]
        var embeddings: [Entry]?
    }

    public let path: String
    public let entries: [Entry]
    /// Whether this is the copy built into zoo (`Catalog.bundled`), whose fixtures are built in too.
    public let isBundled: Bool
    /// Directory fixture paths are relative to.
    public var root: String { (path as NSString).deletingLastPathComponent }

    public init(path: String) throws {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw RegistryError.invalidCatalog(path: path, detail: "cannot read it")
        }
        try self.init(data: data, path: path, bundled: false)
    }

    /// The catalog built into zoo (zoo.json as released, with its bundled demo
    /// fixtures), so `zoo pull` and `zoo catalog` work from any directory.
    public static func bundled() throws -> Catalog {
        guard let data = Data(base64Encoded: bundledJSON, options: .ignoreUnknownCharacters) else {
            throw RegistryError.invalidCatalog(path: "<built-in>", detail: "the built-in catalog is damaged")
        }
        return try Catalog(data: data, path: "<built-in>/zoo.json", bundled: true)
    }

    /// A fixture's bytes: from the built-in copy, or the file beside the catalog.
    public func fixture(_ relative: String) -> Data? {
        if isBundled { return Self.bundledFixtures[relative].flatMap { Data(base64Encoded: $0, options: .ignoreUnknownCharacters) } }
        return try? Data(contentsOf: URL(fileURLWithPath: (root as NSString).appendingPathComponent(relative)))
    }

    init(data: Data, path: String, bundled: Bool) throws {
        self.path = path
        self.isBundled = bundled
        let file: File
        do { file = try JSONDecoder().decode(File.self, from: data) } catch {
            throw RegistryError.invalidCatalog(path: path, detail: "\(error)")
        }
        guard file.schema == 1 else { throw RegistryError.invalidCatalog(path: path, detail: "schema \(file.schema) is not supported (expected 1)") }
        entries = file.models + (file.embeddings ?? [])
    }

    /// The entry named `name` (or one of its aliases).
    /// Look-ups ignore case (docs/CATALOG.md): `Keras-VGG16` finds `keras-vgg16`.
    public func entry(_ name: String) -> Entry? {
        let n = name.lowercased()
        return entries.first { $0.name.lowercased() == n || ($0.aliases ?? []).contains { $0.lowercased() == n } }
    }

    /// Up to three names closest to `name` (edit distance, or containing it).
    public func closest(to name: String) -> [String] {
        func distance(_ a: [Character], _ b: [Character]) -> Int {
            var prev = Array(0...b.count)
            for (i, ca) in a.enumerated() {
                var cur = [i + 1] + Array(repeating: 0, count: b.count)
                for (j, cb) in b.enumerated() { cur[j + 1] = min(prev[j + 1] + 1, cur[j] + 1, prev[j] + (ca == cb ? 0 : 1)) }
                prev = cur
            }
            return prev[b.count]
        }
        let q = Array(name.lowercased())
        let names = entries.flatMap { [$0.name] + ($0.aliases ?? []) }
        let scored = names.map { n -> (String, Int) in
            let d = n.lowercased().contains(name.lowercased()) ? 0 : distance(q, Array(n.lowercased()))
            return (n, d)
        }
        return scored.filter { $0.1 <= max(2, q.count / 3) }.sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }.prefix(3).map(\.0)
    }

    /// Sources of `entry`'s variant (the default one when `variant` is nil).
    public func sources(_ entry: Entry, variant: String?) throws -> (variant: String?, sources: [Source]) {
        guard let variants = entry.variants, !variants.isEmpty else {
            if let v = variant { throw RegistryError.unknownVariant(name: entry.name, variant: v, available: []) }
            return (nil, entry.sources ?? [])
        }
        if let v = variant {
            guard let found = variants.first(where: { $0.name == v }) else {
                throw RegistryError.unknownVariant(name: entry.name, variant: v, available: variants.map(\.name))
            }
            return (v, found.sources ?? [])
        }
        let chosen = variants.first { $0.default == true } ?? variants[0]
        return (chosen.name, chosen.sources ?? [])
    }
}
