import Foundation
import ZIPFoundation
import ZooCore

/// Reads the `.npz` reference files the fixture generators write (numpy.savez[_compressed]).
public enum NPZ {
    /// Numeric arrays (string arrays are skipped: see `strings`).
    public static func read(_ url: URL) throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (name, data) in try members(url) where !header(data).contains("'<U") && !header(data).contains("'fortran_order': True") {
            out[name] = try NPY.decode(Array(data), path: "\(url.lastPathComponent):\(name)")
        }
        return out
    }

    /// 1-D numpy unicode arrays (`<U n`), e.g. file paths and class names.
    public static func strings(_ url: URL) throws -> [String: [String]] {
        var out: [String: [String]] = [:]
        for (name, data) in try members(url) {
            let h = header(data)
            guard let r = h.range(of: "'<U") else { continue }
            let width = Int(h[r.upperBound...].prefix { $0.isNumber })!
            let bytes = Array(data)
            let start = 10 + Int(bytes[8]) + Int(bytes[9]) << 8
            let count = (bytes.count - start) / (4 * width)
            out[name] = (0..<count).map { i in
                var scalars = String.UnicodeScalarView()
                for k in 0..<width {
                    let o = start + (i * width + k) * 4
                    let v = UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16 | UInt32(bytes[o + 3]) << 24
                    if v == 0 { break }
                    scalars.append(Unicode.Scalar(v)!)
                }
                return String(scalars)
            }
        }
        return out
    }

    static func header(_ data: Data) -> String {
        let b = Array(data.prefix(10))
        guard b.count == 10 else { return "" }
        let n = Int(b[8]) + Int(b[9]) << 8
        return String(decoding: data.dropFirst(10).prefix(n), as: UTF8.self)
    }

    static func members(_ url: URL) throws -> [(String, Data)] {
        let archive = try Archive(url: url, accessMode: .read)
        var out: [(String, Data)] = []
        for entry in archive where entry.type == .file && entry.path.hasSuffix(".npy") {
            var data = Data()
            _ = try archive.extract(entry, skipCRC32: false) { data.append($0) }
            out.append((String(entry.path.dropLast(4)), data))
        }
        return out
    }
}

/// Paths of the vision and transfer-learning fixtures (fixtures/vision).
public enum VisionFixtures {
    public static let directory = Manifest.repoRoot.appendingPathComponent("fixtures/vision")
    public static func url(_ relative: String) -> URL { directory.appendingPathComponent(relative) }
    public static func json(_ relative: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: url(relative))) as! [String: Any]
    }
}
