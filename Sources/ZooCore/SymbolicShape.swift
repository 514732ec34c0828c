/// One factor of a product term of a symbolic dimension: a named size, or the
/// floor of a symbolic sum divided by a constant (what strides and pooling produce).
public indirect enum DimAtom: Hashable, Sendable {
    case symbol(String)
    case floorDiv(SymDim, Int)

    /// Rendered form; also the canonical sort key of atoms and terms.
    public var description: String {
        switch self {
        case .symbol(let s): return s
        case .floorDiv(let e, let k):
            if e.constant == 0, e.terms.count == 1, e.terms[0].coeff == 1, e.terms[0].atoms.count == 1,
               case .symbol(let s) = e.terms[0].atoms[0] { return "\(s)//\(k)" }
            return "(\(e))//\(k)"
        }
    }

    var depth: Int {
        switch self {
        case .symbol: return 0
        case .floorDiv(let e, _): return 1 + (e.terms.flatMap(\.atoms).map(\.depth).max() ?? 0)
        }
    }

    func evaluated(_ bindings: [String: Int]) -> Int? {
        switch self {
        case .symbol(let s): return bindings[s]
        case .floorDiv(let e, let k):
            guard let v = e.evaluated(bindings) else { return nil }
            return SymDim.floorDiv(v, k)
        }
    }

    func collectSymbols(into s: inout Set<String>) {
        switch self {
        case .symbol(let n): s.insert(n)
        case .floorDiv(let e, _): for t in e.terms { for a in t.atoms { a.collectSymbols(into: &s) } }
        }
    }
}

/// A dimension: a fixed size, or an integer polynomial over named sizes with
/// floor divisions by constants, kept in one canonical form so that two ways of
/// computing the same size compare equal (`(H-1)//2+1` from a stride-2 3×3 conv
/// with pad 1 and from a stride-2 1×1 conv).
///
/// ONNX `dim_param`s, unnamed ONNX dims and Keras `None` all become symbols; a
/// size with no closed form (a Reshape to a shape computed at run time) becomes
/// a fresh unknown symbol `?k` that the runtime resolves per run. Arithmetic
/// returns nil on overflow or when an expression would grow past the limits
/// below; callers turn that into an unknown or a typed error.
public struct SymDim: Hashable, Sendable, CustomStringConvertible {
    /// `coeff · Π atoms`; atoms sorted by their rendered form.
    public struct Term: Hashable, Sendable {
        public var atoms: [DimAtom]
        public var coeff: Int
        var key: String { atoms.map(\.description).joined(separator: "*") }
    }

    /// Sum of `terms` plus `constant`; terms sorted by key, no zero coefficient, no repeated key.
    public private(set) var terms: [Term]
    public private(set) var constant: Int

    /// Bounds that keep hostile shape arithmetic small and fast.
    static let maxTerms = 16, maxAtoms = 6, maxDepth = 6, maxText = 512

    public init(_ value: Int) { terms = []; constant = value }
    public init(symbol: String, coeff: Int = 1) {
        terms = coeff == 0 ? [] : [Term(atoms: [.symbol(symbol)], coeff: coeff)]
        constant = 0
    }
    private init(terms: [Term], constant: Int) { self.terms = terms; self.constant = constant }

    /// A size known only at run time, distinct from every other unknown `k`.
    public static func unknown(_ k: Int) -> SymDim { SymDim(symbol: "?\(k)") }

    /// From the serialised form: an integer or an expression string (docs/FORMAT.md, "Dimensions").
    /// A string that is not an expression is one symbol, as version 1.0 files wrote them
    /// (with an optional `96*` coefficient prefix).
    public init(_ dim: Dim) {
        switch dim {
        case .fixed(let v): self.init(v)
        case .symbolic(let s):
            if let e = SymDim.parse(s) {
                self = e
            } else if let star = s.firstIndex(of: "*"), let c = Int(s[..<star]) {
                self.init(symbol: String(s[s.index(after: star)...]), coeff: c)
            } else {
                self.init(symbol: s)
            }
        }
    }

    /// The known size, or nil when it depends on a symbol.
    public var value: Int? { terms.isEmpty ? constant : nil }
    public var isFixed: Bool { terms.isEmpty }

    /// The plain symbol this dimension is, when it is exactly one symbol.
    public var symbolName: String? {
        guard constant == 0, terms.count == 1, terms[0].coeff == 1, terms[0].atoms.count == 1,
              case .symbol(let s) = terms[0].atoms[0] else { return nil }
        return s
    }

    /// Every symbol the dimension depends on.
    public var symbols: Set<String> {
        var s = Set<String>()
        for t in terms { for a in t.atoms { a.collectSymbols(into: &s) } }
        return s
    }

    public var dim: Dim { terms.isEmpty ? .fixed(constant) : .symbolic(description) }

    public var description: String {
        if terms.isEmpty { return String(constant) }
        var out = ""
        for t in terms {
            let body = t.key
            let piece: String
            switch t.coeff {
            case 1: piece = body
            case -1: piece = "-" + body
            default: piece = "\(t.coeff)*\(body)"
            }
            if !out.isEmpty && !piece.hasPrefix("-") { out += "+" }
            out += piece
        }
        if constant > 0 { out += "+\(constant)" } else if constant < 0 { out += "\(constant)" }
        return out
    }

    // MARK: arithmetic

    static func floorDiv(_ v: Int, _ k: Int) -> Int {
        let q = v / k
        return (v % k != 0 && (v < 0) != (k < 0)) ? q - 1 : q
    }

    static func checked(_ v: Int) -> Int? { abs(v) <= ShapeMath.maxElements ? v : nil }

    /// Canonical form of `Σ terms + constant`, or nil past the limits.
    static func make(_ raw: [Term], _ constant: Int) -> SymDim? {
        guard checked(constant) != nil else { return nil }
        var byKey: [String: Term] = [:]
        for t in raw {
            guard t.atoms.count <= maxAtoms, t.atoms.allSatisfy({ $0.depth <= maxDepth }) else { return nil }
            let key = t.key
            if var e = byKey[key] {
                let (s, o) = e.coeff.addingReportingOverflow(t.coeff)
                guard !o, checked(s) != nil else { return nil }
                e.coeff = s
                byKey[key] = e
            } else {
                guard checked(t.coeff) != nil else { return nil }
                byKey[key] = t
            }
        }
        let terms = byKey.values.filter { $0.coeff != 0 }.sorted { $0.key < $1.key }
        guard terms.count <= maxTerms else { return nil }
        return SymDim(terms: terms, constant: constant)
    }

    public func adding(_ o: SymDim) -> SymDim? {
        let (c, ov) = constant.addingReportingOverflow(o.constant)
        return ov ? nil : SymDim.make(terms + o.terms, c)
    }

    /// nil when a coefficient or the constant is Int.min (its negation overflows).
    public func negated() -> SymDim? {
        func neg(_ x: Int) -> Int? { let (r, o) = 0.subtractingReportingOverflow(x); return o ? nil : r }
        var out: [Term] = []
        for t in terms {
            guard let c = neg(t.coeff) else { return nil }
            out.append(Term(atoms: t.atoms, coeff: c))
        }
        return neg(constant).flatMap { SymDim.make(out, $0) }
    }

    public func subtracting(_ o: SymDim) -> SymDim? { o.negated().flatMap(adding) }

    /// Product; nil on overflow or past the size limits.
    public func times(_ o: SymDim) -> SymDim? {
        var out: [Term] = []
        func mul(_ a: Int, _ b: Int) -> Int? {
            let (p, ov) = a.multipliedReportingOverflow(by: b)
            return ov ? nil : SymDim.checked(p)
        }
        for a in terms {
            for b in o.terms {
                guard let c = mul(a.coeff, b.coeff) else { return nil }
                out.append(Term(atoms: (a.atoms + b.atoms).sorted { $0.description < $1.description }, coeff: c))
            }
            guard let c = mul(a.coeff, o.constant) else { return nil }
            out.append(Term(atoms: a.atoms, coeff: c))
        }
        for b in o.terms {
            guard let c = mul(b.coeff, constant) else { return nil }
            out.append(Term(atoms: b.atoms, coeff: c))
        }
        guard let c = mul(constant, o.constant) else { return nil }
        return SymDim.make(out, c)
    }

    /// `⌊self / k⌋` for a constant `k > 0`, simplified: multiples of `k` move
    /// out of the floor, common factors cancel, and nested floors merge
    /// (`⌊⌊x/a⌋/b⌋ = ⌊x/(ab)⌋`).
    public func floorDivided(by k: Int) -> SymDim? {
        guard k > 0 else { return nil }
        if k == 1 { return self }
        if terms.isEmpty { return SymDim(SymDim.floorDiv(constant, k)) }
        var outside: [Term] = [], inside: [Term] = []
        for t in terms {
            if t.coeff % k == 0 { outside.append(Term(atoms: t.atoms, coeff: t.coeff / k)) } else { inside.append(t) }
        }
        let q = SymDim.floorDiv(constant, k), r = constant - q * k
        guard var rest = SymDim.make(inside, r) else { return nil }
        var divisor = k
        if !rest.terms.isEmpty {
            // ⌊(g·x)/(g·m)⌋ = ⌊x/m⌋.
            var g = divisor
            for t in rest.terms { g = gcd(g, abs(t.coeff)) }
            g = gcd(g, abs(rest.constant))
            if g > 1 {
                rest = SymDim(terms: rest.terms.map { Term(atoms: $0.atoms, coeff: $0.coeff / g) }, constant: rest.constant / g)
                divisor /= g
            }
            // ⌊(⌊x/a⌋ + r)/m⌋ = ⌊(x + r·a)/(a·m)⌋.
            if rest.terms.count == 1, rest.terms[0].coeff == 1, rest.terms[0].atoms.count == 1,
               case .floorDiv(let x, let a) = rest.terms[0].atoms[0] {
                let (ra, o1) = rest.constant.multipliedReportingOverflow(by: a)
                let (am, o2) = a.multipliedReportingOverflow(by: divisor)
                guard !o1, !o2, let shifted = x.adding(SymDim(ra)) else { return nil }
                rest = shifted
                divisor = am
            }
            if divisor > 1 {
                outside.append(Term(atoms: [.floorDiv(rest, divisor)], coeff: 1))
            } else {
                outside += rest.terms
                return SymDim.make(outside, q + rest.constant)
            }
        }
        return SymDim.make(outside, q)
    }

    /// `⌈self / k⌉` for a constant `k > 0`.
    public func ceilDivided(by k: Int) -> SymDim? {
        guard k > 0 else { return nil }
        return adding(SymDim(k - 1))?.floorDivided(by: k)
    }

    /// Exact quotient, or nil when it is not provably an exact multiple.
    public func divided(by o: SymDim) -> SymDim? {
        if self == o, !o.isFixed || o.constant != 0 { return SymDim(1) }
        if let k = o.value {
            guard k != 0, constant % k == 0, terms.allSatisfy({ $0.coeff % k == 0 }) else { return nil }
            return SymDim(terms: terms.map { Term(atoms: $0.atoms, coeff: $0.coeff / k) }, constant: constant / k)
        }
        // Division by a monomial c·Π atoms: every term must contain those atoms.
        guard o.constant == 0, o.terms.count == 1, constant == 0 else { return nil }
        let d = o.terms[0]
        var out: [Term] = []
        for t in terms {
            guard t.coeff % d.coeff == 0 else { return nil }
            var atoms = t.atoms
            for a in d.atoms {
                guard let i = atoms.firstIndex(of: a) else { return nil }
                atoms.remove(at: i)
            }
            out.append(Term(atoms: atoms, coeff: t.coeff / d.coeff))
        }
        var constantPart = 0
        var symbolic: [Term] = []
        for t in out { if t.atoms.isEmpty { constantPart += t.coeff } else { symbolic.append(t) } }
        return SymDim.make(symbolic, constantPart)
    }

    /// The size once every symbol is bound, or nil when one is not (or on overflow).
    public func evaluated(_ bindings: [String: Int]) -> Int? {
        var sum = constant
        for t in terms {
            var p = t.coeff
            for a in t.atoms {
                guard let v = a.evaluated(bindings) else { return nil }
                let (m, o) = p.multipliedReportingOverflow(by: v)
                guard !o else { return nil }
                p = m
            }
            let (s, o) = sum.addingReportingOverflow(p)
            guard !o else { return nil }
            sum = s
        }
        return sum
    }

    /// Whether the dimension is a plain name a file may use as a symbol.
    public static func isIdentifier(_ s: String) -> Bool {
        guard let f = s.unicodeScalars.first, s.utf8.count <= 128 else { return false }
        func head(_ c: Unicode.Scalar) -> Bool { (c >= "A" && c <= "Z") || (c >= "a" && c <= "z") || c == "_" || c == "?" }
        guard head(f) else { return false }
        return s.unicodeScalars.allSatisfy { head($0) || ($0 >= "0" && $0 <= "9") || $0 == "." || $0 == ":" }
    }

    /// `name` made into an identifier (other characters become `_`), so that
    /// expressions over it can be written and read back.
    public static func sanitizedSymbol(_ name: String) -> String {
        if isIdentifier(name) { return name }
        var out = String(name.unicodeScalars.prefix(120).map { c -> Character in
            let ok = (c >= "A" && c <= "Z") || (c >= "a" && c <= "z") || (c >= "0" && c <= "9") || c == "_" || c == "." || c == ":"
            return ok ? Character(c) : "_"
        })
        if out.isEmpty || out.first!.isNumber || out.first == "." || out.first == ":" { out = "_" + out }
        return out
    }

    /// Parses the dimension grammar (docs/FORMAT.md); nil when `text` is not an expression.
    public static func parse(_ text: String) -> SymDim? {
        guard !text.isEmpty, text.utf8.count <= maxText else { return nil }
        var p = DimParser(Array(text.unicodeScalars))
        guard let e = p.sum(depth: 0), p.atEnd else { return nil }
        return e
    }
}

func gcd(_ a: Int, _ b: Int) -> Int {
    var x = abs(a), y = abs(b)
    while y != 0 { (x, y) = (y, x % y) }
    return x
}

/// Recursive descent over `sum := ['-'] product (('+'|'-') product)*`,
/// `product := factor ('*' factor)*`, `factor := primary ('//' INT)*`,
/// `primary := INT | IDENT | '(' sum ')'`.
struct DimParser {
    let s: [Unicode.Scalar]
    var i = 0
    init(_ s: [Unicode.Scalar]) { self.s = s }
    var atEnd: Bool { i == s.count }
    func peek(_ c: Unicode.Scalar) -> Bool { i < s.count && s[i] == c }

    mutating func sum(depth: Int) -> SymDim? {
        guard depth < 16 else { return nil }
        var negate = false
        if peek("-") { negate = true; i += 1 }
        guard var acc = product(depth: depth) else { return nil }
        if negate { guard let n = acc.negated() else { return nil }; acc = n }
        while peek("+") || peek("-") {
            let minus = peek("-")
            i += 1
            guard let t = product(depth: depth), let r = minus ? acc.subtracting(t) : acc.adding(t) else { return nil }
            acc = r
        }
        return acc
    }

    mutating func product(depth: Int) -> SymDim? {
        guard var acc = factor(depth: depth) else { return nil }
        while peek("*") {
            i += 1
            guard let f = factor(depth: depth), let r = acc.times(f) else { return nil }
            acc = r
        }
        return acc
    }

    mutating func factor(depth: Int) -> SymDim? {
        guard var acc = primary(depth: depth) else { return nil }
        while peek("/"), i + 1 < s.count, s[i + 1] == "/" {
            i += 2
            guard let k = integer(), k > 0, let r = acc.floorDivided(by: k) else { return nil }
            acc = r
        }
        return acc
    }

    mutating func integer() -> Int? {
        var v = 0, any = false
        while i < s.count, s[i] >= "0", s[i] <= "9" {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(s[i].value - 48))
            guard !o1, !o2, a <= ShapeMath.maxElements else { return nil }
            v = a; any = true; i += 1
        }
        return any ? v : nil
    }

    mutating func primary(depth: Int) -> SymDim? {
        guard i < s.count else { return nil }
        let c = s[i]
        if c == "(" {
            i += 1
            guard let e = sum(depth: depth + 1), peek(")") else { return nil }
            i += 1
            return e
        }
        if c >= "0" && c <= "9" { return integer().map(SymDim.init) }
        let start = i
        while i < s.count {
            let d = s[i]
            let ok = (d >= "A" && d <= "Z") || (d >= "a" && d <= "z") || d == "_" || d == "?" || (i > start && ((d >= "0" && d <= "9") || d == "." || d == ":"))
            guard ok else { break }
            i += 1
        }
        guard i > start else { return nil }
        return SymDim(symbol: String(String.UnicodeScalarView(s[start..<i])))
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
    /// Product of all dimensions, or nil on overflow.
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
