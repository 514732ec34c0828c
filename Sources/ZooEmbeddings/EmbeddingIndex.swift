import CBLAS
import CZooSupport
import Foundation
import ZooCore
import ZooFormat

/// Word vectors opened from a `.zoo` embedding model, ready for queries.
///
/// An f32 matrix is read where it lies in the file mapping (shared page
/// cache, no copy); an f16 matrix is widened once into anonymous memory
/// advised to use transparent huge pages. At load the row norms are taken on
/// worker threads while the matrix's digest is checked on another and the
/// word → row dictionary is built on this one. A query is then one dictionary
/// lookup plus one pass of our row-scoring kernel over the matrix, split
/// across cores. (A huge-page copy of an f32 matrix was measured too: 70-75 ms
/// per query on 3M × 300 against 78-83 ms from the mapping, for 3.6 GB more
/// memory.)
public final class EmbeddingIndex: @unchecked Sendable {
    public let words: [String]
    public let dim: Int
    private let rows: UnsafePointer<Float>
    /// Keeps `rows` alive: the mapped storage (f32) or the widened copy (f16).
    private let owner: AnyObject
    private let index: [String: Int]
    private let inverseNorms: [Float]

    /// One neighbour: the word and its cosine similarity to the query.
    public struct Neighbor: Codable, Sendable, Equatable {
        public var word: String
        public var cosine: Float
    }

    /// Opens the embedding tensors of `file`; the matrix's SHA-256 is checked
    /// beside the copy, and a mismatch fails the load.
    public convenience init(file: ZooFile) throws {
        guard file.entries.contains(where: { $0.name == "embedding.matrix" }) else { throw EmbeddingError.notAnEmbedding(path: file.path) }
        let vocab = try file.tensor(named: "embedding.vocab"), offsets = try file.tensor(named: "embedding.offsets")
        let matrix = try file.tensor(named: "embedding.matrix", verify: false)
        let check = DispatchGroup()
        let verdict = FirstError()
        DispatchQueue.global().async(group: check) {
            do { _ = try file.tensor(named: "embedding.matrix") } catch { verdict.record(error) }
        }
        do {
            try self.init(matrix: matrix, vocab: vocab, offsets: offsets, path: file.path)
        } catch {
            check.wait()
            throw error
        }
        check.wait()
        if let e = verdict.error { throw e }
    }

    public convenience init(model: Model) throws {
        guard let m = model.tensor(named: "embedding.matrix"), let v = model.tensor(named: "embedding.vocab"),
              let o = model.tensor(named: "embedding.offsets") else { throw EmbeddingError.notAnEmbedding(path: model.card.name) }
        try self.init(matrix: m, vocab: v, offsets: o, path: model.card.name)
    }

    init(matrix: Tensor, vocab: Tensor, offsets: Tensor, path: String) throws {
        guard matrix.shape.count == 2, offsets.dtype == .i64, offsets.shape == [matrix.shape[0] + 1],
              matrix.dtype == .f32 || matrix.dtype == .f16 else { throw EmbeddingError.notAnEmbedding(path: path) }
        let v = matrix.shape[0], d = matrix.shape[1]
        dim = d
        // BLAS runs single-threaded inside our own workers (one level of threads).
        openblas_set_num_threads(1)
        let half = matrix.dtype == .f16
        let matrixRows: UnsafePointer<Float>
        var widened: UnsafeMutablePointer<Float>?
        if half {
            let buffer = try HugeBuffer(floats: v * d)
            widened = buffer.pointer
            matrixRows = UnsafePointer(buffer.pointer)
            owner = buffer
        } else {
            matrixRows = matrix.bytes.bindMemory(to: Float.self).baseAddress ?? UnsafePointer(bitPattern: 64)!
            owner = matrix.storage
        }
        // The dictionary is built on another thread while the workers here
        // widen f16 rows and take every row's inverse norm.
        final class Vocabulary: @unchecked Sendable {
            var list: [String] = []
            var index: [String: Int] = [:]
            var bad = false
        }
        let built = Vocabulary()
        let pass = DispatchGroup()
        let offs = UncheckedBox(offsets), bytes = UncheckedBox(vocab)
        DispatchQueue.global().async(group: pass) {
            let offs = offs.value.scalars(as: Int64.self), bytes = bytes.value.bytes
            built.list.reserveCapacity(v)
            built.index.reserveCapacity(v)
            for i in 0..<v {
                let lo = Int(offs[i]), hi = Int(offs[i + 1])
                guard lo >= 0, lo <= hi, hi <= bytes.count else { built.bad = true; return }
                let w = String(decoding: bytes[lo..<hi], as: UTF8.self)
                built.list.append(w)
                if built.index[w] == nil { built.index[w] = i }
            }
        }
        let read = UncheckedBox(matrixRows), widen = UncheckedBox(widened), src = UncheckedBox(matrix.bytes.baseAddress)
        inverseNorms = [Float](unsafeUninitializedCapacity: v) { out, initialized in
            let norms = UncheckedBox(out.baseAddress)
            let workers = v >= 1 << 16 ? max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8)) : 1
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                let lo = v * w / workers, hi = v * (w + 1) / workers
                guard hi > lo, let base = src.value, let n = norms.value else { return }
                if let out = widen.value {
                    let h = base.assumingMemoryBound(to: UInt16.self)
                    for i in (lo * d)..<(hi * d) { out[i] = Float(Float16(bitPattern: h[i])) }
                }
                for i in lo..<hi {
                    let norm = cblas_snrm2(Int32(d), read.value + i * d, 1)
                    n[i] = norm > 0 ? 1 / norm : 0
                }
            }
            initialized = v
        }
        pass.wait()
        if built.bad { throw EmbeddingError.notAnEmbedding(path: path) }
        words = built.list
        index = built.index
        rows = matrixRows
    }

    public var count: Int { words.count }

    public func row(_ word: String) throws -> Int {
        guard let i = index[word] else { throw EmbeddingError.unknownWord(word: word) }
        return i
    }

    /// The stored vector of `word`.
    public func vector(_ word: String) throws -> [Float] {
        let i = try row(word)
        return Array(UnsafeBufferPointer(start: rows + i * dim, count: dim))
    }

    /// The `k` words closest to `positive − negative` by cosine, excluding the
    /// query words, computed as gensim's `most_similar` does: the mean of the
    /// unit vectors (negatives weighted −1), normalised, against every unit row.
    public func mostSimilar(positive: [String], negative: [String] = [], k: Int = 10) throws -> [Neighbor] {
        let k = max(k, 0)
        var mean = [Float](repeating: 0, count: dim)
        var exclude = Set<Int>()
        for (words, weight) in [(positive, Float(1)), (negative, Float(-1))] {
            for w in words {
                let i = try row(w)
                exclude.insert(i)
                let scale = weight * inverseNorms[i]
                for j in 0..<dim { mean[j] += scale * rows[i * dim + j] }
            }
        }
        let mnorm = cblas_snrm2(Int32(dim), mean, 1)
        if mnorm > 0 { for j in 0..<dim { mean[j] /= mnorm } }
        // Each worker scores its own block of rows and keeps its best
        // k + |exclude|; the blocks are merged at the end. The scoring kernel
        // is our own (CZooSupport): OpenBLAS's sgemv on rows this short is
        // compute-bound here, about 1.4x slower than one pass of memory.
        let want = k + exclude.count
        let workers = count >= 1 << 16 ? max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8)) : 1
        let partial = IndexedSlots<[(Int, Float)]>(count: workers, initial: [])
        let d = dim, n = count
        let rowsBox = UncheckedBox(rows)
        mean.withUnsafeBufferPointer { mp in
            inverseNorms.withUnsafeBufferPointer { np in
                let meanBox = UncheckedBox(mp), normsBox = UncheckedBox(np)
                DispatchQueue.concurrentPerform(iterations: workers) { w in
                    let lo = n * w / workers, hi = n * (w + 1) / workers
                    var top: [(Int, Float)] = []
                    top.reserveCapacity(want + 1)
                    var floor = -Float.infinity
                    // Blocks small enough that their scores stay in cache.
                    let block = 4096
                    let scores = UnsafeMutablePointer<Float>.allocate(capacity: block)
                    defer { scores.deallocate() }
                    var start = lo
                    while start < hi {
                        let m = min(block, hi - start)
                        czoo_score_rows(rowsBox.value + start * d, m, d, meanBox.value.baseAddress, scores)
                        for j in 0..<m {
                            let i = start + j
                            let s = scores[j] * normsBox.value[i]
                            if top.count < want || s > floor {
                                var pos = top.count
                                while pos > 0 && top[pos - 1].1 < s { pos -= 1 }
                                top.insert((i, s), at: pos)
                                if top.count > want { top.removeLast() }
                                if top.count == want { floor = top[want - 1].1 }
                            }
                        }
                        start += m
                    }
                    partial.set(w, top)
                }
            }
        }
        var best = partial.all.flatMap { $0 }
        best.sort { $0.1 > $1.1 }
        return best.filter { !exclude.contains($0.0) }.prefix(k).map { Neighbor(word: words[$0.0], cosine: $0.1) }
    }
}

/// Anonymous memory for a widened (f16 → f32) matrix, advised to use
/// transparent huge pages; unmapped when released.
final class HugeBuffer {
    let pointer: UnsafeMutablePointer<Float>
    private let byteCount: Int

    init(floats: Int) throws {
        byteCount = max(floats, 1) * MemoryLayout<Float>.stride
        guard let p = mmap(nil, byteCount, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED else {
            throw EmbeddingError.io(path: "memory", detail: "cannot allocate \(byteCount) bytes for the embedding matrix (\(String(cString: strerror(errno))))")
        }
        _ = madvise(p, byteCount, MADV_HUGEPAGE)
        pointer = p.bindMemory(to: Float.self, capacity: max(floats, 1))
    }

    deinit { munmap(pointer, byteCount) }
}
