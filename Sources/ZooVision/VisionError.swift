import Foundation

/// Everything that can go wrong between an image file and a model input.
/// Each case names the file (or the setting) and says what to do.
public enum VisionError: Error, LocalizedError, Equatable {
    /// The file could not be read at all.
    case unreadable(path: String, detail: String)
    /// The bytes are not an image format zoo reads (JPEG, PNG, BMP, GIF).
    case notAnImage(path: String, detail: String)
    /// A real image in a variant zoo does not decode (e.g. a 12-bit JPEG).
    case unsupported(path: String, format: String, detail: String)
    /// The image is damaged or truncated.
    case damaged(path: String, format: String, detail: String)
    /// The declared dimensions exceed the decoder's limit (a decompression bomb, or a bad header).
    case tooLarge(path: String, width: Int, height: Int, limit: Int)
    /// The preprocessing recipe is incomplete or contradictory.
    case invalidPreprocessing(detail: String)
    /// A directory of images could not be used (no images, one class, an empty class, …).
    case invalidDataset(path: String, detail: String)

    public var errorDescription: String? {
        switch self {
        case let .unreadable(path, detail): return "\(path): cannot read the file (\(detail))"
        case let .notAnImage(path, detail): return "\(path): not an image zoo can read (\(detail)); zoo reads JPEG, PNG, BMP and GIF"
        case let .unsupported(path, format, detail): return "\(path): unsupported \(format) (\(detail)); convert it to an 8-bit RGB PNG or JPEG"
        case let .damaged(path, format, detail): return "\(path): damaged \(format) (\(detail)); re-export or remove the file (or pass --skip-bad)"
        case let .tooLarge(path, w, h, limit):
            return "\(path): \(w)×\(h) pixels is over the limit of \(limit) pixels (a decompression bomb or a damaged header); downscale the image first"
        case let .invalidPreprocessing(detail): return "preprocessing: \(detail)"
        case let .invalidDataset(path, detail): return "\(path): \(detail)"
        }
    }
}
