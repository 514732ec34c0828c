import Foundation
import ZooCore

/// Elementwise math, comparisons, logic, Where and CastLike.
enum MathNormalisers {
    static let table: [String: Normaliser] = {
        var t: [String: Normaliser] = [:]
        for n in MathOps.unaryNames {
            t[n] = { s, n in try s.emit(n, op: n.op, inputs: [n.x], outputs: [try n.output(s)]) }
        }
        for n in MathOps.binaryNames {
            t[n] = { s, n in
                guard let b = n.input(1) else { throw s.invalid(n, "needs two inputs") }
                var attrs = n.present(["fmod", "direction"])
                if n.op == "BitShift", [.i8, .i16, .i32, .i64].contains(try s.dtype(n.x, n)) { attrs["signed"] = .int(1) }
                try s.emit(n, op: n.op, inputs: [n.x, b], outputs: [try n.output(s)], attributes: attrs)
            }
        }
        for n in MathOps.variadicNames {
            t[n] = { s, n in try s.emit(n, op: n.op, inputs: n.inputs.filter { !$0.isEmpty }, outputs: [try n.output(s)]) }
        }
        for n in MathOps.predicateNames {
            t[n] = { s, n in
                guard let b = n.input(1) else { throw s.invalid(n, "needs two inputs") }
                try s.emit(n, op: n.op, inputs: [n.x, b], outputs: [try n.output(s)], dtype: .bool)
            }
        }
        for n in MathOps.bitwiseNames {
            t[n] = { s, n in
                guard let b = n.input(1) else { throw s.invalid(n, "needs two inputs") }
                try s.emit(n, op: n.op, inputs: [n.x, b], outputs: [try n.output(s)])
            }
        }
        t["BitwiseNot"] = { s, n in try s.emit(n, op: "BitwiseNot", inputs: [n.x], outputs: [try n.output(s)]) }
        t["IsNaN"] = { s, n in try s.emit(n, op: "IsNaN", inputs: [n.x], outputs: [try n.output(s)], dtype: .bool) }
        t["IsInf"] = { s, n in
            try s.emit(n, op: "IsInf", inputs: [n.x], outputs: [try n.output(s)], attributes: n.present(["detect_negative", "detect_positive"]), dtype: .bool)
        }
        t["Where"] = { s, n in
            guard n.presentInputCount == 3 else { throw s.invalid(n, "needs condition, X and Y") }
            try s.emit(n, op: "Where", inputs: Array(n.inputs[0..<3]), outputs: [try n.output(s)], dtype: try s.dtype(n.inputs[1], n))
        }
        // CastLike is Cast to the second input's dtype.
        t["CastLike"] = { s, n in
            guard let like = n.input(1) else { throw s.invalid(n, "needs a target-type input") }
            let d = try s.dtype(like, n)
            try s.emit(n, op: "Cast", inputs: [n.x], outputs: [try n.output(s)], attributes: ["to": .string(d.rawValue)], dtype: d)
        }
        return t
    }()
}
