import Foundation
import ZooCore

extension KernelCall {
    /// Output `k` of floats or integers, element `i` given by `float(i)` or `int(i)`.
    func produce(int isInt: Bool, output k: Int = 0, float: (Int) -> Float, int: (Int) -> Int64) -> RValue {
        let n = outShapes[k].reduce(1, *)
        if isInt { return .ints((0..<n).map(int), shape: outShapes[k]) }
        let (y, b) = allocate(n)
        for i in 0..<n { y[i] = float(i) }
        return result(y, b, output: k)
    }

    /// Output `k` whose element `i` is `x[source(i)]`.
    func gathered(_ x: RValue, output k: Int = 0, _ source: (Int) -> Int) -> RValue {
        let v = MathKernels.Values(x)
        return produce(int: v.isInt, output: k, float: { v.float(source($0)) }, int: { v.int(source($0)) })
    }

    /// A normalised axis of a rank-`rank` tensor.
    func axis(_ a: Int, rank: Int) throws -> Int {
        let r = a < 0 ? a + rank : a
        guard r >= 0, r < rank else { throw fail("axis \(a) out of range for rank \(rank)") }
        return r
    }

    /// An ints parameter: the attribute when static at import, else int64 input `i`; nil when neither is given.
    func parameter(_ name: String, input i: Int) throws -> [Int]? {
        if let a = try attrs.optionalInts(name) { return a }
        return has(i) ? try ints(i).map { Int($0) } : nil
    }

    /// The scalar integer in input `i` (axis and K inputs).
    func scalar(_ i: Int) throws -> Int {
        guard let v = try ints(i).first, try ints(i).count == 1 else { throw fail("input \(i) must hold one integer") }
        return Int(v)
    }
}

/// Kernels of the Index family (ZooCore `IndexOps`).
enum IndexKernels {
    /// Sizes before, along and after axis `a`.
    static func split(_ shape: [Int], _ a: Int) -> (outer: Int, axis: Int, inner: Int) {
        (shape[..<a].reduce(1, *), shape[a], shape[(a + 1)...].reduce(1, *))
    }

    /// An index into an axis of size `n`, negative counting from the end; nil when out of range.
    static func wrap(_ i: Int64, _ n: Int) -> Int? {
        let k = i < 0 ? Int(i) + n : Int(i)
        return k >= 0 && k < n ? k : nil
    }

    /// GatherElements/ScatterElements: the flat data offset each index element
    /// names (its own position, with the `axis` coordinate replaced by the index).
    static func elementOffsets(_ c: KernelCall, data shape: [Int], indices ishape: [Int], axis a: Int, _ idx: [Int64]) throws -> [Int] {
        let xs = StridedCopy.contiguousStrides(shape), istr = StridedCopy.contiguousStrides(ishape)
        var out = [Int](repeating: 0, count: idx.count)
        for p in 0..<idx.count {
            var rem = p, off = 0
            for d in ishape.indices {
                let q = rem / max(istr[d], 1)
                rem -= q * istr[d]
                if d == a {
                    guard let j = wrap(idx[p], shape[a]) else { throw c.fail("index \(idx[p]) out of range for axis size \(shape[a])") }
                    off += j * xs[d]
                } else {
                    guard q < shape[d] else { throw c.fail("indices \(ishape) exceed data \(shape) off the axis") }
                    off += q * xs[d]
                }
            }
            out[p] = off
        }
        return out
    }

    static func arg(largest: Bool) -> Kernel {
        Kernel(run: { c in
            let x = try c.input(0)
            let a = try c.axis(try c.attrs.int("axis"), rank: x.shape.count)
            let last = try c.attrs.int("select_last_index") != 0
            let (outer, n, inner) = split(x.shape, a)
            guard n > 0 else { throw c.fail("ArgMax/ArgMin of an empty axis") }
            let v = MathKernels.Values(x)
            var out = [Int64](repeating: 0, count: outer * inner)
            for o in 0..<outer {
                for i in 0..<inner {
                    let base = o * n * inner + i
                    var best = 0
                    for k in 1..<n {
                        let better: Bool
                        if v.isInt {
                            let p = v.int(base + k * inner), q = v.int(base + best * inner)
                            better = largest ? (last ? p >= q : p > q) : (last ? p <= q : p < q)
                        } else {
                            let p = v.float(base + k * inner), q = v.float(base + best * inner)
                            better = largest ? (last ? p >= q : p > q) : (last ? p <= q : p < q)
                        }
                        if better { best = k }
                    }
                    out[o * inner + i] = Int64(best)
                }
            }
            return [.ints(out, shape: c.out)]
        })
    }

    static let table: [String: Kernel] = [
        "ArgMax": arg(largest: true),
        "ArgMin": arg(largest: false),
        "TopK": Kernel(run: { c in
            let x = try c.input(0)
            let a = try c.axis(try c.attrs.int("axis"), rank: x.shape.count)
            let k = c.out[a]
            let largest = try c.attrs.int("largest") != 0
            let (outer, n, inner) = split(x.shape, a)
            let v = MathKernels.Values(x)
            // Ties keep the lower index first (as onnxruntime does).
            var picked = [Int](repeating: 0, count: outer * k * inner)
            var order = [Int](repeating: 0, count: n)
            for o in 0..<outer {
                for i in 0..<inner {
                    let base = o * n * inner + i
                    for j in 0..<n { order[j] = j }
                    order.sort { p, q in
                        let (l, r) = v.isInt ? (Double(v.int(base + p * inner)), Double(v.int(base + q * inner)))
                                             : (Double(v.float(base + p * inner)), Double(v.float(base + q * inner)))
                        if l == r || (l.isNaN && r.isNaN) { return p < q }
                        if l.isNaN { return largest }
                        if r.isNaN { return !largest }
                        return largest ? l > r : l < r
                    }
                    for j in 0..<k { picked[(o * k + j) * inner + i] = order[j] }
                }
            }
            let values = c.gathered(x) { idx in
                let o = idx / (k * inner), i = idx % inner
                return (o * n + picked[idx]) * inner + i
            }
            return [values, .ints(picked.map(Int64.init), shape: c.outShapes[1])]
        }),
        "GatherElements": Kernel(run: { c in
            let x = try c.input(0), shape = x.shape
            let ishape = try c.shape(1)
            let a = try c.axis(try c.attrs.int("axis"), rank: shape.count)
            let idx = try c.ints(1)
            let src = try elementOffsets(c, data: shape, indices: ishape, axis: a, idx)
            return [c.gathered(x) { src[$0] }]
        }),
        "ScatterElements": Kernel(run: { c in
            let x = try c.input(0), shape = x.shape
            let ishape = try c.shape(1)
            let a = try c.axis(try c.attrs.int("axis"), rank: shape.count)
            let idx = try c.ints(1)
            let targets = try elementOffsets(c, data: shape, indices: ishape, axis: a, idx)
            return [try scatter(c, x, try c.input(2), targets: targets, slice: 1)]
        }),
        "GatherND": Kernel(run: { c in
            let x = try c.input(0), shape = x.shape
            let ishape = try c.shape(1), idx = try c.ints(1)
            let b = try c.attrs.int("batch_dims"), k = ishape.last!
            let xs = StridedCopy.contiguousStrides(shape)
            let slice = shape[(b + k)...].reduce(1, *)
            let tuples = ishape.dropLast().reduce(1, *)
            let perBatch = ishape[b..<(ishape.count - 1)].reduce(1, *), batchSize = shape[b...].reduce(1, *)
            var starts = [Int](repeating: 0, count: tuples)
            for t in 0..<tuples {
                var off = (t / max(perBatch, 1)) * batchSize
                for j in 0..<k {
                    guard let q = wrap(idx[t * k + j], shape[b + j]) else { throw c.fail("index \(idx[t * k + j]) out of range for axis size \(shape[b + j])") }
                    off += q * xs[b + j]
                }
                starts[t] = off
            }
            return [c.gathered(x) { starts[$0 / max(slice, 1)] + $0 % max(slice, 1) }]
        }),
        "ScatterND": Kernel(run: { c in
            let x = try c.input(0), shape = x.shape
            let ishape = try c.shape(1), idx = try c.ints(1)
            let k = ishape.last!
            let xs = StridedCopy.contiguousStrides(shape)
            let tuples = ishape.dropLast().reduce(1, *)
            var targets = [Int](repeating: 0, count: tuples)
            for t in 0..<tuples {
                var off = 0
                for j in 0..<k {
                    guard let q = wrap(idx[t * k + j], shape[j]) else { throw c.fail("index \(idx[t * k + j]) out of range for axis size \(shape[j])") }
                    off += q * xs[j]
                }
                targets[t] = off
            }
            return [try scatter(c, x, try c.input(2), targets: targets, slice: shape[k...].reduce(1, *))]
        }),
        "CumSum": cumulative(product: false),
        "CumProd": cumulative(product: true),
        "Trilu": Kernel(run: { c in
            let x = try c.input(0), s = x.shape
            let k = c.has(1) ? try c.scalar(1) : 0
            let upper = try c.attrs.int("upper") != 0
            let rows = s[s.count - 2], cols = s[s.count - 1]
            func keep(_ p: Int) -> Bool {
                let j = p % max(cols, 1), i = (p / max(cols, 1)) % max(rows, 1)
                return upper ? j - i >= k : j - i <= k
            }
            let v = MathKernels.Values(x)
            return [c.produce(int: v.isInt, float: { keep($0) ? v.float($0) : 0 }, int: { keep($0) ? v.int($0) : 0 })]
        }),
        "EyeLike": Kernel(run: { c in
            let k = try c.attrs.int("k"), cols = c.out[1]
            let isInt = !(DType(rawValue: try c.attrs.string("dtype"))?.isFloatingPoint ?? true)
            func one(_ p: Int) -> Bool { p % max(cols, 1) - p / max(cols, 1) == k }
            return [c.produce(int: isInt, float: { one($0) ? 1 : 0 }, int: { one($0) ? 1 : 0 })]
        }),
        "OneHot": Kernel(run: { c in
            let ishape = try c.shape(0), iv = MathKernels.Values(try c.input(0))
            let values = try c.input(2)
            guard values.shape.reduce(1, *) == 2 else { throw c.fail("values must hold [off, on], got shape \(values.shape)") }
            let vv = MathKernels.Values(values)
            var a = try c.attrs.int("axis")
            if a < 0 { a += ishape.count + 1 }
            let depth = c.out[a]
            let inner = ishape[a...].reduce(1, *)
            func hot(_ p: Int) -> Bool {
                let o = p / (depth * inner), d = (p / inner) % depth, i = p % inner
                let raw = iv.int(o * inner + i)
                return wrap(raw, depth) == d
            }
            return [c.produce(int: vv.isInt, float: { vv.float(hot($0) ? 1 : 0) }, int: { vv.int(hot($0) ? 1 : 0) })]
        }),
    ]

    /// A copy of `x` with `updates` slices (each `slice` long) written or reduced at `targets`.
    static func scatter(_ c: KernelCall, _ x: RValue, _ updates: RValue, targets: [Int], slice: Int) throws -> RValue {
        let reduction = try c.attrs.string("reduction")
        let u = MathKernels.Values(updates), v = MathKernels.Values(x)
        guard updates.shape.reduce(1, *) == targets.count * slice else { throw c.fail("updates \(updates.shape) do not match the indices") }
        func combine<T: Comparable & Numeric>(_ old: T, _ new: T) -> T {
            switch reduction {
            case "add": return old + new
            case "mul": return old * new
            case "max": return max(old, new)
            case "min": return min(old, new)
            default: return new
            }
        }
        guard ["none", "add", "mul", "max", "min"].contains(reduction) else { throw c.unsupported("reduction '\(reduction)'") }
        if v.isInt {
            var y = (0..<x.shape.reduce(1, *)).map { v.int($0) }
            for (t, base) in targets.enumerated() { for j in 0..<slice { y[base + j] = combine(y[base + j], u.int(t * slice + j)) } }
            return .ints(y, shape: c.out)
        }
        let (y, b) = c.allocate(c.count)
        for i in 0..<c.count { y[i] = v.float(i) }
        for (t, base) in targets.enumerated() { for j in 0..<slice { y[base + j] = combine(y[base + j], u.float(t * slice + j)) } }
        return c.result(y, b)
    }

    static func cumulative(product: Bool) -> Kernel {
        Kernel(run: { c in
            let x = try c.input(0)
            let a = try c.axis(try c.scalar(1), rank: x.shape.count)
            let exclusive = try c.attrs.int("exclusive") != 0, reverse = try c.attrs.int("reverse") != 0
            let (outer, n, inner) = split(x.shape, a)
            let v = MathKernels.Values(x)
            var fy = v.isInt ? [] : [Float](repeating: 0, count: x.shape.reduce(1, *))
            var iy = v.isInt ? [Int64](repeating: 0, count: x.shape.reduce(1, *)) : []
            for o in 0..<outer {
                for i in 0..<inner {
                    var facc: Float = product ? 1 : 0, iacc: Int64 = product ? 1 : 0
                    for s in 0..<n {
                        let k = reverse ? n - 1 - s : s
                        let p = (o * n + k) * inner + i
                        if v.isInt {
                            if exclusive { iy[p] = iacc }
                            iacc = product ? iacc &* v.int(p) : iacc &+ v.int(p)
                            if !exclusive { iy[p] = iacc }
                        } else {
                            if exclusive { fy[p] = facc }
                            facc = product ? facc * v.float(p) : facc + v.float(p)
                            if !exclusive { fy[p] = facc }
                        }
                    }
                }
            }
            return [c.produce(int: v.isInt, float: { fy[$0] }, int: { iy[$0] })]
        })
    }
}
