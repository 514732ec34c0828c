import Foundation
import ZooCore

/// Opsets 1–6: attribute forms later opsets replaced, rewritten to their
/// modern equivalents before a node is folded or normalised (the ONNX
/// operator changelog and version-converter adapters are the reference).
extension ImportSession {
    /// Binary ops whose opset-1…6 versions broadcast only with `broadcast=1`, B aligned at `axis`.
    static let legacyBroadcastOps: Set<String> = ["Add", "Sub", "Mul", "Div", "Pow", "And", "Or", "Xor", "Equal", "Less", "Greater"]

    /// `n` in its opset-7+ form.
    func modernForm(_ n: ONNXNode) throws -> ONNXNode {
        guard opset < 7 else { return n }
        var m = n
        if Self.legacyBroadcastOps.contains(n.op) {
            m.attributes["broadcast"] = nil
            m.attributes["axis"] = nil
            guard let b = n.input(1) else { return m }
            let sa = try shape(n.x, n), sb = try shape(b, n)
            if (n.int("broadcast") ?? 0) == 0 {
                guard sa == sb || sb.isEmpty || sb == [SymDim(1)] else {
                    throw invalid(n, "shapes \(sa.rendered) and \(sb.rendered) differ and broadcast is 0 (opset \(opset))")
                }
                return m
            }
            // B's dims match A's from `axis` on: pad B with trailing 1s so numpy broadcasting lines them up.
            guard let axis = n.int("axis") else { return m }
            let a = axis < 0 ? axis + sa.count : axis
            guard a >= 0, a + sb.count <= sa.count else { throw invalid(n, "axis \(axis) does not place \(sb.rendered) inside \(sa.rendered)") }
            let trailing = sa.count - a - sb.count
            guard trailing > 0 else { return m }
            let target = sb + Array(repeating: SymDim(1), count: trailing)
            let name = "\(n.outputs.first ?? n.name)/broadcast_b"
            if case .constant(let t)? = lookup(b) {
                try define(name, .constant(try t.reshaped(target.compactMap(\.value))))
            } else {
                try emitReshape(n, b, to: target, output: name, like: nil, suffix: "broadcast_b")
            }
            m.inputs[1] = name
            return m
        }
        switch n.op {
        case "PRelu":
            // PRelu-1…6: a slope of length C applies along the channel axis.
            guard let slope = n.input(1) else { break }
            let sx = try shape(n.x, n), ss = try shape(slope, n)
            guard sx.count > 2, ss.count == 1, ss[0] != SymDim(1), ss[0] == sx[1] else { break }
            let name = "\(n.outputs.first ?? n.name)/channel_slope"
            let target = ss + Array(repeating: SymDim(1), count: sx.count - 2)
            if case .constant(let t)? = lookup(slope) {
                try define(name, .constant(try t.reshaped(target.compactMap(\.value))))
            } else {
                try emitReshape(n, slope, to: target, output: name, like: nil, suffix: "channel_slope")
            }
            m.inputs[1] = name
        case "Cast":
            // Cast-1…5 names the type as a string ("FLOAT").
            if case .string(let t)? = n.attributes["to"] {
                guard let code = ONNXDataType.code(named: t) else { throw invalid(n, "unknown type name '\(t)'") }
                m.attributes["to"] = .int(code)
            }
        case "Split":
            // Split-1 may take the sizes as a second input.
            if n.ints("split") == nil, let v = n.input(1) {
                m.attributes["split"] = .ints(try constantInts(v, n))
                m.inputs = [n.x]
            }
        default:
            break
        }
        return m
    }
}
