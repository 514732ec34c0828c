/// Index ops: selections and updates by computed positions (ArgMax/ArgMin,
/// TopK, Gather/ScatterElements, GatherND/ScatterND), running sums and
/// products, triangular masks and identity-like fills.
public enum IndexOps {
    /// `x` with `axis` reduced to 1 (keepdims) or removed.
    static func reduced(_ c: ShapeContext, _ x: SymShape, axis: Int, keep: Bool) throws -> SymShape {
        let a = try c.axis(axis, rank: x.count)
        var out = x
        if keep { out[a] = SymDim(1) } else { out.remove(at: a) }
        return out
    }

    public static let specs: [OpSpec] = [
        OpSpec("ArgMax", family: "Index", inputs: 1...1, attributes: [.int("axis", 0), .int("keepdims", 1), .int("select_last_index", 0)]) { c in
            [try reduced(c, try c.input(0), axis: try c.int("axis"), keep: try c.int("keepdims") != 0)]
        },
        OpSpec("ArgMin", family: "Index", inputs: 1...1, attributes: [.int("axis", 0), .int("keepdims", 1), .int("select_last_index", 0)]) { c in
            [try reduced(c, try c.input(0), axis: try c.int("axis"), keep: try c.int("keepdims") != 0)]
        },
        // TopK(X, K): values and int64 indices along `axis`; K is read per run.
        OpSpec("TopK", family: "Index", inputs: 2...2, attributes: [.int("axis", -1), .int("largest", 1), .int("sorted", 1)],
               valueInputs: [1]) { c in
            var x = try c.input(0)
            let a = try c.axis(try c.int("axis"), rank: x.count)
            if let k = c.value(1)?.first {
                if let v = k.value {
                    guard v >= 0 else { throw c.fail("K is negative (\(v))") }
                    if let n = x[a].value, v > n { throw c.fail("K = \(v) exceeds the axis size \(n)") }
                }
                x[a] = k
            } else {
                x[a] = c.unknown()
            }
            return [x, x]
        },
        OpSpec("GatherElements", family: "Index", inputs: 2...2, attributes: [.int("axis", 0)]) { c in
            let x = try c.input(0), i = try c.input(1)
            guard x.count == i.count else { throw c.fail("indices rank \(i.count) differs from data rank \(x.count)") }
            _ = try c.axis(try c.int("axis"), rank: x.count)
            return [i]
        },
        // Scatter (opset 9–10) is normalised to this.
        OpSpec("ScatterElements", family: "Index", inputs: 3...3, attributes: [.int("axis", 0), .string("reduction", "none")]) { c in
            let x = try c.input(0), i = try c.input(1), u = try c.input(2)
            guard x.count == i.count, i.count == u.count else { throw c.fail("data, indices and updates must have the same rank") }
            _ = try c.axis(try c.int("axis"), rank: x.count)
            return [x]
        },
        OpSpec("GatherND", family: "Index", inputs: 2...2, attributes: [.int("batch_dims", 0)]) { c in
            let x = try c.input(0), i = try c.input(1)
            let b = try c.int("batch_dims")
            guard let q = i.last, let k = q.value else { throw c.fail("the last dimension of indices must be fixed") }
            guard b >= 0, b < i.count, b + k <= x.count else { throw c.fail("indices \(i.rendered) do not fit data \(x.rendered) with batch_dims \(b)") }
            return [Array(i.dropLast()) + Array(x[(b + k)...])]
        },
        OpSpec("ScatterND", family: "Index", inputs: 3...3, attributes: [.string("reduction", "none")]) { c in
            let x = try c.input(0), i = try c.input(1)
            guard let q = i.last, let k = q.value, k <= x.count else { throw c.fail("the last dimension of indices must be fixed and ≤ the data rank") }
            return [x]
        },
        // CumSum/CumProd(X, axis): axis is a scalar read per run.
        OpSpec("CumSum", family: "Index", inputs: 2...2, attributes: [.int("exclusive", 0), .int("reverse", 0)]) { c in [try c.input(0)] },
        OpSpec("CumProd", family: "Index", inputs: 2...2, attributes: [.int("exclusive", 0), .int("reverse", 0)]) { c in [try c.input(0)] },
        // Trilu(X, k): keeps the upper or lower triangle of the last two axes.
        OpSpec("Trilu", family: "Index", inputs: 1...2, attributes: [.int("upper", 1)]) { c in
            let x = try c.input(0)
            guard x.count >= 2 else { throw c.fail("Trilu needs rank ≥ 2, got \(x.rendered)") }
            return [x]
        },
        // EyeLike: ones on diagonal k of a 2-D shape, in `dtype`.
        OpSpec("EyeLike", family: "Index", inputs: 1...1, attributes: [.int("k", 0), .string("dtype", "f32")]) { c in
            let x = try c.input(0)
            guard x.count == 2 else { throw c.fail("EyeLike needs a 2-D input, got \(x.rendered)") }
            return [x]
        },
        // OneHot(indices, depth, values): depth is an int64 scalar read per run; values = [off, on].
        OpSpec("OneHot", family: "Index", inputs: 3...3, attributes: [.int("axis", -1)], valueInputs: [1]) { c in
            var i = try c.input(0)
            let r = i.count + 1
            var a = try c.int("axis")
            if a < 0 { a += r }
            guard a >= 0, a < r else { throw c.fail("axis \(try c.int("axis")) out of range for rank \(r)") }
            var depth = c.unknown()
            if let d = c.value(1)?.first {
                if let v = d.value, v < 0 { throw c.fail("depth is negative (\(v))") }
                depth = d
            }
            i.insert(depth, at: a)
            return [i]
        },
    ]
}
