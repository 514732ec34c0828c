import Foundation
import ZooCore

/// Where one producer writes its output: a slice of the Concat's buffer.
struct Placement {
    /// The Concat step whose output buffer holds the slice.
    var concat: Int
    /// Offset of the slice in floats, and its length.
    var offset: Int
    var count: Int
    /// Floats in the whole Concat output.
    var total: Int
}

/// Concat written in place by its producers: a value read only by a Concat
/// (Inception's and SqueezeNet's branches) is computed straight into its slice
/// of the Concat's output, so the Concat copies nothing. This holds when the
/// slices are contiguous, that is when every dimension before the axis is 1
/// (batch 1 in NCHW); otherwise, or when a producer does not write where it was
/// placed, the Concat copies as before. The Concat checks each input's address,
/// so a placement that was not taken never gives a wrong result.
extension InferenceSession {
    /// Ops whose kernels allocate their output (and nothing else) with `allocate`,
    /// so a placement is taken by the output and never by a scratch buffer.
    static let placeableOps: Set<String> = ["Conv", "MaxPool", "AveragePool"]

    /// For each producer step that may write into a Concat: (concat step, input index).
    static func concatSlots(_ steps: [Step], lastUse: [String: Int]) -> [Int: (concat: Int, input: Int)] {
        var readers: [String: Int] = [:]
        for s in steps { for v in s.node.inputs where !v.isEmpty { readers[v, default: 0] += 1 } }
        var producer: [String: Int] = [:]
        for (i, s) in steps.enumerated() where s.node.outputs.count == 1 { producer[s.node.outputs[0]] = i }
        var slots: [Int: (concat: Int, input: Int)] = [:]
        for (q, s) in steps.enumerated() where s.node.op == "Concat" {
            for (k, v) in s.node.inputs.enumerated() where !v.isEmpty {
                // Read by this Concat once and by nothing else; not a requested output.
                guard readers[v] == 1, lastUse[v] == q, let p = producer[v], p < q,
                      placeableOps.contains(steps[p].node.op) else { continue }
                slots[p] = (q, k)
            }
        }
        return slots
    }

    /// The placements for one plan: only where the Concat's output and all its
    /// input shapes are planned and the slices are contiguous.
    func placements(shapes: [[[Int]]?]) -> [Int: Placement] {
        var producedShape: [String: [Int]] = [:]
        for (i, s) in steps.enumerated() {
            guard let out = shapes[i] else { continue }
            for (name, shape) in zip(s.node.outputs, out) { producedShape[name] = shape }
        }
        var result: [Int: Placement] = [:]
        for (p, slot) in concatSlots {
            let concat = steps[slot.concat]
            guard let out = shapes[slot.concat]?.first else { continue }
            let rank = out.count
            guard let rawAxis = try? OpAttributes(node: concat.node, spec: concat.spec).int("axis") else { continue }
            let axis = rawAxis < 0 ? rawAxis + rank : rawAxis
            guard axis >= 0, axis < rank, out[0..<axis].allSatisfy({ $0 == 1 }) else { continue }
            var offset = 0, ok = true
            for v in concat.node.inputs[0..<slot.input] {
                guard let s = producedShape[v] ?? constantShape(v) else { ok = false; break }
                offset += s.reduce(1, *)
            }
            guard ok, let mine = producedShape[concat.node.inputs[slot.input]] else { continue }
            result[p] = Placement(concat: slot.concat, offset: offset, count: mine.reduce(1, *), total: out.reduce(1, *))
        }
        return result
    }

    private func constantShape(_ name: String) -> [Int]? {
        switch constants[name] {
        case .floats(_, let s, _)?: return s
        case .ints(_, let s)?: return s
        case nil: return nil
        }
    }

    /// Before a placed producer runs: its next output allocation becomes its slice.
    func prepare(_ placement: Placement) {
        let buffer: Buffer
        if let b = concatBuffers[placement.concat] {
            buffer = b
        } else {
            buffer = pool.take(placement.total)
            buffer.users = 0
            concatBuffers[placement.concat] = buffer
        }
        pendingSlice = (buffer.pointer + placement.offset, buffer, placement.count)
    }

    /// The slice prepared for the running producer, when `count` is its size.
    func takeSlice(_ count: Int) -> (UnsafeMutablePointer<Float>, Buffer)? {
        guard let s = pendingSlice, s.count == count else { return nil }
        pendingSlice = nil
        s.buffer.users += 1
        return (s.pointer, s.buffer)
    }

    /// The buffer that placed producers wrote into for Concat step `index`, if any.
    func concatBuffer(for index: Int) -> Buffer? { concatBuffers.removeValue(forKey: index) }

    /// Buffers of Concats that did not run (a failed run) go back to the pool.
    func resetConcatBuffers() {
        pendingSlice = nil
        for (_, b) in concatBuffers where b.users == 0 { pool.give(b) }
        concatBuffers = [:]
    }
}
