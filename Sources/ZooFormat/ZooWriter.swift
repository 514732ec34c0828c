import CZooSupport
import Crypto
import Foundation
import ZooCore
#if canImport(Glibc)
import Glibc
#endif

/// Writes models as `.zoo` files (docs/FORMAT.md).
///
/// Output is deterministic (sorted-key JSON, tensors in model order, zero
/// padding, no timestamps) so the same input and converter version give the
/// same bytes and therefore the same model digest. Writes are atomic: a temp
/// file in the destination directory is fsync'ed and renamed over the target,
/// so readers never see a half-written model and a failure leaves nothing behind.
public enum ZooWriter {
    /// What was written.
    public struct Result: Sendable {
        /// `sha256:` + hex SHA-256 of the header: the model's identity.
        public var digest: String
        public var byteCount: Int
        public var entries: [TensorEntry]
    }

    /// One tensor as the writer takes it: its table entry and where its bytes come from.
    public struct Item: Sendable {
        public var name: String
        public var dtype: DType
        public var shape: [Int]
        public var payload: any TensorPayload

        public init(name: String, dtype: DType, shape: [Int], payload: any TensorPayload) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.payload = payload
        }

        /// A tensor held in memory (or mapped) as one contiguous buffer.
        public init(name: String, tensor: Tensor) {
            self.init(name: name, dtype: tensor.dtype, shape: tensor.shape, payload: ContiguousPayload(tensor))
        }
    }

    /// Writes `model` to `url` atomically and returns its digest.
    @discardableResult
    public static func write(_ model: Model, to url: URL, threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                             completeCard: ((inout ModelCard) throws -> Void)? = nil) throws -> Result {
        try write(card: model.card, graph: model.graph, items: model.tensors.map { Item(name: $0.name, tensor: $0.tensor) },
                  to: url, threads: threads, completeCard: completeCard)
    }

    /// Writes a model given as card, graph and tensor payloads to `url`
    /// atomically and returns its digest. Importers whose tensors are not one
    /// contiguous buffer each (rows gathered from a source file) use this
    /// directly, so the bytes go from the source to the output without an
    /// intermediate copy.
    ///
    /// Tensors are hashed and written in parallel: a digest is always 64 hex
    /// characters, so the header's length (and with it every offset) is known
    /// before any digest is, and the header goes in last. A tensor above
    /// `splitThreshold` bytes is hashed by one job (SHA-256 is sequential) and
    /// written by another, so one big tensor does not serialise
    /// hashing and writing on a single core.
    ///
    /// `completeCard`, when given, runs after the tensor data is written and
    /// before the header is built: slow card fields (the source file's
    /// SHA-256) can be computed alongside the data pass. The header is rebuilt
    /// from the completed card; it may change length as long as the data
    /// section (page-aligned after it) stays where the placeholder put it.
    @discardableResult
    public static func write(card: ModelCard, graph: Graph, items: [Item], to url: URL,
                             threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                             completeCard: ((inout ModelCard) throws -> Void)? = nil) throws -> Result {
        var card = card
        if completeCard != nil, card.source != nil, card.source?.sha256 == nil {
            // Reserve the digest's 64 characters so offsets do not move when it arrives.
            card.source?.sha256 = String(repeating: "0", count: 64)
        }
        let shapes = items.map { ($0.name, $0.dtype, $0.shape, $0.payload.byteCount) }
        let placeholder = try plan(card: card, graph: graph, tensors: shapes,
                                   digests: Array(repeating: String(repeating: "0", count: 64), count: items.count))
        let total = placeholder.dataOffset + placeholder.dataLength
        let path = url.path
        let dir = url.deletingLastPathComponent().path
        let tmp = dir + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        // The output path, not the temporary's name: that is what the user can act on.
        guard fd >= 0 else { throw ZooFormatError.io(path: path, operation: "create", errno: errno) }
        TemporaryFiles.register(tmp)
        var ok = false
        defer {
            if !ok { unlink(tmp) }
            TemporaryFiles.unregister(tmp)
        }
        let layout: Layout
        do {
            defer { close(fd) }
            // The file starts as `total` zero bytes, so all padding is already in place.
            guard ftruncate(fd, off_t(total)) == 0 else { throw ZooFormatError.io(path: tmp, operation: "write", errno: errno) }
            let out = FDWriter(fd: fd, path: tmp)
            let digests = IndexedSlots(count: items.count, initial: "")
            let failure = FirstError()
            let base = placeholder.dataOffset
            let jobs = WriteJob.schedule(items.map(\.payload), offsets: placeholder.entries.map { base + $0.offset })
            let payloads = items.map(\.payload)
            Hashing.parallelForEach(count: jobs.count, threads: threads, weight: { jobs[$0].weight }) { j in
                guard failure.error == nil else { return }
                do {
                    let job = jobs[j]
                    switch job.kind {
                    case .hashAndWrite:
                        digests.set(job.item, try out.hashAndWrite(payloads[job.item], at: job.fileOffset))
                    case .hash:
                        digests.set(job.item, Hashing.sha256Hex(payloads[job.item]))
                    case .write(let range):
                        try out.write(payloads[job.item], range: range, at: job.fileOffset + range.lowerBound)
                    }
                } catch {
                    failure.record(error)
                }
            }
            if let e = failure.error { throw e }
            for (i, item) in items.enumerated() {
                if let pending = item.payload.precomputedSHA256 { digests.set(i, try pending()) }
            }
            try completeCard?(&card)
            // The table is the placeholder's with the real digests; only the
            // data section's start must not move (the file is zeros up to it).
            var entries = placeholder.entries
            for i in entries.indices { entries[i].sha256 = digests.value(i) }
            layout = try assemble(FileHeader(card: card, graph: graph, tensors: entries, dataLength: placeholder.dataLength))
            guard layout.dataOffset == placeholder.dataOffset else {
                throw ZooFormatError.invalidModel(detail: "the completed header moved the data section (completeCard added too much to the card)")
            }
            try out.write(layout.preamble + layout.header, at: 0)
            guard fsync(fd) == 0 else { throw ZooFormatError.io(path: tmp, operation: "fsync", errno: errno) }
        }
        guard rename(tmp, path) == 0 else { throw ZooFormatError.io(path: path, operation: "rename", errno: errno) }
        ok = true
        let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
        return Result(digest: layout.digest, byteCount: total, entries: layout.entries)
    }

    /// Tensors above this size get separate hash and write jobs.
    static let splitThreshold = 32 << 20

    /// One unit of work for the writer's threads.
    struct WriteJob {
        enum Kind {
            /// Small tensor: hash and write chunk by chunk while the chunk is in cache.
            case hashAndWrite
            /// Big tensor: the whole SHA-256, in order.
            case hash
            /// Big tensor: write these bytes (no hashing).
            case write(Range<Int>)
        }
        var item: Int
        var fileOffset: Int
        var kind: Kind
        /// Relative cost for longest-first scheduling: hashing costs about
        /// twice what copying into the page cache does.
        var weight: Int

        static func schedule(_ payloads: [any TensorPayload], offsets: [Int]) -> [WriteJob] {
            var jobs: [WriteJob] = []
            for (i, p) in payloads.enumerated() {
                if p.precomputedSHA256 != nil {
                    jobs.append(WriteJob(item: i, fileOffset: offsets[i], kind: .write(0..<p.byteCount), weight: p.byteCount))
                    continue
                }
                guard p.byteCount > splitThreshold else {
                    jobs.append(WriteJob(item: i, fileOffset: offsets[i], kind: .hashAndWrite, weight: p.byteCount * 3))
                    continue
                }
                jobs.append(WriteJob(item: i, fileOffset: offsets[i], kind: .hash, weight: p.byteCount * 2))
                // One write job, not several: concurrent writers to one file
                // serialise on the inode lock and burn the other core spinning on it.
                jobs.append(WriteJob(item: i, fileOffset: offsets[i], kind: .write(0..<p.byteCount), weight: p.byteCount))
            }
            return jobs
        }
    }

    /// The complete file as bytes (for small models and tests); same layout as `write`.
    public static func encode(_ model: Model) throws -> [UInt8] {
        let layout = try plan(model, threads: 1)
        var out = layout.preamble + layout.header
        out += [UInt8](repeating: 0, count: layout.dataOffset - out.count)
        for (i, entry) in layout.entries.enumerated() {
            out += [UInt8](repeating: 0, count: layout.dataOffset + entry.offset - out.count)
            out += model.tensors[i].tensor.bytes
        }
        return out
    }

    struct Layout {
        var preamble: [UInt8]
        var header: [UInt8]
        var entries: [TensorEntry]
        var dataOffset: Int
        var dataLength: Int
        var digest: String
    }

    /// Hashes tensors (in parallel), assigns offsets and builds preamble + header.
    static func plan(_ model: Model, threads: Int) throws -> Layout {
        let tensors = model.tensors.map(\.tensor)
        let digests = IndexedSlots(count: tensors.count, initial: "")
        Hashing.parallelForEach(count: tensors.count, threads: threads, weight: { tensors[$0].byteCount }) { i in
            digests.set(i, Hashing.sha256Hex(tensors[i].bytes))
        }
        return try plan(card: model.card, graph: model.graph,
                        tensors: model.tensors.map { ($0.name, $0.tensor.dtype, $0.tensor.shape, $0.tensor.byteCount) },
                        digests: (0..<tensors.count).map(digests.value))
    }

    /// Checks the model, assigns offsets and builds preamble + header from the given digests.
    static func plan(card: ModelCard, graph: Graph, tensors: [(String, DType, [Int], Int)], digests: [String]) throws -> Layout {
        var seen = Set<String>()
        for (name, _, _, _) in tensors {
            guard !name.isEmpty else { throw ZooFormatError.invalidModel(detail: "a tensor has an empty name") }
            guard seen.insert(name).inserted else {
                throw ZooFormatError.invalidModel(detail: "tensor name '\(name)' is used twice")
            }
        }
        do {
            try graph.validate(initializers: seen)
        } catch {
            throw ZooFormatError.invalidModel(detail: "\(error.localizedDescription)")
        }

        var entries: [TensorEntry] = []
        var position = 0
        for (i, (name, dtype, shape, byteCount)) in tensors.enumerated() {
            guard let offset = ShapeMath.alignUp(position, ZooFormatSpec.tensorAlignment) else {
                throw ZooFormatError.invalidModel(detail: "data section too large")
            }
            guard let expected = ShapeMath.byteCount(dtype, shape) else {
                throw ZooFormatError.invalidModel(detail: "tensor '\(name)' has an invalid shape \(shape)")
            }
            guard expected == byteCount else {
                throw ZooFormatError.invalidModel(detail: "tensor '\(name)' has \(byteCount) bytes; \(dtype) \(shape) needs \(expected)")
            }
            entries.append(TensorEntry(name: name, dtype: dtype, shape: shape, offset: offset,
                                       length: byteCount, sha256: digests[i]))
            position = offset + byteCount
        }
        return try assemble(FileHeader(card: card, graph: graph, tensors: entries, dataLength: position))
    }

    /// Encodes a header and builds the matching preamble. Exposed to tests so
    /// they can craft structurally invalid files with a correct header digest.
    static func assemble(_ header: FileHeader, major: Int = ZooFormatSpec.majorVersion) throws -> Layout {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json: [UInt8]
        do {
            json = Array(try encoder.encode(header))
        } catch {
            throw ZooFormatError.invalidModel(detail: "header cannot be encoded: \(error)")
        }
        guard json.count <= ZooFormatSpec.maxHeaderLength else {
            throw ZooFormatError.invalidModel(detail: "header is \(json.count) bytes, above the \(ZooFormatSpec.maxHeaderLength)-byte limit")
        }
        let digest = Array(SHA256.hash(data: json))
        var pre = ZooFormatSpec.magic
        pre += withUnsafeBytes(of: UInt16(major).littleEndian, Array.init)
        pre += withUnsafeBytes(of: UInt16(ZooFormatSpec.minorVersion).littleEndian, Array.init)
        pre += [0, 0, 0, 0]
        pre += withUnsafeBytes(of: UInt64(json.count).littleEndian, Array.init)
        pre += digest
        pre += [UInt8](repeating: 0, count: ZooFormatSpec.preambleSize - pre.count)
        return Layout(preamble: pre, header: json, entries: header.tensors,
                      dataOffset: ZooFormatSpec.dataOffset(headerLength: json.count)!,
                      dataLength: header.dataLength, digest: "sha256:" + Hex.encode(digest))
    }
}

/// Full-write loops over a POSIX descriptor (handle short writes and EINTR).
struct FDWriter: Sendable {
    let fd: Int32
    let path: String
    /// Writes `bytes` at `offset` (pwrite: safe from several threads).
    func write(_ bytes: [UInt8], at offset: Int) throws {
        try bytes.withUnsafeBytes { try write($0, at: offset) }
    }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        var at = offset
        while left > 0 {
            let n = pwrite(fd, p, min(left, 1 << 30), off_t(at))
            if n < 0 {
                if errno == EINTR { continue }
                throw ZooFormatError.io(path: path, operation: "write", errno: errno)
            }
            guard n > 0 else { throw ZooFormatError.io(path: path, operation: "write", errno: EIO) }
            p += n
            at += n
            left -= n
        }
    }

    /// Hashes and writes a payload one write call (``chunk``) at a time, so
    /// each piece is still in cache when it is written; returns the hex SHA-256.
    func hashAndWrite(_ payload: any TensorPayload, at offset: Int) throws -> String {
        var h = SHA256()
        var writeback = Writeback(fd: fd, from: offset)
        var at = offset
        try Pieces.chunked(payload, range: 0..<payload.byteCount, chunk: Self.chunk, startingAt: offset) { iov, count, bytes in
            for k in 0..<count { h.update(bufferPointer: UnsafeRawBufferPointer(start: iov[k].iov_base, count: iov[k].iov_len)) }
            try writev(iov, count: count, bytes: bytes, at: at)
            at += bytes
            writeback.wrote(upTo: at)
        }
        writeback.finish(at: at)
        return Hex.encode(h.finalize())
    }

    /// Writes bytes `range` of a payload at `offset` (gathered writes for row payloads).
    func write(_ payload: any TensorPayload, range: Range<Int>, at offset: Int) throws {
        var writeback = Writeback(fd: fd, from: offset)
        var at = offset
        try Pieces.chunked(payload, range: range, chunk: Self.chunk, startingAt: offset) { iov, count, bytes in
            try writev(iov, count: count, bytes: bytes, at: at)
            at += bytes
            writeback.wrote(upTo: at)
        }
        writeback.finish(at: at)
    }

    /// Bytes per write call; calls end on file offsets that are multiples of
    /// it, so the page cache backs them with folios of at most this size.
    /// Copying into large folios from a mapped source is the kernel's slow
    /// path on this project's machine (Linux 6.18, ext4). Contiguous writes of
    /// 1.8 GB (`bench/write_chunks.c`): 1 MiB aligned calls 2.8-4.1 s of system
    /// time, 512 KiB 1.8-2.4 s, 256 KiB 0.34-0.37 s. Gathered 1200-byte rows
    /// (the 3.6 GB word2vec matrix, `zoo convert`): 1 MiB unaligned calls
    /// 2.7 s, 128 KiB aligned 3.8 s, 64 KiB 1.5-3.8 s, 32 KiB 1.75-1.87 s.
    static let chunk = 32 << 10

    /// Starts writeback of each finished 16 MiB, so the final fsync has
    /// little left; the pages stay cached for whoever reads the model next.
    struct Writeback {
        let fd: Int32
        var from: Int

        mutating func wrote(upTo end: Int) {
            if end - from >= 16 << 20 {
                _ = czoo_start_writeback(fd, Int64(from), Int64(end - from))
                from = end
            }
        }

        mutating func finish(at end: Int) {
            if end > from { _ = czoo_start_writeback(fd, Int64(from), Int64(end - from)) }
            from = end
        }
    }

    /// pwritev until all `bytes` of the vector are written.
    private func writev(_ iov: UnsafeMutablePointer<iovec>, count: Int, bytes: Int, at offset: Int) throws {
        var first = 0
        var left = bytes
        var at = offset
        while left > 0 {
            let n = pwritev(fd, iov + first, Int32(count - first), off_t(at))
            if n < 0 {
                if errno == EINTR { continue }
                throw ZooFormatError.io(path: path, operation: "write", errno: errno)
            }
            // A regular file makes progress or fails; never spin on a zero.
            guard n > 0 else { throw ZooFormatError.io(path: path, operation: "write", errno: EIO) }
            left -= n
            at += n
            // Skip the fully written vectors and trim a partly written one.
            var m = n
            while m > 0 && first < count {
                if m >= iov[first].iov_len {
                    m -= iov[first].iov_len
                    first += 1
                } else {
                    iov[first].iov_base += m
                    iov[first].iov_len -= m
                    m = 0
                }
            }
        }
    }
}

/// Groups a payload's pieces into I/O vectors of about `chunk` bytes.
enum Pieces {
    static let maxVectors = 1024

    /// `startingAt` is the file offset of the range's first byte: chunks end
    /// on file offsets that are multiples of `chunk` (the first one is short).
    static func chunked(_ payload: any TensorPayload, range: Range<Int>, chunk: Int, startingAt fileOffset: Int,
                        _ body: (UnsafeMutablePointer<iovec>, Int, Int) throws -> Void) throws {
        let iov = UnsafeMutablePointer<iovec>.allocate(capacity: maxVectors)
        defer { iov.deallocate() }
        var count = 0, bytes = 0
        var limit = chunk - fileOffset % chunk
        try payload.forEachPiece(in: range) { piece in
            var rest = piece
            while !rest.isEmpty {
                let take = min(rest.count, limit - bytes)
                iov[count] = iovec(iov_base: UnsafeMutableRawPointer(mutating: rest.baseAddress!), iov_len: take)
                count += 1
                bytes += take
                rest = UnsafeRawBufferPointer(rebasing: rest[take...])
                if bytes == limit || count == maxVectors {
                    try body(iov, count, bytes)
                    limit = bytes == limit ? chunk : limit - bytes
                    count = 0
                    bytes = 0
                }
            }
        }
        if count > 0 { try body(iov, count, bytes) }
    }
}
