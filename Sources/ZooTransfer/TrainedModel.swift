import Foundation
import ZooCore
import ZooVision

/// Builds the `.zoo` model `zoo fit` writes: the frozen part of the base,
/// then the trained Dense (Gemm) + Softmax head, with a card that names its
/// classes, its preprocessing and its lineage.
public enum TrainedModel {
    /// Output name of a trained classifier.
    public static let outputName = "probabilities"
    static let kernelName = "head.kernel", biasName = "head.bias"

    /// An image classifier: `features` (backbone + pooling) followed by the head.
    public static func image(features: FeatureExtractor, head: HeadTrainer.Head, classes: [String], name: String,
                             baseDigest: String, training: ModelCard.Training) throws -> Model {
        let base = features.featureModel
        var card = base.card
        card.name = name
        card.task = "image-classification"
        card.labels = classes
        card.preprocessing = features.preprocessing.cardValue
        card.lineage = ModelCard.Lineage(base: base.card.name, baseDigest: baseDigest, featureLayer: features.layer,
                                         pooling: features.pooling.rawValue, head: "softmax-regression", training: training)
        return try attach(head, to: base, input: FeatureExtractor.outputName, card: card)
    }

    /// A text classifier over word vectors: token ids → embedding rows → mean → head.
    ///
    /// The vocabulary and matrix of the embedding model travel inside the new
    /// model, so it classifies on its own (`zoo classify NEW file.txt`).
    public static func text(embeddings: Model, head: HeadTrainer.Head, classes: [String], name: String,
                            baseDigest: String, training: ModelCard.Training) throws -> Model {
        guard let matrix = embeddings.tensor(named: "embedding.matrix") else {
            throw TransferError.wrongKind(model: embeddings.card.name, detail: "not a word-embedding model (no embedding.matrix)")
        }
        let ids = "token_ids"
        let nodes = [
            Node(name: "text/lookup", op: "Gather", inputs: ["embedding.matrix", ids], outputs: ["text/vectors"], attributes: ["axis": .int(0)]),
            Node(name: "text/mean", op: "ReduceMean", inputs: ["text/vectors"], outputs: [FeatureExtractor.outputName],
                 attributes: ["axes": .ints([0]), "keepdims": .int(1)]),
        ]
        let dims: [Dim] = [.fixed(1), .fixed(matrix.shape[1])]
        let graph = Graph(inputs: [ValueInfo(name: ids, dtype: .i64, shape: [.symbolic("tokens")])],
                          outputs: [ValueInfo(name: FeatureExtractor.outputName, dtype: .f32, shape: dims)], nodes: nodes)
        var card = embeddings.card
        card.name = name
        card.task = "text-classification"
        card.labels = classes
        card.inputs = [ModelCard.IOSpec(name: ids, dtype: .i64, shape: [.symbolic("tokens")])]
        card.outputs = []
        card.preprocessing = nil
        card.metadata = (card.metadata ?? [:]).merging(["tokenizer": TextFeatures.tokenizerName]) { _, b in b }
        card.lineage = ModelCard.Lineage(base: embeddings.card.name, baseDigest: baseDigest, featureLayer: "mean word vector",
                                         pooling: "mean", head: "softmax-regression", training: training)
        let base = Model(card: card, graph: graph, tensors: embeddings.tensors)
        return try attach(head, to: base, input: FeatureExtractor.outputName, card: card)
    }

    static func attach(_ head: HeadTrainer.Head, to base: Model, input: String, card: ModelCard) throws -> Model {
        var card = card
        let k = head.classes
        let batch = base.graph.outputs.first?.shape.first ?? .symbolic("N")
        let nodes = base.graph.nodes + [
            Node(name: "head/dense", op: "Gemm", inputs: [input, kernelName, biasName], outputs: ["head/logits"]),
            Node(name: "head/softmax", op: "Softmax", inputs: ["head/logits"], outputs: [outputName], attributes: ["axis": .int(-1)]),
        ]
        let out: [Dim] = [batch, .fixed(k)]
        card.outputs = [ModelCard.IOSpec(name: outputName, dtype: .f32, shape: out, layout: "NC")]
        let graph = Graph(inputs: base.graph.inputs, outputs: [ValueInfo(name: outputName, dtype: .f32, shape: out)], nodes: nodes)
        let tensors = base.tensors + [
            (kernelName, try Tensor(floats: head.weights, shape: [head.dim, k])),
            (biasName, try Tensor(floats: head.bias, shape: [k])),
        ]
        guard Set(tensors.map(\.name)).count == tensors.count else {
            throw TransferError.unusableFeature(layer: input, detail: "the base model already has tensors named \(kernelName)/\(biasName)")
        }
        return Model(card: card, graph: graph, tensors: tensors)
    }
}
