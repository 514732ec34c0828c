import Foundation
import ZooCore
import ZooEmbeddings
import ZooFormat
import ZooRuntime
import ZooVision

/// Labels for images (any image classifier: an ImageNet model or one `zoo fit`
/// wrote) or for text documents (a model `zoo fit` trained on word vectors).
///
/// Scores are the model's outputs as they are (probabilities for models
/// ending in Softmax), ranked like Keras's `decode_predictions`; labels come
/// from the card, and ImageNet classes also carry their WordNet id.
public final class Classifier: @unchecked Sendable {
    public struct Label: Sendable, Codable, Equatable {
        public var index: Int
        /// WordNet id, for ImageNet classes.
        public var wnid: String?
        public var label: String?
        public var score: Float
    }

    public struct Prediction: Sendable, Codable, Equatable {
        public var path: String
        public var top: [Label]
    }

    public let card: ModelCard
    public let isText: Bool
    let images: FeatureExtractor?
    let text: (session: InferenceSession, index: EmbeddingIndex)?
    let wnids: [String]?

    /// Opens a classifier. `preprocess`/`size` are for a model whose card does not say.
    public init(file: ZooFile, preprocess: Preprocessing.Mode? = nil, size: (Int, Int)? = nil,
                threads: Int = ProcessInfo.processInfo.activeProcessorCount) throws {
        let model = try file.model(verify: true)
        card = model.card
        if card.task == "text-classification" || model.graph.inputs.first?.name == "token_ids" {
            isText = true
            images = nil
            do { text = (try InferenceSession(model: model, threads: threads), try EmbeddingIndex(model: model)) } catch let e as RuntimeError {
                throw TransferError.runtime(model: card.name, detail: e.localizedDescription)
            }
        } else {
            if model.tensor(named: "embedding.matrix") != nil {
                throw TransferError.wrongKind(model: card.name, detail: "word vectors classify nothing by themselves; train a head with zoo fit MODEL TRAIN_DIR --name NEW, then classify with NEW")
            }
            isText = false
            text = nil
            let prep = try Preprocessing.from(card: card, mode: preprocess, size: size)
            images = try FeatureExtractor(model: model, layer: nil, pool: nil, preprocessing: prep, threads: threads)
            guard images!.featureShape.count == 1 else {
                throw TransferError.unusableFeature(layer: images!.layer, detail: "the model's output is a feature map \(images!.featureShape), not class scores; use zoo features, or zoo fit to train a classifier on it")
            }
        }
        let labels = card.labels ?? []
        wnids = labels.count == 1000 && labels == ImageNetClassIndex.names ? ImageNetClassIndex.entries.map(\.wnid) : nil
    }

    /// Files this classifier reads (image or text extensions), for scanning directories.
    public var extensions: Set<String> { isText ? Dataset.textExtensions : ImageFormat.extensions }

    /// The `top` best labels of every file, in input order; unusable files stop
    /// the run unless `skipBad` (then they are listed in `skipped`).
    public func classify(_ files: [String], top: Int = 5, batchSize: Int = 32, skipBad: Bool = false,
                         progress: ((FeatureExtractor.Progress) -> Void)? = nil) throws -> (predictions: [Prediction], skipped: [(path: String, reason: String)]) {
        guard top >= 1 else { throw TransferError.invalidOptions(detail: "--top must be at least 1") }
        if let images {
            let f = try images.extract(files, batchSize: batchSize, skipBad: skipBad, progress: progress)
            let k = f.width
            let predictions = f.paths.enumerated().map { i, path in
                Prediction(path: path, top: rank(Array(f.values[(i * k)..<((i + 1) * k)]), top))
            }
            return (predictions, f.skipped)
        }
        let (session, index) = text!
        var predictions: [Prediction] = [], skipped: [(String, String)] = []
        for path in files {
            do {
                let text = try TextFeatures.read(path)
                let ids = TextFeatures.ids(text, index: index)
                guard !ids.isEmpty else { throw TransferError.badInput(path: path, detail: "no word of the vocabulary; nothing to classify") }
                let input = try Tensor(dtype: .i64, shape: [ids.count], bytes: ids.map { Int64($0) }.withUnsafeBytes { Array($0) })
                guard let out = try session.run(["token_ids": input])[TrainedModel.outputName] else {
                    throw TransferError.runtime(model: card.name, detail: "no \(TrainedModel.outputName) output")
                }
                predictions.append(Prediction(path: path, top: rank(out.floatValues(), top)))
            } catch let e as TransferError {
                guard skipBad else { throw e }
                skipped.append((path, e.localizedDescription))
            } catch let e as RuntimeError {
                throw TransferError.runtime(model: card.name, detail: e.localizedDescription)
            }
        }
        return (predictions, skipped)
    }

    func rank(_ scores: [Float], _ k: Int) -> [Label] {
        let order = scores.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }
        let labels = card.labels
        return order.prefix(k).map { i in
            Label(index: i, wnid: wnids?[i], label: labels.flatMap { i < $0.count ? $0[i] : nil }, score: scores[i])
        }
    }
}
