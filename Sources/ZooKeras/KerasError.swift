import Foundation
import ZooCore

/// Why a Keras file could not be imported. Cases name the file and the layer,
/// weight or HDF5 path at fault, and the message says what to do.
public enum KerasError: Error, LocalizedError, Equatable {
    case io(path: String, detail: String)
    case hdf5(path: String, object: String, detail: String)
    case notKeras(path: String, detail: String)
    case refusedLink(path: String, object: String, kind: String)
    case refusedStorage(path: String, dataset: String, kind: String)
    case refusedLayer(path: String, layer: String, className: String, reason: String)
    /// Every layer whose class zoo cannot map, as "name (Class)".
    case unsupportedLayers(path: String, layers: [String])
    case unsupportedForm(path: String, layer: String, detail: String)
    case invalidConfig(path: String, detail: String)
    case missingArchitecture(path: String)
    /// A weights-only file that matches no built-in architecture: the closest and how it differs.
    case unknownArchitecture(path: String, closest: String?, difference: String)
    /// `--arch` names neither a readable file nor a built-in architecture.
    case unknownArchitectureReference(reference: String)
    /// Every missing weight, unused weight and shape mismatch, by layer.
    case weightMismatch(path: String, problems: [String])
    case archive(path: String, detail: String)

    /// How many problems a one-line message lists before "… and N more".
    public static let shownProblems = 10

    /// Every problem of a weight mismatch, for machine-readable output.
    public var problems: [String]? {
        if case .weightMismatch(_, let p) = self { return p }
        return nil
    }

    public var errorDescription: String? {
        switch self {
        case let .io(p, d): return "\(p): \(d)"
        case let .hdf5(p, o, d): return "\(p): HDF5 error at '\(MessageText.clip(o, 200))': \(MessageText.clip(d, 300)); the file is damaged or not an HDF5 file"
        case let .notKeras(p, d): return "\(p): not a Keras model file: \(MessageText.clip(d, 500))"
        case let .refusedLink(p, o, k): return "\(p): refused \(k) at '\(MessageText.clip(o, 200))': Keras files never need one, and following it could read outside the file"
        case let .refusedStorage(p, d, k): return "\(p): refused dataset '\(MessageText.clip(d, 200))': \(k)"
        case let .refusedLayer(p, l, c, r): return "\(p): layer '\(MessageText.clip(l, 200))' (\(MessageText.clip(c, 100))) refused: \(r)"
        case let .unsupportedLayers(p, layers):
            return "\(p): layers of unknown or unsupported classes (zoo maps built-in Keras layers and never runs custom code): \(MessageText.list(layers))"
        case let .unsupportedForm(p, l, d): return "\(p): layer '\(MessageText.clip(l, 200))': unsupported: \(MessageText.clip(d, 400))"
        case let .invalidConfig(p, d): return "\(p): invalid model config: \(MessageText.clip(d, 500))"
        case let .missingArchitecture(p): return "\(p): this file holds weights only; give the architecture with --arch model.json (model.to_json() or config.json) or --arch CATALOG-NAME:VARIANT"
        case let .unknownArchitecture(p, closest, d):
            return "\(p): this file holds weights only and matches no architecture zoo knows (keras.applications)\(closest.map { "; closest: \($0)" } ?? ""): \(d); give the architecture with --arch model.json"
        case let .unknownArchitectureReference(r):
            return "--arch \(r): neither a readable architecture file nor a built-in architecture (e.g. keras-vgg16:notop, keras-mobilenet:top; 'zoo catalog' lists them)"
        case let .weightMismatch(p, problems):
            // The first few problems and the count: a broken file can have thousands.
            let shown = problems.prefix(KerasError.shownProblems).joined(separator: "; ")
            let more = problems.count > KerasError.shownProblems ? "; … and \(problems.count - KerasError.shownProblems) more (--json lists them all)" : ""
            return "\(p): weights do not match the architecture (\(problems.count) problem\(problems.count == 1 ? "" : "s")): \(shown)\(more)"
        case let .archive(p, d): return "\(p): \(d)"
        }
    }
}
