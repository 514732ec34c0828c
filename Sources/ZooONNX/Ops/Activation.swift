import Foundation
import ZooCore

/// Activations, Softmax, and elementwise binary ops.
enum ActivationNormalisers {
    /// An op whose ONNX attributes are the IR's, defaults left to the IR registry.
    static func same(_ attributes: [String]) -> Normaliser {
        { s, n in try s.emit(n, op: n.op, inputs: [n.x], outputs: [try n.output(s)], attributes: n.present(attributes)) }
    }

    /// Softmax, LogSoftmax, Hardmax: before opset 13 they flatten to 2-D at
    /// `axis` (default 1); from 13 they act on one axis (default -1).
    static func axisOp(_ op: String) -> Normaliser {
        { s, n in
            let x = n.x, y = try n.output(s)
            let xs = try s.shape(x, n)
            let a = try s.normalizeAxis(n.int("axis") ?? (s.opset < 13 ? 1 : -1), rank: xs.count, n)
            if s.opset >= 13 || a == xs.count - 1 {
                try s.emit(n, op: op, inputs: [x], outputs: [y], attributes: ["axis": .int(a)])
                return
            }
            let flat = "\(y)/flat", soft = "\(y)/\(op.lowercased())"
            try s.emit(n, op: "Flatten", inputs: [x], outputs: [flat], attributes: ["axis": .int(a)], suffix: "flatten")
            try s.emit(n, op: op, inputs: [flat], outputs: [soft], attributes: ["axis": .int(1)], suffix: op.lowercased())
            try s.emitReshape(n, soft, to: xs, output: y, like: x)
        }
    }

    static let table: [String: Normaliser] = [
        "Relu": same([]), "Sigmoid": same([]), "Tanh": same([]), "HardSwish": same([]),
        "LeakyRelu": same(["alpha"]), "HardSigmoid": same(["alpha", "beta"]),
        "Elu": same(["alpha"]), "Selu": same(["alpha", "gamma"]), "ThresholdedRelu": same(["alpha"]), "Celu": same(["alpha"]),
        "Gelu": same(["approximate"]), "Softplus": same([]), "Softsign": same([]), "Mish": same([]),
        "Swish": same(["alpha"]), "Shrink": same(["bias", "lambd"]),
        "Clip": { s, n in
            var attrs: [String: Attribute] = [:]
            if s.opset < 11 {
                if let v = n.float("min") { attrs["min"] = .float(v) }
                if let v = n.float("max") { attrs["max"] = .float(v) }
            } else {
                // Constant bounds become attributes; bounds known only at run time stay inputs.
                var ins = [n.x, "", ""]
                for (i, name) in [(1, "min"), (2, "max")] {
                    guard let m = n.input(i) else { continue }
                    if case .constant? = s.lookup(m) { attrs[name] = .float(Float(try s.constantScalar(m, n))) } else { ins[i] = m }
                }
                while ins.count > 1, ins.last == "" { ins.removeLast() }
                try s.emit(n, op: "Clip", inputs: ins, outputs: [try n.output(s)], attributes: attrs)
                return
            }
            try s.emit(n, op: "Clip", inputs: [n.x], outputs: [try n.output(s)], attributes: attrs)
        },
        "Softmax": axisOp("Softmax"), "LogSoftmax": axisOp("LogSoftmax"), "Hardmax": axisOp("Hardmax"),
    ]
}

enum BinaryNormalisers {
    static let binary: Normaliser = { s, n in
        guard let b = n.input(1) else { throw s.invalid(n, "needs two inputs") }
        try s.emit(n, op: n.op, inputs: [n.x, b], outputs: [try n.output(s)])
    }
    static let table: [String: Normaliser] = [
        "Add": binary, "Sub": binary, "Mul": binary, "Div": binary,
        // Sum becomes a chain of Add.
        "Sum": { s, n in
            let y = try n.output(s)
            let ins = n.inputs.filter { !$0.isEmpty }
            guard !ins.isEmpty else { throw s.invalid(n, "needs at least one input") }
            if ins.count == 1 { try s.alias(y, to: ins[0]); return }
            var acc = ins[0]
            for (k, v) in ins.dropFirst().enumerated() {
                let last = k == ins.count - 2
                let out = last ? y : "\(y)/sum\(k)"
                try s.emit(n, op: "Add", inputs: [acc, v], outputs: [out], suffix: last ? nil : "add\(k)")
                acc = out
            }
        },
    ]
}
