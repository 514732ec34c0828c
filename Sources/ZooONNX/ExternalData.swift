import Foundation
import ZooCore
#if canImport(Glibc)
import Glibc
#endif

/// Resolves ONNX external-data references without letting a model read
/// anything outside its own directory (DESIGN.md, "Security").
///
/// A location must be relative, free of `..` and NUL, resolve (after
/// following symlinks) to a regular file inside the model's directory, not be
/// a hard link, and the requested range must lie within the file.
final class ExternalDataResolver {
    let modelPath: String
    private let directory: String
    private var maps: [String: MappedFile] = [:]

    init(modelPath: String) throws {
        self.modelPath = modelPath
        let dir = (modelPath as NSString).deletingLastPathComponent
        guard let real = realpath(dir.isEmpty ? "." : dir, nil) else {
            throw ONNXError.io(path: dir, operation: "realpath", errno: errno)
        }
        directory = String(cString: real)
        free(real)
    }

    /// The bytes of one external tensor, as a view into a mapping of its file.
    func bytes(tensor: String, entries: [String: String], expectedLength: Int) throws -> TensorStorage {
        let location = entries["location"] ?? ""
        func refuse(_ detail: String) -> ONNXError {
            .externalData(path: modelPath, tensor: tensor, location: location, detail: detail)
        }
        guard !location.isEmpty else { throw refuse("no location given") }
        guard !location.hasPrefix("/"), !location.hasPrefix("\\") else { throw refuse("absolute paths are not allowed; the file must sit beside the model") }
        guard !location.contains("\0") else { throw refuse("the path contains a NUL byte") }
        let parts = location.split(whereSeparator: { $0 == "/" || $0 == "\\" })
        guard !parts.contains("..") else { throw refuse("'..' is not allowed; the file must be inside the model's directory") }

        guard let real = realpath(directory + "/" + location, nil) else {
            throw refuse("cannot open it (\(String(cString: strerror(errno))))")
        }
        let resolved = String(cString: real)
        free(real)
        guard resolved.hasPrefix(directory + "/") else {
            throw refuse("it resolves to \(resolved), outside the model's directory \(directory) (symbolic link escape)")
        }
        var st = stat()
        guard stat(resolved, &st) == 0 else { throw refuse("cannot stat it (\(String(cString: strerror(errno))))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw refuse("it is not a regular file") }
        guard st.st_nlink == 1 else { throw refuse("it has \(st.st_nlink) hard links; a hard link can alias a file outside the model's directory — copy the data instead") }

        func number(_ key: String) throws -> Int? {
            guard let s = entries[key] else { return nil }
            guard let v = Int(s), v >= 0 else { throw refuse("\(key) '\(s)' is not a non-negative integer") }
            return v
        }
        let size = Int(st.st_size)
        let offset = try number("offset") ?? 0
        guard offset <= size else { throw refuse("offset \(offset) is past the end of the \(size)-byte file") }
        let length = try number("length") ?? (size - offset)
        let (end, overflow) = offset.addingReportingOverflow(length)
        guard !overflow, end <= size else { throw refuse("offset \(offset) + length \(length) runs past the end of the \(size)-byte file") }
        guard length == expectedLength else { throw refuse("length \(length) does not match the \(expectedLength) bytes its dtype and shape need") }

        let map: MappedFile
        if let m = maps[resolved] {
            map = m
        } else {
            do { map = try MappedFile(path: resolved) } catch { throw refuse("cannot map it: \(error.localizedDescription)") }
            maps[resolved] = map
        }
        guard map.bytes.count >= end else { throw refuse("the file shrank while it was being read") }
        return TensorStorage(viewing: UnsafeRawBufferPointer(rebasing: map.bytes[offset..<end]), owner: map)
    }
}
