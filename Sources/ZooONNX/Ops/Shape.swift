import Foundation
import ZooCore

/// Shape values, filled tensors, ranges and casts. Most are folded at import
/// (`ImportSession.fold`); what reaches these normalisers depends on a
/// symbolic dimension and runs at run time.
enum ShapeNormalisers {
    static let table: [String: Normaliser] = [
        // Shape and Constant are always folded; a Shape needed at run time is emitted by `materialize`.
        "Shape": { s, n in throw ONNXError.notStatic(path: s.path, node: n.name, value: n.inputs.first ?? n.name) },
        "Constant": { s, n in throw ONNXError.notStatic(path: s.path, node: n.name, value: n.name) },
        "Size": { s, n in try s.emit(n, op: "Size", inputs: [n.x], outputs: [try n.output(s)], dtype: .i64) },
        "ConstantOfShape": { s, n in
            let (dtype, fill) = try s.constantOfShapeValue(n)
            try s.emit(n, op: "ConstantOfShape", inputs: [n.x], outputs: [try n.output(s)],
                       attributes: ["value": .float(Float(fill)), "dtype": .string(dtype.rawValue)], dtype: dtype)
        },
        "Range": { s, n in
            guard n.presentInputCount == 3 else { throw s.invalid(n, "needs start, limit and delta") }
            try s.emit(n, op: "Range", inputs: Array(n.inputs[0..<3]), outputs: [try n.output(s)])
        },
        "Cast": { s, n in
            let y = try n.output(s)
            guard let to = n.int("to"), let d = ONNXDataType.dtype(to) else {
                throw ONNXError.unsupportedDataType(path: s.path, tensor: y, dataType: n.int("to") ?? 0)
            }
            try s.emit(n, op: "Cast", inputs: [n.x], outputs: [y], attributes: ["to": .string(d.rawValue)], dtype: d)
        },
    ]
}
