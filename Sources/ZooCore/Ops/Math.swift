/// Elementwise math beyond the activations: unary functions, binary and
/// variadic arithmetic, comparisons and logic (boolean outputs), Where, CastLike.
public enum MathOps {
    static func same(_ name: String, inputs: ClosedRange<Int> = 1...1) -> OpSpec {
        OpSpec(name, family: "Math", inputs: inputs, elementwise: inputs == 1...1) { c in [try c.input(0)] }
    }

    /// Numpy broadcast of every input.
    static func broadcasting(_ name: String, inputs: ClosedRange<Int>) -> OpSpec {
        OpSpec(name, family: "Math", inputs: inputs) { c in
            var s = try c.input(0)
            for i in 1..<c.inputs.count {
                let b = try c.input(i)
                guard let r = ShapeInference.broadcast(s, b, unknowns: c.unknowns) else {
                    throw c.fail("shapes \(s.rendered) and \(b.rendered) do not broadcast")
                }
                s = r
            }
            return [s]
        }
    }

    /// Unary functions on floats (Abs, Neg and Sign also on integers).
    public static let unaryNames = ["Sqrt", "Exp", "Log", "Reciprocal", "Neg", "Abs", "Floor", "Ceil", "Erf", "Sin", "Cos", "Tan",
                                    "Sign", "Not", "Round", "Atan", "Asin", "Acos", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh"]
    /// Binary with broadcasting, same dtype out.
    public static let binaryNames = ["Pow", "Mod", "BitShift", "PRelu"]
    /// Variadic with broadcasting (1 or more inputs).
    public static let variadicNames = ["Max", "Min", "Mean"]
    /// Comparisons and logic: boolean output.
    public static let predicateNames = ["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor"]
    /// Bitwise logic on integers, same dtype out.
    public static let bitwiseNames = ["BitwiseAnd", "BitwiseOr", "BitwiseXor"]

    public static let specs: [OpSpec] =
        unaryNames.map { same($0) }
        + binaryNames.map { n in
            var s = broadcasting(n, inputs: 2...2)
            if n == "Mod" { s = OpSpec(n, family: "Math", inputs: 2...2, attributes: [.int("fmod", 0)], shape: s.rule) }
            // `signed`: the element type is signed (set by the importer), so RIGHT shifts arithmetically.
            if n == "BitShift" { s = OpSpec(n, family: "Math", inputs: 2...2, attributes: [.string("direction", required: true), .int("signed", 0)], shape: s.rule) }
            return s
        }
        + variadicNames.map { broadcasting($0, inputs: 1...Int(Int16.max)) }
        + predicateNames.map { broadcasting($0, inputs: 2...2) }
        + bitwiseNames.map { broadcasting($0, inputs: 2...2) }
        + [
            broadcasting("Where", inputs: 3...3),
            same("BitwiseNot"),
            // Float classification: boolean output.
            same("IsNaN"),
            OpSpec("IsInf", family: "Math", inputs: 1...1, attributes: [.int("detect_negative", 1), .int("detect_positive", 1)]) { c in [try c.input(0)] },
            // CastLike(x, like): x cast to like's dtype; the importer resolves it to Cast.
        ]
}
