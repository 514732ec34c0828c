import Foundation
import ZooCore

/// RNN (opsets 1, 7, 14, 22), GRU (1, 3, 7, 14, 22) and LSTM (1, 7, 14, 22), each as
/// the IR op of the same name (ZooCore `RecurrentOps`, the semantics of opset 22).
///
/// The versions differ in attributes only: `layout` comes at 14, GRU's
/// `linear_before_reset` at 3 (0 before), and opset 1's `output_sequence` only says
/// whether Y may be left out, so it is dropped: Y is computed when the node names it.
/// Attributes an opset does not define are ignored, as that opset's runtimes do.
enum RecurrentNormalisers {
    static let table: [String: Normaliser] = ["RNN": normaliser(.rnn), "GRU": normaliser(.gru), "LSTM": normaliser(.lstm)]

    /// Output names: trailing unused ones dropped, an unused one before a used one given
    /// a private name. Unlike `optionalOutputs`, Y itself may be unused (a node reading Y_h only).
    static func outputs(_ s: ImportSession, _ n: ONNXNode) throws -> [String] {
        var outs = n.outputs
        while let last = outs.last, last.isEmpty { outs.removeLast() }
        guard let named = outs.first(where: { !$0.isEmpty }) else { throw s.invalid(n, "node has no output") }
        return outs.enumerated().map { $0.element.isEmpty ? "\(named)/unused\($0.offset)" : $0.element }
    }

    static func normaliser(_ kind: RecurrentOps.Kind) -> Normaliser {
        { s, n in
            let arity = kind == .lstm ? 8 : 6
            guard n.inputs.count <= arity else { throw s.invalid(n, "takes at most \(arity) inputs, got \(n.inputs.count)") }
            guard n.input(0) != nil, n.input(1) != nil, n.input(2) != nil else { throw s.invalid(n, "needs X, W and R") }
            guard n.outputs.count <= kind.outputs else { throw s.invalid(n, "has at most \(kind.outputs) outputs, got \(n.outputs.count)") }
            if let lengths = n.input(4), try s.dtype(lengths, n).isFloatingPoint { throw s.invalid(n, "sequence_lens must be an integer tensor") }

            var names = ["hidden_size", "direction", "clip"]
            if s.opset >= 14 { names.append("layout") }
            if kind == .gru, s.opset >= 3 { names.append("linear_before_reset") }
            if kind == .lstm { names.append("input_forget") }
            var attributes = n.present(names)
            // GRU-1's schema spells its default direction "foward"; a file may carry it.
            if kind == .gru, s.opset < 3, n.string("direction") == "foward" { attributes["direction"] = .string("forward") }
            switch n.attributes["activations"] {
            case nil: break
            case .strings(let v)?: attributes["activations"] = .strings(v)
            default: throw s.invalid(n, "attribute 'activations' must be a list of strings")
            }
            for name in ["activation_alpha", "activation_beta"] {
                switch n.attributes[name] {
                case nil: break
                case .floats(let v)?: attributes[name] = .floats(v)
                default: throw s.invalid(n, "attribute '\(name)' must be a list of floats")
                }
            }

            var inputs = (0..<arity).map { n.input($0) ?? "" }
            while inputs.last == "" { inputs.removeLast() }
            try s.emit(n, op: kind.rawValue, inputs: inputs, outputs: try outputs(s, n), attributes: attributes)
        }
    }
}
