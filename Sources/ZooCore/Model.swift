/// A model in memory: card, graph and named tensors in a fixed order.
///
/// This is what importers produce and what the `.zoo` writer consumes. The
/// tensor order is the order in the file, so it is part of determinism.
public struct Model: Sendable {
    public var card: ModelCard
    public var graph: Graph
    public var tensors: [(name: String, tensor: Tensor)]

    public init(card: ModelCard, graph: Graph, tensors: [(name: String, tensor: Tensor)]) {
        self.card = card
        self.graph = graph
        self.tensors = tensors
    }

    /// The tensor named `name`, if present (linear scan: used off the hot path).
    public func tensor(named name: String) -> Tensor? {
        tensors.first { $0.name == name }?.tensor
    }
}
