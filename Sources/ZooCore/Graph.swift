/// An operator attribute. Importers normalise every opset's spelling into these
/// few kinds so the runtime reads one canonical form (docs/FORMAT.md, "Graph").
public enum Attribute: Hashable, Sendable, Codable {
    case int(Int)
    case ints([Int])
    case float(Float)
    case floats([Float])
    case string(String)
    case strings([String])

    private enum Kind: String, CodingKey { case int, ints, float, floats, string, strings }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Kind.self)
        guard c.allKeys.count == 1, let k = c.allKeys.first else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                debugDescription: "an attribute must have exactly one of int, ints, float, floats, string, strings"))
        }
        switch k {
        case .int: self = .int(try c.decode(Int.self, forKey: k))
        case .ints: self = .ints(try c.decode([Int].self, forKey: k))
        case .float: self = .float(try c.decode(Float.self, forKey: k))
        case .floats: self = .floats(try c.decode([Float].self, forKey: k))
        case .string: self = .string(try c.decode(String.self, forKey: k))
        case .strings: self = .strings(try c.decode([String].self, forKey: k))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Kind.self)
        switch self {
        case .int(let v): try c.encode(v, forKey: .int)
        case .ints(let v): try c.encode(v, forKey: .ints)
        case .float(let v): try c.encode(v, forKey: .float)
        case .floats(let v): try c.encode(v, forKey: .floats)
        case .string(let v): try c.encode(v, forKey: .string)
        case .strings(let v): try c.encode(v, forKey: .strings)
        }
    }

    public var intValue: Int? { if case .int(let v) = self { return v }; return nil }
    public var intsValue: [Int]? { if case .ints(let v) = self { return v }; return nil }
    public var floatValue: Float? { if case .float(let v) = self { return v }; return nil }
    public var floatsValue: [Float]? { if case .floats(let v) = self { return v }; return nil }
    public var stringValue: String? { if case .string(let v) = self { return v }; return nil }
}

/// One operation of the IR, with ONNX operator semantics.
public struct Node: Hashable, Sendable, Codable {
    public var name: String
    /// ONNX op type, e.g. "Conv", "Gemm", "Relu".
    public var op: String
    /// Value names read; "" marks an omitted optional input.
    public var inputs: [String]
    public var outputs: [String]
    public var attributes: [String: Attribute]

    public init(name: String, op: String, inputs: [String], outputs: [String], attributes: [String: Attribute] = [:]) {
        self.name = name
        self.op = op
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
    }
}

/// A named graph input or output with its static shape (batch may be symbolic).
public struct ValueInfo: Hashable, Sendable, Codable {
    public var name: String
    public var dtype: DType
    public var shape: [Dim]

    public init(name: String, dtype: DType, shape: [Dim]) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
    }
}

/// The computation: nodes in topological order over named values. Weights are
/// not stored here but in the model's tensor table, referenced by name.
public struct Graph: Hashable, Sendable, Codable {
    public var inputs: [ValueInfo]
    public var outputs: [ValueInfo]
    public var nodes: [Node]

    public init(inputs: [ValueInfo] = [], outputs: [ValueInfo] = [], nodes: [Node] = []) {
        self.inputs = inputs
        self.outputs = outputs
        self.nodes = nodes
    }

    /// Checks that every value is defined once, before it is read, and that
    /// every graph output is produced. `initializers` are the tensor-table names.
    public func validate(initializers: Set<String>) throws {
        var defined = initializers
        for i in inputs {
            guard defined.insert(i.name).inserted else { throw ZooCoreError.duplicateValue(name: i.name) }
        }
        for n in nodes {
            for v in n.inputs where !v.isEmpty && !defined.contains(v) {
                throw ZooCoreError.danglingValue(node: n.name, value: v)
            }
            for v in n.outputs where !v.isEmpty {
                guard defined.insert(v).inserted else { throw ZooCoreError.duplicateValue(name: v) }
            }
        }
        for o in outputs where !defined.contains(o.name) {
            throw ZooCoreError.danglingValue(node: "<graph output>", value: o.name)
        }
    }
}
