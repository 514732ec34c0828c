import Foundation
import Testing
import ZooCore
@testable import ZooFormat

/// The writer's two data paths (one job per small tensor; a hash job and a
/// write job for big ones) and gathered payloads all produce the bytes
/// `encode` lays out.
@Suite struct WriterPayloadTests {
    /// Rows of a matrix scattered through a buffer with junk between them, as
    /// word2vec rows sit between words.
    struct ScatteredRows: TensorPayload {
        let buffer: [UInt8]
        let starts: [Int]
        let rowBytes: Int
        var byteCount: Int { starts.count * rowBytes }
        func forEachPiece(in range: Range<Int>, _ body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
            try buffer.withUnsafeBytes { all in
                var at = range.lowerBound
                while at < range.upperBound {
                    let row = at / rowBytes, within = at % rowBytes
                    let take = min(rowBytes - within, range.upperBound - at)
                    try body(UnsafeRawBufferPointer(rebasing: all[(starts[row] + within)..<(starts[row] + within + take)]))
                    at += take
                }
            }
        }
    }

    /// Seeded bytes, eight per generator step (fast enough for tens of MB in debug builds).
    static func noise(_ n: Int, seed: UInt64) -> [UInt8] {
        var g = SplitMix64(seed: seed)
        return [UInt8](unsafeUninitializedCapacity: n) { buf, count in
            var i = 0
            while i < n {
                var word = g.next()
                for _ in 0..<min(8, n - i) { buf[i] = UInt8(truncatingIfNeeded: word); word >>= 8; i += 1 }
            }
            count = n
        }
    }

    @Test func tensorAboveTheSplitThresholdIsWrittenByParallelJobsByteForByte() throws {
        let dir = try TempDir()
        let big = ZooWriter.splitThreshold + 3 * (1 << 20) + 12_345
        let model = Model(card: ModelCard(name: "big", task: "test"), graph: Graph(), tensors: [
            ("small", try Tensor(dtype: .u8, shape: [1000], bytes: Samples.bytes(1000, seed: 1))),
            ("big", try Tensor(dtype: .u8, shape: [big], bytes: Self.noise(big, seed: 2))),
        ])
        for threads in [1, 2, 4] {
            let url = dir.file("big-\(threads).zoo")
            try ZooWriter.write(model, to: url, threads: threads)
            #expect(Array(try Data(contentsOf: url)) == (try ZooWriter.encode(model)), "threads \(threads)")
            #expect(try ZooFile(path: url.path).verify().intact)
        }
    }

    @Test func gatheredRowsWriteTheSameFileAsTheAssembledMatrix() throws {
        let dir = try TempDir()
        let rowBytes = 1200
        for rows in [1, 7, 40_000] {  // 40,000 rows = 48 MB: above the split threshold
            var buffer: [UInt8] = []
            var starts: [Int] = []
            var assembled: [UInt8] = []
            let noise = Self.noise(rows * rowBytes, seed: UInt64(rows))
            for r in 0..<rows {
                buffer += Array("word\(r) ".utf8)
                starts.append(buffer.count)
                let row = noise[(r * rowBytes)..<((r + 1) * rowBytes)]
                buffer += row
                assembled += row
            }
            let card = ModelCard(name: "rows", task: "test")
            let gathered = ZooWriter.Item(name: "m", dtype: .f32, shape: [rows, rowBytes / 4],
                                          payload: ScatteredRows(buffer: buffer, starts: starts, rowBytes: rowBytes))
            let url = dir.file("gathered-\(rows).zoo")
            let result = try ZooWriter.write(card: card, graph: Graph(), items: [gathered], to: url)
            let model = Model(card: card, graph: Graph(), tensors: [("m", try Tensor(dtype: .f32, shape: [rows, rowBytes / 4], bytes: assembled))])
            #expect(Array(try Data(contentsOf: url)) == (try ZooWriter.encode(model)), "\(rows) rows")
            #expect(result.digest == (try ZooFile(path: url.path)).digest)
        }
    }

    @Test func completedCardMayChangeTheHeaderLengthButNotMoveTheData() throws {
        let dir = try TempDir()
        let model = try Samples.tinyMLP()
        let ok = dir.file("ok.zoo")
        let written = try ZooWriter.write(model, to: ok, completeCard: { $0.license = "MIT" })
        let f = try ZooFile(path: ok.path)
        #expect(f.card.license == "MIT")
        #expect(f.digest == written.digest)
        #expect(f.verify().intact)
        let moved = dir.file("moved.zoo")
        #expect(throws: ZooFormatError.self) {
            try ZooWriter.write(model, to: moved, completeCard: { $0.license = String(repeating: "x", count: 8192) })
        }
        #expect(!FileManager.default.fileExists(atPath: moved.path))
    }

    @Test func payloadWhoseSizeDisagreesWithItsShapeIsRefusedAndNothingIsWritten() throws {
        let dir = try TempDir()
        let item = ZooWriter.Item(name: "m", dtype: .f32, shape: [2, 3],
                                  payload: ScatteredRows(buffer: Array(repeating: 0, count: 100), starts: [0], rowBytes: 20))
        let url = dir.file("bad.zoo")
        #expect(throws: ZooFormatError.self) {
            try ZooWriter.write(card: ModelCard(name: "bad", task: "test"), graph: Graph(), items: [item], to: url)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path).isEmpty)
    }
}
