import Foundation
import ZooCore

extension ONNXNode {
    /// Output names for an op with optional outputs: trailing unused ones
    /// dropped, an unused one in the middle given a private name.
    func optionalOutputs(_ s: ImportSession) throws -> [String] {
        var outs = outputs
        while let last = outs.last, last.isEmpty { outs.removeLast() }
        guard let first = outs.first, !first.isEmpty else { throw s.invalid(self, "node has no output") }
        return outs.enumerated().map { $0.element.isEmpty ? "\(first)/unused\($0.offset)" : $0.element }
    }
}

/// ArgMax/ArgMin, TopK, Gather/Scatter by element and by N-d index, CumSum,
/// CumProd, Trilu, EyeLike, OneHot.
enum IndexNormalisers {
    static let table: [String: Normaliser] = [
        "ArgMax": ONNXOps.passThrough(["axis", "keepdims", "select_last_index"], dtype: .i64),
        "ArgMin": ONNXOps.passThrough(["axis", "keepdims", "select_last_index"], dtype: .i64),
        // Before opset 10, K is an attribute.
        "TopK": { s, n in
            var k = n.input(1)
            if s.opset < 10 {
                guard let v = n.int("k") else { throw s.invalid(n, "attribute 'k' is missing") }
                k = "\(try n.output(s))/k"
                try s.define(k!, .constant(try Tensor.int64([v], shape: [1])))
            }
            guard let k else { throw s.invalid(n, "needs a K input") }
            try s.emit(n, op: "TopK", inputs: [n.x, k], outputs: try n.optionalOutputs(s), attributes: n.present(["axis", "largest", "sorted"]),
                       outputTypes: [try s.dtype(n.x, n), .i64])
        },
        "GatherElements": ONNXOps.passThrough(["axis"]),
        "ScatterElements": ONNXOps.passThrough(["axis", "reduction"]),
        // Scatter (opset 9–10) is ScatterElements without reduction.
        "Scatter": { s, n in
            try s.emit(n, op: "ScatterElements", inputs: n.inputs, outputs: [try n.output(s)], attributes: n.present(["axis"]))
        },
        "GatherND": ONNXOps.passThrough(["batch_dims"]),
        "ScatterND": ONNXOps.passThrough(["reduction"]),
        "CumSum": ONNXOps.passThrough(["exclusive", "reverse"]),
        "CumProd": ONNXOps.passThrough(["exclusive", "reverse"]),
        "Trilu": ONNXOps.passThrough(["upper"]),
        "EyeLike": { s, n in
            var d = try s.dtype(n.x, n)
            if let code = n.int("dtype") {
                guard let t = ONNXDataType.dtype(code) else { throw s.unsupportedForm(n, "dtype \(ONNXDataType.name(code))") }
                d = t
            }
            try s.emit(n, op: "EyeLike", inputs: [n.x], outputs: [try n.output(s)],
                       attributes: ["k": .int(n.int("k") ?? 0), "dtype": .string(d.rawValue)], dtype: d)
        },
        // A floating-point depth is cast to int64 (ONNX truncates it).
        "OneHot": { s, n in
            guard var depth = n.input(1), let values = n.input(2) else { throw s.invalid(n, "needs indices, depth and values") }
            if try s.dtype(depth, n).isFloatingPoint {
                let cast = "\(try n.output(s))/depth"
                try s.emit(n, op: "Cast", inputs: [depth], outputs: [cast], attributes: ["to": .string(DType.i64.rawValue)], dtype: .i64, suffix: "depth")
                depth = cast
            }
            try s.emit(n, op: "OneHot", inputs: [n.x, depth, values], outputs: [try n.output(s)],
                       attributes: ["axis": .int(n.int("axis") ?? -1)], dtype: try s.dtype(values, n))
        },
    ]
}

/// Layer, RMS, Instance, Group, Lp and MeanVariance normalisation.
enum StatisticsNormalisers {
    static let table: [String: Normaliser] = [
        "LayerNormalization": { s, n in
            try s.emit(n, op: "LayerNormalization", inputs: n.inputs, outputs: try n.optionalOutputs(s),
                       attributes: n.present(["axis", "epsilon", "stash_type"]), outputTypes: [try s.dtype(n.x, n), .f32])
        },
        "RMSNormalization": ONNXOps.passThrough(["axis", "epsilon", "stash_type"]),
        "InstanceNormalization": ONNXOps.passThrough(["epsilon"]),
        "GroupNormalization": ONNXOps.passThrough(["epsilon", "num_groups", "stash_type"]),
        "LpNormalization": ONNXOps.passThrough(["axis", "p"]),
        "MeanVarianceNormalization": ONNXOps.passThrough(["axes"]),
    ]
}
