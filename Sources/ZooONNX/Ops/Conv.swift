import Foundation
import ZooCore

/// Convolution, pooling and normalisation.
enum ConvNormalisers {
    static let table: [String: Normaliser] = [
        "Conv": { s, n in
            let x = n.x, y = try n.output(s)
            guard let w = n.input(1) else { throw s.invalid(n, "needs input X and weight W") }
            let attrs = try s.convolutionAttributes(n, x: x, w: w)
            try s.emit(n, op: "Conv", inputs: [x, w] + (n.input(2).map { [$0] } ?? []), outputs: [y], attributes: attrs)
        },
        "MaxPool": pool, "AveragePool": pool,
        "GlobalAveragePool": ActivationNormalisers.same([]), "GlobalMaxPool": ActivationNormalisers.same([]),
        "BatchNormalization": { s, n in
            try s.requireOnlyFirstOutput(n, what: "running statistics")
            if s.opset < 9, let spatial = n.int("spatial"), spatial == 0 {
                throw s.unsupportedForm(n, "spatial=0 (per-activation statistics)")
            }
            if (n.int("training_mode") ?? 0) != 0 { throw s.unsupportedForm(n, "training_mode=1") }
            guard n.presentInputCount == 5 else { throw s.invalid(n, "needs 5 inputs (X, scale, B, mean, var)") }
            try s.emit(n, op: n.op, inputs: Array(n.inputs[0..<5]), outputs: [try n.output(s)], attributes: n.present(["epsilon"]))
        },
        "LRN": { s, n in
            guard let size = n.int("size") else { throw s.invalid(n, "attribute 'size' is required") }
            try s.emit(n, op: "LRN", inputs: [n.x], outputs: [try n.output(s)],
                       attributes: n.present(["alpha", "beta", "bias"]).merging(["size": .int(size)]) { a, _ in a })
        },
    ]

    static let pool: Normaliser = { s, n in
        let x = n.x
        // MaxPool's optional Indices output (opset ≥ 8): int64 flat indices into X.
        let outputs = n.op == "MaxPool" ? try n.optionalOutputs(s) : [try n.output(s)]
        let xs = try s.shape(x, n)
        guard let kernel = n.ints("kernel_shape"), xs.count == kernel.count + 2 else {
            throw s.invalid(n, "kernel_shape is required and must match the input rank")
        }
        let k = kernel.count
        let strides = n.ints("strides") ?? Array(repeating: 1, count: k)
        let dilations = n.ints("dilations") ?? Array(repeating: 1, count: k)
        guard strides.count == k, dilations.count == k, strides.allSatisfy({ $0 > 0 }), dilations.allSatisfy({ $0 > 0 }) else {
            throw s.invalid(n, "strides \(strides) or dilations \(dilations) do not fit kernel \(kernel)")
        }
        var attrs = try s.windowAttributes(n, input: xs, kernel: kernel, strides: strides, dilations: dilations)
        attrs.merge(n.present(n.op == "AveragePool" ? ["ceil_mode", "count_include_pad"] : ["ceil_mode", "storage_order"])) { a, _ in a }
        try s.emit(n, op: n.op, inputs: [x], outputs: outputs, attributes: attrs,
                   outputTypes: outputs.count > 1 ? [try s.dtype(x, n), .i64] : nil)
    }
}

/// Matrix products.
enum MatMulNormalisers {
    static let table: [String: Normaliser] = [
        "Gemm": { s, n in
            guard let b = n.input(1) else { throw s.invalid(n, "needs inputs A and B") }
            try s.emit(n, op: "Gemm", inputs: [n.x, b] + (n.input(2).map { [$0] } ?? []), outputs: [try n.output(s)],
                       attributes: n.present(["alpha", "beta", "transA", "transB"]))
        },
        "MatMul": BinaryNormalisers.binary,
    ]
}

/// Reductions: `axes` an attribute before opset 18 (13 for ReduceSum), an input after;
/// empty axes mean all axes unless `noop_with_empty_axes`.
enum ReduceNormalisers {
    static let table: [String: Normaliser] = Dictionary(uniqueKeysWithValues: ReduceOps.names.map { name in
        (name, { s, n in
            let x = n.x, y = try n.output(s)
            let rank = try s.shape(x, n).count
            let axesAsInput = s.opset >= (n.op == "ReduceSum" ? 13 : 18)
            var axes: [Int]?
            if !axesAsInput { axes = n.ints("axes") } else if let a = n.input(1) {
                guard case .constant? = s.lookup(a) else {
                    // Axes computed or fed at run time: passed on as input 1.
                    try s.emit(n, op: n.op, inputs: [x, a], outputs: [y], attributes: n.present(["keepdims", "noop_with_empty_axes"]))
                    return
                }
                axes = try s.constantInts(a, n)
            }
            if (axes ?? []).isEmpty {
                if axesAsInput && (n.int("noop_with_empty_axes") ?? 0) != 0 { try s.alias(y, to: x); return }
                axes = Array(0..<rank)
            }
            let resolved = try axes!.map { try s.normalizeAxis($0, rank: rank, n) }
            try s.emit(n, op: n.op, inputs: [x], outputs: [y],
                       attributes: n.present(["keepdims"]).merging(["axes": .ints(Array(Set(resolved)).sorted())]) { a, _ in a })
        } as Normaliser)
    })
}
