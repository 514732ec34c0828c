import Foundation
import ZooCore

/// Kernels of the Tensor family (ZooCore `TensorOps`).
///
/// Unique and NonZero (`OpSpec.shapeFromData`) size their outputs from the
/// data and return values whose own shapes are authoritative; the plan holds
/// -1 for those sizes. Every other kernel here fills the planned shapes.
enum TensorKernels {
    // MARK: helpers

    /// `x` moved by `op` into a fresh value of `shape` (floats pooled, ints in an array).
    static func moved(_ c: KernelCall, _ x: RValue, shape: [Int], _ op: DataMove) -> RValue {
        let n = shape.reduce(1, *)
        switch x {
        case .floats(let p, _, _):
            let (y, b) = c.allocate(n)
            if n > 0 { op.apply(p, y) }
            return .floats(y, shape: shape, buffer: b)
        case .ints(let v, _):
            guard n > 0 else { return .ints([], shape: shape) }
            let y = [Int64](unsafeUninitializedCapacity: n) { dst, done in
                v.withUnsafeBufferPointer { op.apply($0.baseAddress!, dst.baseAddress!) }
                done = n
            }
            return .ints(y, shape: shape)
        }
    }

    /// `x` read through `strides` over the index space `walk` (row-major), stored as `shape`:
    /// tiles and block rearrangements are one strided read each.
    static func strided(_ c: KernelCall, _ x: RValue, walk: [Int], strides: [Int], shape: [Int]) -> RValue {
        let n = walk.reduce(1, *)
        switch x {
        case .floats(let p, _, _):
            let (y, b) = c.allocate(n)
            StridedCopy.copy(p, offset: 0, strides: strides, shape: walk, to: y)
            return .floats(y, shape: shape, buffer: b)
        case .ints(let v, _):
            guard n > 0 else { return .ints([], shape: shape) }
            let y = [Int64](unsafeUninitializedCapacity: n) { dst, done in
                v.withUnsafeBufferPointer { StridedCopy.copy($0.baseAddress!, offset: 0, strides: strides, shape: walk, to: dst.baseAddress!) }
                done = n
            }
            return .ints(y, shape: shape)
        }
    }

    /// A value of `shape` whose element `i` is `x[source(i)]`, sized by the caller (not the plan).
    static func picked(_ c: KernelCall, _ x: RValue, shape: [Int], _ source: (Int) -> Int) -> RValue {
        let n = shape.reduce(1, *)
        switch x {
        case .floats(let p, _, _):
            let (y, b) = c.allocate(n)
            for i in 0..<n { y[i] = p[source(i)] }
            return .floats(y, shape: shape, buffer: b)
        case .ints(let v, _):
            return .ints((0..<n).map { v[source($0)] }, shape: shape)
        }
    }

    /// A float output buffer for planned output `k`, reusing input 0's buffer when
    /// this node is its last reader (output 0 only); `fresh` says whether it is new.
    static func floatOutput(_ c: KernelCall, inPlaceOf x: UnsafeMutablePointer<Float>) -> (UnsafeMutablePointer<Float>, Buffer, fresh: Bool) {
        let (y, b) = c.output(inPlace: true)
        return (y, b, y != x)
    }

    // MARK: Einsum

    /// Einsum of two float operands as batched sgemm, when it is one: no label repeated
    /// within an operand, no broadcast axis, and every summed label in both operands.
    /// nil when the equation needs the general loop.
    static func einsumGEMM(_ c: KernelCall, _ e: TensorOps.Einsum, _ a: UnsafeMutablePointer<Float>, _ sa: [Int],
                           _ b: UnsafeMutablePointer<Float>, _ sb: [Int], size: [Int: Int]) -> RValue? {
        let la = e.operands[0], lb = e.operands[1], out = e.output
        guard Set(la).count == la.count, Set(lb).count == lb.count,
              zip(la, sa).allSatisfy({ size[$0] == $1 }), zip(lb, sb).allSatisfy({ size[$0] == $1 }) else { return nil }
        let inA = Set(la), inB = Set(lb), inOut = Set(out)
        guard inA.union(inB).subtracting(inOut).isSubset(of: inA.intersection(inB)) else { return nil }
        let batch = out.filter { inA.contains($0) && inB.contains($0) }
        let rows = out.filter { inA.contains($0) && !inB.contains($0) }
        let cols = out.filter { inB.contains($0) && !inA.contains($0) }
        let inner = la.filter { !inOut.contains($0) }
        func count(_ l: [Int]) -> Int { l.reduce(1) { $0 * size[$1]! } }
        let nb = count(batch), m = count(rows), n = count(cols), k = count(inner)

        /// The operand with its axes in `order`: in place when already so, else a transposed scratch copy.
        func arranged(_ p: UnsafeMutablePointer<Float>, _ shape: [Int], _ labels: [Int], _ order: [Int]) -> (UnsafePointer<Float>, Buffer?) {
            let perm = order.map { labels.firstIndex(of: $0)! }
            if perm == Array(labels.indices) { return (UnsafePointer(p), nil) }
            let s = c.scratch(max(1, shape.reduce(1, *)))
            StridedCopy.transpose(p, shape: shape, perm: perm, to: s.pointer)
            return (UnsafePointer(s.pointer), s)
        }
        let (pa, ta) = arranged(a, sa, la, batch + rows + inner)
        let (pb, tb) = arranged(b, sb, lb, batch + inner + cols)
        let (y, buffer) = c.allocate(c.count)
        let produced = batch + rows + cols
        let direct = produced == out
        let tc = direct ? nil : c.scratch(max(1, nb * m * n))
        let dst = tc?.pointer ?? y
        for i in 0..<nb {
            AttentionKernels.gemm(m: m, n: n, k: k, alpha: 1, a: pa + i * m * k, lda: max(k, 1), b: pb + i * k * n, ldb: max(n, 1),
                                  transB: false, c: dst + i * m * n, ldc: max(n, 1))
        }
        if let tc {
            StridedCopy.transpose(tc.pointer, shape: produced.map { size[$0]! }, perm: out.map { produced.firstIndex(of: $0)! }, to: y)
            c.giveBack(tc)
        }
        if let ta { c.giveBack(ta) }
        if let tb { c.giveBack(tb) }
        return .floats(y, shape: c.out, buffer: buffer)
    }

    /// y[o] = Σ over the summed index space of Π operands, every output position
    /// `o` walked row-major: `outer`/`inner` are the output and summed sizes, the
    /// strides per operand (0 where an operand lacks or broadcasts a label).
    static func contract<T, A>(_ ops: [UnsafePointer<T>], outer: [Int], outerStrides: [[Int]], inner: [Int], innerStrides: [[Int]],
                               into y: UnsafeMutablePointer<T>, zero: A, one: A, multiply: (A, T) -> A, add: (A, A) -> A, store: (A) -> T) {
        let t = ops.count
        let outCount = outer.reduce(1, *), inCount = inner.reduce(1, *)
        var oIdx = [Int](repeating: 0, count: outer.count), base = [Int](repeating: 0, count: t)
        var iIdx = [Int](repeating: 0, count: inner.count), off = [Int](repeating: 0, count: t)
        for o in 0..<outCount {
            var sum = zero
            if inCount > 0 {
                for j in 0..<t { off[j] = base[j] }
                for d in iIdx.indices { iIdx[d] = 0 }
                while true {
                    var p = one
                    for j in 0..<t { p = multiply(p, ops[j][off[j]]) }
                    sum = add(sum, p)
                    var d = inner.count - 1
                    while d >= 0 {
                        iIdx[d] += 1
                        for j in 0..<t { off[j] += innerStrides[j][d] }
                        if iIdx[d] < inner[d] { break }
                        for j in 0..<t { off[j] -= innerStrides[j][d] * inner[d] }
                        iIdx[d] = 0
                        d -= 1
                    }
                    if d < 0 { break }
                }
            }
            y[o] = store(sum)
            var d = outer.count - 1
            while d >= 0 {
                oIdx[d] += 1
                for j in 0..<t { base[j] += outerStrides[j][d] }
                if oIdx[d] < outer[d] { break }
                for j in 0..<t { base[j] -= outerStrides[j][d] * outer[d] }
                oIdx[d] = 0
                d -= 1
            }
        }
    }

    static let einsum = Kernel(run: { c in
        let xs = try c.ins.indices.map { try c.input($0) }
        let e = try TensorOps.Einsum(try c.attrs.string("equation"), ranks: xs.map { $0.shape.count }, fail: { c.fail($0) })
        var size: [Int: Int] = [:]
        for (x, labels) in zip(xs, e.operands) {
            for (d, l) in zip(x.shape, labels) {
                guard let s = size[l], s != d else { size[l] = d; continue }
                if d == 1 { continue }
                guard s == 1 else { throw c.fail("a label has sizes \(s) and \(d)") }
                size[l] = d
            }
        }
        let isInt = xs.allSatisfy(\.isInt)
        guard isInt || !xs.contains(where: \.isInt) else { throw c.fail("operands mix integer and floating-point tensors") }
        if xs.count == 2, case .floats(let a, let sa, _) = xs[0], case .floats(let b, let sb, _) = xs[1],
           let y = einsumGEMM(c, e, a, sa, b, sb, size: size) {
            return [y]
        }
        let summed = Set(size.keys).subtracting(e.output).sorted()
        let outer = e.output.map { size[$0]! }, inner = summed.map { size[$0]! }
        // Every output position visits every summed one; a product that overflows is no real workload.
        let work = (outer + inner).reduce(1) { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }
        guard work < Int.max else { throw c.fail("the index space of '\(try c.attrs.string("equation"))' overflows") }
        var outerStrides: [[Int]] = [], innerStrides: [[Int]] = []
        for (x, labels) in zip(xs, e.operands) {
            let st = StridedCopy.contiguousStrides(x.shape)
            var byLabel: [Int: Int] = [:]
            // A repeated label walks the diagonal (strides add); a size-1 axis broadcasts (stride 0).
            for (j, l) in labels.enumerated() where x.shape[j] != 1 { byLabel[l, default: 0] += st[j] }
            outerStrides.append(e.output.map { byLabel[$0] ?? 0 })
            innerStrides.append(summed.map { byLabel[$0] ?? 0 })
        }
        let n = c.count
        if isInt {
            let all = xs.map { x -> [Int64] in if case .ints(let v, _) = x { return v }; return [] }
            let flat = all.flatMap { $0 }
            var starts: [Int] = [], at = 0
            for v in all { starts.append(at); at += v.count }
            var y = [Int64](repeating: 0, count: n)
            if !flat.isEmpty, n > 0 {
                flat.withUnsafeBufferPointer { src in
                    y.withUnsafeMutableBufferPointer { dst in
                        contract(starts.map { src.baseAddress! + $0 }, outer: outer, outerStrides: outerStrides, inner: inner, innerStrides: innerStrides,
                                 into: dst.baseAddress!, zero: Int64(0), one: Int64(1), multiply: { $0 &* $1 }, add: { $0 &+ $1 }, store: { $0 })
                    }
                }
            }
            return [.ints(y, shape: c.out)]
        }
        let ptrs = try xs.indices.map { UnsafePointer(try c.floats($0)) }
        let (y, b) = c.allocate(n)
        if n > 0 {
            if xs.contains(where: { $0.shape.contains(0) }) {
                y.update(repeating: 0, count: n)
            } else {
                // Sums accumulate in Double.
                contract(ptrs, outer: outer, outerStrides: outerStrides, inner: inner, innerStrides: innerStrides,
                         into: y, zero: 0.0, one: 1.0, multiply: { $0 * Double($1) }, add: { $0 + $1 }, store: { Float($0) })
            }
        }
        return [c.result(y, b)]
    })

    // MARK: data-dependent selections

    /// Unique: sorts the slices along the axis (the elements when flattened)
    /// lexicographically, ties by position, so each group's first member is its
    /// first occurrence. NaN equals NaN and sorts last; -0 equals 0.
    static let unique = Kernel(run: { c in
        let x = try c.input(0), shape = x.shape
        let v = MathKernels.Values(x)
        let axis = try c.attrs.optionalInt("axis").map { try c.axis($0, rank: shape.count) }
        let (outer, n, inner) = axis.map { IndexKernels.split(shape, $0) } ?? (1, shape.reduce(1, *), 1)
        let width = outer * inner
        /// Flat index of element `j` (row-major over the other axes) of slice `k`.
        func at(_ k: Int, _ j: Int) -> Int { (j / max(inner, 1) * n + k) * inner + j % max(inner, 1) }
        func order(_ p: Int, _ q: Int) -> Int {
            for j in 0..<width {
                let a = at(p, j), b = at(q, j)
                if v.isInt {
                    let l = v.int(a), r = v.int(b)
                    if l != r { return l < r ? -1 : 1 }
                } else {
                    let l = v.float(a), r = v.float(b)
                    if l == r || (l.isNaN && r.isNaN) { continue }
                    if l.isNaN { return 1 }
                    if r.isNaN { return -1 }
                    return l < r ? -1 : 1
                }
            }
            return 0
        }
        let sorted = (0..<n).sorted { p, q in
            let o = order(p, q)
            return o != 0 ? o < 0 : p < q
        }
        var groups: [[Int]] = []
        for k in sorted {
            if let last = groups.last?.first, order(last, k) == 0 { groups[groups.count - 1].append(k) } else { groups.append([k]) }
        }
        if try c.attrs.int("sorted") == 0 { groups.sort { $0[0] < $1[0] } }
        let u = groups.count
        var inverse = [Int64](repeating: 0, count: n)
        for (g, members) in groups.enumerated() { for k in members { inverse[k] = Int64(g) } }
        var yShape = [u]
        if let a = axis { yShape = shape; yShape[a] = u }
        let y = picked(c, x, shape: yShape) { i in
            // Output (o, g, i) reads slice g's first occurrence.
            let o = i / max(u * inner, 1), g = (i / max(inner, 1)) % max(u, 1), r = i % max(inner, 1)
            return at(groups[g][0], o * inner + r)
        }
        let all: [RValue] = [y, .ints(groups.map { Int64($0[0]) }, shape: [u]), .ints(inverse, shape: [n]),
                             .ints(groups.map { Int64($0.count) }, shape: [u])]
        return Array(all.prefix(max(1, min(4, c.node.outputs.count))))
    })

    /// NonZero: int64 [rank, count], the coordinates of every non-zero (NaN counts) element.
    static let nonZero = Kernel(run: { c in
        let x = try c.input(0), shape = x.shape
        let v = MathKernels.Values(x)
        let hits = (0..<shape.reduce(1, *)).filter { v.isInt ? v.int($0) != 0 : v.float($0) != 0 }
        let st = StridedCopy.contiguousStrides(shape)
        var out: [Int64] = []
        out.reserveCapacity(shape.count * hits.count)
        for d in shape.indices { for h in hits { out.append(Int64((h / st[d]) % shape[d])) } }
        return [.ints(out, shape: [shape.count, hits.count])]
    })

    /// Compress: the positions the condition selects, gathered along the axis (or from the flattened input).
    static let compress = Kernel(run: { c in
        let x = try c.input(0), shape = x.shape
        let cond = try c.input(1)
        guard cond.shape.count == 1 else { throw c.fail("the condition must be 1-D, got \(cond.shape)") }
        let cv = MathKernels.Values(cond)
        let chosen = (0..<cond.shape[0]).filter { cv.isInt ? cv.int($0) != 0 : cv.float($0) != 0 }
        let axis = try c.attrs.optionalInt("axis").map { try c.axis($0, rank: shape.count) }
        let source = axis == nil ? [shape.reduce(1, *)] : shape
        let a = axis ?? 0
        if let last = chosen.last, last >= source[a] { throw c.fail("the condition selects index \(last) of an axis of size \(source[a])") }
        var out = source
        out[a] = chosen.count
        return [moved(c, x, shape: out, .gather(shape: source, axis: a, indices: chosen))]
    })

    // MARK: rearrangements

    /// Tile: output axis d walks (repeat, position), so one strided read with stride 0 over the repeats.
    static let tile = Kernel(run: { c in
        let x = try c.input(0), s = x.shape
        guard let r = try c.parameter("repeats", input: 1) else { throw c.fail("repeats are missing") }
        guard r.count == s.count, r.allSatisfy({ $0 >= 0 }) else { throw c.fail("repeats \(r) do not fit an input of shape \(s)") }
        let st = StridedCopy.contiguousStrides(s)
        let walk = zip(r, s).flatMap { [$0, $1] }, strides = st.flatMap { [0, $0] }
        return [strided(c, x, walk: walk, strides: strides, shape: c.out)]
    })

    /// SpaceToDepth / DepthToSpace as the reshape → transpose → reshape ONNX defines, in one strided read.
    static func blocks(toDepth: Bool) -> Kernel {
        Kernel(run: { c in
            let x = try c.input(0), s = x.shape
            let b = try c.attrs.int("blocksize"), dcr = try c.attrs.string("mode") == "DCR"
            guard s.count == 4, b > 0 else { throw c.fail("needs a 4-D input and a positive blocksize") }
            let (n, ch, h, w) = (s[0], s[1], s[2], s[3])
            let tmp: [Int], perm: [Int]
            if toDepth {
                guard h % b == 0, w % b == 0 else { throw c.fail("height \(h) and width \(w) must be multiples of blocksize \(b)") }
                tmp = [n, ch, h / b, b, w / b, b]
                perm = dcr ? [0, 3, 5, 1, 2, 4] : [0, 1, 3, 5, 2, 4]
            } else {
                guard ch % (b * b) == 0 else { throw c.fail("channels \(ch) must be a multiple of blocksize² \(b * b)") }
                tmp = dcr ? [n, b, b, ch / (b * b), h, w] : [n, ch / (b * b), b, b, h, w]
                perm = dcr ? [0, 3, 4, 1, 5, 2] : [0, 1, 4, 2, 5, 3]
            }
            let st = StridedCopy.contiguousStrides(tmp)
            return [strided(c, x, walk: perm.map { tmp[$0] }, strides: perm.map { st[$0] }, shape: c.out)]
        })
    }

    static let reverseSequence = Kernel(run: { c in
        let x = try c.input(0), s = x.shape
        let lens = try c.ints(1)
        let ba = try c.attrs.int("batch_axis"), ta = try c.attrs.int("time_axis")
        guard lens.count == s[ba] else { throw c.fail("\(lens.count) sequence lengths for a batch of \(s[ba])") }
        for l in lens where l < 0 || Int(l) > s[ta] { throw c.fail("sequence length \(l) is outside 0…\(s[ta])") }
        let st = StridedCopy.contiguousStrides(s)
        return [c.gathered(x) { p in
            let b = (p / st[ba]) % s[ba], t = (p / st[ta]) % s[ta], l = Int(lens[b])
            return t < l ? p + (l - 1 - 2 * t) * st[ta] : p
        }]
    })

    /// TensorScatter: the cache copied (or reused when this node is its last reader) with each
    /// batch entry's update rows written from its write index along the axis.
    static let tensorScatter = Kernel(run: { c in
        let past = try c.input(0), update = try c.input(1)
        let ps = past.shape, us = update.shape
        let a = try c.axis(try c.attrs.int("axis"), rank: ps.count)
        let circular = try c.attrs.string("mode") == "circular"
        guard us.count == ps.count, a > 0, ps.indices.allSatisfy({ $0 == a ? us[$0] <= ps[$0] : us[$0] == ps[$0] }) else {
            throw c.fail("update \(us) does not fit past_cache \(ps) along axis \(a)")
        }
        guard past.isInt == update.isInt else { throw c.fail("past_cache and update differ in type") }
        let batch = ps[0], prefix = ps[..<a].reduce(1, *), inner = ps[(a + 1)...].reduce(1, *)
        let room = ps[a], steps = us[a]
        let write = try c.has(2) ? c.ints(2) : [Int64](repeating: 0, count: batch)
        guard write.count == batch else { throw c.fail("\(write.count) write indices for a batch of \(batch)") }
        // Destination row of every (prefix, step), checked before anything is written.
        var rows = [Int](repeating: 0, count: prefix * steps)
        for p in 0..<prefix {
            let w = Int(write[p / max(prefix / max(batch, 1), 1)])
            for t in 0..<steps {
                var r = w + t
                if circular { r = ((r % room) + room) % room } else if r < 0 || r >= room {
                    throw c.fail("write index \(w) + \(steps) steps exceeds the cache length \(room)")
                }
                rows[p * steps + t] = (p * room + r) * inner
            }
        }
        switch (past, update) {
        case (.floats(let x, _, _), .floats(let u, _, _)):
            let (y, b, fresh) = floatOutput(c, inPlaceOf: x)
            if fresh { y.update(from: x, count: c.count) }
            for (i, r) in rows.enumerated() { (y + r).update(from: u + i * inner, count: inner) }
            return [c.result(y, b)]
        case (.ints(var y, _), .ints(let u, _)):
            for (i, r) in rows.enumerated() { for j in 0..<inner { y[r + j] = u[i * inner + j] } }
            return [.ints(y, shape: c.out)]
        default:
            throw c.fail("past_cache and update differ in type")
        }
    })

    // MARK: arithmetic

    /// Det: LU factorisation with partial pivoting, per matrix, in Double.
    static let det = Kernel(run: { c in
        let x = try c.floats(0), s = try c.shape(0)
        let m = s[s.count - 1]
        guard s[s.count - 2] == m else { throw c.fail("matrices \(s) are not square") }
        let count = c.count
        let (y, b) = c.allocate(count)
        var a = [Double](repeating: 0, count: m * m)
        for k in 0..<count {
            for i in 0..<(m * m) { a[i] = Double(x[k * m * m + i]) }
            var d = 1.0
            for col in 0..<m {
                var pivot = col
                for r in (col + 1)..<m where abs(a[r * m + col]) > abs(a[pivot * m + col]) { pivot = r }
                if a[pivot * m + col] == 0 { d = 0; break }
                if pivot != col {
                    for j in 0..<m { a.swapAt(pivot * m + j, col * m + j) }
                    d = -d
                }
                let p = a[col * m + col]
                d *= p
                for r in (col + 1)..<m {
                    let f = a[r * m + col] / p
                    if f == 0 { continue }
                    for j in col..<m { a[r * m + j] -= f * a[col * m + j] }
                }
            }
            y[k] = Float(d)
        }
        return [c.result(y, b)]
    })

    /// BitCast: each element's `from` bits read as `to`. Integers are held sign- or
    /// zero-extended to Int64, so the low bits are the element's; f16/bf16 widen to
    /// Float exactly. f64 values are held as Float by the runtime, so a cast from
    /// f64 is exact only for doubles a Float represents, and one to f64 is rounded to Float.
    static let bitCast = Kernel(run: { c in
        guard let from = DType(rawValue: try c.attrs.string("from")), let to = DType(rawValue: try c.attrs.string("to")),
              from.itemSize == to.itemSize else { throw c.fail("BitCast needs two dtypes of one width") }
        let x = try c.input(0), n = c.count
        let width = from.itemSize * 8
        let mask: UInt64 = width == 64 ? ~0 : (1 << UInt64(width)) - 1
        let bits: (Int) -> UInt64
        switch x {
        case .floats(let p, _, _):
            switch from {
            case .f32: bits = { UInt64(p[$0].bitPattern) }
            case .f16: bits = { UInt64(Float16(p[$0]).bitPattern) }
            // A bf16 value is the top half of its Float (the low half is zero).
            case .bf16: bits = { UInt64(p[$0].bitPattern >> 16) }
            case .f64: bits = { Double(p[$0]).bitPattern }
            default: throw c.fail("a float value for dtype \(from)")
            }
        case .ints(let v, _):
            bits = { UInt64(bitPattern: v[$0]) & mask }
        }
        if to.isFloatingPoint {
            let f: (UInt64) -> Float
            switch to {
            case .f32: f = { Float(bitPattern: UInt32(truncatingIfNeeded: $0)) }
            case .f16: f = { Float(Float16(bitPattern: UInt16(truncatingIfNeeded: $0))) }
            case .bf16: f = { BFloat16.float(UInt16(truncatingIfNeeded: $0)) }
            default: f = { Float(Double(bitPattern: $0)) }
            }
            let (y, b) = c.allocate(n)
            for i in 0..<n { y[i] = f(bits(i)) }
            return [c.result(y, b)]
        }
        let g: (UInt64) -> Int64
        switch to {
        case .i8: g = { Int64(Int8(truncatingIfNeeded: $0)) }
        case .i16: g = { Int64(Int16(truncatingIfNeeded: $0)) }
        case .i32: g = { Int64(Int32(truncatingIfNeeded: $0)) }
        case .i64, .u64: g = { Int64(bitPattern: $0) }
        default: g = { Int64($0 & mask) }
        }
        return [.ints((0..<n).map { g(bits($0)) }, shape: c.out)]
    })

    /// SwiGLU: A·σ(alpha·A)·B, written over A when this node is A's last reader.
    static let swiGLU = Kernel(run: { c in
        let a = try c.floats(0), b = try c.floats(1)
        guard try c.shape(0) == c.shape(1) else { throw c.fail("A \(try c.shape(0)) and B \(try c.shape(1)) differ in shape") }
        let alpha = try c.attrs.float("alpha")
        let (y, buffer, _) = floatOutput(c, inPlaceOf: a)
        for i in 0..<c.count { y[i] = a[i] / (1 + expf(-alpha * a[i])) * b[i] }
        return [c.result(y, buffer)]
    })

    /// RotaryEmbedding: each head's first `rotary_embedding_dim` channels rotate in pairs —
    /// (i, i + d/2), or (2i, 2i + 1) interleaved — by the angle of the token's cache row.
    static let rotary = Kernel(run: { c in
        let x = try c.floats(0), s = try c.shape(0)
        let cos = try c.floats(1), sin = try c.floats(2), cs = try c.shape(1)
        guard try c.shape(2) == cs else { throw c.fail("cos_cache \(cs) and sin_cache \(try c.shape(2)) differ in shape") }
        let batch = s[0], heads: Int, seq: Int, head: Int
        if s.count == 4 {
            (heads, seq, head) = (s[1], s[2], s[3])
        } else {
            guard let h = try c.attrs.optionalInt("num_heads"), h > 0, s[2] % h == 0 else { throw c.fail("a 3-D input needs num_heads dividing \(s[2])") }
            (heads, seq, head) = (h, s[1], s[2] / h)
        }
        let given = try c.attrs.int("rotary_embedding_dim"), rotary = given == 0 ? head : given
        guard rotary > 0, rotary % 2 == 0, rotary <= head else { throw c.fail("rotary dimension \(rotary) must be even and at most the head size \(head)") }
        let half = rotary / 2, interleaved = try c.attrs.int("interleaved") != 0
        guard cs.last == half else { throw c.fail("cos_cache \(cs) must end in half the rotary dimension (\(half))") }
        var rows: [Int]
        if c.has(3) {
            let pos = try c.ints(3)
            guard try c.shape(3) == [batch, seq], cs.count == 2 else { throw c.fail("position_ids must be [\(batch), \(seq)] with a 2-D cache") }
            rows = try pos.map { p in
                guard p >= 0, Int(p) < cs[0] else { throw c.fail("position id \(p) is outside the cache's \(cs[0]) rows") }
                return Int(p)
            }
        } else {
            guard cs == [batch, seq, half] else { throw c.fail("cos_cache \(cs) must be [\(batch), \(seq), \(half)] without position_ids") }
            rows = Array(0..<(batch * seq))
        }
        let (y, buffer, fresh) = floatOutput(c, inPlaceOf: x)
        if fresh { y.update(from: x, count: c.count) }
        for bi in 0..<batch {
            for h in 0..<heads {
                for t in 0..<seq {
                    let base = s.count == 4 ? ((bi * heads + h) * seq + t) * head : (bi * seq + t) * heads * head + h * head
                    let row = rows[bi * seq + t] * half
                    for i in 0..<half {
                        let (p, q) = interleaved ? (base + 2 * i, base + 2 * i + 1) : (base + i, base + i + half)
                        let x1 = y[p], x2 = y[q], co = cos[row + i], si = sin[row + i]
                        y[p] = co * x1 - si * x2
                        y[q] = si * x1 + co * x2
                    }
                }
            }
        }
        return [c.result(y, buffer)]
    })

    /// LinearAttention: the recurrence run token by token in Float, per kv head; each
    /// group of q_heads/kv_heads query heads reads its kv head's state.
    static let linearAttention = Kernel(run: { c in
        let p = try TensorOps.LinearAttention(c.attrs)
        let q = try c.floats(0), k = try c.floats(1), v = try c.floats(2)
        let qs = try c.shape(0), ks = try c.shape(1), vs = try c.shape(2)
        let (batch, steps) = (qs[0], qs[1])
        let hq = p.qHeads, hkv = p.kvHeads, group = hq / hkv
        guard qs[2] % hq == 0, vs[2] % hkv == 0 else { throw c.fail("hidden sizes \(qs[2]), \(vs[2]) do not split into the heads") }
        let dk = qs[2] / hq, dv = vs[2] / hkv
        guard ks == [batch, steps, hkv * dk], vs[0] == batch, vs[1] == steps else { throw c.fail("key \(ks) and value \(vs) do not fit query \(qs)") }
        let decay = try p.gated ? c.floats(4) : nil, decayWidth = try p.gated ? c.shape(4)[2] : 0
        let beta = try p.delta ? c.floats(5) : nil, betaWidth = try p.delta ? c.shape(5)[2] : 0
        if p.gated { guard try c.shape(4) == [batch, steps, decayWidth], decayWidth == hkv || decayWidth == hkv * dk else { throw c.fail("decay \(try c.shape(4)) does not fit") } }
        if p.delta { guard try c.shape(5) == [batch, steps, betaWidth], betaWidth == hkv || betaWidth == 1 else { throw c.fail("beta \(try c.shape(5)) does not fit") } }
        let scaleAttr = try c.attrs.float("scale")
        let scale = scaleAttr == 0 ? 1 / Float(dk).squareRoot() : scaleAttr
        let stateCount = batch * hkv * dk * dv
        let (state, sb) = c.allocate(stateCount)
        if c.has(3) {
            guard try c.shape(3) == [batch, hkv, dk, dv] else { throw c.fail("past_state \(try c.shape(3)) must be [\(batch), \(hkv), \(dk), \(dv)]") }
            state.update(from: try c.floats(3), count: stateCount)
        } else {
            state.update(repeating: 0, count: stateCount)
        }
        let (y, yb) = c.allocate(batch * steps * hq * dv)
        var u = [Float](repeating: 0, count: dv)
        for b in 0..<batch {
            for t in 0..<steps {
                let token = b * steps + t
                for h in 0..<hkv {
                    let st = state + (b * hkv + h) * dk * dv
                    let kt = k + token * hkv * dk + h * dk, vt = v + token * hkv * dv + h * dv
                    if let decay {
                        for i in 0..<dk {
                            let g = expf(decay[token * decayWidth + (decayWidth == hkv ? h : h * dk + i)])
                            for j in 0..<dv { st[i * dv + j] *= g }
                        }
                    }
                    if let beta {
                        let r = beta[token * betaWidth + (betaWidth == 1 ? 0 : h)]
                        for j in 0..<dv {
                            var retrieved: Float = 0
                            for i in 0..<dk { retrieved += st[i * dv + j] * kt[i] }
                            u[j] = r * (vt[j] - retrieved)
                        }
                    } else {
                        for j in 0..<dv { u[j] = vt[j] }
                    }
                    for i in 0..<dk { for j in 0..<dv { st[i * dv + j] += kt[i] * u[j] } }
                    for g in 0..<group {
                        let qh = h * group + g
                        let qt = q + token * hq * dk + qh * dk, out = y + token * hq * dv + qh * dv
                        for j in 0..<dv {
                            var sum: Float = 0
                            for i in 0..<dk { sum += qt[i] * st[i * dv + j] }
                            out[j] = scale * sum
                        }
                    }
                }
            }
        }
        return [c.result(y, yb), c.result(state, sb, output: 1)]
    })

    /// CausalConvWithState: per (batch, channel), y[t] = bias + Σ_j w[j]·P[t + j] over
    /// P = past_state (or zeros) ++ input; present_state = the last K−1 steps of P.
    static let causalConv = Kernel(run: { c in
        let x = try c.floats(0), w = try c.floats(1), s = try c.shape(0), ws = try c.shape(1)
        let (batch, ch, len) = (s[0], s[1], s[2]), k = ws[2]
        guard ws == [ch, 1, k], k >= 1 else { throw c.fail("weight \(ws) must be [\(ch), 1, K]") }
        let bias = try c.optionalFloats(2)
        if c.has(2) { guard try c.shape(2) == [ch] else { throw c.fail("bias \(try c.shape(2)) must be [\(ch)]") } }
        let past = try c.optionalFloats(3)
        if c.has(3) { guard try c.shape(3) == [batch, ch, k - 1] else { throw c.fail("past_state \(try c.shape(3)) must be [\(batch), \(ch), \(k - 1)]") } }
        let silu = try c.attrs.string("activation") != "none"
        let (y, yb) = c.allocate(batch * ch * len)
        let (state, sb) = c.allocate(batch * ch * (k - 1))
        for r in 0..<(batch * ch) {
            let xr = x + r * len, pr = past.map { $0 + r * (k - 1) }, wr = w + (r % max(ch, 1)) * k
            func padded(_ i: Int) -> Float { i < k - 1 ? (pr?[i] ?? 0) : xr[i - (k - 1)] }
            for t in 0..<len {
                var sum = Double(bias?[r % ch] ?? 0)
                for j in 0..<k { sum += Double(wr[j]) * Double(padded(t + j)) }
                let v = Float(sum)
                y[r * len + t] = silu ? v / (1 + expf(-v)) : v
            }
            for i in 0..<(k - 1) { state[r * (k - 1) + i] = padded(len + i) }
        }
        return [c.result(y, yb), c.result(state, sb, output: 1)]
    })

    static let table: [String: Kernel] = [
        "Einsum": einsum, "Unique": unique, "Compress": compress, "NonZero": nonZero, "Tile": tile,
        "SpaceToDepth": blocks(toDepth: true), "DepthToSpace": blocks(toDepth: false), "ReverseSequence": reverseSequence,
        "Det": det, "BitCast": bitCast, "TensorScatter": tensorScatter, "SwiGLU": swiGLU, "RotaryEmbedding": rotary,
        "LinearAttention": linearAttention, "CausalConvWithState": causalConv,
    ]
}
