/// Window geometry shared by convolution and pooling: the shape rule and the
/// kernels resolve strides, dilations and padding (explicit or `auto_pad`)
/// through these functions, so output sizes and pads cannot disagree.
public enum WindowGeometry {
    /// Strides, dilations and explicit pads of a window op with `k` spatial
    /// axes (defaults: 1, 1, 0). `auto_pad` other than NOTSET is resolved by `pads`.
    public static func parameters(_ a: OpAttributes, spatial k: Int) throws -> (strides: [Int], dilations: [Int], pads: [Int]?, autoPad: String) {
        let strides = try a.optionalInts("strides") ?? Array(repeating: 1, count: k)
        let dilations = try a.optionalInts("dilations") ?? Array(repeating: 1, count: k)
        let autoPad = try a.optionalString("auto_pad") ?? "NOTSET"
        let pads = try a.optionalInts("pads")
        guard strides.count == k, dilations.count == k, strides.allSatisfy({ $0 > 0 && $0 <= 1 << 20 }),
              dilations.allSatisfy({ $0 > 0 && $0 <= 1 << 20 }) else {
            throw a.fail("strides \(strides) / dilations \(dilations) do not fit \(k) spatial axes")
        }
        switch autoPad {
        case "NOTSET", "":
            let p = pads ?? Array(repeating: 0, count: 2 * k)
            guard p.count == 2 * k, p.allSatisfy({ $0 >= 0 && $0 <= 1 << 20 }) else { throw a.fail("pads \(p) do not fit \(k) spatial axes") }
            return (strides, dilations, p, "NOTSET")
        case "VALID": return (strides, dilations, Array(repeating: 0, count: 2 * k), "VALID")
        case "SAME_UPPER", "SAME_LOWER": return (strides, dilations, nil, autoPad)
        default: throw a.fail("unknown auto_pad '\(autoPad)'")
        }
    }

    /// Concrete pads (begins then ends) for input sizes `input` — `auto_pad`
    /// SAME puts the odd pixel at the end (SAME_UPPER) or the start (SAME_LOWER).
    public static func pads(_ parameters: (strides: [Int], dilations: [Int], pads: [Int]?, autoPad: String), input: [Int], kernel: [Int]) -> [Int] {
        let (s, d, p, autoPad) = parameters
        if let p { return p }
        var begin: [Int] = [], end: [Int] = []
        for i in 0..<kernel.count {
            let out = (input[i] + s[i] - 1) / s[i]
            let total = max(0, (out - 1) * s[i] + (kernel[i] - 1) * d[i] + 1 - input[i])
            let small = total / 2, large = total - small
            begin.append(autoPad == "SAME_UPPER" ? small : large)
            end.append(autoPad == "SAME_UPPER" ? large : small)
        }
        return begin + end
    }

    /// Output size along one axis, symbolic where the input is.
    /// Explicit pads: ⌊(in + pb + pe − span)/s⌋ + 1, with ONNX's ceil_mode rule
    /// (a window may not start inside the end padding); SAME: ⌈in/s⌉.
    public static func output(_ c: ShapeContext, input: SymDim, kernel: Int, stride: Int, dilation: Int,
                              pads: (Int, Int)?, ceil: Bool) throws -> SymDim {
        guard kernel > 0, kernel <= 1 << 20 else { throw c.fail("kernel size \(kernel) is invalid") }
        let span = dilation * (kernel - 1) + 1
        guard let (pb, pe) = pads else {
            return try c.orUnknown(input.ceilDivided(by: stride), overflowIf: input.isFixed)
        }
        if let v = input.value {
            guard let o = ShapeInference.windowOutput(input: v, kernel: kernel, stride: stride, dilation: dilation,
                                                      padBegin: pb, padEnd: pe, ceil: ceil) else {
                throw c.fail("window of \(span) (stride \(stride), pads \(pb)+\(pe)) does not fit input size \(v)")
            }
            return SymDim(o)
        }
        guard let room = input.adding(SymDim(pb + pe - span)) else { return c.unknown() }
        if !ceil { return try c.orUnknown(room.floorDivided(by: stride)?.adding(SymDim(1))) }
        // The end-padding correction can only apply when pe + s > span.
        guard pe + stride <= span else { return c.unknown() }
        return try c.orUnknown(room.ceilDivided(by: stride)?.adding(SymDim(1)))
    }
}

/// Convolution.
public enum ConvOps {
    public static let specs: [OpSpec] = [
        OpSpec("Conv", family: "Conv", inputs: 2...4, attributes: [
            .ints("kernel_shape"), .ints("strides"), .ints("dilations"), .ints("pads"), .int("group", 1),
            .string("auto_pad", "NOTSET"),
        ]) { c in
            // A 4th input is the runtime's fused residual (same shape as the output).
            let x = try c.input(0), w = try c.input(1)
            let n = w.count - 2
            guard n >= 1, x.count == n + 2 else { throw c.fail("input \(x.rendered) and weight \(w.rendered) ranks do not fit a convolution") }
            let k = try c.attrs.optionalInts("kernel_shape") ?? w[2...].map { try c.fixed($0, "kernel size") }
            let (s, d, p, _) = try WindowGeometry.parameters(c.attrs, spatial: n)
            guard k.count == n else { throw c.fail("kernel_shape \(k) does not fit \(n) spatial axes") }
            let g = try c.int("group")
            let m = try c.fixed(w[0], "output channels")
            guard g >= 1, m % g == 0 else { throw c.fail("group \(g) does not divide \(m) output channels") }
            if let cin = x[1].value {
                guard cin % g == 0, try c.fixed(w[1], "weight channels") == cin / g else {
                    throw c.fail("input channels \(cin), group \(g) and weight \(w.rendered) are inconsistent")
                }
            }
            guard try w[2...].map({ try c.fixed($0, "kernel") }) == k else { throw c.fail("kernel_shape \(k) differs from weight \(w.rendered)") }
            if let b = c.optionalInput(2) {
                guard b.count == 1, b[0] == SymDim(m) else { throw c.fail("bias \(b.rendered) should be [\(m)]") }
            }
            var out: SymShape = [x[0], SymDim(m)]
            for i in 0..<n {
                out.append(try WindowGeometry.output(c, input: x[i + 2], kernel: k[i], stride: s[i], dilation: d[i],
                                                     pads: p.map { ($0[i], $0[i + n]) }, ceil: false))
            }
            return [out]
        },
    ]
}

/// Pooling and local response normalisation.
public enum PoolOps {
    static func window(_ name: String, extra: [AttributeSpec]) -> OpSpec {
        OpSpec(name, family: "Pool", inputs: 1...1, attributes: [
            .ints("kernel_shape", required: true), .ints("strides"), .ints("dilations"), .ints("pads"),
            .int("ceil_mode", 0), .string("auto_pad", "NOTSET"),
        ] + extra) { c in
            let x = try c.input(0)
            let k = try c.ints("kernel_shape")
            let n = k.count
            guard n >= 1, x.count == n + 2 else { throw c.fail("input \(x.rendered) does not match kernel rank \(n)") }
            let (s, d, p, _) = try WindowGeometry.parameters(c.attrs, spatial: n)
            let ceil = try c.int("ceil_mode") != 0
            var out: SymShape = [x[0], x[1]]
            for i in 0..<n {
                let span = d[i] * (k[i] - 1) + 1
                if let p { guard p[i] < span, p[i + n] < span else { throw c.fail("padding must be smaller than the window") } }
                out.append(try WindowGeometry.output(c, input: x[i + 2], kernel: k[i], stride: s[i], dilation: d[i],
                                                     pads: p.map { ($0[i], $0[i + n]) }, ceil: ceil))
            }
            // MaxPool's optional Indices output has Y's shape.
            guard name == "MaxPool" else { return [out] }
            guard [0, 1].contains(try c.int("storage_order")) else { throw c.fail("storage_order must be 0 or 1") }
            return [out, out]
        }
    }

    static func global(_ name: String) -> OpSpec {
        OpSpec(name, family: "Pool", inputs: 1...1) { c in
            let x = try c.input(0)
            guard x.count >= 3 else { throw c.fail("input rank \(x.count) < 3") }
            return [Array(x[0..<2]) + Array(repeating: SymDim(1), count: x.count - 2)]
        }
    }

    public static let specs: [OpSpec] = [
        window("MaxPool", extra: [.int("storage_order", 0)]),
        window("AveragePool", extra: [.int("count_include_pad", 0)]),
        global("GlobalAveragePool"),
        global("GlobalMaxPool"),
    ]
}

/// Normalisations over the channel axis, over trailing axes (Layer/RMS/Lp),
/// per instance or per channel group.
public enum NormalizationOps {
    /// Shape of the per-row statistics of LayerNormalization: `x` with the normalised axes set to 1.
    static func statistics(_ c: ShapeContext, _ x: SymShape) throws -> SymShape {
        let a = try c.axis(try c.int("axis"), rank: x.count)
        return Array(x[..<a]) + Array(repeating: SymDim(1), count: x.count - a)
    }

    /// Scale (and bias) of Layer/RMSNormalization must broadcast to the normalised axes.
    static func checkAffine(_ c: ShapeContext, _ x: SymShape, inputs: Range<Int>) throws {
        let a = try c.axis(try c.int("axis"), rank: x.count)
        let normalised = Array(x[a...])
        for i in inputs {
            guard let p = c.optionalInput(i) else { continue }
            guard p.count <= normalised.count, let b = ShapeInference.broadcast(normalised, p, unknowns: c.unknowns), b.count == normalised.count else {
                throw c.fail("input \(i) \(p.rendered) does not broadcast to the normalised shape \(normalised.rendered)")
            }
        }
    }

    /// Per-channel parameters (InstanceNormalization, GroupNormalization) must have length C.
    static func checkChannels(_ c: ShapeContext, _ x: SymShape, inputs: [Int]) throws {
        guard x.count >= 2 else { throw c.fail("input \(x.rendered) has no channel axis") }
        for i in inputs {
            let p = try c.input(i)
            guard p.count == 1 else { throw c.fail("input \(i) has shape \(p.rendered), expected [\(x[1])]") }
            _ = try c.same(p[0], x[1], "input \(i) length and channel count")
        }
    }

    public static let specs: [OpSpec] = [
        // Y, and optionally Mean and InvStdDev over the axes from `axis` on.
        OpSpec("LayerNormalization", family: "Normalization", inputs: 2...3, attributes: [
            .int("axis", -1), .float("epsilon", 1e-5), .int("stash_type", 1),
        ]) { c in
            let x = try c.input(0)
            try checkAffine(c, x, inputs: 1..<3)
            let st = try statistics(c, x)
            return [x, st, st]
        },
        OpSpec("RMSNormalization", family: "Normalization", inputs: 2...2, attributes: [
            .int("axis", -1), .float("epsilon", 1e-5), .int("stash_type", 1),
        ]) { c in
            let x = try c.input(0)
            try checkAffine(c, x, inputs: 1..<2)
            return [x]
        },
        OpSpec("InstanceNormalization", family: "Normalization", inputs: 3...3, attributes: [.float("epsilon", 1e-5)]) { c in
            let x = try c.input(0)
            guard x.count >= 3 else { throw c.fail("InstanceNormalization needs spatial axes, got \(x.rendered)") }
            try checkChannels(c, x, inputs: [1, 2])
            return [x]
        },
        // Scale and bias per channel (opset 21) or per group (opset 18): the
        // lengths tell them apart, and when C = num_groups they mean the same.
        OpSpec("GroupNormalization", family: "Normalization", inputs: 3...3, attributes: [
            .float("epsilon", 1e-5), .int("num_groups", required: true), .int("stash_type", 1),
        ]) { c in
            let x = try c.input(0)
            guard x.count >= 2 else { throw c.fail("input \(x.rendered) has no channel axis") }
            let g = try c.int("num_groups")
            guard g >= 1 else { throw c.fail("num_groups must be ≥ 1, got \(g)") }
            if let ch = x[1].value, ch % g != 0 { throw c.fail("\(ch) channels do not split into \(g) groups") }
            for i in [1, 2] {
                let p = try c.input(i)
                guard p.count == 1, p[0] == x[1] || p[0] == SymDim(g) else {
                    throw c.fail("input \(i) has shape \(p.rendered), expected [\(x[1])] or [\(g)]")
                }
            }
            return [x]
        },
        OpSpec("LpNormalization", family: "Normalization", inputs: 1...1, attributes: [.int("axis", -1), .int("p", 2)]) { c in
            let x = try c.input(0)
            _ = try c.axis(try c.int("axis"), rank: x.count)
            guard [1, 2].contains(try c.int("p")) else { throw c.fail("p must be 1 or 2, got \(try c.int("p"))") }
            return [x]
        },
        OpSpec("MeanVarianceNormalization", family: "Normalization", inputs: 1...1, attributes: [.ints("axes", [0, 2, 3])]) { c in
            let x = try c.input(0)
            for a in try c.ints("axes") { _ = try c.axis(a, rank: x.count) }
            return [x]
        },
        OpSpec("BatchNormalization", family: "Normalization", inputs: 5...5, attributes: [.float("epsilon", 1e-5)]) { c in
            let x = try c.input(0)
            guard x.count >= 2 else { throw c.fail("input rank \(x.count) < 2") }
            for i in 1...4 {
                let p = try c.input(i)
                guard p.count == 1 else { throw c.fail("parameter \(i) has shape \(p.rendered), expected [\(x[1])]") }
                _ = try c.same(p[0], x[1], "parameter \(i) length and channel count")
            }
            return [x]
        },
        OpSpec("LRN", family: "Normalization", inputs: 1...1, attributes: [
            .int("size", required: true), .float("alpha", 1e-4), .float("beta", 0.75), .float("bias", 1),
        ]) { c in
            let x = try c.input(0)
            guard try c.int("size") >= 1, x.count >= 2 else { throw c.fail("LRN needs size ≥ 1 and a channel axis") }
            return [x]
        },
    ]
}

/// Matrix products.
public enum MatMulOps {
    public static let specs: [OpSpec] = [
        OpSpec("Gemm", family: "MatMul", inputs: 2...3, attributes: [
            .float("alpha", 1), .float("beta", 1), .int("transA", 0), .int("transB", 0),
        ]) { c in
            let a = try c.input(0), b = try c.input(1)
            guard a.count == 2, b.count == 2 else { throw c.fail("Gemm needs 2-D inputs, got \(a.rendered) and \(b.rendered)") }
            let ta = try c.int("transA") != 0, tb = try c.int("transB") != 0
            let m = ta ? a[1] : a[0], ka = ta ? a[0] : a[1]
            let kb = tb ? b[1] : b[0], n = tb ? b[0] : b[1]
            _ = try c.same(ka, kb, "inner dimensions of \(a.rendered) × \(b.rendered)")
            if let cs = c.optionalInput(2) {
                guard let s = ShapeInference.broadcast([m, n], cs, unknowns: c.unknowns), s.count == 2,
                      try c.same(s[0], m, "C rows") == s[0], try c.same(s[1], n, "C columns") == s[1] else {
                    throw c.fail("C \(cs.rendered) does not broadcast to [\(m)×\(n)]")
                }
            }
            return [[m, n]]
        },
        OpSpec("MatMul", family: "MatMul", inputs: 2...2) { c in
            var a = try c.input(0), b = try c.input(1)
            guard !a.isEmpty, !b.isEmpty else { throw c.fail("MatMul of a scalar") }
            let va = a.count == 1, vb = b.count == 1
            if va { a.insert(SymDim(1), at: 0) }
            if vb { b.append(SymDim(1)) }
            _ = try c.same(a[a.count - 1], b[b.count - 2], "inner dimensions of \(a.rendered) × \(b.rendered)")
            guard let batch = ShapeInference.broadcast(Array(a.dropLast(2)), Array(b.dropLast(2)), unknowns: c.unknowns) else {
                throw c.fail("batch dimensions of \(a.rendered) and \(b.rendered) do not broadcast")
            }
            var out = batch
            if !va { out.append(a[a.count - 2]) }
            if !vb { out.append(b[b.count - 1]) }
            return [out]
        },
    ]
}

/// Reductions.
public enum ReduceOps {
    /// Every reduction; `axes` absent means all axes.
    public static let names = ["ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceSumSquare",
                               "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp"]
    /// `axes` is an attribute when it was static at import, else input 1 (int64, evaluated per
    /// run); with neither, every axis (`noop_with_empty_axes` makes empty axes a copy).
    public static let specs: [OpSpec] = names.map { name in
        OpSpec(name, family: "Reduce", inputs: 1...2, attributes: [.ints("axes"), .int("keepdims", 1), .int("noop_with_empty_axes", 0)],
               valueInputs: [1]) { c in
            let x = try c.input(0)
            let keep = try c.int("keepdims") != 0
            var raw = try c.attrs.optionalInts("axes")
            if raw == nil, let v = c.value(1) {
                raw = try v.map { d -> Int in guard let k = d.value else { throw c.fail("axes must be integers") }; return k }
            } else if raw == nil, let s = c.optionalInput(1) {
                // Axes known only at run time: the rank is known, the sizes are not.
                guard s.count == 1, let k = s[0].value else { throw c.fail("axes must be a 1-D tensor") }
                return [(0..<(keep ? x.count : max(0, x.count - k))).map { _ in c.unknown() }]
            }
            if (raw ?? []).isEmpty, c.optionalInput(1) != nil || raw != nil, try c.int("noop_with_empty_axes") != 0 { return [x] }
            let axes = try Set(((raw ?? []).isEmpty ? Array(0..<x.count) : raw!).map { try c.axis($0, rank: x.count) })
            return [x.enumerated().compactMap { i, d in axes.contains(i) ? (keep ? SymDim(1) : nil) : d }]
        }
    }
}
