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
    @discardableResult
    public static func write(_ model: Model, to url: URL, threads: Int = ProcessInfo.processInfo.activeProcessorCount) throws -> Result {
        let layout = try plan(model, threads: threads)
        let path = url.path
        let dir = url.deletingLastPathComponent().path
        let tmp = dir + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ZooFormatError.io(path: tmp, operation: "create", errno: errno) }
        var ok = false
        defer {
            if !ok { unlink(tmp) }
        }
        do {
            defer { close(fd) }
            let out = FDWriter(fd: fd, path: tmp)
            try out.write(layout.preamble)
            try out.write(layout.header)
            try out.writeZeros(layout.dataOffset - ZooFormatSpec.preambleSize - layout.header.count)
            var position = 0
            for (i, entry) in layout.entries.enumerated() {
                try out.writeZeros(entry.offset - position)
                try out.write(model.tensors[i].tensor.bytes)
                position = entry.offset + entry.length
            }
            guard fsync(fd) == 0 else { throw ZooFormatError.io(path: tmp, operation: "fsync", errno: errno) }
        }
        guard rename(tmp, path) == 0 else { throw ZooFormatError.io(path: path, operation: "rename", errno: errno) }
        ok = true
        let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
        return Result(digest: layout.digest, byteCount: layout.dataOffset + layout.dataLength, entries: layout.entries)
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

        let tensors = model.tensors.map(\.tensor)
        let digests = DigestSlots(count: tensors.count)
        Hashing.parallelForEach(count: tensors.count, threads: threads, weight: { tensors[$0].byteCount }) { i in
            digests.set(i, Hashing.sha256Hex(tensors[i].bytes))
        }

        var entries: [TensorEntry] = []
        var position = 0
        for (i, (name, t)) in model.tensors.enumerated() {
            guard let offset = ShapeMath.alignUp(position, ZooFormatSpec.tensorAlignment) else {
                throw ZooFormatError.invalidModel(detail: "data section too large")
            }
            entries.append(TensorEntry(name: name, dtype: t.dtype, shape: t.shape, offset: offset,
                                       length: t.byteCount, sha256: digests.value(i)))
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

/// Full-write loop over a POSIX descriptor (handles short writes and EINTR).
struct FDWriter {
    let fd: Int32
    let path: String
    private static let zeros = [UInt8](repeating: 0, count: 1 << 16)

    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let n = Glibc.write(fd, p, min(left, 1 << 30))
            if n < 0 {
                if errno == EINTR { continue }
                throw ZooFormatError.io(path: path, operation: "write", errno: errno)
            }
            p += n
            left -= n
        }
    }

    func writeZeros(_ count: Int) throws {
        var left = count
        while left > 0 {
            let n = min(left, Self.zeros.count)
            try Self.zeros.withUnsafeBytes { try write(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            left -= n
        }
    }
}
