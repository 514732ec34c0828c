import Crypto
import Foundation
import Testing
import ZooCore
import ZooFormat
import ZooTestSupport
@testable import ZooEmbeddings

/// A plain word2vec binary is scanned in place from its mapping; a gzipped one
/// is parsed from a stream. Both must accept and reject exactly the same
/// bytes, with the same words, vectors and errors; these crafted files cover
/// every branch of the format's quirks.
@Suite struct BinaryReadersAgreeTests {
    struct Outcome: Equatable {
        var vocab: [UInt8] = []
        var offsets: [Int64] = []
        var matrix: [UInt8] = []
        var duplicates = 0
        var error: EmbeddingError?
    }

    static func vector(_ seed: UInt64, dim: Int) -> [UInt8] {
        // Bytes that include space and newline, which must not end a vector.
        var g = SplitMix64(seed: seed)
        return (0..<(dim * 4)).map { i in i % 5 == 0 ? 0x20 : i % 7 == 0 ? 0x0A : UInt8.random(in: 0...255, using: &g) }
    }

    static func entry(_ word: [UInt8], _ seed: UInt64, dim: Int = 3, after: [UInt8] = [0x0A]) -> [UInt8] {
        word + [0x20] + vector(seed, dim: dim) + after
    }

    static let cases: [(String, [UInt8])] = {
        let h = { (v: Int, d: Int) in Array("\(v) \(d)\n".utf8) }
        let w = { (s: String) in Array(s.utf8) }
        return [
            ("plain", h(3, 3) + entry(w("a"), 1) + entry(w("bb"), 2) + entry(w("ccc"), 3)),
            ("no newline between entries", h(2, 3) + entry(w("a"), 1, after: []) + entry(w("b"), 2, after: [])),
            ("CRLF after vectors", h(2, 3) + entry(w("a"), 1, after: [0x0D, 0x0A]) + entry(w("b"), 2, after: [0x0D, 0x0A])),
            ("duplicate keeps the first", h(3, 3) + entry(w("x"), 1) + entry(w("y"), 2) + entry(w("x"), 3)),
            ("trailing whitespace", h(1, 3) + entry(w("a"), 1) + [0x20, 0x0A, 0x0D, 0x0A]),
            ("data past the declared count", h(1, 3) + entry(w("a"), 1) + entry(w("b"), 2)),
            ("duplicate, then data past the declared count", h(2, 3) + entry(w("x"), 1) + entry(w("x"), 2) + w("junk")),
            ("duplicate, then trailing whitespace", h(2, 3) + entry(w("x"), 1) + entry(w("x"), 2, after: [0x20, 0x0A])),
            ("fewer entries than declared", h(3, 3) + entry(w("a"), 1) + entry(w("b"), 2)),
            ("ends inside a vector", h(2, 3) + entry(w("a"), 1) + w("b ") + [1, 2, 3]),
            ("ends inside a word", h(2, 3) + entry(w("a"), 1) + w("bcd")),
            ("word longer than 4096 bytes", h(1, 3) + Array(repeating: 0x61, count: 5000) + entry(w(""), 1)),
            ("word of exactly 4096 bytes", h(1, 3) + entry(Array(repeating: 0x61, count: 4096), 1)),
            ("non-UTF-8 bytes dropped", h(2, 3) + entry([0x63, 0x61, 0x66, 0xE9], 1) + entry(w("d"), 2)),
            ("words equal after dropping bytes", h(2, 3) + entry([0x63, 0xE9], 1) + entry([0x63, 0xFF], 2)),
            ("multi-byte UTF-8 kept", h(2, 3) + entry(w("café"), 1) + entry(w("naïve"), 2)),
            ("canonically equal spellings stay two words", h(2, 3) + entry(w("caf\u{E9}"), 1) + entry(w("cafe\u{301}"), 2)),
            ("empty word", h(1, 3) + entry([], 1)),
            ("header without newline", w("3 300")),
            ("header not numbers", w("three 300\n") + entry(w("a"), 1)),
            ("header too long", Array(repeating: 0x20, count: 300) + w("1 3\n")),
            ("zero dimensions", h(1, 0) + w("a \n")),
            ("declares no words", h(0, 3)),
            ("empty file", []),
        ]
    }()

    func scanned(_ bytes: [UInt8], in dir: TempDir) -> Outcome {
        let url = dir.file("f.bin")
        try! Data(bytes).write(to: url)
        do {
            let m = try EmbeddingImporter.loadMapped(path: url.path, name: "t", half: false)
            return outcome(m)
        } catch let e as EmbeddingError {
            return Outcome(error: relabel(e, url.path))
        } catch {
            Issue.record("unexpected \(error)")
            return Outcome()
        }
    }

    func streamed(_ bytes: [UInt8], chunk: Int, path: String) -> Outcome {
        let builder = EmbeddingBuilder(path: path)
        let parser = BinaryParser(builder: builder, path: path)
        do {
            var i = 0
            while i < bytes.count {
                let j = min(bytes.count, i + chunk)
                try bytes[i..<j].withUnsafeBytes { try parser.feed($0) }
                i = j
            }
            try parser.finish()
            return outcome(try builder.model(format: .word2vecBinary, name: "t", half: false))
        } catch let e as EmbeddingError {
            return Outcome(error: relabel(e, path))
        } catch {
            Issue.record("unexpected \(error)")
            return Outcome()
        }
    }

    func outcome(_ m: Model) -> Outcome {
        Outcome(vocab: Array(m.tensor(named: "embedding.vocab")!.bytes),
                offsets: m.tensor(named: "embedding.offsets")!.scalars(as: Int64.self),
                matrix: Array(m.tensor(named: "embedding.matrix")!.bytes),
                duplicates: Int(m.card.metadata?["duplicatesDropped"] ?? "") ?? -1)
    }

    /// Errors name the file; compare them with one placeholder path.
    func relabel(_ e: EmbeddingError, _ path: String) -> EmbeddingError {
        switch e {
        case let .badHeader(_, d): return .badHeader(path: "f", detail: d)
        case let .countMismatch(_, d, f, l): return .countMismatch(path: "f", declared: d, found: f, line: l)
        case let .truncated(_, o, d): return .truncated(path: "f", offset: o, detail: d)
        case .empty: return .empty(path: "f")
        default: return e
        }
    }

    @Test(arguments: cases.map(\.0))
    func mappedScanAndStreamingParserGiveTheSameResult(_ name: String) throws {
        let bytes = Self.cases.first { $0.0 == name }!.1
        let dir = try TempDir()
        let mapped = scanned(bytes, in: dir)
        for chunk in [1, 5, 4096, max(1, bytes.count)] {
            #expect(streamed(bytes, chunk: chunk, path: dir.file("f.bin").path) == mapped, "\(name), chunks of \(chunk)")
        }
    }

    @Test func eachCaseIsAcceptedOrRejectedAsTheFormatSays() throws {
        let dir = try TempDir()
        func kind(_ name: String) -> String {
            let o = scanned(Self.cases.first { $0.0 == name }!.1, in: dir)
            switch o.error {
            case nil: return "ok \(o.offsets.count - 1)"
            case .badHeader?: return "header"
            case .countMismatch?: return "count"
            case .truncated?: return "truncated"
            case .empty?: return "empty"
            default: return "other"
            }
        }
        let expected = [
            "plain": "ok 3", "no newline between entries": "ok 2", "CRLF after vectors": "ok 2",
            "duplicate keeps the first": "ok 2", "trailing whitespace": "ok 1", "data past the declared count": "count",
            "fewer entries than declared": "count",
            "duplicate, then data past the declared count": "count", "duplicate, then trailing whitespace": "ok 1", "ends inside a vector": "truncated", "ends inside a word": "truncated",
            "word longer than 4096 bytes": "truncated", "word of exactly 4096 bytes": "ok 1", "non-UTF-8 bytes dropped": "ok 2",
            "words equal after dropping bytes": "ok 1", "multi-byte UTF-8 kept": "ok 2", "empty word": "ok 1",
            "header without newline": "header", "header not numbers": "header", "header too long": "header",
            "zero dimensions": "header", "declares no words": "empty", "empty file": "header",
        ]
        for (name, want) in expected { #expect(kind(name) == want, "\(name)") }
    }

    @Test func duplicateWordsAreCountedAndTheFirstVectorKept() throws {
        let dir = try TempDir()
        let bytes = Self.cases.first { $0.0 == "duplicate keeps the first" }!.1
        let o = scanned(bytes, in: dir)
        #expect(o.duplicates == 1)
        #expect(o.vocab == Array("xy".utf8))
        #expect(o.matrix == Self.vector(1, dim: 3) + Self.vector(2, dim: 3))
    }

    @Test func canonicallyEqualSpellingsAreTwoWordsAsInPython() throws {
        let dir = try TempDir()
        let o = scanned(Self.cases.first { $0.0 == "canonically equal spellings stay two words" }!.1, in: dir)
        #expect(o.error == nil)
        #expect(o.offsets.count == 3)
    }
}

/// The conversion path (rows gathered from the mapping, matrix hashed behind
/// the scan) writes the same bytes as writing the in-memory model.
@Suite struct PreparedEmbeddingTests {
    @Test(arguments: ["w2v.bin", "quirk_nonutf8.bin"])
    func preparedPlainBinaryWritesTheSameFileAsTheLoadedModel(_ file: String) throws {
        let dir = try TempDir()
        let path = EmbeddingManifest.path(file)
        let prepared = try EmbeddingImporter.prepare(path: path, mapped: try MappedFile(path: path))
        #expect(prepared.items[0].payload.precomputedSHA256 != nil, "the fast path was taken")
        let a = dir.file("prepared.zoo"), b = dir.file("loaded.zoo")
        let ra = try ZooWriter.write(card: prepared.card, graph: Graph(), items: prepared.items, to: a)
        let rb = try ZooWriter.write(try EmbeddingImporter.load(path: path), to: b)
        #expect(ra.digest == rb.digest)
        #expect(try Data(contentsOf: a) == Data(contentsOf: b))
    }

    @Test func rowHasherDigestsThePublishedRowsInOrderAndFailsOnceCancelled() throws {
        let path = EmbeddingManifest.path("w2v.bin")
        let mapped = try MappedFile(path: path)
        let scan = try MappedWord2Vec.scan(mapped)
        let rowBytes = scan.dim * 4
        let hasher = RowDigest(file: mapped, starts: scan.rowStarts, rowBytes: rowBytes)
        hasher.publish(scan.rowStarts.count / 2)
        hasher.finish(scan.rowStarts.count)
        var reference = SHA256()
        for r in 0..<scan.rowStarts.count {
            reference.update(bufferPointer: UnsafeRawBufferPointer(rebasing: mapped.bytes[scan.rowStarts[r]..<(scan.rowStarts[r] + rowBytes)]))
        }
        #expect(try hasher.value() == reference.finalize().map { String(format: "%02x", $0) }.joined())

        let cancelled = RowDigest(file: mapped, starts: scan.rowStarts, rowBytes: rowBytes)
        cancelled.cancel()
        #expect(throws: EmbeddingError.self) { _ = try cancelled.value() }
    }
}

/// gzip input: several members and a cut-off file.
@Suite struct GzipSourceTests {
    func gzip(_ data: Data, to url: URL) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/gzip")
        p.arguments = ["-c", "-n"]
        let input = Pipe(), output = Pipe()
        p.standardInput = input
        p.standardOutput = output
        try p.run()
        input.fileHandleForWriting.write(data)
        try input.fileHandleForWriting.close()
        let gz = output.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        try gz.write(to: url)
    }

    func inflated(_ path: String, chunk: Int) throws -> Data {
        var out = Data()
        try ByteSources.gzip(path, chunk: chunk) { out.append(contentsOf: $0) }
        return out
    }

    @Test func concatenatedMembersAreAllReadWhereverAReadChunkEnds() throws {
        let dir = try TempDir()
        let text = try Data(contentsOf: URL(fileURLWithPath: EmbeddingManifest.path("glove.txt")))
        let half = text.count / 2
        let a = dir.file("a.gz"), b = dir.file("b.gz"), both = dir.file("both.txt.gz")
        try gzip(text.prefix(half), to: a)
        try gzip(text.suffix(from: half), to: b)
        let first = try Data(contentsOf: a)
        try (first + Data(contentsOf: b)).write(to: both)
        // A read chunk that ends exactly where the first member ends, and others.
        for chunk in [first.count, first.count - 1, first.count + 1, 4 << 20] {
            #expect(try inflated(both.path, chunk: chunk) == text, "read chunk \(chunk)")
        }
    }

    @Test func fileCutInsideAMemberIsAGzipError() throws {
        let dir = try TempDir()
        let text = try Data(contentsOf: URL(fileURLWithPath: EmbeddingManifest.path("glove.txt")))
        let whole = dir.file("whole.gz"), cut = dir.file("cut.txt.gz")
        try gzip(text, to: whole)
        let gz = try Data(contentsOf: whole)
        try gz.prefix(gz.count * 2 / 3).write(to: cut)
        #expect(throws: EmbeddingError.self) { _ = try inflated(cut.path, chunk: 4 << 20) }
    }
}

/// Headers and streams that claim far more than they hold (issue #18): each a
/// typed error with memory that follows the bytes present, not the claim.
@Suite struct EmbeddingClaimTests {
    /// A 24-byte file declaring 50 million rows of 65,536 floats (13 TB) used to
    /// reserve them up front and abort in the allocator.
    @Test(arguments: ["50000000 65536\nthe 0.1\n", "50000000 300\nthe 0.1\n", "999999999999 65536\n"])
    func aHeaderDeclaringTerabytesIsATypedError(_ text: String) throws {
        let dir = try TempDir()
        for (name, format) in [("claim.txt", EmbeddingFormat.word2vecText), ("claim.bin", .word2vecBinary)] {
            let f = dir.file(name)
            try Data(text.utf8).write(to: f)
            #expect(throws: EmbeddingError.self, "\(name)") { _ = try EmbeddingImporter.load(path: f.path, format: format, container: nil) }
        }
    }

    /// 40 MB without a newline (a gzip bomb of zeros inflates to this): refused at
    /// the line limit instead of buffering the whole stream.
    @Test func aLineWithoutANewlineStopsAtTheLineLimit() throws {
        let dir = try TempDir()
        let f = dir.file("noline.txt")
        try Data(count: 40 << 20).write(to: f)
        do {
            _ = try EmbeddingImporter.load(path: f.path, format: .gloveText, container: nil)
            Issue.record("accepted")
        } catch let EmbeddingError.lineTooLong(_, line, limit) {
            #expect(line == 1 && limit == 16 << 20)
        }
    }
}
