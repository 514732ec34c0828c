import Foundation
import ZooCore

/// QuantizeLinear and DequantizeLinear (opsets 10, 13, 19, 21, 23, 24, 25, 28),
/// DynamicQuantizeLinear (11), QLinearMatMul (10, 21), QLinearConv,
/// MatMulInteger and ConvInteger (10), as the IR ops of the same names
/// (ZooCore `QuantizationOps`), inputs in ONNX's positions.
///
/// Integers run as Int64, so the quantized output type is decided here (from
/// the zero point, `output_dtype`, or uint8) and passed on as `to`. The 8-bit
/// float, 6-bit float, 4-bit and 2-bit types are not implemented: tensors of
/// those types are refused when they are decoded, and an `output_dtype`
/// naming one here. `saturate` only concerns the float8 types and is ignored.
enum QuantizationNormalisers {
    static let table: [String: Normaliser] = [
        "QuantizeLinear": quantize, "DequantizeLinear": dequantize, "DynamicQuantizeLinear": dynamicQuantize,
        "QLinearMatMul": qlinearMatMul, "QLinearConv": qlinearConv, "MatMulInteger": matMulInteger, "ConvInteger": convInteger,
    ]

    /// ONNX type names, including the codes after INT4 that `ONNXDataType.name` does not list.
    static func typeName(_ code: Int) -> String {
        [23: "FLOAT4E2M1", 24: "FLOAT8E8M0", 25: "UINT2", 26: "INT2", 27: "FLOAT6E2M3", 28: "FLOAT6E3M2"][code] ?? ONNXDataType.name(code)
    }

    /// The dtype an `output_dtype` attribute names, which must be a quantized integer type.
    static func quantizedType(_ s: ImportSession, _ n: ONNXNode, code: Int) throws -> DType {
        if let d = ONNXDataType.dtype(code), QuantizationOps.range(d) != nil { return d }
        if (17...28).contains(code) {
            throw s.unsupportedForm(n, "output_dtype \(typeName(code)) (8-, 6-, 4- and 2-bit types are not implemented)")
        }
        throw s.invalid(n, "output_dtype \(typeName(code)) is not a quantized integer type")
    }

    /// The dtype of quantized input `name`: int8, uint8, int16, uint16 or int32.
    static func quantizedInput(_ s: ImportSession, _ n: ONNXNode, _ name: String, _ what: String) throws -> DType {
        let d = try s.dtype(name, n)
        guard QuantizationOps.range(d) != nil else { throw s.invalid(n, "\(what) must be int8, uint8, int16, uint16 or int32, got \(d.rawValue)") }
        return d
    }

    /// A zero point (when given) has the type of the tensor it belongs to.
    static func checkZeroPoint(_ s: ImportSession, _ n: ONNXNode, _ z: String?, of t: DType, _ what: String) throws {
        guard let z else { return }
        let d = try s.dtype(z, n)
        guard d == t else { throw s.invalid(n, "\(what) is \(d.rawValue) but its tensor is \(t.rawValue)") }
    }

    /// The dtype of a scale input, which must be floating point (`integer`: int32 allowed too).
    static func scaleType(_ s: ImportSession, _ n: ONNXNode, _ name: String?, _ what: String, integer: Bool = false) throws -> DType {
        guard let name else { throw s.invalid(n, "\(what) is required") }
        let d = try s.dtype(name, n)
        guard d.isFloatingPoint || (integer && d == .i32) else { throw s.invalid(n, "\(what) must be floating point, got \(d.rawValue)") }
        return d
    }

    /// The first `count` inputs, "" for absent ones, trailing absent ones dropped.
    static func inputs(_ n: ONNXNode, _ count: Int) -> [String] {
        var out = (0..<count).map { n.input($0) ?? "" }
        while out.last == "" { out.removeLast() }
        return out
    }

    /// `axis` (opset 13 on) and `block_size` (opset 21 on; 0 means none) as IR attributes.
    static func granularity(_ s: ImportSession, _ n: ONNXNode) -> [String: Attribute] {
        var attrs: [String: Attribute] = [:]
        if s.opset >= 13, let a = n.int("axis") { attrs["axis"] = .int(a) }
        if s.opset >= 21, let b = n.int("block_size"), b != 0 { attrs["block_size"] = .int(b) }
        return attrs
    }

    /// Output type: y_zero_point's, else `output_dtype` (opset 21 on), else uint8.
    /// Division precision: `precision` (opset 23 on), else y_scale's type (f64 for an int32 scale).
    static let quantize: Normaliser = { s, n in
        guard let x = n.input(0) else { throw s.invalid(n, "needs x and y_scale") }
        let xt = try s.dtype(x, n)
        guard xt.isFloatingPoint || xt == .i32 else { throw s.invalid(n, "x must be floating point or int32, got \(xt.rawValue)") }
        let st = try scaleType(s, n, n.input(1), "y_scale", integer: s.opset >= 23)
        var to: DType?
        if s.opset >= 21, let code = n.int("output_dtype"), code != 0 { to = try quantizedType(s, n, code: code) }
        if let z = n.input(2) {
            let zt = try quantizedInput(s, n, z, "y_zero_point")
            if let to, to != zt { throw s.invalid(n, "output_dtype \(to.rawValue) differs from y_zero_point's type \(zt.rawValue)") }
            to = zt
        }
        let out = to ?? .u8
        var precision: DType = st.isFloatingPoint ? st : .f64
        if s.opset >= 23, let p = n.int("precision"), p != 0 {
            guard let d = ONNXDataType.dtype(p), QuantizationOps.precisions.contains(d.rawValue) else {
                throw s.unsupportedForm(n, "precision \(typeName(p))")
            }
            precision = d
        }
        var attrs = granularity(s, n)
        attrs["to"] = .string(out.rawValue)
        attrs["precision"] = .string(precision.rawValue)
        try s.emit(n, op: "QuantizeLinear", inputs: inputs(n, 3), outputs: [try n.output(s)], attributes: attrs, dtype: out)
    }

    /// Output type: `output_dtype` (opset 23 on), else x_scale's type (opset 19 on), else f32.
    static let dequantize: Normaliser = { s, n in
        guard let x = n.input(0) else { throw s.invalid(n, "needs x and x_scale") }
        let xt = try quantizedInput(s, n, x, "x")
        let st = try scaleType(s, n, n.input(1), "x_scale")
        try checkZeroPoint(s, n, n.input(2), of: xt, "x_zero_point")
        var out: DType = s.opset >= 19 ? st : .f32
        if s.opset >= 23, let code = n.int("output_dtype"), code != 0 {
            guard let d = ONNXDataType.dtype(code), [.f32, .f16, .bf16].contains(d) else {
                throw s.invalid(n, "output_dtype \(typeName(code)) must be FLOAT, FLOAT16 or BFLOAT16")
            }
            out = d
        }
        try s.emit(n, op: "DequantizeLinear", inputs: inputs(n, 3), outputs: [try n.output(s)], attributes: granularity(s, n), dtype: out)
    }

    static let dynamicQuantize: Normaliser = { s, n in
        guard let x = n.input(0), try s.dtype(x, n).isFloatingPoint else { throw s.invalid(n, "needs a floating-point x") }
        try s.emit(n, op: "DynamicQuantizeLinear", inputs: [x], outputs: try n.optionalOutputs(s), outputTypes: [.u8, .f32, .u8])
    }

    /// ONNX requires every zero point; an absent one is read as 0 (as onnx's
    /// reference does) and an absent y_zero_point gives a's type.
    static let qlinearMatMul: Normaliser = { s, n in
        guard let a = n.input(0), let b = n.input(3) else { throw s.invalid(n, "needs a and b") }
        let at = try quantizedInput(s, n, a, "a"), bt = try quantizedInput(s, n, b, "b")
        try checkZeroPoint(s, n, n.input(2), of: at, "a_zero_point")
        try checkZeroPoint(s, n, n.input(5), of: bt, "b_zero_point")
        for (i, what) in [(1, "a_scale"), (4, "b_scale"), (6, "y_scale")] { _ = try scaleType(s, n, n.input(i), what) }
        let out = try n.input(7).map { try quantizedInput(s, n, $0, "y_zero_point") } ?? at
        try s.emit(n, op: "QLinearMatMul", inputs: inputs(n, 8), outputs: [try n.output(s)],
                   attributes: ["to": .string(out.rawValue)], dtype: out)
    }

    static let qlinearConv: Normaliser = { s, n in
        guard let x = n.input(0), let w = n.input(3) else { throw s.invalid(n, "needs x and w") }
        let xt = try quantizedInput(s, n, x, "x"), wt = try quantizedInput(s, n, w, "w")
        try checkZeroPoint(s, n, n.input(2), of: xt, "x_zero_point")
        try checkZeroPoint(s, n, n.input(5), of: wt, "w_zero_point")
        for (i, what) in [(1, "x_scale"), (4, "w_scale"), (6, "y_scale")] { _ = try scaleType(s, n, n.input(i), what) }
        if let bias = n.input(8), try s.dtype(bias, n).isFloatingPoint { throw s.invalid(n, "bias B must be int32") }
        let out = try n.input(7).map { try quantizedInput(s, n, $0, "y_zero_point") } ?? xt
        var attrs = try s.convolutionAttributes(n, x: x, w: w)
        attrs["to"] = .string(out.rawValue)
        try s.emit(n, op: "QLinearConv", inputs: inputs(n, 9), outputs: [try n.output(s)], attributes: attrs, dtype: out)
    }

    static let matMulInteger: Normaliser = { s, n in
        guard let a = n.input(0), let b = n.input(1) else { throw s.invalid(n, "needs A and B") }
        try checkZeroPoint(s, n, n.input(2), of: try quantizedInput(s, n, a, "A"), "a_zero_point")
        try checkZeroPoint(s, n, n.input(3), of: try quantizedInput(s, n, b, "B"), "b_zero_point")
        try s.emit(n, op: "MatMulInteger", inputs: inputs(n, 4), outputs: [try n.output(s)], dtype: .i32)
    }

    static let convInteger: Normaliser = { s, n in
        guard let x = n.input(0), let w = n.input(1) else { throw s.invalid(n, "needs x and w") }
        try checkZeroPoint(s, n, n.input(2), of: try quantizedInput(s, n, x, "x"), "x_zero_point")
        try checkZeroPoint(s, n, n.input(3), of: try quantizedInput(s, n, w, "w"), "w_zero_point")
        try s.emit(n, op: "ConvInteger", inputs: inputs(n, 4), outputs: [try n.output(s)],
                   attributes: try s.convolutionAttributes(n, x: x, w: w), dtype: .i32)
    }
}
