import Foundation

/// A minimal protobuf wire-format pass over a ModelProto that lifts the
/// initializers' `raw_data` out of the message before protobuf-c sees it.
///
/// protobuf-c copies every bytes field when unpacking; for a 500 MB model that
/// doubles memory and costs a full copy. Instead, this pass records where each
/// initializer's raw_data lies in the (memory-mapped) file and hands protobuf-c
/// a copy of the message without it, so weights are viewed in place. It also
/// validates the framing (varints, lengths, wire types) of the levels it walks,
/// and counts the graph's nodes, so that a graph too large to import is refused
/// before protobuf-c unpacks it (about 400 bytes of memory per node).
struct WireScanner {
    /// Field numbers on the path ModelProto.graph → GraphProto.initializer → TensorProto.raw_data.
    static let modelGraph = 7, graphInitializer = 5, tensorRawData = 9
    /// GraphProto.node.
    static let graphNode = 1

    struct Result {
        /// The message with initializer raw_data removed.
        var stripped: [UInt8]
        /// Byte range in the file of each initializer's raw_data, by initializer index.
        var rawData: [Int: Range<Int>]
        /// Nodes of the main graph (not of subgraphs inside attributes).
        var nodes: Int
    }

    struct Malformed: Error { var offset: Int }

    let bytes: UnsafeRawBufferPointer
    private var initializerIndex = 0
    private var rawData: [Int: Range<Int>] = [:]
    private var nodes = 0
    /// Past this many nodes the scan only counts: the import will be refused, so
    /// the rest of the message is not copied.
    private let nodeLimit: Int

    init(bytes: UnsafeRawBufferPointer, nodeLimit: Int) { self.bytes = bytes; self.nodeLimit = nodeLimit }

    /// With more than `nodeLimit` nodes, `nodes` is exact and `stripped` incomplete.
    static func scan(_ bytes: UnsafeRawBufferPointer, nodeLimit: Int = .max) throws -> Result {
        var s = WireScanner(bytes: bytes, nodeLimit: nodeLimit)
        var out: [UInt8] = []
        out.reserveCapacity(1 << 16)
        try s.walk(0..<bytes.count, level: 0, into: &out)
        return Result(stripped: out, rawData: s.rawData, nodes: s.nodes)
    }

    private func varint(_ p: inout Int, end: Int) throws -> UInt64 {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard p < end, shift < 64 else { throw Malformed(offset: p) }
            let b = bytes[p]
            p += 1
            v |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return v }
            shift += 7
        }
    }

    private static func appendVarint(_ v: UInt64, to out: inout [UInt8]) {
        var v = v
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    /// Copies fields of one message (level 0 model, 1 graph, 2 tensor) into
    /// `out`, recursing only along the path to raw_data.
    private mutating func walk(_ range: Range<Int>, level: Int, into out: inout [UInt8]) throws {
        var p = range.lowerBound
        while p < range.upperBound {
            let fieldStart = p
            let tag = try varint(&p, end: range.upperBound)
            let field = Int(tag >> 3), wire = Int(tag & 7)
            guard field > 0 else { throw Malformed(offset: fieldStart) }
            switch wire {
            case 0: _ = try varint(&p, end: range.upperBound)
            case 1: p += 8
            case 5: p += 4
            case 2:
                let n = try varint(&p, end: range.upperBound)
                guard n <= UInt64(range.upperBound - p) else { throw Malformed(offset: p) }
                let payload = p..<(p + Int(n))
                p = payload.upperBound
                if level == 1 && field == Self.graphNode { nodes += 1 }
                let descend = (level == 0 && field == Self.modelGraph) || (level == 1 && field == Self.graphInitializer)
                if level == 2 && field == Self.tensorRawData {
                    rawData[initializerIndex] = payload
                    continue
                }
                if descend {
                    var inner: [UInt8] = []
                    try walk(payload, level: level + 1, into: &inner)
                    if level == 1 { initializerIndex += 1 }
                    Self.appendVarint(tag, to: &out)
                    Self.appendVarint(UInt64(inner.count), to: &out)
                    out += inner
                    continue
                }
            default:
                throw Malformed(offset: fieldStart)
            }
            guard p <= range.upperBound else { throw Malformed(offset: fieldStart) }
            if nodes <= nodeLimit { out += bytes[fieldStart..<p] }
        }
    }
}
