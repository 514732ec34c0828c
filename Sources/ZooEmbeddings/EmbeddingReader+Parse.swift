import Foundation
import ZooCore

/// Imports word2vec / fastText / GloVe files into the `.zoo` embedding layout.
public enum EmbeddingImporter {
    /// Reads `path` (plain, gzip, or a zip member) in `format`; both default to what the file name says.
    public static func load(path: String, format: EmbeddingFormat? = nil, container: EmbeddingContainer? = nil, member: String? = nil,
                            name: String? = nil, half: Bool = false) throws -> Model {
        guard let fmt = format ?? EmbeddingFormat.guess(path) else {
            throw EmbeddingError.io(path: path, detail: "unknown embedding format; expected .bin, .bin.gz, .vec, .vec.gz, .txt, .txt.gz or .zip")
        }
        let packing = container ?? EmbeddingContainer.guess(path)
        if fmt == .word2vecBinary && packing == .plain {
            return try loadMapped(path: path, name: name, half: half)
        }
        let builder = EmbeddingBuilder(path: path)
        let feed: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void
        switch packing {
        case .gzip: feed = { try ByteSources.gzip(path, $0) }
        case .zip: feed = { try ByteSources.zipMember(path, member: member, $0) }
        case .plain: feed = { try ByteSources.plain(path, $0) }
        }
        switch fmt {
        case .word2vecBinary:
            let parser = BinaryParser(builder: builder, path: path)
            try feed { try parser.feed($0) }
            try parser.finish()
        case .word2vecText, .gloveText:
            let parser = TextParser(builder: builder, path: path, header: fmt == .word2vecText ? .required : .detect)
            try feed { try parser.feed($0) }
            try parser.finish()
        }
        var model = try builder.model(format: fmt, name: name ?? ModelFileName.stem(path), half: half)
        model.card.source?.file = (path as NSString).lastPathComponent
        if let m = member { model.card.metadata?["member"] = m }
        return model
    }
}

/// word2vec binary, fed in chunks of any size (compressed files; plain files
/// are scanned in place by ``MappedWord2Vec``, which accepts the same input).
final class BinaryParser {
    let builder: EmbeddingBuilder
    let path: String
    private var header: [UInt8] = []
    private var declared = 0
    private var inHeader = true
    private var word: [UInt8] = []
    private var filled = 0
    private var inVector = false
    private var offset = 0

    init(builder: EmbeddingBuilder, path: String) {
        self.builder = builder
        self.path = path
    }

    func feed(_ chunk: UnsafeRawBufferPointer) throws {
        var i = 0
        let n = chunk.count
        while i < n {
            if inHeader {
                let b = chunk[i]
                i += 1
                offset += 1
                if b == 0x0A {
                    let (v, d) = try header.withUnsafeBytes { try Self.header($0, path: path) }
                    declared = v
                    try builder.start(dim: d, expectedRows: v)
                    inHeader = false
                } else {
                    header.append(b)
                    if header.count > 256 { throw EmbeddingError.badHeader(path: path, detail: "no newline in the first 256 bytes; not a word2vec binary file") }
                }
                continue
            }
            if !inVector && word.isEmpty && builder.rows + builder.duplicates >= declared {
                // Past the declared count: only trailing whitespace is allowed.
                if chunk[i] == 0x0A || chunk[i] == 0x20 || chunk[i] == 0x0D { i += 1; offset += 1; continue }
                throw EmbeddingError.countMismatch(path: path, declared: declared, found: builder.rows + builder.duplicates + 1, line: nil)
            }
            if !inVector {
                let b = chunk[i]
                i += 1
                offset += 1
                if b == 0x20 {
                    inVector = true
                    filled = 0
                } else if !(word.isEmpty && (b == 0x0A || b == 0x0D)) {
                    word.append(b)
                    if word.count > 4096 { throw EmbeddingError.truncated(path: path, offset: offset, detail: "a word longer than 4096 bytes; the file is not word2vec binary or is damaged") }
                }
                continue
            }
            // Vector bytes go straight into the matrix row (little-endian host).
            let need = builder.dim * 4 - filled
            let take = min(need, n - i)
            let row = UnsafeMutableRawPointer(try builder.nextRow())
            (row + filled).copyMemory(from: chunk.baseAddress! + i, byteCount: take)
            filled += take
            i += take
            offset += take
            if filled == builder.dim * 4 {
                builder.commit(decodeIgnoringErrors(word))
                word.removeAll(keepingCapacity: true)
                inVector = false
            }
        }
    }

    /// "V D" of a word2vec binary's first line (without its newline).
    static func header(_ line: UnsafeRawBufferPointer, path: String) throws -> (vocabulary: Int, dimensions: Int) {
        let fields = String(decoding: line, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\r" || $0 == "\t" })
        guard fields.count >= 2, let v = Int(fields[0]), let d = Int(fields[1]), v >= 0, d > 0, d <= 1 << 16 else {
            throw EmbeddingError.badHeader(path: path, detail: "expected 'VOCAB_SIZE DIMENSIONS', found '\(String(decoding: line.prefix(60), as: UTF8.self))'")
        }
        return (v, d)
    }

    func finish() throws {
        if inHeader { throw EmbeddingError.badHeader(path: path, detail: "the file ends inside the header") }
        if inVector || !word.isEmpty { throw EmbeddingError.truncated(path: path, offset: offset, detail: "the file ends inside the vector of word \(builder.rows + builder.duplicates + 1)") }
        let total = builder.rows + builder.duplicates
        guard total == declared else { throw EmbeddingError.countMismatch(path: path, declared: declared, found: total, line: nil) }
    }
}

/// word2vec/fastText text (with header) and GloVe text (without), fed in chunks.
final class TextParser {
    enum Header { case required, detect }
    let builder: EmbeddingBuilder
    let path: String
    let header: Header
    private var carry: [UInt8] = []
    private var line = 0
    private var declared: Int?
    private var started = false
    /// Per-line buffers, reused so a line allocates nothing.
    private var fields: [Range<Int>] = []
    private var scratch = [CChar](repeating: 0, count: 64)

    init(builder: EmbeddingBuilder, path: String, header: Header) {
        self.builder = builder
        self.path = path
        self.header = header
    }

    func feed(_ chunk: UnsafeRawBufferPointer) throws {
        var start = 0
        for i in 0..<chunk.count where chunk[i] == 0x0A {
            if carry.isEmpty {
                try handle(UnsafeRawBufferPointer(rebasing: chunk[start..<i]))
            } else {
                carry.append(contentsOf: chunk[start..<i])
                try carry.withUnsafeBytes { try handle($0) }
                carry.removeAll(keepingCapacity: true)
            }
            start = i + 1
        }
        carry.append(contentsOf: chunk[start...])
        if carry.count > Self.maxLineBytes { throw EmbeddingError.lineTooLong(path: path, line: line + 1, limit: Self.maxLineBytes) }
    }

    /// Longest text line accepted: a 65,536-dimensional row of 17-digit numbers
    /// is about 1.2 MB; a stream without newlines (a gzip bomb of zeros) stops here.
    static let maxLineBytes = 16 << 20

    func finish() throws {
        if !carry.isEmpty { try carry.withUnsafeBytes { try handle($0) } }
        if let d = declared, d != builder.rows + builder.duplicates {
            let found = builder.rows + builder.duplicates
            throw EmbeddingError.countMismatch(path: path, declared: d, found: found, line: found < d ? found + 2 : nil)
        }
    }

    private func handle(_ raw: UnsafeRawBufferPointer) throws {
        line += 1
        var end = raw.count
        while end > 0 && (raw[end - 1] == 0x0D || raw[end - 1] == 0x20 || raw[end - 1] == 0x09) { end -= 1 }
        guard end > 0 else { return }
        let bytes = UnsafeRawBufferPointer(rebasing: raw[0..<end])
        // Field boundaries, from the end (the word may contain spaces).
        fields.removeAll(keepingCapacity: true)
        var i = end
        while i > 0 {
            var j = i
            while j > 0 && bytes[j - 1] != 0x20 && bytes[j - 1] != 0x09 { j -= 1 }
            fields.append(j..<i)
            i = j
            while i > 0 && (bytes[i - 1] == 0x20 || bytes[i - 1] == 0x09) { i -= 1 }
            if started && fields.count == builder.dim { break }
        }
        if !started {
            started = true
            let all = fields.reversed().map { String(decoding: bytes[$0], as: UTF8.self) }
            if all.count == 2, let v = Int(all[0]), let d = Int(all[1]) {
                guard v >= 0, d > 0, d <= 1 << 16 else { throw EmbeddingError.badHeader(path: path, detail: "'\(MessageText.clip(all.joined(separator: " "), 100))'") }
                declared = v
                try builder.start(dim: d, expectedRows: v)
                return
            }
            if header == .required { throw EmbeddingError.badHeader(path: path, detail: "expected 'VOCAB_SIZE DIMENSIONS', found '\(all.prefix(3).joined(separator: " "))…'") }
            guard all.count >= 2 else { throw EmbeddingError.ragged(path: path, line: line, found: all.count - 1, expected: 1) }
            // GloVe: no header; the first line fixes D, then is read as data.
            try builder.start(dim: all.count - 1, expectedRows: 65_536)
            line -= 1
            try handle(raw)
            return
        }
        let d = builder.dim
        guard fields.count == d, i > 0 else {
            throw EmbeddingError.ragged(path: path, line: line, found: i > 0 ? fields.count : fields.count - 1, expected: d)
        }
        // Everything before the last D fields is the word; the numbers go
        // straight into the matrix row (fields are collected last first).
        let row = try builder.nextRow()
        for (k, r) in fields.reversed().enumerated() {
            guard r.count < 63 else { throw EmbeddingError.badNumber(path: path, line: line, field: String(decoding: bytes[r].prefix(20), as: UTF8.self)) }
            let parsed: Float? = scratch.withUnsafeMutableBufferPointer { p in
                for (m, b) in bytes[r].enumerated() { p[m] = CChar(bitPattern: b) }
                p[r.count] = 0
                var endPtr: UnsafeMutablePointer<CChar>?
                let v = strtof(p.baseAddress!, &endPtr)
                return endPtr == p.baseAddress! + r.count ? v : nil
            }
            guard let v = parsed else { throw EmbeddingError.badNumber(path: path, line: line, field: String(decoding: bytes[r], as: UTF8.self)) }
            row[k] = v
        }
        builder.commit(decodeIgnoringErrors(bytes[0..<i]))
    }
}
