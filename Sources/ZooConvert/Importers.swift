import Foundation
import ZooCore
import ZooEmbeddings
import ZooFormat
import ZooKeras
import ZooONNX

/// ONNX protobuf models.
struct ONNXSourceImporter: Importer {
    var formats: [String] { ["onnx"] }
    var isolated: Bool { false }
    func sniff(_ s: ConversionSource) -> String? { Sniff.isONNX(s.mapped.bytes) ? "onnx" : nil }
    func prepare(_ s: ConversionSource, format: String, options: ConversionOptions) throws -> PreparedModel {
        PreparedModel(try ONNXImporter.load(path: s.path, mapped: s.mapped, options: .init(name: options.name, hashSource: false)))
    }
}

/// Keras: legacy HDF5 (full model or weights only), Keras 3 `.weights.h5`, `.keras` archives.
/// libhdf5 can crash on a hostile file, so this importer runs isolated.
struct KerasSourceImporter: Importer {
    var formats: [String] { ["keras-h5", "keras-v3"] }
    var isolated: Bool { true }
    func sniff(_ s: ConversionSource) -> String? {
        let b = s.mapped.bytes
        if Sniff.isHDF5(b) { return "keras-h5" }
        if Sniff.starts(b, with: Sniff.zipMagic), Sniff.zipContains(b, member: "model.weights.h5") { return "keras-v3" }
        return nil
    }
    func prepare(_ s: ConversionSource, format: String, options: ConversionOptions) throws -> PreparedModel {
        PreparedModel(try KerasImporter.load(path: s.path, mapped: s.mapped, options: .init(
            architecture: options.architecture, pooling: options.pooling, name: options.name, hashSource: false)))
    }
}

/// word2vec binary and text, fastText `.vec`, GloVe text: plain, gzip, or a zip member.
struct EmbeddingSourceImporter: Importer {
    static let byFormat: [String: (EmbeddingFormat, EmbeddingContainer)] = [
        "word2vec-bin": (.word2vecBinary, .plain), "word2vec-bin-gz": (.word2vecBinary, .gzip),
        "word2vec-txt": (.word2vecText, .plain), "word2vec-txt-gz": (.word2vecText, .gzip),
        "fasttext-vec": (.word2vecText, .plain), "fasttext-vec-gz": (.word2vecText, .gzip),
        "glove-txt": (.gloveText, .plain), "glove-txt-gz": (.gloveText, .gzip), "glove-zip": (.gloveText, .zip),
    ]
    var formats: [String] { Self.byFormat.keys.sorted() }
    var isolated: Bool { false }
    func sniff(_ s: ConversionSource) -> String? {
        let b = s.mapped.bytes
        if Sniff.starts(b, with: Sniff.gzipMagic) {
            guard let head = Sniff.gunzipPrefix(b) else { return nil }
            return head.withUnsafeBytes { Sniff.embedding($0) }.map { $0 + "-gz" }
        }
        if Sniff.starts(b, with: Sniff.zipMagic) { return Sniff.zipContains(b, member: "model.weights.h5") ? nil : "glove-zip" }
        return Sniff.embedding(UnsafeRawBufferPointer(rebasing: b.prefix(1 << 16)))
    }
    func prepare(_ s: ConversionSource, format: String, options: ConversionOptions) throws -> PreparedModel {
        let (fmt, container) = Self.byFormat[format]!
        let p = try EmbeddingImporter.prepare(path: s.path, mapped: s.mapped, format: fmt, container: container,
                                              member: options.member, name: options.name, half: options.half)
        return PreparedModel(card: p.card, graph: Graph(), items: p.items)
    }
}

/// A native `.zoo` file (the bundled models): re-written as it is, tensors verified.
struct ZooSourceImporter: Importer {
    var formats: [String] { ["zoo"] }
    var isolated: Bool { false }
    func sniff(_ s: ConversionSource) -> String? { Sniff.starts(s.mapped.bytes, with: ZooFormatSpec.magic) ? "zoo" : nil }
    func prepare(_ s: ConversionSource, format: String, options: ConversionOptions) throws -> PreparedModel {
        let m = try ZooFile(path: s.path).model(verify: true)
        var card = m.card
        if let n = options.name { card.name = n }
        return PreparedModel(card: card, graph: m.graph, items: m.tensors.map { ZooWriter.Item(name: $0.name, tensor: $0.tensor) })
    }
}
