import Foundation
import Testing
import ZooCore
import ZooFormat
import ZooRegistry

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

/// The catalog built into zoo, and every model it bundles, run as the README runs them.
@Suite struct BundledCatalogTests {
    @Test func theBuiltInCatalogIsZooJSONWithItsFixtures() throws {
        let c = try Catalog.bundled()
        let file = try Catalog(path: CatalogTests.root.appendingPathComponent("zoo.json").path)
        #expect(c.entries.map(\.name) == file.entries.map(\.name), "re-run scripts/embed-catalog.py after editing zoo.json")
        for e in c.entries {
            for s in (e.sources ?? []) + (e.variants ?? []).flatMap({ $0.sources ?? [] }) {
                guard let f = s.fixture else { continue }
                #expect(c.fixture(f) == (try Data(contentsOf: CatalogTests.root.appendingPathComponent(f))), "\(f): re-run scripts/embed-catalog.py")
            }
        }
        #expect(c.entry("DEMO-VGG_Block")?.name == "demo-vgg_block")
    }

    /// From a directory with no zoo.json: pull every bundled model, then `zoo run`
    /// and (where the catalog has references) `zoo parity` on it, so a bundled
    /// model can never again be unrunnable.
    @Test func everyBundledModelPullsRunsAndMatchesFromAnyDirectory() throws {
        let home = try Scratch(), elsewhere = try Scratch()
        let env = ["ZOO_HOME": home.url.path]
        let c = try Catalog.bundled()
        let bundled = c.entries.filter { e in (e.sources ?? []).contains { $0.fixture != nil } }
        #expect(bundled.count >= 9)
        for e in bundled {
            let pull = try CLI.run(["pull", e.name], env: env, cwd: elsewhere.url.path)
            #expect(pull.status == 0, "\(e.name): \(pull.stderr)")
            let input: String
            if let i = e.parity?.input {
                input = CatalogTests.root.appendingPathComponent(i).path
            } else {
                // tiny-mlp: a synthetic model (no framework reference); any input of its shape.
                let x = try Tensor(floats: (0..<8).map { Float($0) / 8 }, shape: [2, 4])
                input = elsewhere.url.appendingPathComponent("x.npy").path
                try Data(NPY.encode(x)).write(to: URL(fileURLWithPath: input))
            }
            let run = try CLI.run(["run", e.name, "--input", input, "--top", "2"], env: env, cwd: elsewhere.url.path)
            #expect(run.status == 0, "\(e.name): \(run.stderr)")
            if let expect = e.parity?.expect {
                let p = try CLI.run(["parity", e.name, "--input", input, "--expect", CatalogTests.root.appendingPathComponent(expect).path], env: env, cwd: elsewhere.url.path)
                #expect(p.status == 0, "\(e.name): \(p.stdout) \(p.stderr)")
            }
        }
        let x = elsewhere.url.appendingPathComponent("x.npy").path
        try Data(NPY.encode(try Tensor(floats: (0..<8).map { Float($0) / 8 }, shape: [2, 4]))).write(to: URL(fileURLWithPath: x))
        for f in ["tiny-mlp.zoo", "tiny-mlp-v1.0.zoo"] {
            let r = try CLI.run(["run", CatalogTests.root.appendingPathComponent("fixtures/zoo/\(f)").path, "--input", x])
            #expect(r.status == 0, "\(f): \(r.stderr)")
        }
    }
}
