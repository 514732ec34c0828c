import CBLAS
import Foundation
import ZooCore
import ZooFormat

/// Word vectors opened from a `.zoo` embedding model, ready for queries.
///
/// The matrix stays in the memory map (f32) or is widened once (f16); a
/// word → row dictionary and the row norms are built at load, so a query is
/// one dictionary lookup plus one BLAS pass over the matrix.
public final class EmbeddingIndex: @unchecked Sendable {
    public let words: [String]
    public let dim: Int
    private let rows: UnsafePointer<Float>
    private let owner: AnyObject
    private let index: [String: Int]
    private let norms: [Float]
    private let inverseNorms: [Float]

    /// One neighbour: the word and its cosine similarity to the query.
    public struct Neighbor: Codable, Sendable, Equatable {
        public var word: String
        public var cosine: Float
    }

    public convenience init(file: ZooFile) throws {
        guard file.entries.contains(where: { $0.name == "embedding.matrix" }) else { throw EmbeddingError.notAnEmbedding(path: file.path) }
        try self.init(matrix: try file.tensor(named: "embedding.matrix"), vocab: try file.tensor(named: "embedding.vocab"),
                      offsets: try file.tensor(named: "embedding.offsets"), path: file.path)
    }

    public convenience init(model: Model) throws {
        guard let m = model.tensor(named: "embedding.matrix"), let v = model.tensor(named: "embedding.vocab"),
              let o = model.tensor(named: "embedding.offsets") else { throw EmbeddingError.notAnEmbedding(path: model.card.name) }
        try self.init(matrix: m, vocab: v, offsets: o, path: model.card.name)
    }

    init(matrix: Tensor, vocab: Tensor, offsets: Tensor, path: String) throws {
        guard matrix.shape.count == 2, offsets.dtype == .i64, offsets.shape == [matrix.shape[0] + 1] else { throw EmbeddingError.notAnEmbedding(path: path) }
        let v = matrix.shape[0], d = matrix.shape[1]
        dim = d
        if matrix.dtype == .f32 {
            rows = matrix.bytes.bindMemory(to: Float.self).baseAddress ?? UnsafePointer(bitPattern: 64)!
            owner = matrix.storage
        } else if matrix.dtype == .f16 {
            let wide = UnsafeMutablePointer<Float>.allocate(capacity: max(v * d, 1))
            for (i, h) in matrix.scalars(as: UInt16.self).enumerated() { wide[i] = Float(Float16(bitPattern: h)) }
            rows = UnsafePointer(wide)
            owner = WideBuffer(wide)
        } else {
            throw EmbeddingError.notAnEmbedding(path: path)
        }
        let offs = offsets.scalars(as: Int64.self)
        let bytes = vocab.bytes
        var list: [String] = []
        list.reserveCapacity(v)
        var dict: [String: Int] = [:]
        dict.reserveCapacity(v)
        for i in 0..<v {
            let lo = Int(offs[i]), hi = Int(offs[i + 1])
            guard lo >= 0, lo <= hi, hi <= bytes.count else { throw EmbeddingError.notAnEmbedding(path: path) }
            let w = String(decoding: bytes[lo..<hi], as: UTF8.self)
            list.append(w)
            if dict[w] == nil { dict[w] = i }
        }
        words = list
        index = dict
        var n = [Float](repeating: 0, count: v)
        for i in 0..<v { n[i] = cblas_snrm2(Int32(d), rows + i * d, 1) }
        norms = n
        inverseNorms = n.map { $0 > 0 ? 1 / $0 : 0 }
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
        var mean = [Float](repeating: 0, count: dim)
        var exclude = Set<Int>()
        for (words, weight) in [(positive, Float(1)), (negative, Float(-1))] {
            for w in words {
                let i = try row(w)
                exclude.insert(i)
                let scale = weight / max(norms[i], .leastNormalMagnitude)
                for j in 0..<dim { mean[j] += scale * rows[i * dim + j] }
            }
        }
        let mnorm = cblas_snrm2(Int32(dim), mean, 1)
        if mnorm > 0 { for j in 0..<dim { mean[j] /= mnorm } }
        var scores = [Float](repeating: 0, count: count)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(count), Int32(dim), 1, rows, Int32(dim), mean, 1, 0, &scores, 1)
        // Scale by 1/‖row‖ and keep the best k + |exclude| per worker, then merge.
        let want = k + exclude.count
        let workers = count > 1 << 16 ? 2 : 1
        let partial = TopLists(workers)
        scores.withUnsafeBufferPointer { sp in
            inverseNorms.withUnsafeBufferPointer { np in
                let scoresBox = UncheckedSendable(sp), normsBox = UncheckedSendable(np)
                DispatchQueue.concurrentPerform(iterations: workers) { w in
                    let lo = count * w / workers, hi = count * (w + 1) / workers
                    var top: [(Int, Float)] = []
                    top.reserveCapacity(want + 1)
                    var floor = -Float.infinity
                    for i in lo..<hi {
                        let s = scoresBox.value[i] * normsBox.value[i]
                        if top.count < want || s > floor {
                            var pos = top.count
                            while pos > 0 && top[pos - 1].1 < s { pos -= 1 }
                            top.insert((i, s), at: pos)
                            if top.count > want { top.removeLast() }
                            if top.count == want { floor = top[want - 1].1 }
                        }
                    }
                    partial.set(w, top)
                }
            }
        }
        var best = partial.all
        best.sort { $0.1 > $1.1 }
        return best.filter { !exclude.contains($0.0) }.prefix(k).map { Neighbor(word: words[$0.0], cosine: $0.1) }
    }
}

/// Per-worker result slots.
final class TopLists: @unchecked Sendable {
    private var lists: [[(Int, Float)]]
    private let lock = NSLock()
    init(_ n: Int) { lists = Array(repeating: [], count: n) }
    func set(_ i: Int, _ v: [(Int, Float)]) { lock.lock(); lists[i] = v; lock.unlock() }
    var all: [(Int, Float)] { lock.lock(); defer { lock.unlock() }; return lists.flatMap { $0 } }
}

/// Carries buffers into concurrentPerform; workers read disjoint ranges.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ v: T) { value = v }
}

/// Owns a widened f16 matrix.
final class WideBuffer {
    let pointer: UnsafeMutablePointer<Float>
    init(_ p: UnsafeMutablePointer<Float>) { pointer = p }
    deinit { pointer.deallocate() }
}
