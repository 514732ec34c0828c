/// A dimension that is either known or a multiple of a named symbol (the batch).
///
/// Shapes are static after import except for the batch size; ops such as
/// Flatten(axis 0) multiply the batch by a constant, so a symbolic dimension
/// carries a coefficient ("96*N"). Products of two symbols are refused.
public struct SymDim: Hashable, Sendable, CustomStringConvertible {
    public var coeff: Int
    public var symbol: String?

    public init(_ value: Int) { coeff = value; symbol = nil }
    public init(symbol: String, coeff: Int = 1) { self.coeff = coeff; self.symbol = symbol }

    /// From the serialised form: an integer, "N" or "96*N".
    public init(_ dim: Dim) {
        switch dim {
        case .fixed(let v): self.init(v)
        case .symbolic(let s):
            if let star = s.firstIndex(of: "*"), let c = Int(s[..<star]) {
                self.init(symbol: String(s[s.index(after: star)...]), coeff: c)
            } else {
                self.init(symbol: s)
            }
        }
    }

    /// The known size, or nil when it depends on a symbol.
    public var value: Int? { symbol == nil ? coeff : nil }

    public var dim: Dim {
        guard let s = symbol else { return .fixed(coeff) }
        return .symbolic(coeff == 1 ? s : "\(coeff)*\(s)")
    }

    public var description: String { dim.description }

    /// Product, or nil when both sides are symbolic or it overflows.
    public func times(_ o: SymDim) -> SymDim? {
        if symbol != nil && o.symbol != nil { return nil }
        let (c, overflow) = coeff.multipliedReportingOverflow(by: o.coeff)
        guard !overflow, c <= ShapeMath.maxElements else { return nil }
        var r = SymDim(c)
        r.symbol = symbol ?? o.symbol
        if c == 0 { r.symbol = nil }
        return r
    }

    /// Exact quotient, or nil when it is not an exact multiple.
    public func divided(by o: SymDim) -> SymDim? {
        if o.symbol != nil {
            guard o.symbol == symbol, o.coeff != 0, coeff % o.coeff == 0 else { return nil }
            return SymDim(coeff / o.coeff)
        }
        guard o.coeff != 0, coeff % o.coeff == 0 else { return nil }
        var r = self
        r.coeff = coeff / o.coeff
        return r
    }
}

public typealias SymShape = [SymDim]

extension Array where Element == SymDim {
    public init(_ dims: [Dim]) { self = dims.map(SymDim.init) }
    public init(concrete: [Int]) { self = concrete.map(SymDim.init) }
    public var dims: [Dim] { map(\.dim) }
    /// The concrete shape when no dimension is symbolic.
    public var concrete: [Int]? {
        var out: [Int] = []
        for d in self {
            guard let v = d.value else { return nil }
            out.append(v)
        }
        return out
    }
    /// Product of all dimensions, or nil on overflow or two symbols.
    public var product: SymDim? {
        var p = SymDim(1)
        for d in self {
            guard let q = p.times(d) else { return nil }
            p = q
        }
        return p
    }
    public var rendered: String { "[" + map(\.description).joined(separator: "×") + "]" }
}
