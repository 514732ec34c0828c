/// Tensor ops: contractions and decompositions (Einsum, Det), selections whose
/// size the data decides (Unique, Compress, NonZero), rearrangements (Tile,
/// SpaceToDepth, DepthToSpace, ReverseSequence, TensorScatter), bit
/// reinterpretation (BitCast) and the fused blocks of recent language models
/// (SwiGLU, RotaryEmbedding, LinearAttention, CausalConvWithState).
///
/// Sizes only the data decides (the unique count, the number of non-zeros)
/// are fresh unknowns in the shape rules, and their kernels size them per run
/// (`shapeFromData`). Where the deciding values are integers the rule reads
/// them (`valueInputs`), so a constant or run-time condition gives an exact shape.
public enum TensorOps {
    /// A parsed Einsum equation: one label per axis of every operand, and the
    /// output's labels. Letters are labels 0–51 in ASCII order (`A`…`Z`, `a`…`z`);
    /// the axes an ellipsis covers are labels `ellipsis + k`, right-aligned across
    /// the operands (numpy broadcasting), so an operand whose ellipsis spans fewer
    /// axes takes the last ones.
    public struct Einsum: Sendable {
        public static let ellipsis = 52
        public let operands: [[Int]]
        public let output: [Int]

        /// Parses `equation` (spaces allowed, `->` optional: the implicit output is the
        /// ellipsis axes then every letter used exactly once, in ASCII order) for
        /// operands of the given ranks.
        public init(_ equation: String, ranks: [Int], fail: (String) -> any Error) throws {
            let text = equation.filter { $0 != " " }
            let sides = text.components(separatedBy: "->")
            guard sides.count <= 2 else { throw fail("equation '\(equation)' has more than one '->'") }
            let terms = sides[0].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard terms.count == ranks.count else { throw fail("equation '\(equation)' has \(terms.count) terms for \(ranks.count) inputs") }

            /// Letters before and after the ellipsis (nil: the term has none).
            func parse(_ term: String) throws -> (head: [Int], tail: [Int]?) {
                var head: [Int] = [], tail: [Int]?
                var chars = Array(term.unicodeScalars)[...]
                while let ch = chars.first {
                    if ch == "." {
                        guard chars.starts(with: ["." as Unicode.Scalar, ".", "."]), tail == nil else { throw fail("term '\(term)' has a malformed ellipsis") }
                        tail = []
                        chars = chars.dropFirst(3)
                        continue
                    }
                    let label: Int
                    switch ch.value {
                    case 65...90: label = Int(ch.value) - 65
                    case 97...122: label = Int(ch.value) - 97 + 26
                    default: throw fail("term '\(term)' has the character '\(ch)'; labels are letters")
                    }
                    if tail != nil { tail!.append(label) } else { head.append(label) }
                    chars = chars.dropFirst()
                }
                return (head, tail)
            }

            let parsed = try terms.map(parse)
            var spans: [Int] = []
            for (t, p) in parsed.enumerated() {
                let letters = p.head.count + (p.tail?.count ?? 0)
                let span = ranks[t] - letters
                guard p.tail == nil ? span == 0 : span >= 0 else {
                    throw fail("term '\(terms[t])' does not fit input \(t) of rank \(ranks[t])")
                }
                spans.append(span)
            }
            let width = spans.max() ?? 0
            operands = zip(parsed, spans).map { p, span in
                guard let tail = p.tail else { return p.head }
                return p.head + (width - span..<width).map { Einsum.ellipsis + $0 } + tail
            }
            let used = Set(operands.joined())
            if sides.count == 2 {
                let out = try parse(sides[1])
                let letters = out.head + (out.tail ?? [])
                guard Set(letters).count == letters.count else { throw fail("output '\(sides[1])' repeats a label") }
                for l in letters where !used.contains(l) { throw fail("output '\(sides[1])' has a label no input has") }
                if let tail = out.tail {
                    output = out.head + (0..<width).map { Einsum.ellipsis + $0 } + tail
                } else {
                    // numpy refuses to drop broadcast axes silently.
                    guard width == 0 else { throw fail("output '\(sides[1])' has no ellipsis for the inputs' broadcast axes") }
                    output = out.head
                }
            } else {
                var count: [Int: Int] = [:]
                for t in parsed { for l in t.head + (t.tail ?? []) { count[l, default: 0] += 1 } }
                output = (0..<width).map { Einsum.ellipsis + $0 } + count.filter { $0.value == 1 }.keys.sorted()
            }
        }
    }

    /// The size of an Einsum label seen as `a` and then as `b`: equal, or 1 against
    /// anything (numpy broadcasts size-1 axes, labelled or in an ellipsis).
    static func label(_ c: ShapeContext, _ a: SymDim?, _ b: SymDim) throws -> SymDim {
        guard let a else { return b }
        let one = SymDim(1)
        if a == b || b == one { return a }
        if a == one { return b }
        if a.isFixed && b.isFixed { throw c.fail("a label has sizes \(a) and \(b)") }
        return a.isFixed ? a : b.isFixed ? b : c.unknown()
    }

    /// The size an op's data decides: exact for 0 or 1 candidates, else unknown.
    static func decided(_ c: ShapeContext, candidates n: SymDim) -> SymDim {
        if let v = n.value, v <= 1 { return n }
        return c.unknown()
    }

    /// `x / k` that must be exact: a fixed size that `k` does not divide is an error.
    static func exactly(_ c: ShapeContext, _ x: SymDim, _ k: Int, _ what: String) throws -> SymDim {
        if let v = x.value {
            guard v % k == 0 else { throw c.fail("\(what) \(v) is not a multiple of \(k)") }
            return SymDim(v / k)
        }
        return try c.orUnknown(x.divided(by: SymDim(k)))
    }

    /// Checks blocksize and mode of SpaceToDepth / DepthToSpace; returns the blocksize.
    static func block(_ c: ShapeContext, _ x: SymShape) throws -> Int {
        guard x.count == 4 else { throw c.fail("the input must be 4-D [N, C, H, W], got \(x.rendered)") }
        let b = try c.int("blocksize")
        guard b > 0, b <= 1 << 24 else { throw c.fail("blocksize \(b) must be positive") }
        guard ["DCR", "CRD"].contains(try c.string("mode")) else { throw c.fail("mode '\(try c.string("mode"))' is not DCR or CRD") }
        return b
    }

    public static let updateRules: Set<String> = ["linear", "gated", "delta", "gated_delta"]

    /// The validated attributes and sizes of one LinearAttention node.
    public struct LinearAttention: Sendable {
        public let qHeads: Int, kvHeads: Int, rule: String
        public var gated: Bool { rule == "gated" || rule == "gated_delta" }
        public var delta: Bool { rule == "delta" || rule == "gated_delta" }

        public init(_ a: OpAttributes) throws {
            qHeads = try a.int("q_num_heads")
            kvHeads = try a.int("kv_num_heads")
            rule = try a.string("update_rule")
            guard qHeads > 0, kvHeads > 0, qHeads % kvHeads == 0 else {
                throw a.fail("q_num_heads (\(qHeads)) must be a positive multiple of kv_num_heads (\(kvHeads))")
            }
            guard TensorOps.updateRules.contains(rule) else { throw a.fail("unknown update_rule '\(rule)'") }
        }
    }

    public static let specs: [OpSpec] = [
        // Sums of products over the labels the output omits; operands broadcast numpy-style.
        OpSpec("Einsum", family: "Tensor", inputs: 1...Int(Int16.max), attributes: [.string("equation", required: true)]) { c in
            let shapes = try c.inputs.indices.map { try c.input($0) }
            let e = try Einsum(try c.string("equation"), ranks: shapes.map(\.count), fail: c.fail)
            var sizes: [Int: SymDim] = [:]
            for (s, labels) in zip(shapes, e.operands) { for (d, l) in zip(s, labels) { sizes[l] = try label(c, sizes[l], d) } }
            return [e.output.map { sizes[$0]! }]
        },
        // Outputs Y, indices, inverse_indices, counts (as many as the node names). Without `axis`
        // the input is flattened. The unique count is decided by the data.
        OpSpec("Unique", family: "Tensor", inputs: 1...1, attributes: [.int("axis"), .int("sorted", 1)], shapeFromData: true) { c in
            let x = try c.input(0)
            guard [0, 1].contains(try c.int("sorted")) else { throw c.fail("sorted must be 0 or 1") }
            let all: [SymShape]
            if let given = try c.attrs.optionalInt("axis") {
                let a = try c.axis(given, rank: x.count)
                let u = decided(c, candidates: x[a])
                var y = x
                y[a] = u
                all = [y, [u], [x[a]], [u]]
            } else {
                let n = try c.product(x), u = decided(c, candidates: n)
                all = [[u], [u], [n], [u]]
            }
            return Array(all.prefix(max(1, min(4, c.node.outputs.count))))
        },
        // Compress(X, condition): the slices (or, without `axis`, the flattened elements) whose
        // condition is true; the condition may be shorter than the axis.
        OpSpec("Compress", family: "Tensor", inputs: 2...2, attributes: [.int("axis")], valueInputs: [1]) { c in
            let x = try c.input(0), cond = try c.input(1)
            guard cond.count == 1 else { throw c.fail("the condition must be 1-D, got \(cond.rendered)") }
            let axis = try c.attrs.optionalInt("axis").map { try c.axis($0, rank: x.count) }
            let limit = try axis.map { x[$0] } ?? c.product(x)
            var selected = c.unknown()
            if let v = c.value(1), v.allSatisfy(\.isFixed) {
                let picked = v.indices.filter { v[$0].value != 0 }
                if let last = picked.last, let n = limit.value, last >= n {
                    throw c.fail("the condition selects index \(last) of an axis of size \(n)")
                }
                selected = SymDim(picked.count)
            } else if cond[0] == SymDim(0) || limit == SymDim(0) {
                selected = SymDim(0)
            }
            guard let a = axis else { return [[selected]] }
            var y = x
            y[a] = selected
            return [y]
        },
        // NonZero(X): int64 [rank, count] of the non-zero positions, in row-major order.
        OpSpec("NonZero", family: "Tensor", inputs: 1...1, valueInputs: [0], shapeFromData: true) { c in
            let x = try c.input(0)
            let count: SymDim
            if let v = c.value(0), v.allSatisfy(\.isFixed) {
                count = SymDim(v.filter { $0.value != 0 }.count)
            } else {
                count = try c.product(x) == SymDim(0) ? SymDim(0) : c.unknown()
            }
            return [[SymDim(x.count), count]]
        },
        // Tile(X, repeats): `repeats` is an attribute when static, else int64 input 1.
        OpSpec("Tile", family: "Tensor", inputs: 1...2, attributes: [.ints("repeats")], valueInputs: [1]) { c in
            let x = try c.input(0)
            let repeats: [SymDim?]
            if let r = try c.parameter("repeats", input: 1) {
                repeats = r.map(SymDim.init)
            } else if let v = c.value(1) {
                repeats = v
            } else if let n = c.length(1) {
                repeats = Array(repeating: nil, count: n)
            } else {
                throw c.fail("repeats must be an attribute or a 1-D int64 input")
            }
            guard repeats.count == x.count else { throw c.fail("\(repeats.count) repeats for an input of rank \(x.count)") }
            var out: SymShape = []
            for (d, r) in zip(x, repeats) {
                if let k = r?.value, k < 0 { throw c.fail("negative repeat \(k)") }
                guard let r else { out.append(d == SymDim(0) ? d : c.unknown()); continue }
                out.append(try c.orUnknown(d.times(r), overflowIf: d.isFixed && r.isFixed))
            }
            // A hostile repeat count must not reach the allocator.
            _ = try c.product(out)
            return [out]
        },
        // [N, C, H, W] → [N, C·b², H/b, W/b]; DCR: channel = (row·b + col)·C + c, CRD: (c·b + row)·b + col.
        OpSpec("SpaceToDepth", family: "Tensor", inputs: 1...1, attributes: [.int("blocksize", required: true), .string("mode", "DCR")]) { c in
            let x = try c.input(0)
            let b = try block(c, x)
            return [[x[0], try c.product([x[1], SymDim(b), SymDim(b)]), try exactly(c, x[2], b, "height"), try exactly(c, x[3], b, "width")]]
        },
        // The inverse of SpaceToDepth: [N, C, H, W] → [N, C/b², H·b, W·b].
        OpSpec("DepthToSpace", family: "Tensor", inputs: 1...1, attributes: [.int("blocksize", required: true), .string("mode", "DCR")]) { c in
            let x = try c.input(0)
            let b = try block(c, x)
            let h = try c.orUnknown(x[2].times(SymDim(b)), overflowIf: x[2].isFixed)
            let w = try c.orUnknown(x[3].times(SymDim(b)), overflowIf: x[3].isFixed)
            return [[x[0], try exactly(c, x[1], b * b, "channel count"), h, w]]
        },
        // ReverseSequence(X, sequence_lens): per batch entry, the first sequence_lens[i] steps reversed.
        OpSpec("ReverseSequence", family: "Tensor", inputs: 2...2, attributes: [.int("batch_axis", 1), .int("time_axis", 0)]) { c in
            let x = try c.input(0), lens = try c.input(1)
            let b = try c.int("batch_axis"), t = try c.int("time_axis")
            guard x.count >= 2 else { throw c.fail("the input must have rank ≥ 2, got \(x.rendered)") }
            guard [0, 1].contains(b), [0, 1].contains(t), b != t else { throw c.fail("batch_axis \(b) and time_axis \(t) must be 0 and 1") }
            guard lens.count == 1 else { throw c.fail("sequence_lens must be 1-D, got \(lens.rendered)") }
            _ = try c.same(lens[0], x[b], "sequence_lens' length and the batch size")
            return [x]
        },
        // Det([*, M, M]) → [*].
        OpSpec("Det", family: "Tensor", inputs: 1...1) { c in
            let x = try c.input(0)
            guard x.count >= 2 else { throw c.fail("the input must have rank ≥ 2, got \(x.rendered)") }
            _ = try c.same(x[x.count - 1], x[x.count - 2], "the matrix sides")
            return [Array(x.dropLast(2))]
        },
        // The bits of each element read as dtype `to`; `from` (the input's dtype) says which bits the runtime's value holds.
        OpSpec("BitCast", family: "Tensor", inputs: 1...1, attributes: [.string("to", required: true), .string("from", required: true)]) { c in
            guard let to = DType(rawValue: try c.string("to")), let from = DType(rawValue: try c.string("from")), to != .bytes, from != .bytes else {
                throw c.fail("unknown dtype '\(try c.string("from"))' or '\(try c.string("to"))'")
            }
            guard to.itemSize == from.itemSize else { throw c.fail("\(from) (\(from.itemSize * 8) bits) and \(to) (\(to.itemSize * 8) bits) differ in width") }
            return [try c.input(0)]
        },
        // TensorScatter(past, update, write_indices?): update written into past along `axis` at each batch entry's index.
        OpSpec("TensorScatter", family: "Tensor", inputs: 2...3, attributes: [.string("mode", "linear"), .int("axis", -2)]) { c in
            let past = try c.input(0), update = try c.input(1)
            guard ["linear", "circular"].contains(try c.string("mode")) else { throw c.fail("mode '\(try c.string("mode"))' is not linear or circular") }
            guard past.count >= 2, update.count == past.count else { throw c.fail("past_cache \(past.rendered) and update \(update.rendered) must have the same rank ≥ 2") }
            let a = try c.axis(try c.int("axis"), rank: past.count)
            guard a != 0 else { throw c.fail("axis cannot be the batch axis") }
            for i in past.indices where i != a { _ = try c.same(past[i], update[i], "past_cache and update off the sequence axis") }
            if let m = past[a].value, let s = update[a].value, s > m { throw c.fail("update's \(s) steps exceed the cache's \(m)") }
            if let w = c.optionalInput(2) {
                guard w.count == 1 else { throw c.fail("write_indices must be 1-D, got \(w.rendered)") }
                _ = try c.same(w[0], past[0], "write_indices' length and the batch size")
            }
            return [past]
        },
        // SwiGLU(A, B) = A·σ(alpha·A)·B, A and B of one shape (no broadcasting).
        OpSpec("SwiGLU", family: "Tensor", inputs: 2...2, attributes: [.float("alpha", 1)]) { c in
            let a = try c.input(0), b = try c.input(1)
            guard a.count == b.count else { throw c.fail("A \(a.rendered) and B \(b.rendered) must have the same shape") }
            return [try zip(a, b).map { try c.same($0, $1, "A and B") }]
        },
        // RotaryEmbedding(X, cos, sin, position_ids?): X is [B, heads, S, head] or [B, S, heads·head]
        // (with num_heads); the first rotary_embedding_dim (0: all) channels of each head rotate.
        OpSpec("RotaryEmbedding", family: "Tensor", inputs: 3...4, attributes: [
            .int("interleaved", 0), .int("rotary_embedding_dim", 0), .int("num_heads"),
        ]) { c in
            let x = try c.input(0), cos = try c.input(1), sin = try c.input(2)
            guard x.count == 3 || x.count == 4 else { throw c.fail("the input must be 3-D or 4-D, got \(x.rendered)") }
            var head = x.count == 4 ? x[3] : x[2]
            if x.count == 3 {
                guard let h = try c.attrs.optionalInt("num_heads"), h > 0 else { throw c.fail("a 3-D input needs a positive num_heads") }
                head = try exactly(c, x[2], h, "the hidden size")
            } else if let h = try c.attrs.optionalInt("num_heads") {
                _ = try c.same(x[1], SymDim(h), "num_heads and the input's head count")
            }
            var rotary = try c.int("rotary_embedding_dim")
            if rotary == 0, let h = head.value { rotary = h }
            if rotary != 0 {
                guard rotary > 0, rotary % 2 == 0 else { throw c.fail("rotary_embedding_dim \(rotary) must be even and positive") }
                if let h = head.value, rotary > h { throw c.fail("rotary_embedding_dim \(rotary) exceeds the head size \(h)") }
            }
            let withPositions = c.optionalInput(3) != nil
            for (name, s) in [("cos_cache", cos), ("sin_cache", sin)] {
                guard s.count == (withPositions ? 2 : 3) else { throw c.fail("\(name) must be \(withPositions ? 2 : 3)-D, got \(s.rendered)") }
                if rotary != 0 { _ = try c.same(s[s.count - 1], SymDim(rotary / 2), "\(name)'s last dimension and half the rotary dimension") }
            }
            let seq = x.count == 4 ? x[2] : x[1]
            if let p = c.optionalInput(3) {
                guard p.count == 2 else { throw c.fail("position_ids must be 2-D, got \(p.rendered)") }
                _ = try c.same(p[0], x[0], "position_ids' batch size")
                _ = try c.same(p[1], seq, "position_ids' sequence length")
            } else {
                _ = try c.same(cos[0], x[0], "cos_cache's batch size")
                _ = try c.same(cos[1], seq, "cos_cache's sequence length")
            }
            return [x]
        },
        // LinearAttention(Q, K, V, past_state?, decay?, beta?) on packed [B, T, heads·size] inputs:
        // outputs [B, T, q_heads·d_v] and present_state [B, kv_heads, d_k, d_v].
        OpSpec("LinearAttention", family: "Tensor", inputs: 3...6, attributes: [
            .int("chunk_size", 64), .int("kv_num_heads", required: true), .int("q_num_heads", required: true),
            .float("scale", 0), .string("update_rule", "gated_delta"),
        ]) { c in
            let p = try LinearAttention(c.attrs)
            let q = try c.input(0), k = try c.input(1), v = try c.input(2)
            guard q.count == 3, k.count == 3, v.count == 3 else { throw c.fail("query, key and value must be 3-D, got \(q.rendered), \(k.rendered), \(v.rendered)") }
            let batch = try c.same(try c.same(q[0], k[0], "batch sizes of query and key"), v[0], "batch sizes of query and value")
            let steps = try c.same(try c.same(q[1], k[1], "lengths of query and key"), v[1], "lengths of query and value")
            let dk = try c.same(try exactly(c, q[2], p.qHeads, "query's hidden size"), try exactly(c, k[2], p.kvHeads, "key's hidden size"), "the key sizes of query and key")
            let dv = try exactly(c, v[2], p.kvHeads, "value's hidden size")
            let state: SymShape = [batch, SymDim(p.kvHeads), dk, dv]
            if let s = c.optionalInput(3) {
                guard s.count == 4 else { throw c.fail("past_state must be 4-D, got \(s.rendered)") }
                for (a, b) in zip(s, state) { _ = try c.same(a, b, "past_state \(s.rendered) and \(state.rendered)") }
            }
            guard (c.optionalInput(4) != nil) == p.gated else { throw c.fail("update_rule '\(p.rule)' \(p.gated ? "needs" : "forbids") decay") }
            guard (c.optionalInput(5) != nil) == p.delta else { throw c.fail("update_rule '\(p.rule)' \(p.delta ? "needs" : "forbids") beta") }
            if let g = c.optionalInput(4) {
                guard g.count == 3 else { throw c.fail("decay must be 3-D, got \(g.rendered)") }
                if let l = g[2].value, let d = dk.value, l != p.kvHeads, l != p.kvHeads * d {
                    throw c.fail("decay's last dimension \(l) must be kv_num_heads or kv_num_heads·d_k")
                }
            }
            if let b = c.optionalInput(5) {
                guard b.count == 3 else { throw c.fail("beta must be 3-D, got \(b.rendered)") }
                if let l = b[2].value, l != p.kvHeads, l != 1 { throw c.fail("beta's last dimension \(l) must be kv_num_heads or 1") }
            }
            return [[batch, steps, try c.orUnknown(dv.times(SymDim(p.qHeads)))], state]
        },
        // CausalConvWithState(X [B, C, L], W [C, 1, K], bias?, past_state? [B, C, K−1]):
        // a depthwise causal convolution; present_state is the last K−1 steps of past ++ X.
        OpSpec("CausalConvWithState", family: "Tensor", inputs: 2...4, attributes: [.string("activation", "none")]) { c in
            let x = try c.input(0), w = try c.input(1)
            guard ["none", "silu", "swish"].contains(try c.string("activation")) else { throw c.fail("activation '\(try c.string("activation"))' is not none, silu or swish") }
            guard x.count == 3, w.count == 3 else { throw c.fail("input and weight must be 3-D, got \(x.rendered), \(w.rendered)") }
            _ = try c.same(w[0], x[1], "weight's channels")
            _ = try c.same(w[1], SymDim(1), "weight's second dimension")
            if let k = w[2].value, k < 1 { throw c.fail("the kernel size \(k) must be positive") }
            let state: SymShape = [x[0], x[1], try c.orUnknown(w[2].subtracting(SymDim(1)))]
            if let b = c.optionalInput(2) {
                guard b.count == 1 else { throw c.fail("bias must be 1-D, got \(b.rendered)") }
                _ = try c.same(b[0], x[1], "bias' length and the channels")
            }
            if let s = c.optionalInput(3) {
                guard s.count == 3 else { throw c.fail("past_state must be 3-D, got \(s.rendered)") }
                for (a, b) in zip(s, state) { _ = try c.same(a, b, "past_state \(s.rendered) and \(state.rendered)") }
            }
            return [x, state]
        },
    ]
}
