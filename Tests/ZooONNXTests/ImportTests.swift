import Crypto
import Foundation
import Testing
import ZooTestSupport
import ZooCore
import ZooFormat
@testable import ZooONNX

@Suite struct ImportTests {
    /// Every importable fixture converts, uses only IR ops, survives the .zoo
    /// round trip, and its outputs have the names, dtypes and shapes that
    /// onnxruntime produced for the reference run (batch substituted).
    @Test(arguments: Manifest.entries("ok").map(\.name))
    func fixtureConvertsWithOnnxruntimeOutputShapes(name: String) throws {
        let entry = Manifest.shared.models.first { $0.name == name }!
        let model = try ONNXImporter.load(path: Manifest.path(entry.file))
        for n in model.graph.nodes {
            #expect(ShapeInference.canonicalOps.contains(n.op), "\(name): non-IR op \(n.op)")
        }
        // Symbols bound by the reference inputs' actual shapes.
        var bindings: [String: Int] = [:]
        for (io, spec) in zip(entry.inputs ?? [], model.graph.inputs) {
            #expect(io.name == spec.name)
            for (d, actual) in zip(spec.shape, io.shape) {
                if let s = SymDim(d).symbolName { bindings[s] = actual }
            }
        }
        let refOutputs = entry.outputs ?? []
        #expect(model.graph.outputs.map(\.name) == refOutputs.map(\.name), "\(name)")
        for (spec, ref) in zip(model.graph.outputs, refOutputs) {
            // A size with no closed form is a fresh unknown (`?k`); every other one must evaluate to onnxruntime's.
            #expect(spec.shape.count == ref.shape.count, "\(name): output \(ref.name) rank")
            for (d, r) in zip(spec.shape, ref.shape) {
                let s = SymDim(d)
                if let v = s.evaluated(bindings) {
                    #expect(v == r, "\(name): output \(ref.name) \(spec.shape) vs onnxruntime \(ref.shape)")
                } else {
                    #expect(s.symbols.allSatisfy { $0.hasPrefix("?") } && s.symbols.contains { !bindings.keys.contains($0) },
                            "\(name): output \(ref.name) dim \(s) neither evaluates nor is unknown")
                }
            }
            let expected: DType = ref.dtype == "float32" ? .f32 : ref.dtype == "int64" ? .i64 : .u8
            #expect(spec.dtype == expected, "\(name): output \(ref.name) dtype")
        }
        let dir = try TempDir()
        try ZooWriter.write(model, to: URL(fileURLWithPath: dir.path("m.zoo")))
        let f = try ZooFile(path: dir.path("m.zoo"))
        #expect(f.graph == model.graph)
        #expect(f.verify().intact)
        #expect(f.card.framework?.opset == entry.opset)
        #expect(f.card.source?.format == "onnx")
    }

    @Test func conversionIsDeterministic() throws {
        let a = try ZooWriter.encode(try ONNXImporter.load(path: Manifest.path("resnet_bottleneck.onnx")))
        let b = try ZooWriter.encode(try ONNXImporter.load(path: Manifest.path("resnet_bottleneck.onnx")))
        #expect(a == b)
    }

    /// raw_data is carried byte for byte: every imported weight occurs verbatim in the .onnx file.
    @Test func initializerBytesAreCopiedExactly() throws {
        for file in ["vgg_block.onnx", "mobilenetv2_block.onnx", "alexnet_tiny.onnx"] {
            let raw = try Data(contentsOf: URL(fileURLWithPath: Manifest.path(file)))
            let model = try ONNXImporter.load(path: Manifest.path(file))
            #expect(!model.tensors.isEmpty)
            for (name, t) in model.tensors where t.byteCount >= 16 {
                #expect(raw.range(of: Data(t.bytes)) != nil, "\(file): tensor \(name) bytes not found in the source")
            }
        }
    }

    @Test func cardRecordsSourceHashSizeOpsetAndIO() throws {
        let path = Manifest.path("squeezenet_fire.onnx")
        let entry = try #require(Manifest.shared.models.first { $0.name == "squeezenet_fire" })
        let model = try ONNXImporter.load(path: path, options: .init(name: "fire"))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(model.card.name == "fire")
        #expect(model.card.source?.byteSize == bytes.count)
        #expect(model.card.source?.sha256 == SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined())
        #expect(model.card.framework?.opset == entry.opset)
        #expect(model.card.inputs.map(\.name) == ["x"])
        #expect(model.card.inputs.first?.layout == "NCHW")
    }
}

@Suite struct CanonicalFormTests {
    func node(_ m: Model, _ op: String) -> Node? { m.graph.nodes.first { $0.op == op } }

    @Test func shapeSubgraphIsFoldedIntoAStaticReshape() throws {
        let m = try ONNXImporter.load(path: Manifest.path("pytorch_dynamic_flatten.onnx"))
        #expect(!m.graph.nodes.contains { ["Shape", "Gather", "Concat", "Unsqueeze", "Constant"].contains($0.op) })
        let r = try #require(node(m, "Reshape"))
        #expect(r.attributes["shape"] == .ints([0, -1]))
    }

    @Test func sameUpperAndSameLowerBecomeAsymmetricExplicitPads() throws {
        let upper = try #require(node(try ONNXImporter.load(path: Manifest.path("conv_same_upper.onnx")), "Conv"))
        let lower = try #require(node(try ONNXImporter.load(path: Manifest.path("conv_same_lower.onnx")), "Conv"))
        let pu = try #require(upper.attributes["pads"]?.intsValue), pl = try #require(lower.attributes["pads"]?.intsValue)
        #expect(upper.attributes["auto_pad"] == nil)
        // Same total padding per axis; the odd pixel goes to the end for UPPER, the start for LOWER.
        let k = pu.count / 2
        for i in 0..<k {
            #expect(pu[i] + pu[i + k] == pl[i] + pl[i + k])
            #expect(pu[i] <= pu[i + k])
            #expect(pl[i] >= pl[i + k])
        }
    }

    @Test func clipBoundsBecomeAttributesInEveryOpset() throws {
        for file in ["clip_opset7.onnx", "clip_opset11.onnx", "clip_opset13.onnx"] {
            let m = try ONNXImporter.load(path: Manifest.path(file))
            let clips = m.graph.nodes.filter { $0.op == "Clip" }
            #expect(!clips.isEmpty)
            for c in clips {
                #expect(c.inputs.count == 1, "\(file): \(c.name) still has bound inputs")
                #expect(c.attributes.keys.allSatisfy { ["min", "max"].contains($0) })
            }
        }
    }

    @Test func coercedSoftmaxBeforeOpset13FlattensAroundTheAxis() throws {
        let old = try ONNXImporter.load(path: Manifest.path("softmax_opset11.onnx"))
        #expect(old.graph.nodes.map(\.op).contains("Flatten"))
        let new = try ONNXImporter.load(path: Manifest.path("softmax_opset13.onnx"))
        #expect(!new.graph.nodes.map(\.op).contains("Flatten"))
    }

    func entry(_ name: String) throws -> Manifest.Entry {
        try #require(Manifest.shared.models.first { $0.name == name })
    }

    @Test func identityDropoutAndConstantsAreFoldedAway() throws {
        // Every other op of the source survives; Constant, Identity and Dropout do not
        // (an Identity may stay only to give a graph output its name).
        let ic = try entry("identity_constant")
        let m = try ONNXImporter.load(path: Manifest.path(ic.file))
        #expect(Set(m.graph.nodes.map(\.op)) == Set(ic.ops ?? []).subtracting(["Constant", "Identity", "Dropout"]))
        for name in ["dropout_opset7", "dropout_opset13"] {
            let e = try entry(name)
            let d = try ONNXImporter.load(path: Manifest.path(e.file))
            #expect(d.graph.nodes.allSatisfy { $0.op == "Identity" && $0.outputs.allSatisfy(d.graph.outputs.map(\.name).contains) }, "\(name)")
            #expect(d.graph.nodes.count <= (e.outputs?.count ?? 0), "\(name)")
        }
    }

    @Test func splitSizesAreExplicitInEveryOpset() throws {
        // The sizes the importer makes explicit are the ones onnxruntime produced.
        for name in ["split_opset11", "split_opset13", "split_opset18"] {
            let e = try entry(name)
            let ortShapes = Dictionary(uniqueKeysWithValues: (e.outputs ?? []).map { ($0.name, $0.shape) })
            let m = try ONNXImporter.load(path: Manifest.path(e.file))
            let splits = m.graph.nodes.filter { $0.op == "Split" }
            #expect(!splits.isEmpty, "\(name)")
            for s in splits {
                let sizes = try #require(s.attributes["split"]?.intsValue, "\(name): \(s.name) has no split sizes")
                let axis = s.attributes["axis"]?.intValue ?? 0
                #expect(zip(s.outputs, sizes).allSatisfy { ortShapes[$0.0]?[axis] == $0.1 }, "\(name): \(s.name) sizes \(sizes)")
            }
        }
    }

    @Test func sumBecomesAChainOfAdds() throws {
        let m = try ONNXImporter.load(path: Manifest.path("arith_broadcast.onnx"))
        #expect(!m.graph.nodes.contains { $0.op == "Sum" })
    }
}

@Suite struct HostileInputTests {
    func refusal(_ path: String) -> ONNXError? {
        do { _ = try ONNXImporter.load(path: path); return nil } catch let e as ONNXError { return e } catch { return nil }
    }

    func isExternalDataRefusal(_ e: ONNXError?, containing text: String) -> Bool {
        guard case .externalData(_, _, _, let detail)? = e else { return false }
        return detail.contains(text)
    }

    @Test func validExternalDataIsReadFromBesideTheModel() throws {
        let dir = try TempDir()
        let path = try dir.copyFixtures(["external_data.onnx", "external_data.weights.bin"])
        let m = try ONNXImporter.load(path: path)
        let bin = try Data(contentsOf: URL(fileURLWithPath: dir.path("external_data.weights.bin")))
        let w = try #require(m.tensor(named: "conv.weight"))
        #expect(Data(w.bytes) == bin[0..<648])
        let b = try #require(m.tensor(named: "conv.bias"))
        #expect(Data(b.bytes) == bin[704..<728])
    }

    @Test func dotDotLocationIsRefused() throws {
        let dir = try TempDir()
        let path = try dir.copyFixtures(["ext_dotdot.onnx", "external_data.weights.bin"])
        #expect(isExternalDataRefusal(refusal(path), containing: "'..'"))
    }

    @Test func absoluteLocationIsRefused() throws {
        let dir = try TempDir()
        let path = try dir.copyFixtures(["ext_absolute.onnx", "external_data.weights.bin"])
        #expect(isExternalDataRefusal(refusal(path), containing: "absolute"))
    }

    @Test func offsetOrLengthPastTheEndIsRefused() throws {
        let dir = try TempDir()
        let a = try dir.copyFixtures(["ext_offset_past_end.onnx", "ext_length_past_end.onnx", "external_data.weights.bin"])
        #expect(isExternalDataRefusal(refusal(a), containing: "past the end"))
        #expect(isExternalDataRefusal(refusal(dir.path("ext_length_past_end.onnx")), containing: "past the end"))
    }

    @Test func symlinkOutOfTheModelDirectoryIsRefused() throws {
        let dir = try TempDir(), outside = try TempDir()
        let path = try dir.copyFixtures(["ext_symlink.onnx", "external_data.weights.bin"])
        try FileManager.default.copyItem(atPath: Manifest.path("external_data.weights.bin"), toPath: outside.path("secret.bin"))
        try FileManager.default.createSymbolicLink(atPath: dir.path("ext_symlink.bin"), withDestinationPath: outside.path("secret.bin"))
        #expect(isExternalDataRefusal(refusal(path), containing: "outside the model's directory"))
    }

    @Test func symlinkInsideTheModelDirectoryIsAllowed() throws {
        let dir = try TempDir()
        let path = try dir.copyFixtures(["ext_symlink.onnx", "external_data.weights.bin"])
        try FileManager.default.createSymbolicLink(atPath: dir.path("ext_symlink.bin"), withDestinationPath: "external_data.weights.bin")
        #expect(refusal(path) == nil)
    }

    @Test func hardLinkedDataFileIsRefused() throws {
        let dir = try TempDir(), outside = try TempDir()
        let path = try dir.copyFixtures(["external_data.onnx"])
        try FileManager.default.copyItem(atPath: Manifest.path("external_data.weights.bin"), toPath: outside.path("secret.bin"))
        try FileManager.default.linkItem(atPath: outside.path("secret.bin"), toPath: dir.path("external_data.weights.bin"))
        #expect(isExternalDataRefusal(refusal(path), containing: "hard links"))
    }

    @Test func everyUnsupportedOpIsListedWithItsCount() throws {
        let e = refusal(Manifest.path("unsupported_ops.onnx"))
        let expected = try #require(Manifest.shared.models.first { $0.name == "unsupported_ops" }?.unsupported)
        #expect(e == .unsupportedOps(path: Manifest.path("unsupported_ops.onnx"), ops: expected, opset: 13,
                                     firstNodes: ["RandomNormalLike": "RandomNormalLike_1", "RandomUniformLike": "RandomUniformLike_4"]))
        #expect(e?.localizedDescription.hasSuffix("unsupported ops at opset 13: RandomNormalLike ×2 (node 'RandomNormalLike_1'), RandomUniformLike ×1 (node 'RandomUniformLike_4')") == true)
    }

    @Test(arguments: ["garbage.onnx", "truncated.onnx"])
    func malformedFilesGiveTypedErrors(file: String) {
        #expect(refusal(Manifest.path(file)) != nil)
    }

    /// Shape-only ops on constants are folded at import; impossible attributes
    /// there are a typed error naming the node, never an out-of-range trap.
    @Test(arguments: Manifest.entries("invalid").map(\.name))
    func impossibleFoldIsATypedErrorNamingTheNode(name: String) {
        let e = refusal(Manifest.path(name + ".onnx"))
        #expect(e != nil)
        #expect(e?.localizedDescription.contains("\(name).node") == true, "\(String(describing: e?.localizedDescription))")
    }

    /// A weight generated by ConstantOfShape (32 MiB here) stays a run-time fill: the
    /// converted model holds its shape, not the filled tensor.
    @Test func largeConstantFillStaysARunTimeOp() throws {
        let model = try ONNXImporter.load(path: Manifest.path("constantofshape_large_fill.onnx"))
        #expect(model.graph.nodes.contains { $0.op == "ConstantOfShape" })
        #expect(model.tensors.allSatisfy { $0.tensor.byteCount < 1024 }, "\(model.tensors.map { ($0.name, $0.tensor.byteCount) })")
    }

    @Test func missingFileIsAnIOError() {
        guard case .io? = refusal("/nonexistent/model.onnx") else {
            Issue.record("expected an io error")
            return
        }
    }

    /// Seeded mutations of a real model: the importer reports a typed error or
    /// imports something valid, and never crashes.
    @Test func randomMutationsNeverCrashTheImporter() throws {
        let original = Array(try Data(contentsOf: URL(fileURLWithPath: Manifest.path("resnet_bottleneck.onnx"))))
        let dir = try TempDir()
        var rng = SplitMix64(seed: 0xC0FFEE)
        var outcomes: [String: Int] = [:]
        for i in 0..<1500 {
            var bytes = original
            switch i % 4 {
            case 0: for _ in 0..<Int.random(in: 1...4, using: &rng) { bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= UInt8(1 << Int.random(in: 0..<8, using: &rng)) }
            case 1: bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            case 2: bytes.removeLast(Int.random(in: 1..<bytes.count, using: &rng))
            default:
                let a = Int.random(in: 0..<bytes.count, using: &rng)
                bytes.replaceSubrange(a..<min(bytes.count, a + 8), with: (0..<8).map { _ in UInt8.random(in: 0...255, using: &rng) })
            }
            let path = dir.path("m\(i % 8).onnx")
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            do {
                let m = try ONNXImporter.load(path: path)
                try m.graph.validate(initializers: Set(m.tensors.map(\.name)))
                outcomes["imported", default: 0] += 1
            } catch let e as ONNXError {
                outcomes[String(describing: e).prefix { $0 != "(" }.description, default: 0] += 1
            }
        }
        #expect(outcomes.count >= 3, "\(outcomes)")
    }
}
