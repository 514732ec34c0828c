import Foundation
import ZooCore

/// Einsum, Unique, Compress, NonZero, Tile, SpaceToDepth, DepthToSpace,
/// ReverseSequence, Det, BitCast, TensorScatter, SwiGLU, RotaryEmbedding,
/// LinearAttention and CausalConvWithState, as the IR ops of the same names
/// (ZooCore `TensorOps`), every opset each is defined at.
enum TensorNormalisers {
    /// `f` for files whose opset defines the op (from `version`).
    static func since(_ version: Int, _ f: @escaping Normaliser) -> Normaliser {
        { s, n in
            guard s.opset >= version else { throw s.invalid(n, "\(n.op) is defined from opset \(version) (this file is opset \(s.opset))") }
            try f(s, n)
        }
    }

    /// SpaceToDepth (mode from opset 28) and DepthToSpace (mode from opset 11): DCR before.
    static func blocks(modeSince: Int) -> Normaliser {
        { s, n in
            guard let b = n.int("blocksize") else { throw s.invalid(n, "attribute 'blocksize' is missing") }
            var mode = "DCR"
            if let m = n.string("mode") {
                guard s.opset >= modeSince else { throw s.invalid(n, "'mode' is an attribute from opset \(modeSince) (this file is opset \(s.opset))") }
                guard ["DCR", "CRD"].contains(m) else { throw s.invalid(n, "mode '\(m)' is not DCR or CRD") }
                mode = m
            }
            try s.emit(n, op: n.op, inputs: [n.x], outputs: [try n.output(s)], attributes: ["blocksize": .int(b), "mode": .string(mode)])
        }
    }

    static let table: [String: Normaliser] = [
        "Einsum": since(12) { s, n in
            guard let eq = n.string("equation") else { throw s.invalid(n, "attribute 'equation' is missing") }
            guard !n.inputs.isEmpty, !n.inputs.contains("") else { throw s.invalid(n, "every operand must be given") }
            try s.emit(n, op: "Einsum", inputs: n.inputs, outputs: [try n.output(s)], attributes: ["equation": .string(eq)])
        },
        "Unique": since(11, ONNXOps.passThrough(["axis", "sorted"]) { s, n in [try s.dtype(n.x, n), .i64] }),
        "Compress": since(9, compress),
        "NonZero": since(9) { s, n in
            try s.emit(n, op: "NonZero", inputs: [n.x], outputs: [try n.output(s)], dtype: .i64)
        },
        "Tile": tile,
        "SpaceToDepth": blocks(modeSince: 28),
        "DepthToSpace": blocks(modeSince: 11),
        "ReverseSequence": since(10, ONNXOps.passThrough(["batch_axis", "time_axis"])),
        "Det": since(11, ONNXOps.passThrough([])),
        "BitCast": since(26) { s, n in
            guard let code = n.int("to") else { throw s.invalid(n, "attribute 'to' is missing") }
            guard code != 8 else { throw s.invalid(n, "BitCast to STRING is not defined") }
            guard let to = ONNXDataType.dtype(code) else { throw s.unsupportedForm(n, "to = \(ONNXDataType.name(code))") }
            let from = try s.dtype(n.x, n)
            guard from != .bytes else { throw s.invalid(n, "BitCast of a string tensor is not defined") }
            guard from.itemSize == to.itemSize else {
                throw s.invalid(n, "\(from) (\(from.itemSize * 8) bits) and \(to) (\(to.itemSize * 8) bits) differ in width")
            }
            // A constant is reinterpreted here, byte for byte: exact even for f64, which the runtime holds as Float.
            if case .constant(let t)? = s.lookup(n.x) {
                try s.define(try n.output(s), .constant(try Tensor(dtype: to, shape: t.shape, storage: t.storage)))
                return
            }
            try s.emit(n, op: "BitCast", inputs: [n.x], outputs: [try n.output(s)],
                       attributes: ["to": .string(to.rawValue), "from": .string(from.rawValue)], dtype: to)
        },
        "TensorScatter": since(24, ONNXOps.passThrough(["mode", "axis"])),
        "SwiGLU": since(28, ONNXOps.passThrough(["alpha"])),
        "RotaryEmbedding": since(23, ONNXOps.passThrough(["interleaved", "rotary_embedding_dim", "num_heads"])),
        // present_state has past_state's type (the query's without one), as ONNX's reference does.
        "LinearAttention": since(27, ONNXOps.passThrough(["chunk_size", "kv_num_heads", "q_num_heads", "scale", "update_rule"]) { s, n in
            let t = try s.dtype(n.x, n)
            return [t, try n.input(3).map { try s.dtype($0, n) } ?? t]
        }),
        "CausalConvWithState": since(27, ONNXOps.passThrough(["activation"]) { s, n in
            let t = try s.dtype(n.x, n)
            return [t, try n.input(3).map { try s.dtype($0, n) } ?? t]
        }),
    ]

    /// A constant condition selects fixed positions: a Gather with constant indices (of the
    /// flattened input without `axis`), so the output shape is static. A run-time one stays a Compress.
    static let compress: Normaliser = { s, n in
        guard let cond = n.input(1) else { throw s.invalid(n, "needs an input and a condition") }
        guard !(try s.dtype(cond, n).isFloatingPoint) else { throw s.invalid(n, "the condition must be boolean") }
        let y = try n.output(s), xs = try s.shape(n.x, n)
        let axis = try n.int("axis").map { try s.normalizeAxis($0, rank: xs.count, n) }
        guard case .constant(let t)? = s.lookup(cond), let v = t.intValues else {
            try s.emit(n, op: "Compress", inputs: [n.x, cond], outputs: [y], attributes: axis.map { ["axis": .int($0)] } ?? [:])
            return
        }
        guard t.shape.count == 1 else { throw s.invalid(n, "the condition must be 1-D, got \(t.shape)") }
        let picked = v.indices.filter { v[$0] != 0 }
        let limit = axis.map { xs[$0] } ?? xs.product
        if let last = picked.last, let l = limit?.value, last >= l {
            throw s.invalid(n, "the condition selects index \(last) of an axis of size \(l)")
        }
        let indices = "\(y)/indices"
        try s.define(indices, .constant(try Tensor.int64(picked)))
        var source = n.x
        if axis == nil {
            source = "\(y)/flat"
            try s.emit(n, op: "Reshape", inputs: [n.x], outputs: [source], attributes: ["shape": .ints([-1]), "allowzero": .int(0)], suffix: "flat")
        }
        try s.emit(n, op: "Gather", inputs: [source, indices], outputs: [y], attributes: ["axis": .int(axis ?? 0)])
    }

    /// Tile-6/13: repeats as an attribute when constant, else the int64 input. Tile-1
    /// (tiles copies along one constant axis): the repeats vector [1, …, tiles, …, 1],
    /// built by Reshape and Concat when tiles is known only at run time.
    static let tile: Normaliser = { s, n in
        let y = try n.output(s)
        guard s.opset < 6 else {
            guard let r = n.input(1) else { throw s.invalid(n, "needs a repeats input") }
            if case .constant(let t)? = s.lookup(r) {
                guard let v = t.intValues, t.shape.count == 1 else { throw s.invalid(n, "repeats must be a 1-D int64 tensor") }
                try s.emit(n, op: "Tile", inputs: [n.x], outputs: [y], attributes: ["repeats": .ints(v)])
            } else {
                try s.emit(n, op: "Tile", inputs: [n.x, r], outputs: [y])
            }
            return
        }
        guard let tiles = n.input(1), let axisInput = n.input(2) else { throw s.invalid(n, "Tile-1 needs tiles and axis inputs") }
        let rank = try s.shape(n.x, n).count
        let a = try s.normalizeAxis(Int(try s.constantScalar(axisInput, n)), rank: rank, n)
        if case .constant? = s.lookup(tiles) {
            let k = try s.constantScalar(tiles, n)
            guard k >= 0, k <= Double(ShapeMath.maxElements) else { throw s.invalid(n, "tiles \(k) must be a non-negative count") }
            var repeats = Array(repeating: 1, count: rank)
            repeats[a] = Int(k)
            try s.emit(n, op: "Tile", inputs: [n.x], outputs: [y], attributes: ["repeats": .ints(repeats)])
            return
        }
        let count = "\(y)/tiles", repeats = "\(y)/repeats"
        try s.emit(n, op: "Reshape", inputs: [tiles], outputs: [count], attributes: ["shape": .ints([1]), "allowzero": .int(0)], dtype: .i64, suffix: "tiles")
        var parts: [String] = []
        for (name, ones) in [("\(y)/before", a), ("\(y)/after", rank - 1 - a)] where ones > 0 {
            try s.define(name, .constant(try Tensor.int64(Array(repeating: 1, count: ones))))
            parts.append(name)
        }
        if a > 0 { parts.insert(count, at: 1) } else { parts.insert(count, at: 0) }
        try s.emit(n, op: "Concat", inputs: parts, outputs: [repeats], attributes: ["axis": .int(0)], dtype: .i64, suffix: "repeats")
        try s.emit(n, op: "Tile", inputs: [n.x, repeats], outputs: [y])
    }
}
