/// Data movement: ops that rearrange, select or pad elements without arithmetic.
public enum MovementOps {
    /// A Slice bound larger than any real dimension means "to the end" (ONNX exporters write INT64_MAX).
    public static let sliceToEnd = 1 << 47

    /// ONNX Slice clamping of one axis of size `n`: (start, end) in canonical
    /// range — [0, n] going forward, [−1, n−1] going backward — and the element count.
    public static func clampSlice(start: Int, end: Int, step: Int, size n: Int) -> (start: Int, end: Int, count: Int) {
        func wrap(_ v: Int) -> Int { v < 0 ? (v < -n ? (step > 0 ? 0 : -1) : v + n) : v }
        var s = wrap(start), e = wrap(end)
        if step > 0 {
            s = min(max(s, 0), n); e = min(max(e, 0), n)
            return (s, e, e > s ? (e - s + step - 1) / step : 0)
        }
        s = min(max(s, 0), n - 1); e = min(max(e, -1), n - 1)
        if n == 0 { return (0, -1, 0) }
        return (s, e, s > e ? (s - e - step - 1) / -step : 0)
    }

    /// Slice length along a symbolic axis `n`: closed forms where the bounds are
    /// relative to the same end (or run to the end); unknown otherwise.
    static func symbolicSliceCount(_ c: ShapeContext, start: Int, end: Int, step: Int, size n: SymDim) throws -> SymDim {
        guard step > 0 else {
            if start >= sliceToEnd || start == -1, end <= -sliceToEnd, step == -1 { return n }
            return c.unknown()
        }
        // Positions as offsets from the start (absolute) or from the end.
        func position(_ v: Int) -> SymDim? {
            if v >= sliceToEnd { return n }
            if v < 0 { return v <= -sliceToEnd ? SymDim(0) : n.adding(SymDim(v)) }
            return SymDim(v)
        }
        // An absolute end on a symbolic axis clamps (min(end, n)): no closed form.
        if end >= 0 && end < sliceToEnd { return c.unknown() }
        guard let s = position(start), let e = position(end) else { return c.unknown() }
        guard let span = e.subtracting(s) else { return c.unknown() }
        if let v = span.value { return SymDim(max(0, (v + step - 1) / step)) }
        return try c.orUnknown(span.ceilDivided(by: step))
    }

    /// Pads for every axis from pads naming only `axes` (ONNX Pad-18's `axes` input).
    public static func fullPads(_ pads: [Int], axes: [Int], rank: Int, fail: (String) -> Error) throws -> [Int] {
        let norm = try axes.map { a -> Int in
            let r = a < 0 ? a + rank : a
            guard r >= 0, r < rank else { throw fail("axis \(a) out of range for rank \(rank)") }
            return r
        }
        guard pads.count == 2 * norm.count, Set(norm).count == norm.count else { throw fail("\(pads.count) pads do not match \(axes.count) distinct axes (2 per axis)") }
        var full = Array(repeating: 0, count: 2 * rank)
        for (j, a) in norm.enumerated() {
            full[a] = pads[j]
            full[a + rank] = pads[j + norm.count]
        }
        return full
    }

    public static let specs: [OpSpec] = [
        OpSpec("Concat", family: "Movement", inputs: 1...Int(Int16.max), attributes: [.int("axis", required: true)]) { c in
            let first = try c.input(0)
            let a = try c.axis(try c.int("axis"), rank: first.count)
            var out = first
            for i in 1..<c.inputs.count {
                let x = try c.input(i)
                guard x.count == first.count else { throw c.fail("input \(i) has rank \(x.count), expected \(first.count)") }
                for j in 0..<x.count where j != a { out[j] = try c.same(out[j], x[j], "input \(i) \(x.rendered) and \(first.rendered) off the concat axis") }
                out[a] = try c.orUnknown(out[a].adding(x[a]), overflowIf: out[a].isFixed && x[a].isFixed)
            }
            return [out]
        },
        OpSpec("Flatten", family: "Movement", inputs: 1...1, attributes: [.int("axis", 1)]) { c in
            let x = try c.input(0)
            var a = try c.int("axis")
            if a < 0 { a += x.count }
            guard a >= 0, a <= x.count else { throw c.fail("axis \(a) out of range for rank \(x.count)") }
            let outer = try c.product(Array(x[0..<a])), inner = try c.product(Array(x[a...]))
            return [[outer, inner]]
        },
        // `shape` is an attribute when it was static at import, else input 1 (computed at run time).
        OpSpec("Reshape", family: "Movement", inputs: 1...2, attributes: [.ints("shape"), .int("allowzero", 0)], valueInputs: [1]) { c in
            let x = try c.input(0)
            let allowzero = try c.int("allowzero") != 0
            let target: [SymDim]
            if let s = try c.attrs.optionalInts("shape") {
                target = s.map(SymDim.init)
            } else if let v = c.value(1) {
                target = v
            } else if let s = c.optionalInput(1), s.count == 1, let r = s[0].value, r >= 0, r <= 64 {
                return [(0..<r).map { _ in c.unknown() }]
            } else {
                throw c.fail("the target shape is neither an attribute nor a 1-D input")
            }
            var out: SymShape = []
            var inferAt: Int?
            for (i, t) in target.enumerated() {
                if t == SymDim(-1) {
                    guard inferAt == nil else { throw c.fail("more than one -1 in shape \(target.rendered)") }
                    inferAt = i
                    out.append(SymDim(1))
                } else if t == SymDim(0) && !allowzero {
                    guard i < x.count else { throw c.fail("0 at position \(i) copies a dimension the input does not have") }
                    out.append(x[i])
                } else {
                    if let v = t.value, v < 0 { throw c.fail("invalid dimension \(v) in shape \(target.rendered)") }
                    out.append(t)
                }
            }
            let total = try c.product(x), have = try c.product(out)
            if let at = inferAt {
                if let q = total.divided(by: have) {
                    out[at] = q
                } else if total.isFixed && have.isFixed {
                    throw c.fail("cannot reshape \(x.rendered) to \(target.rendered)")
                } else {
                    out[at] = c.unknown()
                }
            } else if total.isFixed && have.isFixed && total != have {
                throw c.fail("cannot reshape \(x.rendered) (\(total) elements) to \(target.rendered)")
            }
            return [out]
        },
        OpSpec("Transpose", family: "Movement", inputs: 1...1, attributes: [.ints("perm")]) { c in
            let x = try c.input(0)
            let perm = try c.attrs.optionalInts("perm") ?? Array((0..<x.count).reversed())
            guard perm.count == x.count, Set(perm) == Set(0..<x.count) else { throw c.fail("perm \(perm) is not a permutation of rank \(x.count)") }
            return [perm.map { x[$0] }]
        },
        // `axes` is an attribute when static at import, else int64 input 1 (read per run).
        OpSpec("Squeeze", family: "Movement", inputs: 1...2, attributes: [.ints("axes")], valueInputs: [1]) { c in
            let x = try c.input(0)
            guard let raw = try c.parameter("axes", input: 1) else {
                if let k = c.length(1) { return [(0..<max(0, x.count - k)).map { _ in c.unknown() }] }
                return [x.filter { $0 != SymDim(1) }]
            }
            let axes = try Set(raw.map { try c.axis($0, rank: x.count) })
            for a in axes where x[a] != SymDim(1) {
                guard !x[a].isFixed else { throw c.fail("cannot squeeze axis \(a) of size \(x[a])") }
            }
            return [x.enumerated().filter { !axes.contains($0.offset) }.map(\.element)]
        },
        OpSpec("Unsqueeze", family: "Movement", inputs: 1...2, attributes: [.ints("axes")], valueInputs: [1]) { c in
            let x = try c.input(0)
            guard let raw = try c.parameter("axes", input: 1) else {
                guard let k = c.length(1) else { throw c.fail("axes are required") }
                return [(0..<(x.count + k)).map { _ in c.unknown() }]
            }
            let rank = x.count + raw.count
            let axes = try raw.map { try c.axis($0, rank: rank) }
            guard Set(axes).count == axes.count else { throw c.fail("repeated axes \(raw)") }
            var out: SymShape = []
            var it = x.makeIterator()
            for i in 0..<rank {
                if axes.contains(i) { out.append(SymDim(1)) } else if let d = it.next() { out.append(d) } else { throw c.fail("axes \(raw) out of range") }
            }
            return [out]
        },
        OpSpec("Gather", family: "Movement", inputs: 2...2, attributes: [.int("axis", 0)]) { c in
            let data = try c.input(0), idx = try c.input(1)
            let a = try c.axis(try c.int("axis"), rank: data.count)
            return [Array(data[0..<a]) + idx + Array(data[(a + 1)...])]
        },
        // starts/ends follow ONNX: negative values count from the end, and both
        // are clamped per run to the axis size, so one node serves every size.
        // Each parameter is an attribute when static at import, else an int64
        // input (1 starts, 2 ends, 3 axes, 4 steps) read per run.
        OpSpec("Slice", family: "Movement", inputs: 1...5, attributes: [
            .ints("starts"), .ints("ends"), .ints("axes"), .ints("steps"),
        ], valueInputs: [1, 2, 3, 4]) { c in
            var x = try c.input(0)
            let axesGiven = try c.attrs.optionalInts("axes") != nil || c.optionalInput(3) != nil
            let rawAxes = try c.parameter("axes", input: 3)
            guard let starts = try c.parameter("starts", input: 1), let ends = try c.parameter("ends", input: 2),
                  !(axesGiven && rawAxes == nil) else {
                // Known per run only: the sliced axes (when known) take unknown sizes.
                if let a = rawAxes {
                    for k in a { x[try c.axis(k, rank: x.count)] = c.unknown() }
                    return [x]
                }
                return [x.map { _ in c.unknown() }]
            }
            let axes = try (rawAxes ?? Array(0..<starts.count)).map { try c.axis($0, rank: x.count) }
            let steps = try c.parameter("steps", input: 4) ?? Array(repeating: 1, count: starts.count)
            guard starts.count == axes.count, ends.count == axes.count, steps.count == axes.count, Set(axes).count == axes.count else {
                throw c.fail("starts/ends/axes/steps lengths differ or axes repeat")
            }
            for (j, a) in axes.enumerated() {
                guard steps[j] != 0 else { throw c.fail("step 0") }
                if let n = x[a].value {
                    x[a] = SymDim(clampSlice(start: starts[j], end: ends[j], step: steps[j], size: n).count)
                } else {
                    x[a] = try symbolicSliceCount(c, start: starts[j], end: ends[j], step: steps[j], size: x[a])
                }
            }
            return [x]
        },
        // pads (negative values crop) and the constant value are attributes when static at
        // import, else inputs 1 (int64 pads), 2 (scalar value) and 3 (int64 axes the pads name).
        OpSpec("Pad", family: "Movement", inputs: 1...4, attributes: [
            .ints("pads"), .string("mode", "constant"), .float("value", 0),
        ], valueInputs: [1, 3]) { c in
            let x = try c.input(0)
            guard ["constant", "reflect", "edge", "wrap"].contains(try c.string("mode")) else { throw c.fail("mode '\(try c.string("mode"))'") }
            guard var pads = try c.parameter("pads", input: 1) else { return [x.map { _ in c.unknown() }] }
            if c.optionalInput(3) != nil {
                guard let axes = c.value(3)?.compactMap(\.value), axes.count == c.value(3)?.count else { return [x.map { _ in c.unknown() }] }
                pads = try MovementOps.fullPads(pads, axes: axes, rank: x.count, fail: c.fail)
            }
            guard pads.count == 2 * x.count else { throw c.fail("pads has \(pads.count) values for rank \(x.count)") }
            // magnitude, not abs: abs(Int.min) traps, and a hostile file may hold exactly that.
            guard pads.allSatisfy({ $0.magnitude <= 1 << 30 }) else { throw c.fail("pads \(pads.prefix(8)) exceed ±2^30") }
            var out: SymShape = []
            for (i, d) in x.enumerated() {
                let v = try c.orUnknown(d.adding(SymDim(pads[i] + pads[i + x.count])), overflowIf: d.isFixed)
                if let f = v.value, f < 0 { throw c.fail("padding makes axis \(i) negative") }
                out.append(v)
            }
            return [out]
        },
        // Without `split`, the axis is cut into equal chunks of ⌈size/outputs⌉ (the last one smaller).
        // `split` is an attribute when static at import, else int64 input 1 (read per run).
        OpSpec("Split", family: "Movement", inputs: 1...2, attributes: [.int("axis", 0), .ints("split")], valueInputs: [1]) { c in
            let x = try c.input(0)
            let a = try c.axis(try c.int("axis"), rank: x.count)
            let k = c.node.outputs.count
            guard k >= 1 else { throw c.fail("Split has no outputs") }
            if let sizes = try c.parameter("split", input: 1) {
                guard sizes.count == k, sizes.allSatisfy({ $0 >= 0 && $0 <= ShapeMath.maxElements }) else { throw c.fail("split sizes \(sizes) do not fit \(k) outputs") }
                if let n = x[a].value, sizes.reduce(0, +) != n { throw c.fail("split sizes \(sizes) do not add up to axis \(a) of \(x.rendered)") }
                return sizes.map { s in var y = x; y[a] = SymDim(s); return y }
            }
            if c.optionalInput(1) != nil { return (0..<k).map { _ in var y = x; y[a] = c.unknown(); return y } }
            if let n = x[a].value {
                return splitSizes(n, parts: k).map { s in var y = x; y[a] = SymDim(s); return y }
            }
            let chunk = try c.orUnknown(x[a].ceilDivided(by: k))
            let last = try c.orUnknown(chunk.times(SymDim(k - 1)).flatMap { x[a].subtracting($0) })
            return (0..<k).map { i in var y = x; y[a] = i == k - 1 ? last : chunk; return y }
        },
        OpSpec("Expand", family: "Movement", inputs: 2...2, valueInputs: [1]) { c in
            let x = try c.input(0)
            let target: SymShape
            if let v = c.value(1) {
                target = v
            } else if let s = c.optionalInput(1), s.count == 1, let r = s[0].value, r >= 0, r <= 64 {
                target = (0..<r).map { _ in c.unknown() }
            } else {
                throw c.fail("the shape input must be 1-D")
            }
            guard let s = ShapeInference.broadcast(x, target, unknowns: c.unknowns) else {
                throw c.fail("\(x.rendered) cannot be expanded to \(target.rendered)")
            }
            return [s]
        },
    ]

    /// Equal chunks of ⌈n/parts⌉ along a split axis, the last one smaller (ONNX `num_outputs`).
    public static func splitSizes(_ n: Int, parts: Int) -> [Int] {
        let chunk = (n + parts - 1) / parts
        return (0..<parts).map { max(0, min(chunk, n - $0 * chunk)) }
    }
}

/// Ops on shapes and other small integer tensors, evaluated at run time when
/// they depend on a symbolic dimension; plus Cast, which changes the dtype.
public enum ShapeOps {
    /// ONNX Shape start/end clamping.
    public static func shapeRange(start: Int, end: Int?, rank: Int) -> Range<Int> {
        func clamp(_ v: Int) -> Int { min(max(v < 0 ? v + rank : v, 0), rank) }
        let s = clamp(start), e = clamp(end ?? rank)
        return s..<max(s, e)
    }

    public static let specs: [OpSpec] = [
        OpSpec("Shape", family: "Shape", inputs: 1...1, attributes: [.int("start", 0), .int("end")]) { c in
            let x = try c.input(0)
            return [[SymDim(shapeRange(start: try c.int("start"), end: try c.attrs.optionalInt("end"), rank: x.count).count)]]
        },
        OpSpec("Size", family: "Shape", inputs: 1...1) { _ in [[]] },
        OpSpec("ConstantOfShape", family: "Shape", inputs: 1...1, attributes: [.float("value", 0), .string("dtype", "f32")], valueInputs: [0]) { c in
            let s = try c.input(0)
            guard s.count == 1 else { throw c.fail("the shape input must be 1-D, got \(s.rendered)") }
            if let dims = c.value(0) {
                for d in dims { if let v = d.value, v < 0 { throw c.fail("negative dimension \(v)") } }
                return [dims]
            }
            guard let r = s[0].value, r <= 64 else { throw c.fail("the shape input's length must be fixed") }
            return [(0..<r).map { _ in c.unknown() }]
        },
        // Over floats the length is decided per run by the kernel.
        OpSpec("Range", family: "Shape", inputs: 3...3, valueInputs: [0, 1, 2], shapeFromData: true) { c in
            for i in 0..<3 { guard try c.input(i).isEmpty || c.input(i) == [SymDim(1)] else { throw c.fail("input \(i) must be a scalar") } }
            guard let st = c.value(0)?.first, let li = c.value(1)?.first, let de = c.value(2)?.first else { return [[c.unknown()]] }
            if let s = st.value, let l = li.value, let d = de.value {
                guard d != 0 else { throw c.fail("delta 0") }
                // max(⌈(limit − start) / delta⌉, 0), without overflow for any Int64 bounds.
                let (span, overflow) = d > 0 ? l.subtractingReportingOverflow(s) : s.subtractingReportingOverflow(l)
                guard !overflow else { throw c.fail("start \(s) and limit \(l) are too far apart") }
                let n = span <= 0 ? 0 : (UInt(span) + d.magnitude - 1) / d.magnitude
                guard n <= UInt(ShapeMath.maxElements) else { throw c.fail("\(n) elements") }
                return [[SymDim(Int(n))]]
            }
            if let d = de.value, d > 0, let span = li.subtracting(st) { return [[try c.orUnknown(span.ceilDivided(by: d))]] }
            return [[c.unknown()]]
        },
        OpSpec("Cast", family: "Shape", inputs: 1...1, attributes: [.string("to", required: true)]) { c in
            guard DType(rawValue: try c.string("to")) != nil else { throw c.fail("unknown dtype '\(try c.string("to"))'") }
            return [try c.input(0)]
        },
    ]
}
