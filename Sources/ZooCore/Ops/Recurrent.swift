import Foundation

/// One-layer recurrent networks: RNN, GRU and LSTM (ONNX opsets 1–22, with
/// the semantics of opset 22).
///
/// Inputs: X, W, R, B, sequence_lens, initial_h, and for LSTM initial_c, P; all
/// after R are optional ("" for an absent one). With `layout` 0, X is
/// `[seq, batch, input]`, Y `[seq, directions, batch, hidden]` and the states
/// (initial_h, initial_c, Y_h, Y_c) `[directions, batch, hidden]`; with `layout` 1,
/// X is `[batch, seq, input]`, Y `[batch, seq, directions, hidden]` and the states
/// `[batch, directions, hidden]`. W is `[directions, gates·hidden, input]`, R
/// `[directions, gates·hidden, hidden]`, B `[directions, 2·gates·hidden]` (W's
/// biases, then R's) and P `[directions, 3·hidden]` (peepholes i, o, f); the gates
/// are 1 for RNN, 3 for GRU (z, r, h) and 4 for LSTM (i, o, f, c).
///
/// Outputs: Y, Y_h and for LSTM Y_c; a node names only those it uses (the rule
/// gives all of them). A batch entry shorter than the sequence (`sequence_lens`)
/// has zeros in Y past its length and, in Y_h / Y_c, its state after its last
/// step; a length of 0 gives zero states, as onnxruntime computes.
public enum RecurrentOps {
    public enum Kind: String, Sendable {
        case rnn = "RNN", gru = "GRU", lstm = "LSTM"

        /// Gate blocks in W and R.
        public var gates: Int { [1, 3, 4][index] }
        /// Activation functions per direction: f (RNN); f, g (GRU); f, g, h (LSTM).
        public var functions: Int { [1, 2, 3][index] }
        /// Outputs the op defines: Y, Y_h (and Y_c).
        public var outputs: Int { self == .lstm ? 3 : 2 }
        var defaultFunctions: [Activation.Function] { [[.tanh], [.sigmoid, .tanh], [.sigmoid, .tanh, .tanh]][index] }
        var inputs: ClosedRange<Int> { self == .lstm ? 3...8 : 3...6 }
        private var index: Int { self == .rnn ? 0 : self == .gru ? 1 : 2 }
    }

    /// One activation function with its resolved alpha and beta.
    public struct Activation: Sendable, Equatable {
        /// The functions ONNX lists for recurrent ops, matched case-insensitively (onnxruntime's
        /// GRU and LSTM lower-case the names; ONNX's reference accepts "tanh").
        public enum Function: String, Sendable, CaseIterable {
            case relu = "Relu", tanh = "Tanh", sigmoid = "Sigmoid", affine = "Affine", leakyRelu = "LeakyRelu"
            case thresholdedRelu = "ThresholdedRelu", scaledTanh = "ScaledTanh", hardSigmoid = "HardSigmoid"
            case elu = "Elu", softsign = "Softsign", softplus = "Softplus"

            /// The default alpha of a function that reads one (nil: it reads none). The
            /// defaults are the ONNX operators' of the same name; Affine and ScaledTanh,
            /// whose operators are gone, default to the identity scalings (1, 0) and (1, 1).
            var alpha: Float? {
                switch self {
                case .affine, .thresholdedRelu, .scaledTanh, .elu: return 1
                case .leakyRelu: return 0.01
                case .hardSigmoid: return 0.2
                default: return nil
                }
            }
            /// The default beta of a function that reads one (nil: it reads none).
            var beta: Float? {
                switch self {
                case .affine: return 0
                case .scaledTanh: return 1
                case .hardSigmoid: return 0.5
                default: return nil
                }
            }
        }
        public let function: Function
        public let alpha: Float, beta: Float
    }

    /// The validated attributes of one recurrent node, shared by the shape rule and the kernel.
    public struct Parameters: Sendable {
        public let kind: Kind
        public let directions: Int
        /// `direction` is "reverse" (a bidirectional node runs its direction 1 backwards only).
        public let reverse: Bool
        public let layout: Int
        /// `hidden_size`, when the node gives it (else R's last dimension).
        public let hidden: Int?
        /// Pre-activation clip threshold (nil: no clip).
        public let clip: Float?
        /// `kind.functions` activations for each direction.
        public let activations: [[Activation]]
        public let linearBeforeReset: Bool
        public let inputForget: Bool

        /// Whether direction `d` runs from the end of each sequence.
        public func reversed(_ d: Int) -> Bool { reverse || d == 1 }
    }

    static func list(_ name: String) -> AttributeSpec { AttributeSpec(name: name, kind: .floats, defaultValue: nil, required: false) }

    /// Reads and checks a recurrent node's attributes. `activation_alpha` and
    /// `activation_beta` are consumed in the order of the activations, each
    /// value by the next function that reads one (the ONNX wording, and
    /// onnxruntime's reading); a function left without one takes its default,
    /// and values no function reads are ignored (as onnxruntime does).
    public static func parameters(_ a: OpAttributes, kind: Kind) throws -> Parameters {
        func floats(_ name: String) throws -> [Float] {
            guard let v = try a.raw(name) else { return [] }
            if let f = v.floatsValue { return f }
            if let i = v.intsValue { return i.map(Float.init) }
            throw a.fail("attribute '\(name)' must be a list of floats")
        }
        let direction = try a.string("direction")
        guard ["forward", "reverse", "bidirectional"].contains(direction) else { throw a.fail("unknown direction '\(direction)'") }
        let directions = direction == "bidirectional" ? 2 : 1
        let layout = try a.int("layout")
        guard layout == 0 || layout == 1 else { throw a.fail("layout must be 0 or 1, got \(layout)") }
        let hidden = try a.optionalInt("hidden_size")
        if let hidden, hidden <= 0 { throw a.fail("hidden_size must be positive, got \(hidden)") }
        let clip = try a.optionalFloat("clip")
        if let clip, !(clip > 0) { throw a.fail("clip must be positive, got \(clip)") }

        let functions: [Activation.Function]
        switch try a.raw("activations") {
        case nil:
            functions = Array([[Activation.Function]](repeating: kind.defaultFunctions, count: directions).joined())
        case .strings(let names)?:
            functions = try names.map { n in
                guard let f = Activation.Function.allCases.first(where: { $0.rawValue.lowercased() == n.lowercased() }) else {
                    throw a.fail("unknown activation function '\(n)'")
                }
                return f
            }
        default:
            throw a.fail("attribute 'activations' must be a list of strings")
        }
        guard functions.count == kind.functions * directions else {
            throw a.fail("\(kind.rawValue) with direction \(direction) takes \(kind.functions * directions) activations, got \(functions.count)")
        }
        var alphas = try floats("activation_alpha")[...], betas = try floats("activation_beta")[...]
        let resolved = functions.map { f in
            Activation(function: f, alpha: f.alpha.map { alphas.popFirst() ?? $0 } ?? 0, beta: f.beta.map { betas.popFirst() ?? $0 } ?? 0)
        }
        let perDirection = (0..<directions).map { Array(resolved[($0 * kind.functions)..<(($0 + 1) * kind.functions)]) }
        return Parameters(kind: kind, directions: directions, reverse: direction == "reverse", layout: layout, hidden: hidden, clip: clip,
                          activations: perDirection,
                          linearBeforeReset: kind == .gru ? try a.int("linear_before_reset") != 0 : false,
                          inputForget: kind == .lstm ? try a.int("input_forget") != 0 : false)
    }

    static func shapes(_ c: ShapeContext, kind: Kind) throws -> [SymShape] {
        let p = try parameters(c.attrs, kind: kind)
        let x = try c.input(0), w = try c.input(1), r = try c.input(2)
        guard x.count == 3, w.count == 3, r.count == 3 else {
            throw c.fail("X, W and R must be 3-D, got \(x.rendered), \(w.rendered), \(r.rendered)")
        }
        let seq = x[p.layout], batch = x[1 - p.layout], dirs = SymDim(p.directions)
        let hidden = try c.same(p.hidden.map(SymDim.init) ?? r[2], r[2], "hidden_size and R's last dimension")
        let rows = try c.orUnknown(hidden.times(SymDim(kind.gates)))
        _ = try c.same(try c.same(w[0], dirs, "W's direction count and the direction's"), r[0], "the direction counts of W and R")
        _ = try c.same(try c.same(w[1], rows, "W's rows and \(kind.gates)·hidden"), r[1], "the rows of W and R")
        _ = try c.same(w[2], x[2], "W's input size and X's")
        if let b = c.optionalInput(3) {
            guard b.count == 2 else { throw c.fail("B must be 2-D, got \(b.rendered)") }
            _ = try c.same(b[0], dirs, "B's direction count and the direction's")
            _ = try c.same(b[1], try c.orUnknown(rows.times(SymDim(2))), "B's length and 2·\(kind.gates)·hidden")
        }
        if let s = c.optionalInput(4) {
            guard s.count == 1 else { throw c.fail("sequence_lens must be 1-D, got \(s.rendered)") }
            _ = try c.same(s[0], batch, "sequence_lens's length and the batch size")
        }
        let state: SymShape = p.layout == 0 ? [dirs, batch, hidden] : [batch, dirs, hidden]
        for (i, what) in [(5, "initial_h"), (6, "initial_c")] where i < kind.inputs.upperBound {
            guard let s = c.optionalInput(i) else { continue }
            guard s.count == 3 else { throw c.fail("\(what) must be 3-D, got \(s.rendered)") }
            for (d, e) in zip(s, state) { _ = try c.same(d, e, "\(what) \(s.rendered) and the state \(state.rendered)") }
        }
        if kind == .lstm, let pp = c.optionalInput(7) {
            guard pp.count == 2 else { throw c.fail("P must be 2-D, got \(pp.rendered)") }
            _ = try c.same(pp[0], dirs, "P's direction count and the direction's")
            _ = try c.same(pp[1], try c.orUnknown(hidden.times(SymDim(3))), "P's length and 3·hidden")
        }
        let y: SymShape = p.layout == 0 ? [seq, dirs, batch, hidden] : [batch, seq, dirs, hidden]
        // The kernel keeps X·Wᵀ for every step of one direction: refuse sizes it cannot hold.
        _ = try c.product([seq, batch, rows])
        return Array([y, state, state].prefix(kind.outputs))
    }

    static func spec(_ kind: Kind) -> OpSpec {
        var attributes: [AttributeSpec] = [
            .int("hidden_size"), .string("direction", "forward"), .int("layout", 0), .float("clip"),
            AttributeSpec(name: "activations", kind: .strings, defaultValue: nil, required: false),
            list("activation_alpha"), list("activation_beta"),
        ]
        if kind == .gru { attributes.append(.int("linear_before_reset", 0)) }
        if kind == .lstm { attributes.append(.int("input_forget", 0)) }
        return OpSpec(kind.rawValue, family: "Recurrent", inputs: kind.inputs, attributes: attributes) { c in try shapes(c, kind: kind) }
    }

    public static let specs: [OpSpec] = [spec(.rnn), spec(.gru), spec(.lstm)]
}
