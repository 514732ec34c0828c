import Foundation
import ZooCore

/// ConvTranspose (opsets 1, 11, 22), DeformConv (19, 22), LpPool (1, 2, 11,
/// 18, 22), GlobalLpPool (1, 2, 22) and MaxUnpool (9, 11, 22): the IR ops of
/// ZooCore `ConvNDOps` (GlobalLpPool becomes LpPool or a reduction).
enum ConvNDNormalisers {
    static let table: [String: Normaliser] = [
        "ConvTranspose": convTranspose, "DeformConv": deformConv, "LpPool": lpPool,
        "GlobalLpPool": globalLpPool, "MaxUnpool": maxUnpool,
    ]

    /// Kernel sizes of weight `w`, checked against a `kernel_shape` attribute.
    static func kernel(_ s: ImportSession, _ n: ONNXNode, x: String, w: String) throws -> [Int] {
        let xs = try s.shape(x, n), ws = try s.shape(w, n)
        guard ws.count >= 3, xs.count == ws.count else { throw s.invalid(n, "input \(xs.rendered) and weight \(ws.rendered) ranks differ") }
        let k = try ws[2...].map { try s.known($0, n, "kernel size") }
        if let given = n.ints("kernel_shape"), given != k { throw s.invalid(n, "kernel_shape \(given) differs from weight \(ws.rendered)") }
        return k
    }

    /// With fixed spatial sizes, `output_shape` and `auto_pad` become explicit
    /// `pads` and `output_padding` (`TransposeGeometry`, the rule the runtime
    /// applies to the kept attributes on symbolic sizes). opset 1's text puts
    /// the larger half of SAME_UPPER's padding first; onnxruntime and the
    /// later spec put it last, for every opset, and so does zoo.
    static let convTranspose: Normaliser = { s, n in
        let x = n.x, y = try n.output(s)
        guard let w = n.input(1) else { throw s.invalid(n, "needs input X and weight W") }
        let k = try kernel(s, n, x: x, w: w)
        var attrs = n.present(["group", "strides", "dilations", "output_padding", "pads", "auto_pad"])
        attrs["kernel_shape"] = .ints(k)
        if var shape = n.ints("output_shape") {
            // Some exporters write the whole [N, C, …] shape.
            if shape.count == k.count + 2 { shape = Array(shape.suffix(k.count)) }
            attrs["output_shape"] = .ints(shape)
        }
        if let sizes = Array(try s.shape(x, n).dropFirst(2)).concrete {
            let node = Node(name: n.name, op: "ConvTranspose", inputs: [], outputs: [], attributes: attrs)
            let axes: [TransposeGeometry.Axis]
            do {
                let p = try TransposeGeometry.parameters(OpAttributes(node: node, spec: OpRegistry.spec("ConvTranspose")!), kernel: k)
                axes = try (0..<k.count).map { i in
                    guard let a = TransposeGeometry.axis(p, i, input: sizes[i]) else {
                        throw s.invalid(n, "output_shape, pads or auto_pad do not fit input size \(sizes[i]) on spatial axis \(i)")
                    }
                    return a
                }
            } catch let e as ZooCoreError {
                throw s.invalid(n, e.detail)
            }
            for a in ["output_shape", "auto_pad"] { attrs[a] = nil }
            attrs["pads"] = .ints(axes.map(\.padBegin) + axes.map(\.padEnd))
            attrs["output_padding"] = .ints(axes.map(\.outputPadding))
        }
        try s.emit(n, op: "ConvTranspose", inputs: [x, w] + (n.input(2).map { [$0] } ?? []), outputs: [y], attributes: attrs)
    }

    static let deformConv: Normaliser = { s, n in
        guard let w = n.input(1), let offset = n.input(2) else { throw s.invalid(n, "needs inputs X, W and offset") }
        var attrs = n.present(["strides", "dilations", "pads", "group", "offset_group"])
        attrs["kernel_shape"] = .ints(try kernel(s, n, x: n.x, w: w))
        var inputs = [n.x, w, offset, n.input(3) ?? "", n.input(4) ?? ""]
        while inputs.last == "" { inputs.removeLast() }
        try s.emit(n, op: "DeformConv", inputs: inputs, outputs: [try n.output(s)], attributes: attrs)
    }

    /// `p`: a float in LpPool-1 / GlobalLpPool-1, an int later; the IR's is a float.
    static func p(_ s: ImportSession, _ n: ONNXNode) throws -> Float {
        let p = n.float("p") ?? n.int("p").map(Float.init) ?? 2
        guard p > 0, p.isFinite else { throw s.invalid(n, "p must be positive, got \(p)") }
        return p
    }

    /// Window attributes as for MaxPool/AveragePool (dilations and ceil_mode exist from opset 18).
    static let lpPool: Normaliser = { s, n in
        let x = n.x, xs = try s.shape(x, n)
        guard let kernel = n.ints("kernel_shape"), !kernel.isEmpty, xs.count == kernel.count + 2 else {
            throw s.invalid(n, "kernel_shape is required and must match the input rank")
        }
        let ones = Array(repeating: 1, count: kernel.count)
        let strides = n.ints("strides") ?? ones, dilations = n.ints("dilations") ?? ones
        guard strides.count == kernel.count, dilations.count == kernel.count, (strides + dilations).allSatisfy({ $0 > 0 }) else {
            throw s.invalid(n, "strides \(strides) or dilations \(dilations) do not fit kernel \(kernel)")
        }
        var attrs = try s.windowAttributes(n, input: xs, kernel: kernel, strides: strides, dilations: dilations)
        attrs.merge(n.present(["ceil_mode"])) { a, _ in a }
        attrs["p"] = .float(try p(s, n))
        try s.emit(n, op: "LpPool", inputs: [x], outputs: [try n.output(s)], attributes: attrs)
    }

    /// LpPool over the whole plane when its size is fixed at import; on
    /// symbolic sizes ReduceL1/ReduceL2, or Pow(ReduceSum(Pow(Abs(x), p)), 1/p).
    static let globalLpPool: Normaliser = { s, n in
        let x = n.x, y = try n.output(s), xs = try s.shape(x, n)
        guard xs.count >= 3 else { throw s.invalid(n, "input rank \(xs.count) < 3") }
        let p = try p(s, n)
        if let sizes = Array(xs.dropFirst(2)).concrete, sizes.allSatisfy({ $0 >= 1 }) {
            try s.emit(n, op: "LpPool", inputs: [x], outputs: [y], attributes: ["kernel_shape": .ints(sizes), "p": .float(p)])
            return
        }
        let reduce: [String: Attribute] = ["axes": .ints(Array(2..<xs.count)), "keepdims": .int(1)]
        if p == 1 || p == 2 {
            try s.emit(n, op: p == 1 ? "ReduceL1" : "ReduceL2", inputs: [x], outputs: [y], attributes: reduce)
            return
        }
        let base = "\(y)/lp"
        try s.define("\(base)/p", .constant(try Tensor(floats: [p], shape: [])))
        try s.define("\(base)/inverse", .constant(try Tensor(floats: [1 / p], shape: [])))
        try s.emit(n, op: "Abs", inputs: [x], outputs: ["\(base)/abs"], suffix: "abs")
        try s.emit(n, op: "Pow", inputs: ["\(base)/abs", "\(base)/p"], outputs: ["\(base)/pow"], suffix: "pow")
        try s.emit(n, op: "ReduceSum", inputs: ["\(base)/pow"], outputs: ["\(base)/sum"], attributes: reduce, suffix: "sum")
        try s.emit(n, op: "Pow", inputs: ["\(base)/sum", "\(base)/inverse"], outputs: [y])
    }

    /// A constant `output_shape` becomes the attribute; a run-time one stays input 2.
    static let maxUnpool: Normaliser = { s, n in
        guard let indices = n.input(1) else { throw s.invalid(n, "needs inputs X and I") }
        guard let kernel = n.ints("kernel_shape") else { throw s.invalid(n, "kernel_shape is required") }
        guard !(try s.dtype(indices, n).isFloatingPoint) else { throw s.invalid(n, "I must be int64") }
        var attrs = n.present(["strides", "pads"])
        attrs["kernel_shape"] = .ints(kernel)
        var inputs = [n.x, indices]
        if let shape = n.input(2) {
            if case .constant(let t)? = s.lookup(shape) {
                guard let v = t.intValues else { throw s.invalid(n, "output_shape must hold integers") }
                attrs["output_shape"] = .ints(v)
            } else {
                guard !(try s.dtype(shape, n).isFloatingPoint) else { throw s.invalid(n, "output_shape must be int64") }
                inputs.append(shape)
            }
        }
        try s.emit(n, op: "MaxUnpool", inputs: inputs, outputs: [try n.output(s)], attributes: attrs)
    }
}
