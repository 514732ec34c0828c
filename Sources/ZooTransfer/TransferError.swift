import Foundation

/// Errors of feature extraction, head training and trained-model writing.
public enum TransferError: Error, LocalizedError, Equatable {
    /// The feature layer is not a value of the model.
    case unknownLayer(name: String, model: String, hint: String)
    /// The chosen value cannot be pooled or fed to a head (wrong rank, not float, …).
    case unusableFeature(layer: String, detail: String)
    /// The model cannot take images (no inputs, not 4-D, not 3 channels).
    case notAnImageModel(model: String, detail: String)
    /// A dataset folder is unusable: no images, one class, an empty class, …
    case invalidDataset(path: String, detail: String)
    /// An input file could not be used (decoding, reading, no known words); `path` names it.
    case badInput(path: String, detail: String)
    /// Training options out of range.
    case invalidOptions(detail: String)
    /// Running the model failed.
    case runtime(model: String, detail: String)
    /// The input is text but the model is not an embedding model, or the reverse.
    case wrongKind(model: String, detail: String)

    public var errorDescription: String? {
        switch self {
        case let .unknownLayer(name, model, hint): return "\(model): no value or layer named '\(name)'\(hint)"
        case let .unusableFeature(layer, detail): return "feature layer '\(layer)': \(detail)"
        case let .notAnImageModel(model, detail): return "\(model): \(detail)"
        case let .invalidDataset(path, detail): return "\(path): \(detail)"
        case let .badInput(path, detail): return "\(path): \(detail)"
        case let .invalidOptions(detail): return detail
        case let .runtime(model, detail): return "\(model): \(detail)"
        case let .wrongKind(model, detail): return "\(model): \(detail)"
        }
    }
}
