import Foundation
import ZooCore

/// SHA-256 of a source file, computed in the background.
///
/// Converters record the source's hash in the model card; hashing a large
/// download takes as long as writing the model, so `zoo convert` starts it
/// first and collects it just before the header is written.
public final class SourceDigest: @unchecked Sendable {
    private let group = DispatchGroup()
    private var hex = ""

    /// Starts hashing an already mapped file (shares its pages: no second copy).
    public init(file: MappedFile) {
        DispatchQueue.global().async(group: group) { [self] in
            hex = Hashing.sha256Hex(file.bytes)
        }
    }

    /// Waits for and returns the lower-case hex SHA-256.
    public func value() throws -> String {
        group.wait()
        return hex
    }
}
