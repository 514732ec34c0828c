/// One dimension of a graph value's shape: a fixed size or a named symbol
/// (the batch dimension stays symbolic so one converted model serves any batch).
public enum Dim: Hashable, Sendable, Codable, CustomStringConvertible {
    case fixed(Int)
    case symbolic(String)

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let v = try? c.decode(Int.self) {
            self = .fixed(v)
        } else {
            self = .symbolic(try c.decode(String.self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .fixed(let v): try c.encode(v)
        case .symbolic(let s): try c.encode(s)
        }
    }

    public var description: String {
        switch self {
        case .fixed(let v): return String(v)
        case .symbolic(let s): return s
        }
    }

    /// The size when it is known.
    public var value: Int? {
        if case .fixed(let v) = self { return v }
        return nil
    }
}

/// Shape arithmetic that never traps: tensor shapes come from untrusted files.
public enum ShapeMath {
    /// Largest dimension or element count accepted anywhere (2^48): far beyond
    /// any real model, small enough that products with item sizes cannot overflow.
    public static let maxElements = 1 << 48

    /// Number of elements of `shape`, or nil when a dimension is negative or
    /// the product overflows `maxElements`. A scalar (`[]`) has one element.
    public static func elementCount(_ shape: [Int]) -> Int? {
        var count = 1
        for d in shape {
            guard d >= 0, d <= maxElements else { return nil }
            let (p, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, p <= maxElements else { return nil }
            count = p
        }
        return count
    }

    /// Byte length of a tensor of `dtype` and `shape`, or nil on invalid input.
    public static func byteCount(_ dtype: DType, _ shape: [Int]) -> Int? {
        guard let n = elementCount(shape) else { return nil }
        let (b, overflow) = n.multipliedReportingOverflow(by: dtype.itemSize)
        return overflow ? nil : b
    }

    /// `value` rounded up to a multiple of `alignment` (a power of two), or nil on overflow.
    public static func alignUp(_ value: Int, _ alignment: Int) -> Int? {
        let (s, overflow) = value.addingReportingOverflow(alignment - 1)
        guard !overflow, value >= 0 else { return nil }
        return s & ~(alignment - 1)
    }

    /// Shape rendered as `[1×3×224×224]` for messages and tables.
    public static func describe(_ shape: [Int]) -> String {
        "[" + shape.map(String.init).joined(separator: "×") + "]"
    }

    /// Symbolic shape rendered as `[N×3×224×224]`.
    public static func describe(_ shape: [Dim]) -> String {
        "[" + shape.map(\.description).joined(separator: "×") + "]"
    }
}
