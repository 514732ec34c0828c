/// Version of the zoo tools; recorded as the converter version in every ModelCard
/// so a file can be traced to the code that wrote it.
public enum ZooVersion {
    public static let string = "0.1.0"
}

/// Model file names.
public enum ModelFileName {
    /// Extensions zoo recognises, longest first (".weights.h5" before ".h5").
    public static let extensions = [".weights.h5", ".keras", ".hdf5", ".h5", ".onnx", ".zoo",
                                    ".bin.gz", ".vec.gz", ".txt.gz", ".bin", ".vec", ".txt", ".zip"]

    /// The file name without directory and model extension: "resnet50.weights.h5" → "resnet50".
    public static func stem(_ path: String) -> String {
        let base = path.split(separator: "/").last.map(String.init) ?? path
        for ext in extensions where base.lowercased().hasSuffix(ext) && base.count > ext.count {
            return String(base.dropLast(ext.count))
        }
        return base
    }
}
