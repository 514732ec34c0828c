import Foundation
import Testing

/// Files that claim far more than they hold (issue #18, deliverable 5), through the
/// command a user would run: each is one typed error line that says what is wrong,
/// and nothing is left at the output path or in the temporary directory.
/// fixtures/bombs/ comes from fixtures/generator/make_zip_bombs.py; the 10 GiB
/// versions and the peak-memory figures are bench/bombs.sh's.
@Suite struct ResourceBombTests {
    static let dir = CLI.repoRoot.appendingPathComponent("fixtures/bombs")

    func convert(_ file: URL, in scratch: Scratch) throws -> CLI.Result {
        let tmp = scratch.url.appendingPathComponent("tmp")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        let out = scratch.url.appendingPathComponent("out.zoo")
        let r = try CLI.run(["convert", file.path, "-o", out.path], env: ["TMPDIR": tmp.path])
        #expect(!FileManager.default.fileExists(atPath: out.path), "\(file.lastPathComponent): output left")
        let left = try FileManager.default.contentsOfDirectory(atPath: tmp.path)
        #expect(left.isEmpty, "\(file.lastPathComponent): left in TMPDIR: \(left)")
        #expect(r.stderr.hasPrefix("zoo: error: ") && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        return r
    }

    @Test(arguments: ["keras_weights_lying.keras", "keras_config_lying.keras", "glove_member_lying.zip"])
    func aMemberThatInflatesPastItsDeclaredSizeIsRefused(_ name: String) throws {
        let scratch = try Scratch()
        let r = try convert(Self.dir.appendingPathComponent(name), in: scratch)
        #expect(r.status == 65)
        #expect(r.stderr.contains(name) && r.stderr.contains("inflates past the") && r.stderr.contains("zip bomb"), "\(r.stderr)")
    }

    @Test func anNPZMemberThatInflatesPastItsDeclaredSizeIsRefused() throws {
        let scratch = try Scratch()
        let out = scratch.url.appendingPathComponent("y.npy")
        let r = try CLI.run(["run", CLI.repoRoot.appendingPathComponent("fixtures/zoo/tiny-mlp.zoo").path,
                             "--input", Self.dir.appendingPathComponent("npz_member_lying.npz").path, "-o", out.path])
        #expect(r.status == 65 && r.stderr.contains("npz_member_lying.npz: member 'x.npy' inflates past the 1024 bytes"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }

    @Test func aMemberDeclaringMoreThanTheCapIsRefusedBeforeInflating() throws {
        let scratch = try Scratch()
        let r = try convert(Self.dir.appendingPathComponent("keras_weights_declared_10g.keras"), in: scratch)
        #expect(r.status == 65)
        #expect(r.stderr.contains("'model.weights.h5' is too large (10737418240 bytes; at most 8589934592)"), "\(r.stderr)")
    }

    /// 500,001 Relu nodes, written as raw protobuf (each NodeProto only its op_type):
    /// refused by count before the graph is built.
    @Test func anONNXGraphWithMoreNodesThanAZooHeaderHoldsIsRefused() throws {
        let scratch = try Scratch()
        var graph = Data()
        let node: [UInt8] = [0x0A, 0x06, 0x22, 0x04] + Array("Relu".utf8)   // GraphProto.node { op_type: "Relu" }
        graph.reserveCapacity(node.count * 500_001)
        for _ in 0..<500_001 { graph.append(contentsOf: node) }
        func varint(_ v: Int) -> [UInt8] {
            var v = v, out: [UInt8] = []
            while v >= 0x80 { out.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
            return out + [UInt8(v)]
        }
        var model = Data([0x08, 0x08])                             // ir_version 8
        model.append(contentsOf: [0x42, 0x02, 0x10, 0x0D])         // opset_import { version: 13 }
        model.append(0x3A); model.append(contentsOf: varint(graph.count)); model.append(graph)   // graph
        let file = scratch.url.appendingPathComponent("many.onnx")
        try model.write(to: file)
        let r = try convert(file, in: scratch)
        #expect(r.status == 65)
        #expect(r.stderr.contains("500001 nodes, more than the 500000"), "\(r.stderr)")
    }
}
