import Foundation
import ZooCore

/// The file formats word vectors are published in.
public enum EmbeddingFormat: String, Sendable, CaseIterable {
    /// word2vec binary: "V D\n", then per word: word, space, D little-endian float32.
    case word2vecBinary = "word2vec-bin"
    /// word2vec / fastText text: "V D" header, then "word v1 … vD" per line.
    case word2vecText = "word2vec-txt"
    /// GloVe text: no header; the last D fields of a line are the vector, so words may contain spaces.
    case gloveText = "glove-txt"

    /// The format a file name implies ("auto" text detection happens at read time).
    public static func guess(_ path: String) -> EmbeddingFormat? {
        let l = path.lowercased()
        if l.hasSuffix(".bin") || l.hasSuffix(".bin.gz") { return .word2vecBinary }
        if l.hasSuffix(".vec") || l.hasSuffix(".vec.gz") { return .word2vecText }
        if l.hasSuffix(".txt") || l.hasSuffix(".txt.gz") || l.hasSuffix(".zip") { return .gloveText }
        return nil
    }
}

/// How an embedding file's bytes are packed around the format's bytes.
public enum EmbeddingContainer: String, Sendable {
    case plain, gzip, zip

    /// From the file name (`.gz`, `.zip`); callers that sniffed the content pass it explicitly.
    public static func guess(_ path: String) -> EmbeddingContainer {
        let lower = path.lowercased()
        return lower.hasSuffix(".gz") ? .gzip : lower.hasSuffix(".zip") ? .zip : .plain
    }
}

/// Accumulates words and vectors; the first occurrence of a duplicate word wins
/// (as gensim keeps it), later ones are counted and dropped.
final class EmbeddingBuilder {
    let path: String
    private(set) var dim = 0
    private(set) var rows = 0
    private var capacity = 0
    private(set) var matrix: UnsafeMutablePointer<Float>?
    private var vocabulary = VocabularyBuilder(expected: 0)
    private(set) var duplicates = 0

    init(path: String) { self.path = path }
    deinit { matrix?.deallocate() }

    /// Rows reserved up front at most: 64 MiB of vectors and 2^20 words. A header may declare
    /// any count (a 24-byte file can claim 50 million 65,536-wide rows), so
    /// memory follows the rows that actually arrive, doubling as they do.
    static let initialReservationBytes = 64 << 20

    func start(dim: Int, expectedRows: Int) throws {
        self.dim = dim
        let rows = min(max(expectedRows, 1024), max(1024, min(1 << 20, Self.initialReservationBytes / (4 * max(dim, 1)))))
        vocabulary = VocabularyBuilder(expected: rows)
        try reserve(rows)
    }

    /// Grows the matrix to `n` rows; past physical memory it is a typed error,
    /// not an allocation failure that kills the process.
    private func reserve(_ n: Int) throws {
        guard n > capacity else { return }
        let (count, overflow) = n.multipliedReportingOverflow(by: max(dim, 1))
        let physical = Int(clamping: ProcessInfo.processInfo.physicalMemory)
        guard !overflow, count <= physical / 4 else {
            throw EmbeddingError.tooLarge(path: path, rows: n, dim: dim, limit: physical)
        }
        let new = UnsafeMutablePointer<Float>.allocate(capacity: count)
        if let old = matrix {
            new.update(from: old, count: rows * dim)
            old.deallocate()
        }
        matrix = new
        capacity = n
    }

    /// The row the next word's vector goes to (the binary parser copies bytes straight in).
    func nextRow() throws -> UnsafeMutablePointer<Float> {
        if rows == capacity { try reserve(capacity * 2) }
        return matrix! + rows * dim
    }

    /// Commits the vector already written to `nextRow()` under `word`; a duplicate is dropped.
    func commit(_ word: String) {
        var word = word
        let new = word.withUTF8 { vocabulary.add(UnsafeRawBufferPointer($0)) }
        if new { rows += 1 } else { duplicates += 1 }
    }

    func model(format: EmbeddingFormat, name: String, half: Bool) throws -> Model {
        guard rows > 0 else { throw EmbeddingError.empty(path: path) }
        let n = rows * dim
        let matrixTensor: Tensor
        if half {
            matrixTensor = try Tensor(dtype: .f16, shape: [rows, dim], storage: halfStorage(UnsafeBufferPointer(start: matrix, count: n)))
        } else {
            // Hand the buffer over instead of copying gigabytes.
            let storage = TensorStorage(adopting: UnsafeMutableRawPointer(matrix!), count: n * 4)
            matrix = nil
            capacity = 0
            matrixTensor = try Tensor(dtype: .f32, shape: [rows, dim], storage: storage)
        }
        return Model(card: EmbeddingCard.make(format: format, name: name, path: path, dim: dim, rows: rows, duplicates: duplicates, half: half),
                     graph: Graph(), tensors: [
            ("embedding.matrix", matrixTensor),
            ("embedding.vocab", try Tensor(dtype: .bytes, shape: [vocabulary.bytes.count], bytes: vocabulary.bytes)),
            ("embedding.offsets", try Tensor(dtype: .i64, shape: [vocabulary.offsets.count],
                                             storage: vocabulary.offsets.withUnsafeBytes { TensorStorage(copying: $0) })),
        ])
    }
}

/// float32 values narrowed to float16 bits, written once into their storage.
func halfStorage(_ values: UnsafeBufferPointer<Float>) -> TensorStorage {
    TensorStorage(count: values.count * 2, zeroed: false) { out in
        let h = out.bindMemory(to: UInt16.self)
        for (i, v) in values.enumerated() { h[i] = Float16(v).bitPattern }
    }
}

/// The model card every embedding import writes.
enum EmbeddingCard {
    static func make(format: EmbeddingFormat, name: String, path: String, dim: Int, rows: Int, duplicates: Int, half: Bool) -> ModelCard {
        ModelCard(
            name: name, family: format == .gloveText ? "glove" : "word2vec", task: "word-embedding",
            source: .init(file: (path as NSString).lastPathComponent, format: format.rawValue),
            inputs: [], outputs: [],
            metadata: ["dimensions": String(dim), "vocabulary": String(rows), "normalisation": "none",
                       "duplicatesDropped": String(duplicates), "dtype": half ? "f16" : "f32"])
    }
}

/// UTF-8 decoding that drops invalid bytes, like Python's `errors="ignore"`
/// (gensim's `unicode_errors='ignore'`).
func decodeIgnoringErrors<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
    if bytes.allSatisfy({ $0 < 0x80 }) { return String(decoding: bytes, as: UTF8.self) }
    var out = String.UnicodeScalarView()
    var it = bytes.makeIterator()
    var decoder = UTF8()
    loop: while true {
        switch decoder.decode(&it) {
        case .scalarValue(let s): out.append(s)
        case .emptyInput: break loop
        case .error: continue
        }
    }
    return String(out)
}
