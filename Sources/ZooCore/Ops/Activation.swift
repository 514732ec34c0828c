/// Elementwise unary functions (activations) and Softmax: output shape = input shape.
public enum ActivationOps {
    static func unary(_ name: String, _ attributes: [AttributeSpec] = []) -> OpSpec {
        OpSpec(name, family: "Activation", inputs: 1...1, attributes: attributes, elementwise: true) { c in [try c.input(0)] }
    }

    public static let specs: [OpSpec] = [
        unary("Relu"),
        unary("LeakyRelu", [.float("alpha", 0.01)]),
        unary("ThresholdedRelu", [.float("alpha", 1)]),
        unary("Elu", [.float("alpha", 1)]),
        unary("Selu", [.float("alpha", 1.67326319217681884765625), .float("gamma", 1.05070102214813232421875)]),
        unary("Gelu", [.string("approximate", "none")]),
        unary("Softplus"),
        unary("Softsign"),
        // An absent bound is unbounded; bounds known only at run time are inputs 1 (min) and 2 (max).
        OpSpec("Clip", family: "Activation", inputs: 1...3, attributes: [.float("min", -.infinity), .float("max", .infinity)], elementwise: true) { c in
            for i in [1, 2] { if let b = c.optionalInput(i), b.count > 1 || (b.count == 1 && b[0] != SymDim(1)) { throw c.fail("bound \(i) must be a scalar") } }
            return [try c.input(0)]
        },
        unary("Sigmoid"),
        unary("HardSigmoid", [.float("alpha", 0.2), .float("beta", 0.5)]),
        unary("HardSwish"),
        unary("Tanh"),
        unary("Identity"),
        unary("Celu", [.float("alpha", 1)]),
        unary("Mish"),
        unary("Swish", [.float("alpha", 1)]),
        unary("Shrink", [.float("bias", 0), .float("lambd", 0.5)]),
    ] + ["Softmax", "LogSoftmax", "Hardmax"].map { name in
        // One axis (the importer flattens the pre-opset-13 2-D form).
        OpSpec(name, family: "Activation", inputs: 1...1, attributes: [.int("axis", -1)]) { c in
            let x = try c.input(0)
            _ = try c.axis(try c.int("axis"), rank: x.count)
            return [x]
        }
    }
}

/// Numpy-broadcasting binary arithmetic.
public enum BinaryOps {
    static func binary(_ name: String) -> OpSpec {
        OpSpec(name, family: "Binary", inputs: 2...2) { c in
            let a = try c.input(0), b = try c.input(1)
            guard let s = ShapeInference.broadcast(a, b, unknowns: c.unknowns) else {
                throw c.fail("shapes \(a.rendered) and \(b.rendered) do not broadcast")
            }
            return [s]
        }
    }
    public static let specs: [OpSpec] = ["Add", "Sub", "Mul", "Div"].map(binary)
}
