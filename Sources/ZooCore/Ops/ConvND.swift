import Foundation

/// Transposed-convolution geometry shared by the ConvTranspose shape rule, its
/// kernel and the ONNX importer, so output sizes and pads cannot disagree.
///
/// Along one axis the full (unpadded) result has s·(in−1) + span + output_padding
/// positions (span = d·(k−1) + 1); the output is the window of it that starts at
/// the begin pad. A target size (`output_shape`, or in·s for `auto_pad` SAME)
/// fixes the pads from the total padding t = full − target: SAME_UPPER puts the
/// smaller half at the start, every other mode the larger half (the ONNX spec's
/// equations, as onnxruntime computes them). A target beyond the full size
/// (t < 0) leaves the pads at 0 and grows the output padding instead: the extra
/// positions at the end receive only the bias.
public enum TransposeGeometry {
    /// One resolved axis: explicit pads, the output padding and the output size.
    public struct Axis: Equatable, Sendable {
        public var padBegin, padEnd, outputPadding, output: Int
    }

    /// The validated attributes of a ConvTranspose node with kernel sizes `kernel`.
    public struct Parameters: Sendable {
        public let kernel, strides, dilations, outputPadding: [Int]
        /// Explicit pads (begins, then ends); nil when `auto_pad` SAME or `output_shape` decides them.
        public let pads: [Int]?
        /// Spatial output sizes (`output_shape`); it overrides `pads`.
        public let outputShape: [Int]?
        public let autoPad: String
    }

    public static func parameters(_ a: OpAttributes, kernel: [Int]) throws -> Parameters {
        let n = kernel.count
        let ones = Array(repeating: 1, count: n)
        let strides = try a.optionalInts("strides") ?? ones, dilations = try a.optionalInts("dilations") ?? ones
        let outputPadding = try a.optionalInts("output_padding") ?? Array(repeating: 0, count: n)
        let outputShape = try a.optionalInts("output_shape")
        let autoPad = try a.optionalString("auto_pad") ?? "NOTSET"
        guard strides.count == n, dilations.count == n, outputPadding.count == n,
              (strides + dilations).allSatisfy({ $0 > 0 && $0 <= 1 << 20 }) else {
            throw a.fail("strides \(strides), dilations \(dilations), output_padding \(outputPadding) do not fit \(n) spatial axes")
        }
        for i in 0..<n where outputPadding[i] < 0 || outputPadding[i] >= max(strides[i], dilations[i]) {
            throw a.fail("output_padding \(outputPadding) must be below max(stride, dilation) on each axis")
        }
        if let outputShape {
            guard outputShape.count == n, outputShape.allSatisfy({ $0 >= 1 && $0 <= ShapeMath.maxElements }) else {
                throw a.fail("output_shape \(outputShape) must hold \(n) positive sizes")
            }
        }
        var pads: [Int]?
        switch autoPad {
        case "NOTSET", "":
            let p = try a.optionalInts("pads") ?? Array(repeating: 0, count: 2 * n)
            guard p.count == 2 * n, p.allSatisfy({ $0 >= 0 && $0 <= 1 << 20 }) else { throw a.fail("pads \(p) do not fit \(n) spatial axes") }
            pads = p
        case "VALID": pads = Array(repeating: 0, count: 2 * n)
        case "SAME_UPPER", "SAME_LOWER": pads = nil
        default: throw a.fail("unknown auto_pad '\(autoPad)'")
        }
        for k in kernel where k < 1 || k > 1 << 20 { throw a.fail("kernel size \(k) is invalid") }
        return Parameters(kernel: kernel, strides: strides, dilations: dilations, outputPadding: outputPadding,
                          pads: outputShape == nil ? pads : nil, outputShape: outputShape,
                          autoPad: autoPad == "" ? "NOTSET" : autoPad)
    }

    /// Axis `i` for input size `input`; nil when the sizes do not fit (an empty
    /// input, pads that leave no output, or a target further than
    /// max(stride, dilation) − 1 past the full size, which output_padding could not reach either).
    public static func axis(_ p: Parameters, _ i: Int, input: Int) -> Axis? {
        let s = p.strides[i], d = p.dilations[i], op = p.outputPadding[i]
        guard input >= 1, input <= ShapeMath.maxElements else { return nil }
        let full = s * (input - 1) + d * (p.kernel[i] - 1) + 1 + op
        let target = p.outputShape?[i] ?? (p.pads == nil ? input * s : nil)
        guard let target else {
            let (pb, pe) = (p.pads![i], p.pads![i + p.kernel.count])
            guard full - pb - pe >= 1 else { return nil }
            return Axis(padBegin: pb, padEnd: pe, outputPadding: op, output: full - pb - pe)
        }
        let total = full - target
        if total >= 0 {
            let begin = p.autoPad == "SAME_UPPER" ? total / 2 : total - total / 2
            return Axis(padBegin: begin, padEnd: total - begin, outputPadding: op, output: target)
        }
        guard op - total < max(s, d) else { return nil }
        return Axis(padBegin: 0, padEnd: 0, outputPadding: op - total, output: target)
    }

    /// Output size along axis `i`, symbolic where the input is.
    public static func output(_ c: ShapeContext, _ p: Parameters, _ i: Int, input: SymDim) throws -> SymDim {
        if let v = input.value {
            guard let a = axis(p, i, input: v) else {
                throw c.fail("transposed window (kernel \(p.kernel[i]), stride \(p.strides[i]), dilation \(p.dilations[i])) does not fit input size \(v) on spatial axis \(i)")
            }
            return SymDim(a.output)
        }
        if let o = p.outputShape?[i] { return SymDim(o) }
        let s = p.strides[i]
        guard let pads = p.pads else { return try c.orUnknown(input.times(SymDim(s))) }
        // in·s + (span + output_padding − s − pads)
        let rest = p.dilations[i] * (p.kernel[i] - 1) + 1 + p.outputPadding[i] - s - pads[i] - pads[i + p.kernel.count]
        return try c.orUnknown(input.times(SymDim(s))?.adding(SymDim(rest)))
    }
}

/// Transposed and deformable convolution, Lp pooling and max unpooling (any
/// spatial rank ≥ 1). IR forms (ONNX semantics):
///
/// - `ConvTranspose(X, W[C, M/group, k…], B?)`: the importer resolves
///   `output_shape` and `auto_pad` into `pads` and `output_padding` when the
///   spatial sizes are fixed; on symbolic sizes they are kept and resolved per
///   run by `TransposeGeometry`.
/// - `DeformConv(X, W, offset, B?, mask?)`: offsets (and mask) per offset
///   group, kernel tap and output position; samples are multilinear with
///   zeros outside the input.
/// - `LpPool(X)`: (Σ |x|^p)^(1/p) over the window's input positions (padding
///   adds nothing); `p` is a float (LpPool-1's form; later opsets' int p converts exactly).
/// - `MaxUnpool(X, I, output_shape?)`: `I` holds flat indices into the
///   inferred shape [N, C, (in−1)·s − pads + k …] (MaxPool's Indices); a
///   larger `output_shape` (attribute when constant at import, else int64
///   input 2) pads that result with zeros at the end of each axis, as onnx's
///   reference and test cases define it.
public enum ConvNDOps {
    /// Kernel sizes of weight `w` (fixed), checked against a `kernel_shape` attribute.
    static func kernel(_ c: ShapeContext, _ w: SymShape) throws -> [Int] {
        let k = try w[2...].map { try c.fixed($0, "kernel size") }
        if let given = try c.attrs.optionalInts("kernel_shape"), given != k {
            throw c.fail("kernel_shape \(given) differs from weight \(w.rendered)")
        }
        return k
    }

    static func checkBias(_ c: ShapeContext, _ i: Int, channels m: Int) throws {
        guard let b = c.optionalInput(i) else { return }
        guard b.count == 1, try c.same(b[0], SymDim(m), "bias length and output channels") == SymDim(m) else {
            throw c.fail("bias \(b.rendered) should be [\(m)]")
        }
    }

    /// LpPool: the window attributes and shape rule of MaxPool/AveragePool, plus `p`.
    static let lpPool: OpSpec = {
        let base = PoolOps.window("LpPool", extra: [.float("p", 2)])
        return OpSpec("LpPool", family: "ConvND", inputs: base.inputs, attributes: base.attributes) { c in
            let p = try c.float("p")
            guard p > 0, p.isFinite else { throw c.fail("p must be positive, got \(p)") }
            return try base.rule(c)
        }
    }()

    public static let specs: [OpSpec] = [
        OpSpec("ConvTranspose", family: "ConvND", inputs: 2...3, attributes: [
            .ints("kernel_shape"), .ints("strides"), .ints("dilations"), .ints("pads"), .ints("output_padding"),
            .ints("output_shape"), .int("group", 1), .string("auto_pad", "NOTSET"),
        ]) { c in
            let x = try c.input(0), w = try c.input(1)
            let n = w.count - 2
            guard n >= 1, x.count == n + 2 else { throw c.fail("input \(x.rendered) and weight \(w.rendered) ranks do not fit a transposed convolution") }
            let k = try kernel(c, w)
            let g = try c.int("group"), cin = try c.fixed(w[0], "weight input channels")
            guard g >= 1, g <= 1 << 20, cin % g == 0 else { throw c.fail("group \(g) does not divide the \(cin) input channels of weight \(w.rendered)") }
            _ = try c.same(x[1], SymDim(cin), "input channels and weight rows")
            let (m, overflow) = try c.fixed(w[1], "output channels per group").multipliedReportingOverflow(by: g)
            guard !overflow, m >= 1 else { throw c.fail("output channels overflow") }
            try checkBias(c, 2, channels: m)
            let p = try TransposeGeometry.parameters(c.attrs, kernel: k)
            var out: SymShape = [x[0], SymDim(m)]
            for i in 0..<n { out.append(try TransposeGeometry.output(c, p, i, input: x[i + 2])) }
            _ = try c.product(out)
            return [out]
        },
        // `auto_pad` is no ONNX DeformConv attribute: declared (NOTSET unless an IR
        // file says otherwise) so the op shares `WindowGeometry` with Conv.
        OpSpec("DeformConv", family: "ConvND", inputs: 3...5, attributes: [
            .ints("kernel_shape"), .ints("strides"), .ints("dilations"), .ints("pads"), .int("group", 1),
            .int("offset_group", 1), .string("auto_pad", "NOTSET"),
        ]) { c in
            let x = try c.input(0), w = try c.input(1)
            _ = try c.input(2)
            let n = w.count - 2
            guard n >= 1, x.count == n + 2 else { throw c.fail("input \(x.rendered) and weight \(w.rendered) ranks do not fit a convolution") }
            let k = try kernel(c, w)
            let (s, d, p, _) = try WindowGeometry.parameters(c.attrs, spatial: n)
            let g = try c.int("group"), og = try c.int("offset_group"), m = try c.fixed(w[0], "output channels")
            guard g >= 1, og >= 1, m % g == 0 else { throw c.fail("group \(g) must divide the \(m) output channels, offset_group \(og) must be ≥ 1") }
            if let cin = x[1].value {
                guard cin % g == 0, cin % og == 0, try c.fixed(w[1], "weight channels") == cin / g else {
                    throw c.fail("input channels \(cin), group \(g), offset_group \(og) and weight \(w.rendered) are inconsistent")
                }
            }
            try checkBias(c, 3, channels: m)
            var out: SymShape = [x[0], SymDim(m)]
            for i in 0..<n {
                out.append(try WindowGeometry.output(c, input: x[i + 2], kernel: k[i], stride: s[i], dilation: d[i],
                                                     pads: p.map { ($0[i], $0[i + n]) }, ceil: false))
            }
            let taps = k.reduce(1, *)
            // Offsets: n coordinates per offset group and tap; the mask: one weight per group and tap.
            for (i, per) in [(2, taps * n), (4, taps)] {
                guard let t = c.optionalInput(i) else { continue }
                guard t.count == n + 2 else { throw c.fail("input \(i) \(t.rendered) should have rank \(n + 2)") }
                _ = try c.same(t[0], x[0], "input \(i) batch and input batch")
                _ = try c.same(t[1], SymDim(og * per), "input \(i) channels and offset_group × \(per)")
                for a in 0..<n { out[a + 2] = try c.same(out[a + 2], t[a + 2], "input \(i) spatial size \(a) and output size") }
            }
            return [out]
        },
        lpPool,
        OpSpec("MaxUnpool", family: "ConvND", inputs: 2...3, attributes: [
            .ints("kernel_shape", required: true), .ints("strides"), .ints("pads"), .ints("output_shape"),
        ], valueInputs: [2]) { c in
            let x = try c.input(0), idx = try c.input(1)
            let k = try c.ints("kernel_shape"), n = k.count
            guard n >= 1, x.count == n + 2, idx.count == x.count else {
                throw c.fail("input \(x.rendered), indices \(idx.rendered) and kernel_shape \(k) do not fit")
            }
            for a in 0..<x.count { _ = try c.same(x[a], idx[a], "input and indices sizes") }
            let s = try c.attrs.optionalInts("strides") ?? Array(repeating: 1, count: n)
            let p = try c.attrs.optionalInts("pads") ?? Array(repeating: 0, count: 2 * n)
            guard s.count == n, p.count == 2 * n, k.allSatisfy({ $0 >= 1 && $0 <= 1 << 20 }), s.allSatisfy({ $0 >= 1 && $0 <= 1 << 20 }),
                  p.allSatisfy({ $0 >= 0 && $0 <= 1 << 20 }) else {
                throw c.fail("kernel_shape \(k), strides \(s), pads \(p) do not fit \(n) spatial axes")
            }
            var inferred: SymShape = [x[0], x[1]]
            for a in 0..<n {
                let rest = k[a] - s[a] - p[a] - p[a + n]
                if let v = x[a + 2].value {
                    guard v >= 1, (v - 1) * s[a] + k[a] - p[a] - p[a + n] >= 1 else { throw c.fail("pads leave no output on spatial axis \(a)") }
                }
                inferred.append(try c.orUnknown(x[a + 2].times(SymDim(s[a]))?.adding(SymDim(rest))))
            }
            var given: SymShape? = try c.attrs.optionalInts("output_shape").map { $0.map(SymDim.init) } ?? c.value(2)
            if given == nil, let shape = c.optionalInput(2) {
                guard shape.count == 1 else { throw c.fail("output_shape must be 1-D, got \(shape.rendered)") }
                given = [x[0], x[1]] + (0..<n).map { _ in c.unknown() }
            }
            guard let out = given else { return [inferred] }
            guard out.count == n + 2 else { throw c.fail("output_shape \(out.rendered) should have rank \(n + 2)") }
            for a in 0..<out.count {
                if a < 2 { _ = try c.same(out[a], x[a], "output_shape and input batch/channels") }
                if let o = out[a].value, let i = inferred[a].value, o < i {
                    throw c.fail("output_shape \(out.rendered) is smaller than the unpooled shape \(inferred.rendered)")
                }
            }
            _ = try c.product(out)
            return [out]
        },
    ]
}
