import Foundation
import Testing

/// `zoo convert` on word vectors and the query commands, end to end through
/// the binary, against the answers gensim gave for the same fixture
/// (fixtures/embeddings/manifest.json, written by make_embeddings.py).
@Suite struct EmbeddingCLITests {
    static let dir = CLI.repoRoot.appendingPathComponent("fixtures/embeddings")

    /// The manifest entry of `file`, as loose JSON.
    static func entry(_ file: String) throws -> [String: Any] {
        let data = try Data(contentsOf: dir.appendingPathComponent("manifest.json"))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let files = try #require(root["files"] as? [[String: Any]])
        return try #require(files.first { $0["file"] as? String == file })
    }

    struct Neighbor: Decodable { var word: String; var cosine: Double }

    func convert(_ file: String, in scratch: Scratch) throws -> String {
        let out = scratch.url.appendingPathComponent("vectors.zoo").path
        let r = try CLI.run(["convert", Self.dir.appendingPathComponent(file).path, "-o", out])
        #expect(r.status == 0, "\(r.stderr)")
        return out
    }

    @Test(arguments: ["w2v.bin", "w2v.bin.gz", "w2v.txt"])
    func convertedVectorsAnswerSimilarLikeGensim(_ file: String) throws {
        let scratch = try Scratch()
        let model = try convert(file, in: scratch)
        #expect(try CLI.run(["verify", model]).status == 0)
        let queries = try #require(try Self.entry(file)["queries"] as? [String: [[Any]]])
        for (word, expected) in queries.sorted(by: { $0.key < $1.key }).prefix(5) {
            let r = try CLI.run(["similar", model, word, "-k", String(expected.count), "--json"])
            #expect(r.status == 0, "\(r.stderr)")
            let got = try JSONDecoder().decode([Neighbor].self, from: Data(r.stdout.utf8))
            #expect(got.map(\.word) == expected.map { $0[0] as! String }, "\(file): neighbours of \(word)")
            for (g, e) in zip(got, expected) { #expect(abs(g.cosine - (e[1] as! Double)) < 1e-5, "\(file): \(word) → \(g.word)") }
        }
    }

    @Test func analogyAndVectorMatchGensim() throws {
        let scratch = try Scratch()
        let model = try convert("w2v.bin", in: scratch)
        let entry = try Self.entry("w2v.bin")
        let analogy = try #require((entry["analogies"] as? [[String: Any]])?.first)
        let result = try #require(analogy["result"] as? [[Any]])
        let r = try CLI.run(["analogy", model, analogy["a"] as! String, analogy["b"] as! String, analogy["c"] as! String,
                             "-k", String(result.count), "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let got = try JSONDecoder().decode([Neighbor].self, from: Data(r.stdout.utf8))
        #expect(got.map(\.word) == result.map { $0[0] as! String })

        let vectors = try #require(entry["vectors"] as? [String: [Double]])
        let (word, expected) = try #require(vectors.first)
        let v = try CLI.run(["vector", model, word, "--json"])
        #expect(v.status == 0, "\(v.stderr)")
        struct Vector: Decodable { var word: String; var vector: [Double] }
        let decoded = try JSONDecoder().decode(Vector.self, from: Data(v.stdout.utf8))
        #expect(decoded.word == word)
        #expect(decoded.vector.count == expected.count && zip(decoded.vector, expected).allSatisfy { abs($0 - $1) < 1e-6 })
    }

    @Test func cardRecordsTheSourceHashAndShape() throws {
        let scratch = try Scratch()
        let model = try convert("w2v.bin", in: scratch)
        let entry = try Self.entry("w2v.bin")
        let r = try CLI.run(["inspect", model, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains(entry["sha256"] as! String), "source SHA-256 in the card")
        #expect(r.stdout.contains("\"vocabulary\" : \"\(entry["vocab_size"] as! Int)\"") || r.stdout.contains("\"vocabulary\":\"\(entry["vocab_size"] as! Int)\""))
    }

    @Test func truncatedBinaryFailsWithTheEntryAndLeavesNoOutput() throws {
        let scratch = try Scratch()
        let out = scratch.url.appendingPathComponent("bad.zoo").path
        let r = try CLI.run(["convert", Self.dir.appendingPathComponent("bad_truncated.bin").path, "-o", out])
        #expect(r.status == 65)
        #expect(r.stderr.contains("word 6"), "\(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path).isEmpty)
    }
}
