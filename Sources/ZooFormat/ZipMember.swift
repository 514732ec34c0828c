import Foundation
import ZIPFoundation
import ZooCore

/// One member of a zip archive (`.keras`, GloVe `.zip`, `.npz`), read in chunks
/// and never past the size its directory entry declares nor the caller's cap:
/// a zip bomb that declares little stops at the first chunk past it, and one
/// that declares its size honestly is refused before anything is inflated.
/// ZIPFoundation checks neither; every zip member zoo reads goes through here.
public enum ZipMember {
    /// Why a member could not be read. `description` names the member and is
    /// written to follow "PATH: " in the caller's own error.
    public struct Failure: Error, CustomStringConvertible {
        public let member: String
        public let description: String
    }

    /// Calls `sink` with each inflated chunk. Errors `sink` throws propagate unchanged.
    public static func stream(_ archive: Archive, _ entry: Entry, limit: Int, bufferSize: Int = 1 << 16,
                              into sink: (Data) throws -> Void) throws {
        let name = MessageText.clip(entry.path)
        guard entry.type == .file else { throw Failure(member: entry.path, description: "member '\(name)' is not a file") }
        guard entry.uncompressedSize <= UInt64(limit) else {
            throw Failure(member: entry.path, description: "member '\(name)' is too large (\(entry.uncompressedSize) bytes; at most \(limit))")
        }
        let declared = Int(entry.uncompressedSize)
        var seen = 0
        var inner: Error?
        do {
            _ = try archive.extract(entry, bufferSize: bufferSize, skipCRC32: false) { chunk in
                seen += chunk.count
                if seen > declared {
                    inner = Failure(member: entry.path, description: "member '\(name)' inflates past the \(declared) bytes it declares (a zip bomb or a damaged archive)")
                    throw inner!
                }
                do { try sink(chunk) } catch { inner = error; throw error }
            }
        } catch {
            if let e = inner { throw e }
            throw Failure(member: entry.path, description: "cannot extract member '\(name)': \(MessageText.clip(String(describing: error), 200))")
        }
    }

    /// The whole member in memory (for small members: configs, metadata, arrays).
    public static func read(_ archive: Archive, _ entry: Entry, limit: Int) throws -> Data {
        var data = Data()
        try stream(archive, entry, limit: limit) { data.append($0) }
        return data
    }
}
