/// Binds the weights an architecture expects to the tensors a file holds, and
/// reports every problem at once: missing weights, shape mismatches, weights
/// the file has that no layer takes, and extra variables in a layer.
///
/// Importers look tensors up their own way (by layer path, through the
/// format's naming rules) and hand each layer's found tensors here in order;
/// binding is positional, as Keras assigns them. A problem does not stop the
/// walk: a zero stand-in of the expected shape is returned, so one error can
/// list everything that is wrong with a file.
public struct WeightBinding: Sendable {
    /// A dimension that takes whatever size the file stores (e.g. a Dense
    /// input width after a symbolic Flatten).
    public static let anySize = -1

    public enum Problem: Hashable, Sendable, CustomStringConvertible {
        case missing(layer: String, weight: String, shape: [Int])
        case shape(layer: String, weight: String, expected: [Int], found: [Int])
        case extra(layer: String, count: Int, names: [String])
        case unused(layer: String)

        public var description: String {
            switch self {
            case let .missing(l, w, s): return "layer '\(l)': missing weight '\(w)' \(ShapeMath.describe(s))"
            case let .shape(l, w, e, f):
                return "layer '\(l)': weight '\(w)' has shape \(ShapeMath.describe(f)), expected [" + e.map { $0 == WeightBinding.anySize ? "?" : String($0) }.joined(separator: "×") + "]"
            case let .extra(l, n, names): return "layer '\(l)': \(n) unused weight(s) \(names)"
            case let .unused(l): return "layer '\(l)': weights in the file but no such layer in the architecture"
            }
        }
    }

    public private(set) var problems: [Problem] = []
    private var used = Set<[String]>()

    public init() {}

    /// Binds `found` (a layer's stored tensors, in storage order; nil when the
    /// file has nothing for it, found under `path`) to `expected`. Returns one
    /// tensor per expected weight: the stored one, or a zero stand-in when it
    /// is missing or mismatched (recorded as a problem).
    public mutating func bind(layer: String, expected: [(name: String, shape: [Int])], found: [(name: String, tensor: Tensor)]?,
                              path: [String]?) throws -> [Tensor] {
        let stored = found ?? []
        if let path, !stored.isEmpty { used.insert(path) }
        var out: [Tensor] = []
        for (i, exp) in expected.enumerated() {
            var t: Tensor? = i < stored.count ? stored[i].tensor : nil
            if let found = t {
                let fits = found.shape.count == exp.shape.count && zip(found.shape, exp.shape).allSatisfy { $1 == Self.anySize || $0 == $1 }
                if !fits {
                    problems.append(.shape(layer: layer, weight: exp.name, expected: exp.shape, found: found.shape))
                    t = nil
                }
            } else {
                problems.append(.missing(layer: layer, weight: exp.name, shape: exp.shape))
            }
            if let t { out.append(t); continue }
            let standIn = exp.shape.map { $0 == Self.anySize ? 1 : $0 }
            guard let count = ShapeMath.elementCount(standIn), count <= 1 << 28 else {
                throw ZooCoreError.invalidShape(name: "\(layer)/\(exp.name)", shape: exp.shape)
            }
            out.append(try Tensor(floats: [Float](repeating: 0, count: count), shape: standIn))
        }
        if stored.count > expected.count {
            problems.append(.extra(layer: layer, count: stored.count - expected.count, names: stored.dropFirst(expected.count).map(\.name)))
        }
        return out
    }

    /// Marks a path as taken by a layer that reads its weights outside `bind`.
    public mutating func markUsed(_ path: [String]) { used.insert(path) }

    /// Records a problem found outside `bind` (e.g. a layer-specific check).
    public mutating func record(_ p: Problem) { problems.append(p) }

    /// Reports every stored layer path no layer took.
    public mutating func reportUnused(_ allPaths: [[String]]) {
        for p in allPaths where !used.contains(p) { problems.append(.unused(layer: p.joined(separator: "/"))) }
    }
}
