import CBLAS
import Foundation
import ZooCore

/// The Attention kernel (ONNX opsets 23–25), per (batch, q head):
/// scores = (Q·√scale)(K·√scale)ᵀ, softcap, + bias (mask, causal frontier,
/// sliding window, padding), softmax, · V. The products are sgemm in Float;
/// softmax sums accumulate in Double.
enum AttentionKernels {
    /// Where one head's rows live: 4-D `[B, H, S, size]`, or 3-D `[B, S, H·size]`
    /// (`packed`: the heads interleaved in the hidden axis). A row is contiguous in both.
    struct Layout {
        let heads: Int, seq: Int, size: Int, packed: Bool
        /// Offset of row 0 of head `h` of batch `b`.
        func base(_ b: Int, _ h: Int) -> Int { packed ? b * seq * heads * size + h * size : (b * heads + h) * seq * size }
        /// Distance between consecutive rows of one head.
        var rowStride: Int { packed ? heads * size : size }
    }

    /// The attention mask read in place: `strides` broadcast its leading axes to
    /// `[B, Hq, Sq]`; keys at or past `length` are padding (-inf), as ONNX pads a short mask.
    struct Mask {
        let values: MathKernels.Values, strides: [Int], length: Int, boolean: Bool
        func offset(_ b: Int, _ h: Int, _ i: Int) -> Int { b * strides[0] + h * strides[1] + i * strides[2] }
        func bias(_ row: Int, _ j: Int) -> Float {
            guard j < length else { return -.infinity }
            let v = values.float(row + j * strides[3])
            return boolean ? (v != 0 ? 0 : -.infinity) : v
        }
    }

    /// C[m, n] = alpha · A[m, k] · op(B) (row-major, leading dimensions given); empty sizes are handled here.
    static func gemm(m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                     b: UnsafePointer<Float>, ldb: Int, transB: Bool, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        guard k > 0 else {
            for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) }
            return
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, transB ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), Int32(k), alpha,
                    a, Int32(lda), b, Int32(ldb), 0, c, Int32(ldc))
    }

    /// Softmax of one row in place. A row with no attendable key (`closed`: its bias is
    /// all -inf) or only -inf scores is all zeros, not NaN (ONNX's fully-masked-row rule).
    static func softmax(_ x: UnsafeMutablePointer<Float>, _ n: Int, closed: Bool) {
        var m = -Float.infinity
        for j in 0..<n where x[j] > m { m = x[j] }
        guard !closed, m != -.infinity else {
            x.update(repeating: 0, count: n)
            return
        }
        var sum = 0.0
        for j in 0..<n {
            let e = expf(x[j] - m)
            x[j] = e
            sum += Double(e)
        }
        for j in 0..<n { x[j] = Float(Double(x[j]) / sum) }
    }

    /// [B, H, past + S, size] = past ++ x along the sequence axis (`past` may be absent).
    static func concat(_ past: UnsafePointer<Float>?, pastLength: Int, _ x: UnsafePointer<Float>, _ l: Layout, batch: Int,
                       into y: UnsafeMutablePointer<Float>) {
        let total = pastLength + l.seq
        for b in 0..<batch {
            for h in 0..<l.heads {
                let dst = y + (b * l.heads + h) * total * l.size
                if let past, pastLength > 0 { dst.update(from: past + (b * l.heads + h) * pastLength * l.size, count: pastLength * l.size) }
                let src = x + l.base(b, h)
                for i in 0..<l.seq { (dst + (pastLength + i) * l.size).update(from: src + i * l.rowStride, count: l.size) }
            }
        }
    }

    /// K or V as the products read it: the input in place, or (with a cache, or when the
    /// present output is wanted) past ++ input in a fresh `[B, H, total, size]` buffer.
    static func source(_ c: KernelCall, input: Int, past: Int, layout l: Layout, batch: Int, materialise: Bool) throws
        -> (UnsafePointer<Float>, Layout, (UnsafeMutablePointer<Float>, Buffer)?) {
        let x = try c.floats(input)
        let cache = try c.optionalFloats(input + 3)
        guard materialise || cache != nil else { return (UnsafePointer(x), l, nil) }
        let total = past + l.seq
        let p = c.allocate(batch * l.heads * total * l.size)
        concat(cache.map { UnsafePointer($0) }, pastLength: past, x, l, batch: batch, into: p.0)
        return (UnsafePointer(p.0), Layout(heads: l.heads, seq: total, size: l.size, packed: false), p)
    }

    static func run(_ c: KernelCall) throws -> [RValue] {
        let qs = try c.shape(0), ks = try c.shape(1), vs = try c.shape(2)
        let rank = qs.count
        guard rank == 3 || rank == 4, ks.count == rank, vs.count == rank else { throw c.fail("Q, K and V must all be 3-D or all 4-D") }
        let batch = qs[0]
        let q: Layout, k: Layout, v: Layout
        if rank == 3 {
            guard let hq = try c.attrs.optionalInt("q_num_heads"), let hkv = try c.attrs.optionalInt("kv_num_heads"), hq > 0, hkv > 0,
                  qs[2] % hq == 0, ks[2] % hkv == 0, vs[2] % hkv == 0 else {
                throw c.fail("3-D inputs need positive q_num_heads/kv_num_heads dividing the hidden sizes")
            }
            q = Layout(heads: hq, seq: qs[1], size: qs[2] / hq, packed: true)
            k = Layout(heads: hkv, seq: ks[1], size: ks[2] / hkv, packed: true)
            v = Layout(heads: hkv, seq: vs[1], size: vs[2] / hkv, packed: true)
        } else {
            q = Layout(heads: qs[1], seq: qs[2], size: qs[3], packed: false)
            k = Layout(heads: ks[1], seq: ks[2], size: ks[3], packed: false)
            v = Layout(heads: vs[1], seq: vs[2], size: vs[3], packed: false)
        }
        guard ks[0] == batch, vs[0] == batch, k.heads == v.heads, k.seq == v.seq, k.size == q.size,
              k.heads > 0, q.heads % k.heads == 0 else {
            throw c.fail("Q \(qs), K \(ks) and V \(vs) do not fit one attention")
        }

        var past = 0
        if c.has(4) || c.has(5) {
            let pk = try c.shape(4), pv = try c.shape(5)
            guard pk.count == 4, pv.count == 4, pk[0] == batch, pv[0] == batch, pk[1] == k.heads, pv[1] == k.heads,
                  pk[2] == pv[2], pk[3] == k.size, pv[3] == v.size else {
                throw c.fail("past_key \(pk) and past_value \(pv) do not fit K \(ks) and V \(vs)")
            }
            past = pk[2]
        }
        let total = past + k.seq
        // Keys j ≥ nonpad[b] are padding; clamped so `i + offset - j` cannot overflow.
        let nonpad: [Int]?
        if c.has(6) {
            guard !c.has(4) else { throw c.fail("nonpad_kv_seqlen cannot be combined with past_key/past_value") }
            let np = try c.ints(6)
            guard np.count == batch else { throw c.fail("nonpad_kv_seqlen has \(np.count) entries for batch \(batch)") }
            nonpad = np.map { Int(max(min($0, 1 << 60), -(1 << 60))) }
        } else {
            nonpad = nil
        }
        let mask: Mask?
        if c.has(3) {
            let ms = try c.shape(3)
            guard (1...4).contains(ms.count), let length = ms.last, length <= total else {
                throw c.fail("attn_mask \(ms) does not fit [\(batch), \(q.heads), \(q.seq), \(total)]")
            }
            let target = [batch, q.heads, q.seq, length]
            for (d, t) in zip(ms.reversed(), target.reversed()) where d != 1 && d != t {
                throw c.fail("attn_mask \(ms) does not broadcast to [\(batch), \(q.heads), \(q.seq), \(total)]")
            }
            mask = Mask(values: MathKernels.Values(try c.input(3)), strides: broadcastStrides(ms, to: target), length: length,
                        boolean: try c.attrs.int("boolean_mask") != 0)
        } else {
            mask = nil
        }
        let causal = try c.attrs.int("is_causal") != 0
        let left = try c.attrs.int("left_window_size"), right = try c.attrs.int("right_window_size")
        let mode = try c.attrs.int("qk_matmul_output_mode")
        guard (0...3).contains(mode) else { throw c.fail("qk_matmul_output_mode must be 0…3, got \(mode)") }
        let cap = try c.attrs.float("softcap")
        // As ONNX: √scale (computed in Double, rounded to Float) multiplies both Q and K.
        let scale = try c.attrs.optionalFloat("scale").map { Double($0) } ?? 1 / Double(q.size).squareRoot()
        let root = Float(scale.squareRoot())
        let limit = Int(Int32.max)
        guard [q.seq, total, q.size, v.size, q.rowStride, k.rowStride, v.rowStride, q.heads * v.size].allSatisfy({ $0 <= limit }) else {
            throw c.unsupported("a sequence or hidden size beyond \(limit)")
        }

        // Outputs after Y exist only when the node names them (the importer drops trailing unused ones).
        let wanted = min(c.node.outputs.count, 4)
        let qp = try c.floats(0)
        let (kp, kl, presentK) = try source(c, input: 1, past: past, layout: k, batch: batch, materialise: wanted > 1)
        let (vp, vl, presentV) = try source(c, input: 2, past: past, layout: v, batch: batch, materialise: wanted > 2)
        let yl = Layout(heads: q.heads, seq: q.seq, size: v.size, packed: rank == 3)
        let (yp, yb) = c.allocate(batch * q.heads * q.seq * v.size)
        let qk: (UnsafeMutablePointer<Float>, Buffer)? = wanted > 3 ? c.allocate(batch * q.heads * q.seq * total) : nil
        let qkp = qk?.0

        let pairs = batch * q.heads, group = q.heads / k.heads
        // Score rows per block: bounds the scratch to about 1 MB per worker.
        let block = max(1, min(q.seq, (1 << 18) / max(total, 1)))
        let work = Double(pairs) * Double(q.seq) * Double(total) * Double(q.size + v.size)
        parallelWorkers(pairs, threads: work < Double(1 << 20) ? 1 : c.threads) { _, range in
            let s = UnsafeMutablePointer<Float>.allocate(capacity: max(1, block * total))
            defer { s.deallocate() }
            for pair in range {
                let b = pair / q.heads, h = pair % q.heads, kh = h / group
                let kHead = kp + kl.base(b, kh), vHead = vp + vl.base(b, kh)
                // Bottom-right causal alignment: the keys before this query block.
                let offset = nonpad.map { $0[b] - q.seq } ?? past
                let valid = nonpad?[b] ?? Int.max
                for i0 in stride(from: 0, to: q.seq, by: block) {
                    let rows = min(block, q.seq - i0)
                    gemm(m: rows, n: total, k: q.size, alpha: root * root, a: qp + q.base(b, h) + i0 * q.rowStride, lda: q.rowStride,
                         b: kHead, ldb: kl.rowStride, transB: true, c: s, ldc: total)
                    for r in 0..<rows {
                        let i = i0 + r, x = s + r * total
                        let out = qkp.map { $0 + (pair * q.seq + i) * total }
                        if mode == 0, let out { out.update(from: x, count: total) }
                        if cap > 0 { for j in 0..<total { x[j] = cap * tanhf(x[j] / cap) } }
                        if mode == 1, let out { out.update(from: x, count: total) }
                        // The bias terms add (as ONNX composes them), so +inf mask + -inf stays NaN.
                        let row = mask?.offset(b, h, i) ?? 0
                        var open = false
                        for j in 0..<total {
                            var bias: Float = mask?.bias(row, j) ?? 0
                            let d = i + offset - j
                            if causal && d < 0 { bias += -.infinity }
                            if (left >= 0 && d > left) || (right >= 0 && -d > right) { bias += -.infinity }
                            if j >= valid { bias += -.infinity }
                            if bias != -.infinity { open = true }
                            x[j] += bias
                        }
                        if mode == 2, let out { out.update(from: x, count: total) }
                        softmax(x, total, closed: !open)
                        if mode == 3, let out { out.update(from: x, count: total) }
                    }
                    gemm(m: rows, n: v.size, k: total, alpha: 1, a: s, lda: total, b: vHead, ldb: vl.rowStride, transB: false,
                         c: yp + yl.base(b, h) + i0 * yl.rowStride, ldc: yl.rowStride)
                }
            }
        }

        var results = [c.result(yp, yb, output: 0)]
        for (n, p) in [presentK, presentV].enumerated() {
            guard let p else { continue }
            if wanted > n + 1 { results.append(c.result(p.0, p.1, output: n + 1)) } else { c.giveBack(p.1) }
        }
        if let qk { results.append(c.result(qk.0, qk.1, output: 3)) }
        return results
    }

    static let table: [String: Kernel] = [
        "Attention": Kernel(run: { c in try run(c) }),
    ]
}
