import CBLAS
import Foundation
import ZooCore

/// RNN, GRU and LSTM (ZooCore `RecurrentOps`). Per direction: X·Wᵀ plus the
/// biases for every step in one product, then per step H·Rᵀ over the batch
/// (BLAS) and the gates in Float. An entry past its `sequence_lens` is
/// skipped, so its state stays that of its last step; the directions of a
/// bidirectional node run in parallel.
enum RecurrentKernels {
    /// Where a step's values live under `layout`.
    struct Geometry {
        let seq: Int, batch: Int, input: Int, hidden: Int, directions: Int, layout: Int
        /// Row of X (and of X·Wᵀ) for step `t` of batch entry `b`.
        func row(_ t: Int, _ b: Int) -> Int { layout == 0 ? t * batch + b : b * seq + t }
        /// Offset of Y[t, d, b] (layout 0) or Y[b, t, d] (layout 1).
        func y(_ t: Int, _ d: Int, _ b: Int) -> Int {
            (layout == 0 ? (t * directions + d) * batch + b : (b * seq + t) * directions + d) * hidden
        }
        /// Offset of a state row: [d, b] (layout 0) or [b, d] (layout 1).
        func state(_ d: Int, _ b: Int) -> Int { (layout == 0 ? d * batch + b : b * directions + d) * hidden }
    }

    /// y[m, n] = a[m, k] · b[n, k]ᵀ (+ bias[n]); an empty k gives the bias alone (BLAS rejects k = 0).
    static func product(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                        _ y: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int, threads: Int) {
        guard m > 0, n > 0 else { return }
        guard k > 0 else {
            for i in 0..<m {
                if let bias { (y + i * n).update(from: bias, count: n) } else { (y + i * n).update(repeating: 0, count: n) }
            }
            return
        }
        if m == 1, bias == nil {
            // One batch entry per step (the usual inference): a matrix-vector product.
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(n), Int32(k), 1, b, Int32(k), a, 1, 0, y, 1)
            return
        }
        GemmKernel.gemm(a: a, b: b, c: bias, cShape: [n], y: y, m: m, n: n, k: k, transA: false, transB: true,
                        alpha: 1, beta: bias == nil ? 0 : 1, activation: .none, threads: threads)
    }

    static func run(_ c: KernelCall, _ kind: RecurrentOps.Kind) throws -> [RValue] {
        let p = try RecurrentOps.parameters(c.attrs, kind: kind)
        let xs = try c.shape(0), ws = try c.shape(1), rs = try c.shape(2)
        guard xs.count == 3, rs.count == 3 else { throw c.fail("X \(xs) and R \(rs) must be 3-D") }
        let hidden = p.hidden ?? rs[2], rows = kind.gates * hidden
        let g = Geometry(seq: xs[p.layout], batch: xs[1 - p.layout], input: xs[2], hidden: hidden, directions: p.directions, layout: p.layout)
        let dirs = g.directions
        guard ws == [dirs, rows, g.input], rs == [dirs, rows, hidden] else {
            throw c.fail("W \(ws) and R \(rs) do not fit \(dirs) direction(s) of \(kind.gates)·\(hidden) rows over input \(g.input)")
        }
        let bias = try c.optionalFloats(3)
        if bias != nil, try c.shape(3) != [dirs, 2 * rows] { throw c.fail("B \(try c.shape(3)) is not [\(dirs), \(2 * rows)]") }
        var lengths = [Int](repeating: g.seq, count: g.batch)
        if c.has(4) {
            let v = try c.ints(4)
            guard try c.shape(4) == [g.batch], v.count == g.batch else { throw c.fail("sequence_lens \(try c.shape(4)) is not [\(g.batch)]") }
            guard v.allSatisfy({ $0 >= 0 && $0 <= g.seq }) else { throw c.fail("sequence_lens \(v) must lie in 0…\(g.seq)") }
            lengths = v.map { Int($0) }
        }
        let stateShape = p.layout == 0 ? [dirs, g.batch, hidden] : [g.batch, dirs, hidden]
        func initial(_ i: Int) throws -> UnsafePointer<Float>? {
            guard c.has(i) else { return nil }
            guard try c.shape(i) == stateShape else { throw c.fail("input \(i) \(try c.shape(i)) is not the state shape \(stateShape)") }
            return UnsafePointer(try c.floats(i))
        }
        let initialH = try initial(5), initialC = kind == .lstm ? try initial(6) : nil
        let peepholes = kind == .lstm ? try c.optionalFloats(7) : nil
        if peepholes != nil, try c.shape(7) != [dirs, 3 * hidden] { throw c.fail("P \(try c.shape(7)) is not [\(dirs), \(3 * hidden)]") }
        let limit = Int(Int32.max)
        guard [g.seq * g.batch, rows, g.input].allSatisfy({ $0 <= limit }) else { throw c.unsupported("a dimension beyond \(limit)") }

        let stateCount = dirs * g.batch * hidden
        let (y, yBuffer) = c.allocate(g.seq * stateCount)
        // Steps past an entry's length are zeros in Y; every other step is written below.
        if lengths.contains(where: { $0 < g.seq }) { y.update(repeating: 0, count: g.seq * stateCount) }
        // The final states are always gathered here; outputs the node does not name are handed back.
        let hOut = c.allocate(stateCount)
        let cOut = kind == .lstm ? c.allocate(stateCount) : nil
        hOut.0.update(repeating: 0, count: stateCount)
        cOut?.0.update(repeating: 0, count: stateCount)

        if g.seq > 0, g.batch > 0, hidden > 0 {
            let x = try c.floats(0), w = try c.floats(1), r = try c.floats(2)
            // Per direction: X·Wᵀ + biases, the biases summed, H, C, H·Rᵀ, and for the GRU's
            // reset-before-product form z, r⊙H and (r⊙H)·Rhᵀ.
            let steps = g.seq * g.batch * rows, n = g.batch * hidden
            let split = kind == .gru && !p.linearBeforeReset
            let per = steps + rows + 2 * n + g.batch * rows + (split ? 3 * n : 0)
            let scratch = c.scratch(dirs * per)
            defer { c.giveBack(scratch) }
            for d in 0..<dirs {
                let base = scratch.pointer + d * per, sum = base + steps
                for j in 0..<rows {
                    let wb = bias.map { $0[d * 2 * rows + j] } ?? 0, rb = bias.map { $0[d * 2 * rows + rows + j] } ?? 0
                    // With linear_before_reset, Rbh is added inside r ⊙ (…), not here.
                    sum[j] = kind == .gru && p.linearBeforeReset && j >= 2 * hidden ? wb : wb + rb
                }
                product(x, w + d * rows * g.input, bias: sum, base, m: g.seq * g.batch, n: rows, k: g.input, threads: c.threads)
            }
            let work = Double(g.seq) * Double(g.batch) * Double(rows) * Double(hidden)
            let parallel = dirs > 1 && c.threads > 1 && work > Double(1 << 18)
            let inner = parallel ? max(1, c.threads / dirs) : c.threads
            parallelWorkers(dirs, threads: parallel ? dirs : 1) { _, range in
                for d in range {
                    let base = scratch.pointer + d * per
                    let rb = bias.map { UnsafePointer($0 + d * 2 * rows + rows) }
                    recur(p, g, d: d, lengths: lengths, xw: base, h: base + steps + rows, r: r + d * rows * hidden, rBias: rb,
                          peepholes: peepholes.map { UnsafePointer($0 + d * 3 * hidden) },
                          initialH: initialH, initialC: initialC,
                          y: y, hOut: hOut.0, cOut: cOut?.0, threads: inner)
                }
            }
        }

        var results = [c.result(y, yBuffer, output: 0)]
        let wanted = min(c.node.outputs.count, kind.outputs)
        for (k, o) in [hOut, cOut].enumerated() {
            guard let o else { continue }
            if wanted > k + 1 { results.append(c.result(o.0, o.1, output: k + 1)) } else { c.giveBack(o.1) }
        }
        return results
    }

    /// Runs direction `d` over every step. `h` is this direction's scratch after the
    /// summed biases: H, C, H·Rᵀ, then (GRU, reset before the product) z, r⊙H, (r⊙H)·Rhᵀ.
    static func recur(_ p: RecurrentOps.Parameters, _ g: Geometry, d: Int, lengths: [Int], xw: UnsafePointer<Float>,
                      h: UnsafeMutablePointer<Float>, r: UnsafePointer<Float>, rBias: UnsafePointer<Float>?,
                      peepholes: UnsafePointer<Float>?, initialH: UnsafePointer<Float>?, initialC: UnsafePointer<Float>?,
                      y: UnsafeMutablePointer<Float>, hOut: UnsafeMutablePointer<Float>, cOut: UnsafeMutablePointer<Float>?, threads: Int) {
        let hs = g.hidden, n = g.batch * hs, rows = p.kind.gates * hs
        let cell = h + n, hr = cell + n
        let split = p.kind == .gru && !p.linearBeforeReset
        let z = hr + g.batch * rows, rh = z + n, hh = rh + n
        // The product H·Rᵀ covers only z and r when r multiplies H before Rh.
        let width = split ? 2 * hs : rows
        for b in 0..<g.batch {
            let o = g.state(d, b)
            if let initialH { (h + b * hs).update(from: initialH + o, count: hs) } else { (h + b * hs).update(repeating: 0, count: hs) }
            if let initialC { (cell + b * hs).update(from: initialC + o, count: hs) } else { (cell + b * hs).update(repeating: 0, count: hs) }
        }
        if split { rh.update(repeating: 0, count: n) }
        let f = p.activations[d]
        let f0 = f[0], f1 = f.count > 1 ? f[1] : f[0], f2 = f.count > 2 ? f[2] : f[0]
        let lim = p.clip ?? .infinity
        @inline(__always) func clip(_ v: Float) -> Float { min(max(v, -lim), lim) }
        let reversed = p.reversed(d)
        for s in 0..<(lengths.max() ?? 0) {
            product(h, r, bias: nil, hr, m: g.batch, n: width, k: hs, threads: threads)
            for b in 0..<g.batch where s < lengths[b] {
                let t = reversed ? lengths[b] - 1 - s : s
                let gx = xw + g.row(t, b) * rows, gh = hr + b * width, hb = h + b * hs, cb = cell + b * hs
                switch p.kind {
                case .rnn:
                    for j in 0..<hs { hb[j] = f0(clip(gx[j] + gh[j])) }
                case .gru where split:
                    for j in 0..<hs {
                        z[b * hs + j] = f0(clip(gx[j] + gh[j]))
                        rh[b * hs + j] = f0(clip(gx[hs + j] + gh[hs + j])) * hb[j]
                    }
                case .gru:
                    for j in 0..<hs {
                        let zj = f0(clip(gx[j] + gh[j])), rj = f0(clip(gx[hs + j] + gh[hs + j]))
                        let candidate = f1(clip(gx[2 * hs + j] + rj * (gh[2 * hs + j] + (rBias?[2 * hs + j] ?? 0))))
                        hb[j] = (1 - zj) * candidate + zj * hb[j]
                    }
                case .lstm:
                    for j in 0..<hs {
                        let previous = cb[j]
                        let pi = peepholes?[j] ?? 0, po = peepholes?[hs + j] ?? 0, pf = peepholes?[2 * hs + j] ?? 0
                        let i = f0(clip(gx[j] + gh[j] + pi * previous))
                        // input_forget couples the gates: f = 1 − i.
                        let forget = p.inputForget ? 1 - i : f0(clip(gx[2 * hs + j] + gh[2 * hs + j] + pf * previous))
                        let next = forget * previous + i * f1(clip(gx[3 * hs + j] + gh[3 * hs + j]))
                        let out = f0(clip(gx[hs + j] + gh[hs + j] + po * next))
                        cb[j] = next
                        hb[j] = out * f2(next)
                    }
                }
                if !split { (y + g.y(t, d, b)).update(from: hb, count: hs) }
            }
            guard split else { continue }
            product(rh, r + 2 * hs * hs, bias: nil, hh, m: g.batch, n: hs, k: hs, threads: threads)
            for b in 0..<g.batch where s < lengths[b] {
                let t = reversed ? lengths[b] - 1 - s : s
                let gx = xw + g.row(t, b) * rows, hb = h + b * hs
                for j in 0..<hs {
                    let zj = z[b * hs + j], candidate = f1(clip(gx[2 * hs + j] + hh[b * hs + j]))
                    hb[j] = (1 - zj) * candidate + zj * hb[j]
                }
                (y + g.y(t, d, b)).update(from: hb, count: hs)
            }
        }
        // A sequence of length 0 keeps the zero states (onnxruntime's result).
        for b in 0..<g.batch where lengths[b] > 0 {
            (hOut + g.state(d, b)).update(from: h + b * hs, count: hs)
            cOut.map { ($0 + g.state(d, b)).update(from: cell + b * hs, count: hs) }
        }
    }

    static let table: [String: Kernel] = [
        "RNN": Kernel(run: { c in try run(c, .rnn) }),
        "GRU": Kernel(run: { c in try run(c, .gru) }),
        "LSTM": Kernel(run: { c in try run(c, .lstm) }),
    ]
}

extension RecurrentOps.Activation {
    /// The function at one value (its alpha and beta already resolved).
    @inline(__always) func callAsFunction(_ x: Float) -> Float {
        switch function {
        case .relu: return max(x, 0)
        case .tanh: return tanhf(x)
        case .sigmoid: return 1 / (1 + expf(-x))
        case .affine: return alpha * x + beta
        case .leakyRelu: return x >= 0 ? x : alpha * x
        case .thresholdedRelu: return x > alpha ? x : 0
        case .scaledTanh: return alpha * tanhf(beta * x)
        case .hardSigmoid: return min(max(alpha * x + beta, 0), 1)
        case .elu: return x >= 0 ? x : alpha * (expf(x) - 1)
        case .softsign: return x / (1 + abs(x))
        // Past 20, log(1 + eˣ) rounds to x in Float (and eˣ overflows past 88).
        case .softplus: return x > 20 ? x : log1pf(expf(x))
        }
    }
}
