import Foundation
import ZIPFoundation
import ZooCore
import ZooFormat

/// Reading and writing the tensors `zoo run` and `zoo parity` exchange with
/// Python: `.npy` (one array) and `.npz` (a zip of named `.npy` arrays, as
/// numpy.savez / savez_compressed write them).
enum TensorFiles {
    /// Largest array accepted from an .npz member (with its declared size, bounds decompression).
    static let maxMemberBytes = 4 << 30

    static func read(_ path: String) throws -> [String: Tensor] {
        if path.lowercased().hasSuffix(".npz") { return try readNPZ(path) }
        return ["": try readNPY(path)]
    }

    static func readNPY(_ path: String) throws -> Tensor {
        do { return try NPY.read(path: path) } catch let e as NPY.Failure {
            throw CLIError(message: e.localizedDescription, code: .inputError)
        } catch let e as ZooCoreError {
            throw CLIError(message: e.localizedDescription, code: .inputError)
        }
    }

    static func readNPZ(_ path: String) throws -> [String: Tensor] {
        let archive: ZipArchive
        do { archive = try ZipArchive(path) } catch let e as ZipArchive.Failure {
            throw CLIError(message: "\(path): \(e.description) (an .npz is a zip file)", code: .inputError)
        }
        var out: [String: Tensor] = [:]
        for entry in archive where entry.isFile {
            guard entry.path.hasSuffix(".npy"), !entry.path.contains("/"), !entry.path.contains("..") else { continue }
            let data: Data
            do { data = try archive.read(entry, limit: maxMemberBytes) } catch let e as ZipArchive.Failure {
                throw CLIError(message: "\(path): \(e.description)", code: .inputError)
            }
            do {
                out[String(entry.path.dropLast(4))] = try NPY.decode(Array(data), path: "\(path):\(entry.path)")
            } catch {
                throw CLIError(message: error.localizedDescription, code: .inputError)
            }
        }
        return out
    }

    /// Writes named `.npy` members as an `.npz` (stored, uncompressed), atomically.
    static func writeNPZ(_ members: [(String, [UInt8])], to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        try? FileManager.default.removeItem(at: tmp)
        TemporaryFiles.register(tmp.path)
        defer { TemporaryFiles.unregister(tmp.path) }
        do {
            let archive = try Archive(url: tmp, accessMode: .create)
            for (name, raw) in members {
                let bytes = Data(raw)
                try archive.addEntry(with: name + ".npy", type: .file, uncompressedSize: Int64(bytes.count), compressionMethod: .none) { position, size in
                    bytes.subdata(in: Int(position)..<(Int(position) + size))
                }
            }
            guard rename(tmp.path, url.path) == 0 else { throw ZooCoreError.io(path: path, operation: "rename", errno: errno) }
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw CLIError(message: "\(path): cannot write: \(error.localizedDescription)", code: .ioError)
        }
    }

    /// Writes one tensor as .npy, or several as .npz (stored, uncompressed).
    static func write(_ tensors: [(String, Tensor)], to path: String) throws {
        if path.lowercased().hasSuffix(".npz") {
            try writeNPZ(tensors.map { ($0.0, NPY.encode($0.1)) }, to: path)
        } else {
            guard tensors.count == 1 else {
                throw CLIError(message: "\(path): \(tensors.count) outputs need an .npz file (or pick one with --output NAME)", code: .usage)
            }
            do { try NPY.write(tensors[0].1, path: path) } catch {
                throw CLIError(message: "\(path): cannot write: \(error.localizedDescription)", code: .ioError)
            }
        }
    }
}
