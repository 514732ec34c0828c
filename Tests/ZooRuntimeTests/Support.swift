import Foundation
import ZooCore

/// The fixture manifest written by fixtures/generator/make_onnx.py.
struct Manifest: Decodable {
    struct IO: Decodable {
        var name: String
        var file: String
        var shape: [Int]
        var dtype: String
    }
    struct Entry: Decodable {
        var name: String
        var file: String
        var opset: Int?
        var ops: [String]?
        var expect: String
        var reason: String?
        var unsupported: [String: Int]?
        var inputs: [IO]?
        var outputs: [IO]?
        var intermediates: [Intermediate]?
    }
    struct Intermediate: Decodable {
        var name: String
        var file: String
    }
    var models: [Entry]

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("fixtures/onnx")

    static let shared: Manifest = {
        let data = try! Data(contentsOf: directory.appendingPathComponent("manifest.json"))
        return try! JSONDecoder().decode(Manifest.self, from: data)
    }()

    static func entries(_ expect: String) -> [Entry] { shared.models.filter { $0.expect == expect } }
    static func path(_ file: String) -> String { directory.appendingPathComponent(file).path }
}

final class TempDir {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-onnx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    /// Copies fixture files in, returning the path of the first.
    @discardableResult
    func copyFixtures(_ names: [String]) throws -> String {
        for n in names { try FileManager.default.copyItem(atPath: Manifest.path(n), toPath: path(n)) }
        return path(names[0])
    }
    deinit { try? FileManager.default.removeItem(at: url) }
}

struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
