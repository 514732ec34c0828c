import Foundation

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
        case let .unknownWord(w): return "'\(w)' is not in the vocabulary"
        case let .notAnEmbedding(p): return "\(p): not an embedding model (no embedding.matrix tensor); convert a word2vec/GloVe file with 'zoo convert'"
        }
    }
}
