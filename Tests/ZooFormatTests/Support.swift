import Crypto
import Foundation
@_exported import ZooTestSupport
import ZooCore
@testable import ZooFormat

enum Samples {
    static func bytes(_ n: Int, seed: UInt64) -> [UInt8] {
        var g = SplitMix64(seed: seed)
        return (0..<n).map { _ in UInt8.random(in: 0...255, using: &g) }
    }

    /// A tensor of every dtype plus a scalar and an empty tensor.
    static func everyDType() throws -> Model {
        var tensors: [(name: String, tensor: Tensor)] = []
        for (i, dtype) in DType.allCases.enumerated() {
            let shape = [3, i + 1]
            let n = ShapeMath.byteCount(dtype, shape)!
            tensors.append(("t_\(dtype.rawValue)", try Tensor(dtype: dtype, shape: shape, bytes: bytes(n, seed: UInt64(i)))))
        }
        tensors.append(("scalar", try Tensor(floats: [3.5], shape: [])))
        tensors.append(("empty", try Tensor(dtype: .f32, shape: [0, 4], bytes: [])))
        tensors.append(("vocab", try Tensor(dtype: .bytes, shape: [5], bytes: Array("hello".utf8))))
        let card = ModelCard(name: "every-dtype", task: "test")
        return Model(card: card, graph: Graph(), tensors: tensors)
    }

    /// A two-layer perceptron with a real graph; also the bundled demo model
    /// (fixtures/zoo/tiny-mlp.zoo), so its bytes pin the format.
    static func tinyMLP() throws -> Model {
        var g = SplitMix64(seed: 42)
        func floats(_ n: Int) -> [Float] { (0..<n).map { _ in Float.random(in: -1...1, using: &g) } }
        let w1 = try Tensor(floats: floats(8 * 4), shape: [8, 4])
        let b1 = try Tensor(floats: floats(8), shape: [8])
        let w2 = try Tensor(floats: floats(3 * 8), shape: [3, 8])
        let b2 = try Tensor(floats: floats(3), shape: [3])
        let graph = Graph(
            inputs: [ValueInfo(name: "x", dtype: .f32, shape: [.symbolic("N"), .fixed(4)])],
            outputs: [ValueInfo(name: "probs", dtype: .f32, shape: [.symbolic("N"), .fixed(3)])],
            nodes: [
                Node(name: "fc1", op: "Gemm", inputs: ["x", "fc1.weight", "fc1.bias"], outputs: ["h"], attributes: ["transB": .int(1)]),
                Node(name: "relu", op: "Relu", inputs: ["h"], outputs: ["h_relu"]),
                Node(name: "fc2", op: "Gemm", inputs: ["h_relu", "fc2.weight", "fc2.bias"], outputs: ["logits"], attributes: ["transB": .int(1)]),
                Node(name: "softmax", op: "Softmax", inputs: ["logits"], outputs: ["probs"], attributes: ["axis": .int(-1)]),
            ])
        let card = ModelCard(
            name: "tiny-mlp", family: "mlp", task: "classification",
            source: .init(file: "synthetic", format: "synthetic"),
            framework: .init(name: "zoo-tests"),
            inputs: [.init(name: "x", dtype: .f32, shape: [.symbolic("N"), .fixed(4)], layout: "NC")],
            outputs: [.init(name: "probs", dtype: .f32, shape: [.symbolic("N"), .fixed(3)], layout: "NC")],
            labels: ["setosa", "versicolor", "virginica"], license: "CC0-1.0")
        return Model(card: card, graph: graph,
                     tensors: [("fc1.weight", w1), ("fc1.bias", b1), ("fc2.weight", w2), ("fc2.bias", b2)])
    }
}

enum Paths {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = repoRoot.appendingPathComponent("fixtures")
}

/// Builds a file from a header (with a correct digest) and raw data, so tests
/// can present structurally invalid tables that pass the header hash.
func craft(_ header: FileHeader, data: [UInt8], major: Int = ZooFormatSpec.majorVersion) throws -> [UInt8] {
    let layout = try ZooWriter.assemble(header, major: major)
    var out = layout.preamble + layout.header
    out += [UInt8](repeating: 0, count: layout.dataOffset - out.count)
    return out + data
}

/// The case name of an error ("truncated", "overlap", …) for distinctness checks.
func caseName(_ error: Error) -> String {
    Mirror(reflecting: error).children.first?.label ?? String(describing: error)
}

func openError(_ bytes: [UInt8]) -> ZooFormatError? {
    do {
        _ = try ZooFile(bytes: bytes)
        return nil
    } catch let e as ZooFormatError {
        return e
    } catch {
        return .invalidModel(detail: "unexpected error type: \(error)")
    }
}

/// Reference SHA-256 straight from swift-crypto, independent of the format code.
func sha256Hex(_ bytes: [UInt8]) -> String {
    SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
}

/// The header length a file's preamble declares (bytes 16..<24, little-endian).
func headerLength(of file: [UInt8]) -> Int {
    Int(file.withUnsafeBytes { $0.loadLE(UInt64.self, at: 16) })
}

/// `file` with its header replaced by `header`: length and digest fixed up, data section moved to match.
func rewrap(_ file: [UInt8], header: [UInt8]) throws -> [UInt8] {
    let pre = ZooFormatSpec.preambleSize
    let oldData = ZooFormatSpec.dataOffset(headerLength: headerLength(of: file))!
    var out = Array(file[0..<pre])
    withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.replaceSubrange(16..<24, with: $0) }
    out.replaceSubrange(24..<56, with: Array(SHA256.hash(data: header)))
    out += header
    out += [UInt8](repeating: 0, count: ZooFormatSpec.dataOffset(headerLength: header.count)! - out.count)
    return out + file[oldData...]
}
