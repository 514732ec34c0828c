import Foundation

/// The ONNX fixture manifest written by fixtures/generator/make_onnx.py,
/// shared by the importer and runtime test targets.
public struct Manifest: Decodable, Sendable {
    public struct IO: Decodable, Sendable {
        public var name: String
        public var file: String
        public var shape: [Int]
        public var dtype: String
    }
    public struct Intermediate: Decodable, Sendable {
        public var name: String
        public var file: String
    }
    public struct Entry: Decodable, Sendable {
        public var name: String
        public var file: String
        public var opset: Int?
        public var ops: [String]?
        public var expect: String
        public var reason: String?
        public var unsupported: [String: Int]?
        public var inputs: [IO]?
        public var outputs: [IO]?
        public var intermediates: [Intermediate]?
        /// Dynamic-shape fixtures: every input size onnxruntime ran the model at (run 0 is `inputs`/`outputs`).
        public var runs: [Run]?
    }
    public struct Run: Decodable, Sendable {
        public var inputs: [IO]
        public var outputs: [IO]
    }
    public var models: [Entry]

    public static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    public static let directory = repoRoot.appendingPathComponent("fixtures/onnx")

    public static let shared: Manifest = {
        let data = try! Data(contentsOf: directory.appendingPathComponent("manifest.json"))
        return try! JSONDecoder().decode(Manifest.self, from: data)
    }()

    public static func entries(_ expect: String) -> [Entry] { shared.models.filter { $0.expect == expect } }
    public static func path(_ file: String) -> String { directory.appendingPathComponent(file).path }
}

/// A fresh temporary directory, removed when released.
public final class TempDir {
    public let url: URL
    public init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    public func file(_ name: String) -> URL { url.appendingPathComponent(name) }
    /// Copies fixture files in, returning the path of the first.
    @discardableResult
    public func copyFixtures(_ names: [String]) throws -> String {
        for n in names { try FileManager.default.copyItem(atPath: Manifest.path(n), toPath: path(n)) }
        return path(names[0])
    }
    deinit { try? FileManager.default.removeItem(at: url) }
}

/// Deterministic pseudo-random numbers (SplitMix64), so every seeded test is reproducible.
public struct SplitMix64: RandomNumberGenerator {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
