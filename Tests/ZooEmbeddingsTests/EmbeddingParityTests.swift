import Foundation
import Testing
import ZooCore
import ZooFormat
@testable import ZooEmbeddings

/// fixtures/embeddings/manifest.json, written by fixtures/generator/make_embeddings.py with gensim.
struct EmbeddingManifest: Decodable {
    struct Analogy: Decodable {
        var positive: [String]
        var negative: [String]
        var result: [[Neighbour]]
    }
    enum Neighbour: Decodable {
        case word(String), score(Double)
        init(from d: Decoder) throws {
            let c = try d.singleValueContainer()
            if let s = try? c.decode(String.self) { self = .word(s) } else { self = .score(try c.decode(Double.self)) }
        }
        var word: String? { if case .word(let w) = self { return w }; return nil }
        var score: Double? { if case .score(let s) = self { return s }; return nil }
    }
    struct File: Decodable {
        var file: String
        var format: String
        var member: String?
        var expect: String
        var vocab_size: Int?
        var error_hint: String?
        var error_line: Int?
        var error_entry: Int?
        var queries: [String: [[Neighbour]]]?
        var analogies: [Analogy]?
        var vectors: [String: [Double]]?
    }
    var files: [File]

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fixtures/embeddings")
    static let shared: EmbeddingManifest = try! JSONDecoder().decode(EmbeddingManifest.self, from: Data(contentsOf: directory.appendingPathComponent("manifest.json")))
    static func path(_ f: String) -> String { directory.appendingPathComponent(f).path }

    static func format(_ f: String) -> EmbeddingFormat {
        if f.hasPrefix("word2vec-bin") { return .word2vecBinary }
        if f.hasPrefix("glove") { return .gloveText }
        return .word2vecText
    }
    static func id(_ f: File) -> String { f.file + (f.member.map { ":\($0)" } ?? "") }
}

@Suite struct EmbeddingParityTests {
    func load(_ f: EmbeddingManifest.File) throws -> EmbeddingIndex {
        let model = try EmbeddingImporter.load(path: EmbeddingManifest.path(f.file), format: EmbeddingManifest.format(f.format), member: f.member)
        // Through the native format, as users get it.
        let bytes = try ZooWriter.encode(model)
        return try EmbeddingIndex(file: try ZooFile(bytes: bytes))
    }

    /// Every file in every format: same neighbours in the same order as
    /// gensim, cosines within 1e-5, vectors within 1e-6.
    @Test(arguments: EmbeddingManifest.shared.files.filter { $0.expect == "ok" }.map(EmbeddingManifest.id))
    func matchesGensim(_ id: String) throws {
        let f = EmbeddingManifest.shared.files.first { EmbeddingManifest.id($0) == id }!
        let index = try load(f)
        #expect(index.count == f.vocab_size, "\(id): vocabulary")
        for (word, expected) in f.queries ?? [:] {
            let got = try index.mostSimilar(positive: [word], k: expected.count)
            #expect(got.map(\.word) == expected.map { $0[0].word! }, "\(id): neighbours of \(word)")
            for (g, e) in zip(got, expected) { #expect(abs(Double(g.cosine) - e[1].score!) < 1e-5, "\(id): \(word) → \(g.word)") }
        }
        for a in f.analogies ?? [] {
            let got = try index.mostSimilar(positive: a.positive, negative: a.negative, k: a.result.count)
            #expect(got.map(\.word) == a.result.map { $0[0].word! }, "\(id): analogy \(a.positive) − \(a.negative)")
            for (g, e) in zip(got, a.result) { #expect(abs(Double(g.cosine) - e[1].score!) < 1e-5) }
        }
        for (word, v) in f.vectors ?? [:] {
            let got = try index.vector(word)
            #expect(got.count == v.count && zip(got, v).allSatisfy { abs(Double($0) - $1) < 1e-6 }, "\(id): vector of \(word)")
        }
    }

    @Test(arguments: EmbeddingManifest.shared.files.filter { $0.expect == "error" }.map(\.file))
    func damagedFileNamesTheLineOrEntry(_ file: String) throws {
        let f = EmbeddingManifest.shared.files.first { $0.file == file }!
        do {
            _ = try EmbeddingImporter.load(path: EmbeddingManifest.path(f.file), format: EmbeddingManifest.format(f.format))
            Issue.record("\(file) was accepted")
        } catch let e as EmbeddingError {
            // The line or entry the generator recorded, against the typed error's own fields.
            switch e {
            case let .ragged(_, line, _, _):
                #expect(line == f.error_line, "\(file): \(e.localizedDescription)")
            case let .countMismatch(_, _, _, line):
                #expect(line == f.error_line, "\(file): \(e.localizedDescription)")
            case let .truncated(_, _, detail):
                let entry = try #require(f.error_entry, "\(file): manifest names no entry")
                #expect(detail.hasSuffix("word \(entry)"), "\(file): \(e.localizedDescription)")
            default:
                Issue.record("\(file): unexpected error \(e.localizedDescription) (hint: \(f.error_hint ?? ""))")
            }
        }
    }

    @Test func nonUTF8BytesAreDroppedLikeGensimIgnore() throws {
        let index = try load(EmbeddingManifest.shared.files.first { $0.file == "quirk_nonutf8.bin" }!)
        #expect(try index.row("caf") >= 0)
    }

    @Test func wordsWithSpacesKeepThemAndTheLastFieldsAreTheVector() throws {
        let index = try load(EmbeddingManifest.shared.files.first { $0.file == "quirk_spaces.txt" }!)
        for w in ["new york", "los angeles", "at&t corp"] { #expect(try index.row(w) >= 0, "\(w)") }
    }

    @Test func duplicateWordsKeepTheFirstVector() throws {
        let f = EmbeddingManifest.shared.files.first { $0.file == "quirk_duplicates.txt" }!
        let index = try load(f)
        #expect(index.count == f.vocab_size)
        let queen = try index.vector("queen")
        let expected = try #require(f.vectors?["queen"])
        #expect(zip(queen, expected).allSatisfy { abs(Double($0) - $1) < 1e-6 })
    }

    /// --f16 stores the matrix as float16, from the mapped path (.bin) and the
    /// streaming one (.bin.gz); gensim's vectors come back within half precision.
    @Test(arguments: ["w2v.bin", "w2v.bin.gz"])
    func halfPrecisionKeepsGensimVectorsToFloat16Accuracy(_ file: String) throws {
        let f = EmbeddingManifest.shared.files.first { $0.file == file }!
        let model = try EmbeddingImporter.load(path: EmbeddingManifest.path(file), half: true)
        #expect(model.tensor(named: "embedding.matrix")?.dtype == .f16)
        let index = try EmbeddingIndex(model: model)
        for (word, v) in try #require(f.vectors) {
            let got = try index.vector(word)
            #expect(got.count == v.count && zip(got, v).allSatisfy { abs(Double($0) - $1) <= 1e-3 * max(1, abs($1)) }, "\(file): \(word)")
        }
    }

    @Test func zipWithSeveralMembersAsksForOne() {
        #expect(throws: EmbeddingError.self) { _ = try EmbeddingImporter.load(path: EmbeddingManifest.path("glove.zip")) }
    }

    @Test func unknownWordIsATypedError() throws {
        let index = try load(EmbeddingManifest.shared.files.first { $0.file == "w2v.bin" }!)
        #expect(throws: EmbeddingError.unknownWord(word: "zzzzqqq")) { _ = try index.mostSimilar(positive: ["zzzzqqq"]) }
    }
}
