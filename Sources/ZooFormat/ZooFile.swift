import Crypto
import Foundation
import ZooCore

/// An opened `.zoo` file: validated structure, card, graph and tensor table,
/// with tensor data left in the memory map until it is used.
///
/// Opening costs O(header): the data section is neither read nor hashed.
/// `tensor(named:)` checks a tensor's SHA-256 the first time it is handed out
/// (lazy verification); `verify()` hashes everything on all cores.
public final class ZooFile: @unchecked Sendable {
    public let path: String
    public let card: ModelCard
    public let graph: Graph
    public let entries: [TensorEntry]
    /// `sha256:` + hex SHA-256 of the header bytes: the model's identity.
    public let digest: String
    public let majorVersion: Int
    public let minorVersion: Int
    /// Absolute file offset of the data section.
    public let dataOffset: Int
    public let fileSize: Int

    private let bytes: UnsafeRawBufferPointer
    private let owner: AnyObject
    private let index: [String: Int]
    private var verified: [Bool]
    private let lock = NSLock()

    /// Maps and validates the file at `path`.
    public convenience init(path: String) throws {
        let mapped: MappedFile
        do {
            mapped = try MappedFile(path: path)
        } catch let ZooCoreError.io(p, op, e) {
            throw ZooFormatError.io(path: p, operation: op, errno: e)
        }
        try self.init(bytes: mapped.bytes, owner: mapped, path: path)
    }

    /// Validates a file held in memory (tests, fuzzing, network buffers).
    public convenience init(bytes: [UInt8], path: String = "<memory>") throws {
        let storage = bytes.withUnsafeBytes { TensorStorage(copying: $0) }
        try self.init(bytes: storage.bytes, owner: storage, path: path)
    }

    private init(bytes: UnsafeRawBufferPointer, owner: AnyObject, path: String) throws {
        let s = try Self.parse(bytes, path: path)
        self.bytes = bytes
        self.owner = owner
        self.path = path
        self.card = s.header.card
        self.graph = s.minor == 0 ? Self.upgradeFromMinor0(s.header.graph) : s.header.graph
        self.entries = s.header.tensors
        self.digest = s.digest
        self.majorVersion = s.major
        self.minorVersion = s.minor
        self.dataOffset = s.dataOffset
        self.fileSize = bytes.count
        var idx: [String: Int] = [:]
        for (i, e) in entries.enumerated() { idx[e.name] = i }
        self.index = idx
        self.verified = Array(repeating: false, count: entries.count)
    }

    /// Total bytes of tensor data.
    public var dataLength: Int { fileSize - dataOffset }

    /// The tensor named `name`, a zero-copy view into the mapping. Its SHA-256
    /// is checked on first access unless `verify` is false.
    public func tensor(named name: String, verify: Bool = true) throws -> Tensor {
        guard let i = index[name] else { throw ZooFormatError.tensorNotFound(path: path, tensor: name) }
        return try tensor(at: i, verify: verify)
    }

    /// The tensor at table position `i` (see `entries`).
    public func tensor(at i: Int, verify: Bool = true) throws -> Tensor {
        let e = entries[i]
        let view = dataBytes(of: e)
        if verify {
            lock.lock()
            let done = verified[i]
            lock.unlock()
            if !done {
                guard Hashing.sha256Hex(view) == e.sha256 else {
                    throw ZooFormatError.tensorDigestMismatch(path: path, tensor: e.name, offset: dataOffset + e.offset)
                }
                lock.lock()
                verified[i] = true
                lock.unlock()
            }
        }
        return try Tensor(dtype: e.dtype, shape: e.shape, storage: TensorStorage(viewing: view, owner: owner), name: e.name)
    }

    /// The whole model with tensors as views; each tensor is verified (once).
    public func model(verify: Bool = true) throws -> Model {
        Model(card: card, graph: graph, tensors: try entries.indices.map { (entries[$0].name, try tensor(at: $0, verify: verify)) })
    }

    /// Hashes every tensor in parallel and checks every padding byte.
    public func verify(threads: Int = ProcessInfo.processInfo.activeProcessorCount) -> VerificationReport {
        (owner as? MappedFile)?.adviseSequential()
        let results = IndexedSlots(count: entries.count, initial: "")
        let entries = self.entries, base = dataOffset
        Hashing.parallelForEach(count: entries.count, threads: threads, weight: { entries[$0].length }) { [self] i in
            results.set(i, Hashing.sha256Hex(dataBytes(of: entries[i])))
        }
        var damage: [VerificationReport.Damage] = []
        var position = 0
        for (i, e) in entries.enumerated() {
            if let bad = Self.firstNonZero(bytes, from: base + position, to: base + e.offset) {
                damage.append(.init(kind: "padding", name: nil, offset: bad))
            }
            if results.value(i) != e.sha256 {
                damage.append(.init(kind: "tensor", name: e.name, offset: base + e.offset))
            } else {
                lock.lock()
                verified[i] = true
                lock.unlock()
            }
            position = e.offset + e.length
        }
        return VerificationReport(path: path, digest: digest, tensorCount: entries.count,
                                  bytesHashed: entries.reduce(0) { $0 + $1.length }, damage: damage)
    }

    /// The bytes of entry `e` (bounds were checked when the file was opened).
    private func dataBytes(of e: TensorEntry) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[(dataOffset + e.offset)..<(dataOffset + e.offset + e.length)])
    }

    static func firstNonZero(_ bytes: UnsafeRawBufferPointer, from: Int, to: Int) -> Int? {
        var i = from
        while i < to {
            if bytes[i] != 0 { return i }
            i += 1
        }
        return nil
    }
}

/// The outcome of a full verification.
public struct VerificationReport: Sendable, Codable, Equatable {
    /// One damaged region: a tensor (by name) or padding (by offset).
    public struct Damage: Sendable, Codable, Equatable {
        /// "tensor", "padding" or "header".
        public var kind: String
        public var name: String?
        public var offset: Int

        public init(kind: String, name: String?, offset: Int) {
            self.kind = kind
            self.name = name
            self.offset = offset
        }
    }

    public var path: String
    public var digest: String?
    public var tensorCount: Int
    public var bytesHashed: Int
    public var damage: [Damage]
    public var intact: Bool { damage.isEmpty }

    /// Names of damaged tensors, in file order.
    public var damagedTensors: [String] { damage.compactMap { $0.kind == "tensor" ? $0.name : nil } }

    private enum CodingKeys: String, CodingKey { case path, digest, tensorCount, bytesHashed, damage, intact }

    public init(path: String, digest: String?, tensorCount: Int, bytesHashed: Int, damage: [Damage]) {
        self.path = path
        self.digest = digest
        self.tensorCount = tensorCount
        self.bytesHashed = bytesHashed
        self.damage = damage
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        path = try c.decode(String.self, forKey: .path)
        digest = try c.decodeIfPresent(String.self, forKey: .digest)
        tensorCount = try c.decode(Int.self, forKey: .tensorCount)
        bytesHashed = try c.decode(Int.self, forKey: .bytesHashed)
        damage = try c.decode([Damage].self, forKey: .damage)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(path, forKey: .path)
        try c.encodeIfPresent(digest, forKey: .digest)
        try c.encode(tensorCount, forKey: .tensorCount)
        try c.encode(bytesHashed, forKey: .bytesHashed)
        try c.encode(damage, forKey: .damage)
        try c.encode(intact, forKey: .intact)
    }
}

extension ZooFile {
    /// Version 1.0 files stored Slice bounds pre-clamped, where an end of −1
    /// going backward meant "before index 0"; from 1.1 bounds keep ONNX's
    /// meaning (−1 is the last index), so such ends become a bound before the start.
    static func upgradeFromMinor0(_ g: Graph) -> Graph {
        var g = g
        for i in g.nodes.indices where g.nodes[i].op == "Slice" {
            guard case .ints(var ends)? = g.nodes[i].attributes["ends"], case .ints(let steps)? = g.nodes[i].attributes["steps"],
                  steps.count == ends.count else { continue }
            for j in ends.indices where steps[j] < 0 && ends[j] == -1 { ends[j] = -(1 << 62) }
            g.nodes[i].attributes["ends"] = .ints(ends)
        }
        return g
    }
}
