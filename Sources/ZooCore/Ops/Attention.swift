/// Scaled dot-product attention (ONNX `Attention`, opsets 23–25).
///
/// Inputs: Q, K, V, attn_mask, past_key, past_value, nonpad_kv_seqlen (all but
/// Q, K, V optional; "" for an absent one). Q, K and V are either all 4-D
/// `[batch, heads, seq, head_size]` or all 3-D `[batch, seq, heads · head_size]`
/// with the head counts in `q_num_heads` / `kv_num_heads`; the kv heads must
/// divide the q heads (grouped-query attention).
///
/// Outputs: Y (the layout of Q), present_key `[batch, kv_heads, total, head_size]`,
/// present_value `[batch, kv_heads, total, v_head_size]` and qk_matmul_output
/// `[batch, q_heads, q_seq, total]`, where `total = past_seq + kv_seq`.
public enum AttentionOps {
    /// `hidden / heads` for a 3-D input: a fixed size must divide exactly.
    static func headSize(_ c: ShapeContext, _ hidden: SymDim, heads: Int, _ what: String) throws -> SymDim {
        if let h = hidden.value {
            guard h % heads == 0 else { throw c.fail("\(what)'s hidden size \(h) is not a multiple of its \(heads) heads") }
            return SymDim(h / heads)
        }
        return try c.orUnknown(hidden.divided(by: SymDim(heads)))
    }

    static func shapes(_ c: ShapeContext) throws -> [SymShape] {
        let q = try c.input(0), k = try c.input(1), v = try c.input(2)
        guard q.count == 3 || q.count == 4 else { throw c.fail("Q must be 3-D or 4-D, got \(q.rendered)") }
        guard k.count == q.count, v.count == q.count else {
            throw c.fail("Q, K and V must have the same rank, got \(q.rendered), \(k.rendered), \(v.rendered)")
        }
        let batch = try c.same(try c.same(q[0], k[0], "batch sizes of Q and K"), v[0], "batch sizes of Q and V")
        let qHeadsAttr = try c.attrs.optionalInt("q_num_heads"), kvHeadsAttr = try c.attrs.optionalInt("kv_num_heads")
        let qHeads: SymDim, kvHeads: SymDim, qSeq: SymDim, kvSeq: SymDim, head: SymDim, vHead: SymDim
        if q.count == 3 {
            guard let hq = qHeadsAttr, let hkv = kvHeadsAttr else { throw c.fail("3-D inputs need the q_num_heads and kv_num_heads attributes") }
            guard hq > 0, hkv > 0 else { throw c.fail("q_num_heads (\(hq)) and kv_num_heads (\(hkv)) must be positive") }
            qHeads = SymDim(hq)
            kvHeads = SymDim(hkv)
            qSeq = q[1]
            kvSeq = try c.same(k[1], v[1], "sequence lengths of K and V")
            head = try c.same(try headSize(c, q[2], heads: hq, "Q"), try headSize(c, k[2], heads: hkv, "K"), "head sizes of Q and K")
            vHead = try headSize(c, v[2], heads: hkv, "V")
        } else {
            qHeads = q[1]
            kvHeads = try c.same(k[1], v[1], "head counts of K and V")
            qSeq = q[2]
            kvSeq = try c.same(k[2], v[2], "sequence lengths of K and V")
            head = try c.same(q[3], k[3], "head sizes of Q and K")
            vHead = v[3]
            // Opsets 23–24 tolerate the head attributes on 4-D inputs; they must then agree.
            if let hq = qHeadsAttr { _ = try c.same(qHeads, SymDim(hq), "q_num_heads and Q's head count") }
            if let hkv = kvHeadsAttr { _ = try c.same(kvHeads, SymDim(hkv), "kv_num_heads and K's head count") }
        }
        if let a = qHeads.value, let b = kvHeads.value {
            guard b > 0, a % b == 0 else { throw c.fail("the \(b) kv heads must divide the \(a) q heads") }
        }
        var total = kvSeq
        switch (c.optionalInput(4), c.optionalInput(5)) {
        case (nil, nil): break
        case (let pk?, let pv?):
            guard pk.count == 4, pv.count == 4 else { throw c.fail("past_key and past_value must be 4-D, got \(pk.rendered), \(pv.rendered)") }
            _ = try c.same(try c.same(pk[0], batch, "batch sizes of past_key and Q"), pv[0], "batch sizes of past_key and past_value")
            _ = try c.same(try c.same(pk[1], kvHeads, "head counts of past_key and K"), pv[1], "head counts of past_key and past_value")
            _ = try c.same(pk[3], head, "head sizes of past_key and K")
            _ = try c.same(pv[3], vHead, "head sizes of past_value and V")
            let past = try c.same(pk[2], pv[2], "sequence lengths of past_key and past_value")
            total = try c.orUnknown(past.adding(kvSeq))
        default:
            throw c.fail("past_key and past_value must be given together")
        }
        if let np = c.optionalInput(6) {
            guard c.optionalInput(4) == nil else { throw c.fail("nonpad_kv_seqlen cannot be combined with past_key/past_value") }
            guard np.count == 1 else { throw c.fail("nonpad_kv_seqlen must be 1-D, got \(np.rendered)") }
            _ = try c.same(np[0], batch, "nonpad_kv_seqlen's length and the batch size")
        }
        if let m = c.optionalInput(3) {
            // The leading axes broadcast against [batch, q_heads, q_seq]; the last is not
            // broadcast but padded with -inf up to `total` (ONNX's reference does so at every opset).
            guard (1...4).contains(m.count) else { throw c.fail("attn_mask must have rank 1 to 4, got \(m.rendered)") }
            for (d, t) in zip(m.dropLast().reversed(), [batch, qHeads, qSeq].reversed()) {
                if let dv = d.value, dv != 1, let tv = t.value, dv != tv {
                    throw c.fail("attn_mask \(m.rendered) does not broadcast to [\(batch), \(qHeads), \(qSeq), \(total)]")
                }
            }
            if let l = m[m.count - 1].value, let t = total.value, l > t {
                throw c.fail("attn_mask's last dimension \(l) exceeds the total sequence length \(t)")
            }
        }
        let mode = try c.int("qk_matmul_output_mode")
        guard (0...3).contains(mode) else { throw c.fail("qk_matmul_output_mode must be 0…3, got \(mode)") }
        for w in ["left_window_size", "right_window_size"] {
            let s = try c.int(w)
            guard s >= -1 else { throw c.fail("\(w) must be -1 or nonnegative, got \(s)") }
        }
        let y: SymShape = q.count == 3 ? [batch, qSeq, try c.orUnknown(qHeads.times(vHead))] : [batch, qHeads, qSeq, vHead]
        return [y, [batch, kvHeads, total, head], [batch, kvHeads, total, vHead], [batch, qHeads, qSeq, total]]
    }

    public static let specs: [OpSpec] = [
        // `scale` absent: 1/√head_size. `softmax_precision` is recorded but the softmax always
        // runs in Float with Double sums. `boolean_mask` (IR only, set by the importer): the mask
        // is boolean (false → -inf), else additive — integer tensors arrive as Int64 either way.
        OpSpec("Attention", family: "Attention", inputs: 3...7, attributes: [
            .int("is_causal", 0), .int("q_num_heads"), .int("kv_num_heads"), .int("qk_matmul_output_mode", 0),
            .float("scale"), .float("softcap", 0), .int("softmax_precision"),
            .int("left_window_size", -1), .int("right_window_size", -1), .int("boolean_mask", 0),
        ]) { c in try shapes(c) },
    ]
}
