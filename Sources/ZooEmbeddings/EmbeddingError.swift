import Foundation
import ZooCore

/// Why an embedding file could not be read or queried; cases carry the file and line or byte offset.
public enum EmbeddingError: Error, LocalizedError, Equatable {
    case io(path: String, detail: String)
    case badHeader(path: String, detail: String)
    case ragged(path: String, line: Int, found: Int, expected: Int)
    case badNumber(path: String, line: Int, field: String)
    /// `line`: where the next word was expected (text files), when the file holds too few.
    case countMismatch(path: String, declared: Int, found: Int, line: Int?)
    case truncated(path: String, offset: Int, detail: String)
    case gzip(path: String, detail: String)
    case archive(path: String, detail: String)
    case empty(path: String)
    /// A text line longer than the reader accepts (no newline for megabytes).
    case lineTooLong(path: String, line: Int, limit: Int)
    /// More rows arrived than physical memory can hold.
    case tooLarge(path: String, rows: Int, dim: Int, limit: Int)
    case unknownWord(word: String)
    case notAnEmbedding(path: String)

    public var errorDescription: String? {
        switch self {
        case let .io(p, d): return "\(p): \(d)"
        case let .badHeader(p, d): return "\(p): line 1: bad header: \(d)"
        case let .ragged(p, l, f, e): return "\(p): line \(l): \(f) numbers where \(e) were expected (ragged row); the file is damaged or not a \(e)-dimensional embedding"
        case let .badNumber(p, l, f): return "\(p): line \(l): '\(f)' is not a number"
        case let .countMismatch(p, d, f, l):
            return "\(p): \(l.map { "line \($0): " } ?? "")the header declares \(d) words but the file holds \(f); it is truncated or its header is wrong"
        case let .truncated(p, o, d): return "\(p): byte \(o): truncated: \(d); re-download the file"
        case let .gzip(p, d): return "\(p): gzip data is damaged: \(d)"
        case let .archive(p, d): return "\(p): \(d)"
        case let .empty(p): return "\(p): no vectors found"
        case let .lineTooLong(p, l, m): return "\(p): line \(l) is longer than \(m >> 20) MiB without a newline; a word-vector line holds one word and its numbers, so the file is not word2vec/GloVe text or is damaged"
        case let .tooLarge(p, r, d, m): return "\(p): \(r) rows of \(d) floats do not fit in this machine's \(m >> 30) GiB of memory; the file is larger than zoo can hold here, or its rows are not what its header says"
        case let .unknownWord(w): return "'\(MessageText.clip(w))' is not in the vocabulary"
        case let .notAnEmbedding(p): return "\(p): not an embedding model (no embedding.matrix tensor); convert a word2vec/GloVe file with 'zoo convert'"
        }
    }
}
