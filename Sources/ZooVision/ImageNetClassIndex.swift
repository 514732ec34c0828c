/// The ImageNet-1k class index Keras's `decode_predictions` uses, built in so
/// labels work offline: index → (WordNet id, class name), in the logits' order.
public enum ImageNetClassIndex {
    public struct Entry: Sendable, Equatable {
        public var wnid: String
        public var name: String
    }

    /// The 1000 classes, index-aligned with an ImageNet classifier's output.
    public static let entries: [Entry] = packed.split(separator: "\n").map { line in
        let parts = line.split(separator: " ", maxSplits: 1)
        return Entry(wnid: String(parts[0]), name: String(parts.count > 1 ? parts[1] : ""))
    }

    /// Class names for a card's `labels` (Keras's names, e.g. `tench`, `great_white_shark`).
    public static var names: [String] { entries.map(\.name) }

    /// The label-set names (catalog `labels`) this index answers for. ONNX
    /// model cards' synset list has the same WordNet ids in the same order.
    public static let labelSets: Set<String> = ["imagenet-1k", "imagenet-1k-onnx-synset"]
}
