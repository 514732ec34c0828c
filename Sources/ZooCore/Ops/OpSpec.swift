import Foundation

/// The type of an attribute's value.
public enum AttributeKind: String, Sendable {
    case int, ints, float, floats, string, strings
}

/// One attribute an op reads: its name, type and default. The default is
/// written here once; importers, shape rules and kernels all read it through
/// `OpAttributes`, so a file that leaves an attribute out means the same
/// thing everywhere.
public struct AttributeSpec: Sendable {
    public let name: String
    public let kind: AttributeKind
    /// The value when the node does not carry the attribute (nil: no default).
    public let defaultValue: Attribute?
    /// Whether a node must carry the attribute (no default exists).
    public let required: Bool

    public static func int(_ name: String, _ d: Int? = nil, required: Bool = false) -> AttributeSpec {
        AttributeSpec(name: name, kind: .int, defaultValue: d.map(Attribute.int), required: required)
    }
    public static func ints(_ name: String, _ d: [Int]? = nil, required: Bool = false) -> AttributeSpec {
        AttributeSpec(name: name, kind: .ints, defaultValue: d.map(Attribute.ints), required: required)
    }
    public static func float(_ name: String, _ d: Float? = nil, required: Bool = false) -> AttributeSpec {
        AttributeSpec(name: name, kind: .float, defaultValue: d.map(Attribute.float), required: required)
    }
    public static func string(_ name: String, _ d: String? = nil, required: Bool = false) -> AttributeSpec {
        AttributeSpec(name: name, kind: .string, defaultValue: d.map(Attribute.string), required: required)
    }
}

/// The definition of one IR operator (ONNX semantics): how many inputs it
/// takes, its attributes with their defaults, which integer inputs its shape
/// depends on by value, and its shape rule over symbolic dimensions.
///
/// Specs live in one file per op family under `ZooCore/Ops/`; the runtime
/// registers one kernel per spec and the importers one normaliser per op, so
/// the set of ops is defined once (`OpRegistry`).
public struct OpSpec: Sendable {
    public let name: String
    /// The family file that defines it, e.g. "Conv", "Activation", "Shape".
    public let family: String
    /// Allowed input counts (optional trailing inputs may be omitted or "").
    public let inputs: ClosedRange<Int>
    public let attributes: [AttributeSpec]
    /// Inputs whose integer contents (not only their shapes) decide the output shape.
    public let valueInputs: Set<Int>
    /// Whether the op is an elementwise unary function of its input (a candidate
    /// for fusing into the producer's epilogue, and for running in place).
    public let elementwise: Bool
    /// Whether output sizes may depend on the values of non-integer data
    /// (Range over floats, NonZero, Unique): dimensions the rule leaves
    /// unknown are then decided by the kernel, per run.
    public let shapeFromData: Bool
    let rule: @Sendable (ShapeContext) throws -> [SymShape]

    public init(_ name: String, family: String, inputs: ClosedRange<Int>, attributes: [AttributeSpec] = [],
                valueInputs: Set<Int> = [], elementwise: Bool = false, shapeFromData: Bool = false,
                shape: @escaping @Sendable (ShapeContext) throws -> [SymShape]) {
        self.shapeFromData = shapeFromData
        self.name = name
        self.family = family
        self.inputs = inputs
        self.attributes = attributes
        self.valueInputs = valueInputs
        self.elementwise = elementwise
        self.rule = shape
    }

    public func attribute(_ name: String) -> AttributeSpec? { attributes.first { $0.name == name } }
}

/// A node's attributes read through its op's spec: absent ones take the
/// spec's default, a wrong type or a missing required one is a typed error
/// naming the node.
public struct OpAttributes: Sendable {
    public let node: Node
    public let spec: OpSpec

    public init(node: Node, spec: OpSpec) {
        self.node = node
        self.spec = spec
    }

    func fail(_ detail: String) -> ZooCoreError { .shapeInference(node: node.name, op: node.op, detail: detail) }

    /// The attribute's value, its default, or nil when it has neither.
    public func raw(_ name: String) throws -> Attribute? {
        guard let s = spec.attribute(name) else { throw fail("'\(name)' is not an attribute of \(spec.name)") }
        if let v = node.attributes[name] { return v }
        if s.required { throw fail("attribute '\(name)' is missing") }
        return s.defaultValue
    }

    public func optionalInt(_ name: String) throws -> Int? {
        guard let v = try raw(name) else { return nil }
        guard let i = v.intValue else { throw fail("attribute '\(name)' must be an int") }
        return i
    }
    public func optionalInts(_ name: String) throws -> [Int]? {
        guard let v = try raw(name) else { return nil }
        guard let i = v.intsValue else { throw fail("attribute '\(name)' must be a list of ints") }
        return i
    }
    public func optionalFloat(_ name: String) throws -> Float? {
        guard let v = try raw(name) else { return nil }
        if let f = v.floatValue { return f }
        if let i = v.intValue { return Float(i) }
        throw fail("attribute '\(name)' must be a float")
    }
    public func optionalString(_ name: String) throws -> String? {
        guard let v = try raw(name) else { return nil }
        guard let s = v.stringValue else { throw fail("attribute '\(name)' must be a string") }
        return s
    }
    public func int(_ name: String) throws -> Int {
        guard let v = try optionalInt(name) else { throw fail("attribute '\(name)' is missing") }
        return v
    }
    public func ints(_ name: String) throws -> [Int] {
        guard let v = try optionalInts(name) else { throw fail("attribute '\(name)' is missing") }
        return v
    }
    public func float(_ name: String) throws -> Float {
        guard let v = try optionalFloat(name) else { throw fail("attribute '\(name)' is missing") }
        return v
    }
    public func string(_ name: String) throws -> String {
        guard let v = try optionalString(name) else { throw fail("attribute '\(name)' is missing") }
        return v
    }
}

/// Names fresh unknown dimensions (`?1`, `?2`, …) for one import, in order,
/// so the same file always gives the same names.
public final class UnknownDims: @unchecked Sendable {
    private var next: Int
    private let lock = NSLock()
    public init(after used: Set<String> = []) {
        var n = 0
        for s in used where s.hasPrefix("?") { if let k = Int(s.dropFirst()) { n = max(n, k) } }
        next = n + 1
    }
    public func make() -> SymDim {
        lock.lock(); defer { lock.unlock() }
        let d = SymDim.unknown(next)
        next += 1
        return d
    }
}

/// What a shape rule sees: the node, its attributes (with defaults), its
/// inputs' shapes and, for integer inputs known at this point, their contents.
public struct ShapeContext {
    public let node: Node
    public let attrs: OpAttributes
    public let inputs: [SymShape?]
    public let values: [[SymDim]?]
    public let unknowns: UnknownDims

    public func fail(_ detail: String) -> ZooCoreError {
        .shapeInference(node: node.name, op: node.op, detail: detail)
    }
    public func input(_ i: Int) throws -> SymShape {
        guard i < inputs.count, let s = inputs[i] else { throw fail("input \(i) is missing") }
        return s
    }
    public func optionalInput(_ i: Int) -> SymShape? { i < inputs.count ? inputs[i] : nil }
    /// Contents of integer input `i` when known (constants, and every integer at run time).
    public func value(_ i: Int) -> [SymDim]? { i < values.count ? values[i] : nil }
    public func int(_ name: String) throws -> Int { try attrs.int(name) }
    public func ints(_ name: String) throws -> [Int] { try attrs.ints(name) }
    public func float(_ name: String) throws -> Float { try attrs.float(name) }
    public func string(_ name: String) throws -> String { try attrs.string(name) }
    /// An axis in `0..<rank` (negative axes count from the end).
    public func axis(_ a: Int, rank: Int) throws -> Int {
        let r = a < 0 ? a + rank : a
        guard r >= 0, r < rank else { throw fail("axis \(a) out of range for rank \(rank)") }
        return r
    }
    public func unknown() -> SymDim { unknowns.make() }

    /// An ints parameter that is an attribute when static at import and
    /// int64 input `i` otherwise: the attribute, the input's contents when
    /// known (constants, and every run), or nil when known only per run.
    public func parameter(_ name: String, input i: Int) throws -> [Int]? {
        if let a = try attrs.optionalInts(name) { return a }
        guard let v = value(i) else { return nil }
        var out: [Int] = []
        for d in v {
            guard let k = d.value else { return nil }
            out.append(k)
        }
        return out
    }

    /// The length of 1-D input `i` when fixed (how many axes a run-time parameter names).
    public func length(_ i: Int) -> Int? {
        guard let s = optionalInput(i) else { return nil }
        if s.isEmpty { return 1 }
        return s.count == 1 ? s[0].value : nil
    }
    /// `d`, or an unknown when arithmetic had no closed form; a fixed result
    /// that overflowed is an error.
    public func orUnknown(_ d: SymDim?, overflowIf fixed: Bool = false) throws -> SymDim {
        if let d { return d }
        if fixed { throw fail("dimension arithmetic overflows") }
        return unknown()
    }
    /// Two sizes that must agree: provably different ones are an error; a
    /// fixed size wins over a symbolic one (the runtime checks it per run).
    public func same(_ a: SymDim, _ b: SymDim, _ what: String) throws -> SymDim {
        if a == b { return a }
        if let d = a.subtracting(b), d.isFixed { throw fail("\(what) differ: \(a) vs \(b)") }
        return a.isFixed ? a : b.isFixed ? b : a
    }
    /// Product of `dims`: an error when the fixed sizes alone overflow (a
    /// hostile shape), an unknown when the symbolic part has no closed form.
    public func product(_ dims: [SymDim]) throws -> SymDim {
        var fixed = 1
        for d in dims {
            guard let v = d.value else { continue }
            let (p, o) = fixed.multipliedReportingOverflow(by: v)
            guard !o, p <= ShapeMath.maxElements else { throw fail("element count of \(dims.rendered) overflows") }
            fixed = p
        }
        if let p = dims.product { return p }
        if dims.allSatisfy(\.isFixed) { throw fail("element count of \(dims.rendered) overflows") }
        return unknown()
    }

    /// A size that must be fixed for this op (e.g. channel counts).
    public func fixed(_ d: SymDim, _ what: String) throws -> Int {
        guard let v = d.value else { throw fail("\(what) must be fixed, got \(d)") }
        return v
    }
}

/// Every IR operator, by name. Families are listed once here; each family
/// file defines its ops' specs.
public enum OpRegistry {
    public static let families: [(name: String, specs: [OpSpec])] = [
        ("Activation", ActivationOps.specs),
        ("Binary", BinaryOps.specs),
        ("Conv", ConvOps.specs),
        ("Pool", PoolOps.specs),
        ("Normalization", NormalizationOps.specs),
        ("MatMul", MatMulOps.specs),
        ("Movement", MovementOps.specs),
        ("Shape", ShapeOps.specs),
        ("Reduce", ReduceOps.specs),
        ("Math", MathOps.specs),
        ("Index", IndexOps.specs),
        ("Resize", ResizeOps.specs),
        ("Attention", AttentionOps.specs),
        ("Quantization", QuantizationOps.specs),
        ("Sampling", SamplingOps.specs),
        ("Tensor", TensorOps.specs),
        ("Recurrent", RecurrentOps.specs),
        ("ConvND", ConvNDOps.specs),
    ]

    public static let specs: [String: OpSpec] = {
        var out: [String: OpSpec] = [:]
        for f in families { for s in f.specs { precondition(out[s.name] == nil, "op \(s.name) defined twice"); out[s.name] = s } }
        return out
    }()

    public static var names: Set<String> { Set(specs.keys) }

    public static func spec(_ op: String) -> OpSpec? { specs[op] }
}
