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

    /// Writes `model` to `url` atomically and returns its digest.
    ///
    /// Tensors are hashed and written in parallel: a digest is
    /// always 64 hex characters, so the header's length (and with it every
    /// offset) is known before any digest is, and the header goes in last.
    ///
    /// `completeCard`, when given, runs after the tensor data is written and
    /// before the header is built: slow card fields (the source file's
    /// SHA-256) can be computed alongside the data pass. It must not change
    /// the header's length... except through the card, which is allowed: the
    /// header is rebuilt from the completed card, and only its length must
    /// stay what the placeholder pass predicted.
    @discardableResult
    public static func write(_ model: Model, to url: URL, threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                             completeCard: ((inout ModelCard) throws -> Void)? = nil) throws -> Result {
        var model = model
        if completeCard != nil, model.card.source != nil, model.card.source?.sha256 == nil {
            // Reserve the digest's 64 characters so offsets do not move when it arrives.
            model.card.source?.sha256 = String(repeating: "0", count: 64)
        }
        let placeholder = try plan(model, digests: Array(repeating: String(repeating: "0", count: 64), count: model.tensors.count))
        let total = placeholder.dataOffset + placeholder.dataLength
        let path = url.path
        let dir = url.deletingLastPathComponent().path
        let tmp = dir + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ZooFormatError.io(path: tmp, operation: "create", errno: errno) }
        var ok = false
        defer {
            if !ok { unlink(tmp) }
        }
        let layout: Layout
        do {
            defer { close(fd) }
            // The file starts as `total` zero bytes, so all padding is already in place.
            guard ftruncate(fd, off_t(total)) == 0 else { throw ZooFormatError.io(path: tmp, operation: "write", errno: errno) }
            let out = FDWriter(fd: fd, path: tmp)
            let tensors = model.tensors.map(\.tensor)
            let digests = DigestSlots(count: tensors.count)
            let failure = FirstError()
            let base = placeholder.dataOffset
            let entries = placeholder.entries
            Hashing.parallelForEach(count: tensors.count, threads: threads, weight: { tensors[$0].byteCount }) { i in
                do {
                    digests.set(i, try out.hashAndWrite(tensors[i].bytes, at: base + entries[i].offset))
                } catch {
                    failure.record(error)
                }
            }
            if let e = failure.error { throw e }
            try completeCard?(&model.card)
            layout = try plan(model, digests: (0..<tensors.count).map(digests.value))
            guard layout.header.count == placeholder.header.count else {
                throw ZooFormatError.invalidModel(detail: "header length changed between passes (completeCard must keep field lengths)")
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
        let digests = DigestSlots(count: tensors.count)
        Hashing.parallelForEach(count: tensors.count, threads: threads, weight: { tensors[$0].byteCount }) { i in
            digests.set(i, Hashing.sha256Hex(tensors[i].bytes))
        }
        return try plan(model, digests: (0..<tensors.count).map(digests.value))
    }

    /// Checks the model, assigns offsets and builds preamble + header from the given digests.
    static func plan(_ model: Model, digests: [String]) throws -> Layout {
        var seen = Set<String>()
        for (name, _) in model.tensors {
            guard !name.isEmpty else { throw ZooFormatError.invalidModel(detail: "a tensor has an empty name") }
            guard seen.insert(name).inserted else {
                throw ZooFormatError.invalidModel(detail: "tensor name '\(name)' is used twice")
            }
        }
        do {
            try model.graph.validate(initializers: seen)
        } catch {
            throw ZooFormatError.invalidModel(detail: "\(error.localizedDescription)")
        }

        var entries: [TensorEntry] = []
        var position = 0
        for (i, (name, t)) in model.tensors.enumerated() {
            guard let offset = ShapeMath.alignUp(position, ZooFormatSpec.tensorAlignment) else {
                throw ZooFormatError.invalidModel(detail: "data section too large")
            }
            entries.append(TensorEntry(name: name, dtype: t.dtype, shape: t.shape, offset: offset,
                                       length: t.byteCount, sha256: digests[i]))
            position = offset + t.byteCount
        }
        return try assemble(FileHeader(card: model.card, graph: model.graph, tensors: entries, dataLength: position))
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

/// Per-index result slots written by worker threads (each index exactly once).
final class DigestSlots: @unchecked Sendable {
    private var values: [String]
    private let lock = NSLock()
    init(count: Int) { values = Array(repeating: "", count: count) }
    func set(_ i: Int, _ v: String) { lock.lock(); values[i] = v; lock.unlock() }
    func value(_ i: Int) -> String { lock.lock(); defer { lock.unlock() }; return values[i] }
}

/// Keeps the first error thrown by any worker thread.
final class FirstError: @unchecked Sendable {
    private(set) var error: Error?
    private let lock = NSLock()
    func record(_ e: Error) { lock.lock(); if error == nil { error = e }; lock.unlock() }
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
            p += n
            at += n
            left -= n
        }
    }

    /// Hashes and writes `bytes` in 1 MiB steps, so each chunk is still in
    /// cache when it is written; returns the hex SHA-256.
    func hashAndWrite(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws -> String {
        var h = SHA256()
        var done = 0
        let chunk = 1 << 20
        while done < bytes.count {
            let n = min(chunk, bytes.count - done)
            let part = UnsafeRawBufferPointer(rebasing: bytes[done..<(done + n)])
            h.update(bufferPointer: part)
            try write(part, at: offset + done)
            done += n
            // Start writeback of each finished 16 MiB now (DONTNEED on dirty pages
            // only queues them for writing), so the final fsync has little left.
            if done % (16 << 20) == 0 || done == bytes.count {
                let span = min(done, 16 << 20)
                _ = posix_fadvise(fd, off_t(offset + done - span), off_t(span), POSIX_FADV_DONTNEED)
            }
        }
        return Hex.encode(h.finalize())
    }
}
