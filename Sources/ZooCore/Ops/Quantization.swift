/// Linear quantization: QuantizeLinear / DequantizeLinear (ONNX 10–28),
/// DynamicQuantizeLinear, QLinearMatMul, QLinearConv, MatMulInteger and
/// ConvInteger, with ONNX semantics and ONNX's input positions ("" for an
/// absent optional input; an absent zero point is 0).
///
/// The runtime holds every integer tensor as Int64 and narrows it to the
/// value's dtype (by truncation) only at the graph boundary. An op whose
/// result is a narrow integer therefore carries that type as the `to`
/// attribute (a `DType` raw value: "u8", "i8", "u16", "i16", "i32") and
/// saturates to its range itself; MatMulInteger and ConvInteger wrap their
/// sums to int32, as ONNX allows ("accumulation may overflow iff in 32 bits").
///
/// Scales and zero points stay inputs whether they are constants or run-time
/// values: they are tensors (per tensor, per axis or per block), and the
/// kernels read them per run.
public enum QuantizationOps {
    /// The range of a quantized integer type; nil for any other dtype.
    public static func range(_ t: DType) -> ClosedRange<Int64>? {
        switch t {
        case .u8: return 0...255
        case .i8: return -128...127
        case .u16: return 0...65535
        case .i16: return -32768...32767
        case .i32: return Int64(Int32.min)...Int64(Int32.max)
        default: return nil
        }
    }

    /// Division precisions of QuantizeLinear's `precision` attribute.
    public static let precisions: Set<String> = ["f32", "f16", "bf16", "f64"]

    /// How a scale and its zero point map onto the quantized tensor (ONNX's three granularities).
    public enum Granularity: Equatable, Sendable {
        /// One value (a scalar or any one-element tensor).
        case tensor
        /// A 1-D tensor along `axis`, one value per index.
        case axis(Int)
        /// The tensor's shape with `axis` cut into ⌈D / size⌉ blocks of `size`.
        case blocked(axis: Int, size: Int)
    }

    /// Why a scale or zero point does not fit its tensor.
    public struct Mismatch: Error, Sendable { public let detail: String }

    /// Whether two sizes provably differ (symbolic ones may still agree at run time).
    static func differ(_ a: SymDim, _ b: SymDim) -> Bool {
        guard let d = a.subtracting(b) else { return false }
        return d.isFixed && d.value != 0
    }

    /// The granularity of `scale` over `x`, shared by the shape rules and the
    /// kernels (which call it with concrete shapes). A one-element scale is per
    /// tensor whatever its rank, as in onnx's reference.
    public static func granularity(x: SymShape, scale: SymShape, axis: Int, blockSize: Int) throws(Mismatch) -> Granularity {
        if scale.allSatisfy({ $0 == SymDim(1) }) { return .tensor }
        guard blockSize >= 0 else { throw Mismatch(detail: "block_size must be positive, got \(blockSize)") }
        let a = axis < 0 ? axis + x.count : axis
        guard a >= 0, a < x.count else { throw Mismatch(detail: "axis \(axis) out of range for rank \(x.count)") }
        if blockSize == 0 {
            guard scale.count == 1, !differ(scale[0], x[a]) else {
                throw Mismatch(detail: "scale \(scale.rendered) is neither one value nor one per index of axis \(a) of \(x.rendered)")
            }
            return .axis(a)
        }
        guard scale.count == x.count else {
            throw Mismatch(detail: "blocked scale \(scale.rendered) must have the rank of \(x.rendered)")
        }
        for d in 0..<x.count where d != a && differ(scale[d], x[d]) {
            throw Mismatch(detail: "blocked scale \(scale.rendered) differs from \(x.rendered) off axis \(a)")
        }
        if let n = x[a].value, let s = scale[a].value, (n + blockSize - 1) / blockSize != s {
            throw Mismatch(detail: "\(s) blocks of \(blockSize) do not cover size \(n) of axis \(a)")
        }
        return .blocked(axis: a, size: blockSize)
    }

    /// A zero point must have its scale's shape (any one-element shape matches another).
    public static func zeroPointFits(_ z: SymShape, scale: SymShape) -> Bool {
        let one = SymDim(1)
        if z.allSatisfy({ $0 == one }) && scale.allSatisfy({ $0 == one }) { return true }
        return z.count == scale.count && !zip(z, scale).contains { differ($0, $1) }
    }

    /// Whether `p` broadcasts (numpy) to `target` without changing it.
    public static func broadcasts(_ p: SymShape, to target: SymShape) -> Bool {
        guard p.count <= target.count else { return false }
        let lead = target.count - p.count
        return p.indices.allSatisfy { p[$0] == SymDim(1) || !differ(p[$0], target[lead + $0]) }
    }

    /// A one-element parameter (ONNX's "scalar" inputs; [1] is accepted too).
    static func checkScalar(_ c: ShapeContext, _ i: Int, _ what: String) throws {
        guard let p = c.optionalInput(i) else { return }
        if p.contains(where: { $0.isFixed && $0 != SymDim(1) }) { throw c.fail("\(what) must hold one value, got \(p.rendered)") }
    }

    /// A parameter with one value or one per output channel (`m` of them).
    static func checkPerChannel(_ c: ShapeContext, _ i: Int, channels m: SymDim, _ what: String) throws {
        guard let p = c.optionalInput(i), !p.allSatisfy({ $0 == SymDim(1) }) else { return }
        guard p.count == 1, !differ(p[0], m) else { throw c.fail("\(what) \(p.rendered) must hold one value or one per output channel (\(m))") }
    }

    /// The quantized output type of a node (`to`) must be one `range` knows.
    static func checkOutputType(_ c: ShapeContext) throws {
        let to = try c.string("to")
        guard let t = DType(rawValue: to), range(t) != nil else { throw c.fail("to '\(to)' is not a quantized integer type") }
    }

    /// Checks of Quantize/DequantizeLinear: scale input 1 and zero point input 2 over x.
    static func linear(_ c: ShapeContext) throws -> [SymShape] {
        let x = try c.input(0), s = try c.input(1)
        let axis = try c.int("axis"), block = try c.int("block_size")
        do {
            _ = try granularity(x: x, scale: s, axis: axis, blockSize: block)
        } catch {
            throw c.fail(error.detail)
        }
        if let z = c.optionalInput(2), !zeroPointFits(z, scale: s) {
            throw c.fail("zero point \(z.rendered) must have the scale's shape \(s.rendered)")
        }
        return [x]
    }

    /// The rule of `op` (MatMul, Conv) over inputs `inputs` of this node (nil: absent).
    static func delegated(_ c: ShapeContext, to op: String, inputs: [Int?]) throws -> [SymShape] {
        guard let spec = OpRegistry.spec(op) else { throw c.fail("\(op) is not an IR operator") }
        let ctx = ShapeContext(node: c.node, attrs: OpAttributes(node: c.node, spec: spec),
                               inputs: inputs.map { $0.flatMap(c.optionalInput) }, values: inputs.map { $0.flatMap(c.value) },
                               unknowns: c.unknowns)
        return try spec.rule(ctx)
    }

    /// A quantized matrix product: MatMul's shape over inputs `a` and `b`, each
    /// zero point broadcasting to its matrix and each scale to the output.
    static func matmul(_ c: ShapeContext, a: Int, b: Int, zeroPoints: [(Int, String, of: Int)], scales: [(Int, String)]) throws -> [SymShape] {
        let out = try delegated(c, to: "MatMul", inputs: [a, b])
        for (z, what, m) in zeroPoints {
            guard let zs = c.optionalInput(z) else { continue }
            guard broadcasts(zs, to: try c.input(m)) else { throw c.fail("\(what) \(zs.rendered) does not broadcast to \(try c.input(m).rendered)") }
        }
        for (i, what) in scales {
            guard let p = c.optionalInput(i) else { continue }
            guard broadcasts(p, to: out[0]) else { throw c.fail("\(what) \(p.rendered) does not broadcast to the output \(out[0].rendered)") }
        }
        return out
    }

    /// Convolution attributes, named as `Conv`'s: its shape rule and `WindowGeometry` read them.
    static let window: [AttributeSpec] = [
        .ints("kernel_shape"), .ints("strides"), .ints("dilations"), .ints("pads"), .int("group", 1), .string("auto_pad", "NOTSET"),
    ]

    public static let specs: [OpSpec] = [
        // QuantizeLinear(x, y_scale, y_zero_point?): saturate(round(x / y_scale) + y_zero_point)
        // into `to`, rounding half to even; the division is done in `precision`.
        OpSpec("QuantizeLinear", family: "Quantization", inputs: 2...3, attributes: [
            .int("axis", 1), .int("block_size", 0), .string("to", "u8"), .string("precision", "f32"),
        ]) { c in
            try checkOutputType(c)
            guard precisions.contains(try c.string("precision")) else { throw c.fail("unknown precision '\(try c.string("precision"))'") }
            return try linear(c)
        },
        // DequantizeLinear(x, x_scale, x_zero_point?): (x − x_zero_point) · x_scale, in f32.
        OpSpec("DequantizeLinear", family: "Quantization", inputs: 2...3, attributes: [.int("axis", 1), .int("block_size", 0)]) { c in
            try linear(c)
        },
        // DynamicQuantizeLinear(x) → y (u8), y_scale (f32 scalar), y_zero_point (u8 scalar).
        OpSpec("DynamicQuantizeLinear", family: "Quantization", inputs: 1...1) { c in
            [try c.input(0), [], []]
        },
        // QLinearMatMul(a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point).
        OpSpec("QLinearMatMul", family: "Quantization", inputs: 7...8, attributes: [.string("to", "u8")]) { c in
            try checkOutputType(c)
            return try matmul(c, a: 0, b: 3, zeroPoints: [(2, "a_zero_point", of: 0), (5, "b_zero_point", of: 3)],
                              scales: [(1, "a_scale"), (4, "b_scale"), (6, "y_scale"), (7, "y_zero_point")])
        },
        // MatMulInteger(A, B, a_zero_point?, b_zero_point?) → int32.
        OpSpec("MatMulInteger", family: "Quantization", inputs: 2...4) { c in
            try matmul(c, a: 0, b: 1, zeroPoints: [(2, "a_zero_point", of: 0), (3, "b_zero_point", of: 1)], scales: [])
        },
        // QLinearConv(x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B?):
        // Conv's geometry; w's scale and zero point per tensor or per output channel.
        OpSpec("QLinearConv", family: "Quantization", inputs: 7...9, attributes: window + [.string("to", "u8")]) { c in
            try checkOutputType(c)
            let out = try delegated(c, to: "Conv", inputs: [0, 3, 8])
            for (i, what) in [(1, "x_scale"), (2, "x_zero_point"), (6, "y_scale"), (7, "y_zero_point")] { try checkScalar(c, i, what) }
            let m = try c.input(3)[0]
            try checkPerChannel(c, 4, channels: m, "w_scale")
            try checkPerChannel(c, 5, channels: m, "w_zero_point")
            return out
        },
        // ConvInteger(x, w, x_zero_point?, w_zero_point?) → int32.
        OpSpec("ConvInteger", family: "Quantization", inputs: 2...4, attributes: window) { c in
            let out = try delegated(c, to: "Conv", inputs: [0, 1])
            try checkScalar(c, 2, "x_zero_point")
            try checkPerChannel(c, 3, channels: try c.input(1)[0], "w_zero_point")
            return out
        },
    ]
}
