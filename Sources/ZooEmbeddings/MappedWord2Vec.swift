import CZooSupport
import Crypto
import Foundation
import ZooCore
import ZooFormat

/// A plain (uncompressed) word2vec binary read in place from its memory map.
///
/// One sequential pass finds each word and where its vector starts; the
/// vectors themselves are never copied by the importer. When asked, a
/// ``RowDigest`` thread hashes the kept rows in order right behind the scan,
/// so the matrix's SHA-256 does not wait for the scan to end. The writer
/// gathers the rows from the mapping into the output with `pwritev`
/// (``SourceRows``), so importing costs about one read and one write of the
/// file plus the two SHA-256 passes (source and matrix) the format asks for.
///
/// Accepts exactly what the streaming ``BinaryParser`` accepts (used for
/// `.bin.gz`); both are tested on the same fixtures.
struct MappedWord2Vec {
    let dim: Int
    /// Byte offset in the file of each kept row's first float.
    let rowStarts: RowStarts
    let vocabulary: VocabularyBuilder
    let duplicates: Int
    /// SHA-256 of the kept rows, when the scan was asked to compute it.
    let digest: RowDigest?

    static func scan(_ file: MappedFile, hashRows: Bool = false) throws -> MappedWord2Vec {
        let path = file.path
        let bytes = file.bytes
        let n = bytes.count
        guard let base = bytes.baseAddress else { throw EmbeddingError.badHeader(path: path, detail: "the file ends inside the header") }
        // Header: "V D" up to the first newline, at most 256 bytes.
        let headerLimit = min(n, 257)
        guard let nl = memchr(base, 0x0A, headerLimit) else {
            if n < 257 { throw EmbeddingError.badHeader(path: path, detail: "the file ends inside the header") }
            throw EmbeddingError.badHeader(path: path, detail: "no newline in the first 256 bytes; not a word2vec binary file")
        }
        let headerEnd = UnsafeRawPointer(nl) - base
        let header = UnsafeRawBufferPointer(start: base, count: headerEnd)
        let (declared, dim) = try BinaryParser.header(header, path: path)
        let rowBytes = dim * 4
        var pos = headerEnd + 1
        // Every entry takes at least a space and D floats: a bound on the rows
        // that does not trust the header.
        let possible = min(declared, (n - pos) / (rowBytes + 1) + 1)
        // The table starts at most 2^24 words big and grows past that, so an
        // odd file (many tiny rows) cannot make it reserve several times its size.
        var vocabulary = VocabularyBuilder(expected: min(possible, 1 << 24))
        let starts = RowStarts(capacity: possible)
        let digest = hashRows ? RowDigest(file: file, starts: starts, rowBytes: rowBytes) : nil
        var ok = false
        defer { if !ok { digest?.cancel() } }
        var duplicates = 0
        var total = 0
        // Entries are located in batches, then inserted: hashing a batch and
        // prefetching its table slots first lets the slot loads (the table is
        // far bigger than the caches) overlap instead of stalling one by one.
        let batch = 32
        var wordStarts = [Int](repeating: 0, count: batch), wordEnds = [Int](repeating: 0, count: batch)
        var hashes = [Int](repeating: 0, count: batch)
        var decodedWords = [String?](repeating: nil, count: batch)
        while total < declared {
            var found = 0
            var ended = false
            while found < batch && total + found < declared {
                // word2vec writes a newline after each vector; skip it (and CR).
                while pos < n && (bytes[pos] == 0x0A || bytes[pos] == 0x0D) { pos += 1 }
                guard pos < n else { ended = true; break }
                let limit = min(n - pos, 4097)
                guard let sp = memchr(base + pos, 0x20, limit) else {
                    if limit == 4097 {
                        throw EmbeddingError.truncated(path: path, offset: pos + limit, detail: "a word longer than 4096 bytes; the file is not word2vec binary or is damaged")
                    }
                    throw EmbeddingError.truncated(path: path, offset: n, detail: "the file ends inside the vector of word \(total + found + 1)")
                }
                let wordEnd = UnsafeRawPointer(sp) - base
                // The next words sit about one entry apart: start loading the
                // one four entries ahead so the walk does not wait on each in turn.
                let ahead = wordEnd + 1 + rowBytes + 3 * (rowBytes + 1 + wordEnd - pos)
                if ahead + 64 < n {
                    czoo_prefetch(base + ahead)
                    czoo_prefetch(base + ahead + 64)
                }
                wordStarts[found] = pos
                wordEnds[found] = wordEnd
                pos = wordEnd + 1
                guard n - pos >= rowBytes else {
                    throw EmbeddingError.truncated(path: path, offset: n, detail: "the file ends inside the vector of word \(total + found + 1)")
                }
                pos += rowBytes
                found += 1
            }
            for k in 0..<found {
                let word = UnsafeRawBufferPointer(start: base + wordStarts[k], count: wordEnds[k] - wordStarts[k])
                if isPlainASCII(word) {
                    decodedWords[k] = nil
                    hashes[k] = VocabularyBuilder.hash(word)
                } else {
                    var s = decodeIgnoringErrors(word)
                    hashes[k] = s.withUTF8 { VocabularyBuilder.hash(UnsafeRawBufferPointer($0)) }
                    decodedWords[k] = s
                }
                vocabulary.prefetch(hashes[k])
            }
            for k in 0..<found {
                let new: Bool
                if var s = decodedWords[k] {
                    new = s.withUTF8 { vocabulary.add(UnsafeRawBufferPointer($0), hash: hashes[k]) }
                } else {
                    new = vocabulary.add(UnsafeRawBufferPointer(start: base + wordStarts[k], count: wordEnds[k] - wordStarts[k]), hash: hashes[k])
                }
                if new { starts.append(wordEnds[k] + 1) } else { duplicates += 1 }
            }
            digest?.publish(starts.count)
            total += found
            if ended { break }
        }
        if total < declared { throw EmbeddingError.countMismatch(path: path, declared: declared, found: total, line: nil) }
        // Past the declared count: only trailing whitespace is allowed.
        while pos < n {
            let b = bytes[pos]
            guard b == 0x0A || b == 0x20 || b == 0x0D else {
                throw EmbeddingError.countMismatch(path: path, declared: declared, found: total + 1, line: nil)
            }
            pos += 1
        }
        ok = true
        digest?.finish(starts.count)
        return MappedWord2Vec(dim: dim, rowStarts: starts, vocabulary: vocabulary, duplicates: duplicates, digest: digest)
    }

    /// True when every byte is below 0x80 (then the bytes are already valid UTF-8).
    private static func isPlainASCII(_ word: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        let n = word.count
        while i + 8 <= n {
            if word.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { return false }
            i += 8
        }
        while i < n {
            if word[i] >= 0x80 { return false }
            i += 1
        }
        return true
    }
}

/// The matrix of a mapped word2vec binary: row `r` is `rowBytes` bytes at
/// `starts[r]` in the source mapping (which this payload keeps alive).
struct SourceRows: TensorPayload {
    let file: MappedFile
    let starts: RowStarts
    let rowBytes: Int
    var digest: RowDigest?

    var byteCount: Int { starts.count * rowBytes }
    var precomputedSHA256: (@Sendable () throws -> String)? {
        guard let d = digest else { return nil }
        return { @Sendable in try d.value() }
    }

    func forEachPiece(in range: Range<Int>, _ body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        guard !range.isEmpty, let base = file.bytes.baseAddress else { return }
        var at = range.lowerBound
        while at < range.upperBound {
            let row = at / rowBytes, within = at % rowBytes
            let take = min(rowBytes - within, range.upperBound - at)
            try body(UnsafeRawBufferPointer(start: base + starts[row] + within, count: take))
            at += take
        }
    }

    /// The rows copied into one contiguous matrix (for in-memory models).
    func assembled() -> TensorStorage {
        TensorStorage(count: byteCount, zeroed: false) { out in
            var at = 0
            forEachPiece(in: 0..<byteCount) { piece in
                (out.baseAddress! + at).copyMemory(from: piece.baseAddress!, byteCount: piece.count)
                at += piece.count
            }
        }
    }
}

/// An embedding import ready for ``ZooWriter``: the card and each tensor's payload.
public struct PreparedEmbedding: Sendable {
    public var card: ModelCard
    public var items: [ZooWriter.Item]
}

extension EmbeddingImporter {
    /// Imports `path` for writing. A plain word2vec binary given with its
    /// `mapped` file (and not converted to f16) is read in place: the matrix
    /// goes from the mapping to the output file without being assembled in
    /// memory. Every other case parses into memory, as ``load(path:format:member:name:half:)``.
    public static func prepare(path: String, mapped: MappedFile?, format: EmbeddingFormat? = nil, container: EmbeddingContainer? = nil,
                               member: String? = nil, name: String? = nil, half: Bool = false) throws -> PreparedEmbedding {
        let fmt = format ?? EmbeddingFormat.guess(path)
        let packing = container ?? EmbeddingContainer.guess(path)
        if fmt == .word2vecBinary, !half, let mapped, packing == .plain {
            let scan = try MappedWord2Vec.scan(mapped, hashRows: true)
            guard scan.rowStarts.count > 0 else { throw EmbeddingError.empty(path: path) }
            let rows = scan.rowStarts.count, dim = scan.dim
            let card = EmbeddingCard.make(format: .word2vecBinary, name: name ?? ModelFileName.stem(path), path: path,
                                          dim: dim, rows: rows, duplicates: scan.duplicates, half: false)
            return PreparedEmbedding(card: card, items: [
                ZooWriter.Item(name: "embedding.matrix", dtype: .f32, shape: [rows, dim],
                               payload: SourceRows(file: mapped, starts: scan.rowStarts, rowBytes: dim * 4, digest: scan.digest)),
                ZooWriter.Item(name: "embedding.vocab", tensor: try Tensor(dtype: .bytes, shape: [scan.vocabulary.bytes.count], bytes: scan.vocabulary.bytes)),
                ZooWriter.Item(name: "embedding.offsets", tensor: try Tensor(dtype: .i64, shape: [scan.vocabulary.offsets.count],
                                                                            storage: scan.vocabulary.offsets.withUnsafeBytes { TensorStorage(copying: $0) })),
            ])
        }
        let model = try load(path: path, format: fmt, container: packing, member: member, name: name, half: half)
        return PreparedEmbedding(card: model.card, items: model.tensors.map { ZooWriter.Item(name: $0.name, tensor: $0.tensor) })
    }

    /// A plain word2vec binary, mapped and scanned in place, as an in-memory model.
    static func loadMapped(path: String, name: String?, half: Bool) throws -> Model {
        let mapped: MappedFile
        do { mapped = try MappedFile(path: path) } catch {
            throw EmbeddingError.io(path: path, detail: "cannot read: \(error.localizedDescription)")
        }
        let scan = try MappedWord2Vec.scan(mapped)
        guard scan.rowStarts.count > 0 else { throw EmbeddingError.empty(path: path) }
        let rows = scan.rowStarts.count, dim = scan.dim
        let f32 = SourceRows(file: mapped, starts: scan.rowStarts, rowBytes: dim * 4, digest: nil).assembled()
        let matrix: Tensor
        if half {
            matrix = try Tensor(dtype: .f16, shape: [rows, dim], storage: halfStorage(f32.bytes.bindMemory(to: Float.self)))
        } else {
            matrix = try Tensor(dtype: .f32, shape: [rows, dim], storage: f32)
        }
        let card = EmbeddingCard.make(format: .word2vecBinary, name: name ?? ModelFileName.stem(path), path: path,
                                      dim: dim, rows: rows, duplicates: scan.duplicates, half: half)
        return Model(card: card, graph: Graph(), tensors: [
            ("embedding.matrix", matrix),
            ("embedding.vocab", try Tensor(dtype: .bytes, shape: [scan.vocabulary.bytes.count], bytes: scan.vocabulary.bytes)),
            ("embedding.offsets", try Tensor(dtype: .i64, shape: [scan.vocabulary.offsets.count],
                                             storage: scan.vocabulary.offsets.withUnsafeBytes { TensorStorage(copying: $0) })),
        ])
    }

}

/// Row start offsets in memory that never moves (sized up front from a bound
/// on the row count), so ``RowDigest`` can read entries the scan has
/// published while the scan appends more.
final class RowStarts: @unchecked Sendable {
    private let pointer: UnsafeMutablePointer<Int>
    private let capacity: Int
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
        pointer = .allocate(capacity: self.capacity)
    }
    deinit { pointer.deallocate() }

    func append(_ start: Int) {
        precondition(count < capacity, "more rows than the file can hold")
        pointer[count] = start
        count += 1
    }

    subscript(i: Int) -> Int { pointer[i] }
}

/// SHA-256 of a word2vec file's kept rows, in order, computed on its own
/// thread while the scan is still finding them. The scan publishes how many
/// rows are final after each batch; the hasher follows.
final class RowDigest: @unchecked Sendable {
    private let condition = NSCondition()
    private var published = 0
    private var finished = false
    private var cancelled = false
    private var result: String?

    init(file: MappedFile, starts: RowStarts, rowBytes: Int) {
        let thread = Thread { [self] in
            // An empty mapping has no rows to read (the scan refuses it anyway).
            let base = file.bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 64)!
            var h = SHA256()
            var done = 0
            while true {
                condition.lock()
                while published == done && !finished && !cancelled { condition.wait() }
                let upTo = published, last = finished, stop = cancelled
                condition.unlock()
                if stop { return }
                // Hash in batches of rows between lock round trips.
                while done < upTo {
                    h.update(bufferPointer: UnsafeRawBufferPointer(start: base + starts[done], count: rowBytes))
                    done += 1
                }
                if last && done == upTo { break }
            }
            let hex = Hex.encode(h.finalize())
            condition.lock()
            result = hex
            condition.broadcast()
            condition.unlock()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Rows `0..<count` are final.
    func publish(_ count: Int) {
        condition.lock()
        published = count
        condition.signal()
        condition.unlock()
    }

    /// All `count` rows are final.
    func finish(_ count: Int) {
        condition.lock()
        published = count
        finished = true
        condition.signal()
        condition.unlock()
    }

    /// The scan failed: stop hashing.
    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for the digest (lower-case hex).
    func value() throws -> String {
        condition.lock()
        defer { condition.unlock() }
        while result == nil {
            if cancelled { throw EmbeddingError.io(path: "row digest", detail: "the scan was cancelled") }
            condition.wait()
        }
        return result!
    }
}
