import Foundation
import Testing
import ZooCore
import ZooFormat

/// zoo.json follows docs/CATALOG.md: the rules below are the ones a reader relies on.
@Suite struct CatalogTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func catalog() throws -> [String: Any] {
        let data = try Data(contentsOf: Self.root.appendingPathComponent("zoo.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func isHex(_ s: String, _ n: Int) -> Bool {
        s.count == n && s.allSatisfy { ("0"..."9").contains($0) || ("a"..."f").contains($0) }
    }

    @Test func catalogMatchesItsSchema() throws {
        let c = try catalog()
        #expect(c["schema"] as? Int == 1)
        let models = try #require(c["models"] as? [[String: Any]])
        let embeddings = try #require(c["embeddings"] as? [[String: Any]])
        #expect(models.count >= 20 && embeddings.count >= 5)
        var names = Set<String>()
        for e in models + embeddings {
            let name = try #require(e["name"] as? String)
            #expect(name.allSatisfy { $0.isLowercase || $0.isNumber || "-_.".contains($0) }, "\(name)")
            for n in [name] + ((e["aliases"] as? [String]) ?? []) { #expect(names.insert(n).inserted, "duplicate name \(n)") }
            #expect(e["format"] is String, "\(name): format")
            var sources = (e["sources"] as? [[String: Any]]) ?? []
            for v in (e["variants"] as? [[String: Any]]) ?? [] {
                sources += (v["sources"] as? [[String: Any]]) ?? []
            }
            #expect(!sources.isEmpty, "\(name): no sources")
            for s in sources {
                if let url = s["url"] as? String { #expect(url.hasPrefix("https://"), "\(name): \(url)") }
                else { #expect(s["fixture"] is String, "\(name): a source needs url or fixture") }
                if let md5 = s["md5"] as? String { #expect(Self.isHex(md5, 32), "\(name): md5 \(md5)") }
                if let sha = s["sha256"] as? String { #expect(Self.isHex(sha, 64), "\(name): sha256 \(sha)") }
                if let size = s["byteSize"] { #expect((size as? Int ?? -1) > 0, "\(name): byteSize") }
            }
        }
    }

    /// Bundled entries are what the offline demo pulls: their hashes must match the files.
    @Test func fixtureSourcesMatchTheBundledFiles() throws {
        let models = try #require(try catalog()["models"] as? [[String: Any]])
        var checked = 0
        for e in models {
            for s in (e["sources"] as? [[String: Any]]) ?? [] {
                guard let fixture = s["fixture"] as? String, let sha = s["sha256"] as? String else { continue }
                let path = Self.root.appendingPathComponent(fixture).path
                #expect(try SourceDigest(file: MappedFile(path: path)).value() == sha, "\(fixture)")
                checked += 1
            }
        }
        #expect(checked >= 9)
    }
}
