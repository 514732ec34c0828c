import Foundation
import ZooCore

/// Evaluates IR nodes whose inputs are all constants, with the runtime's own
/// kernels, so importers fold static subgraphs (the shape arithmetic of
/// function-expanded ops, constant index tensors, …) with the same semantics
/// the model would have at run time.
public enum ConstantEvaluation {
    /// Largest total of input elements evaluated at import; beyond it the nodes stay in the graph.
    public static let maxInputElements = 1 << 20

    /// Runs `nodes` (in order) on `constants` and returns the requested `outputs`.
    /// Throws the runtime's error when a node cannot run.
    public static func evaluate(_ nodes: [Node], constants: [(name: String, tensor: Tensor)], outputs: [ValueInfo]) throws -> [String: Tensor] {
        let model = Model(card: ModelCard(name: "constant-folding"), graph: Graph(inputs: [], outputs: outputs, nodes: nodes), tensors: constants)
        return try InferenceSession(model: model, threads: 1).run([:])
    }
}
