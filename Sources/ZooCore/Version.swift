/// Version of the zoo tools; recorded as the converter version in every ModelCard
/// so a file can be traced to the code that wrote it.
public enum ZooVersion {
    public static let string = "0.1.0"
}
