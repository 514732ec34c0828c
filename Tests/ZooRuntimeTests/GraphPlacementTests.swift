import Foundation
import Testing
import ZooCore
import ZooONNX
import ZooTestSupport
@testable import ZooRuntime

/// Whole-graph memory placement: producers writing into their Concat's output,
/// and channel slices that are views of their input.
@Suite struct GraphPlacementTests {
    static func ints(_ v: [Int64]) throws -> Tensor {
        try Tensor(dtype: .i64, shape: [v.count], storage: v.withUnsafeBytes { TensorStorage(copying: $0) })
    }

    static func values(_ count: Int, seed: Int) -> [Float] {
        (0..<count).map { Float((($0 &* 2_654_435_761 &+ seed) % 2001) - 1000) / 250 }
    }

    /// An Inception-style block: a 1×1 conv branch and a max-pool branch concatenated on channels.
    static func inceptionBlock() throws -> Model {
        let graph = Graph(inputs: [ValueInfo(name: "x", dtype: .f32, shape: [.symbolic("n"), .fixed(3), .fixed(7), .fixed(9)])],
                          outputs: [ValueInfo(name: "y", dtype: .f32, shape: [.symbolic("n"), .fixed(7), .fixed(7), .fixed(9)])],
                          nodes: [Node(name: "conv", op: "Conv", inputs: ["x", "w", "b"], outputs: ["a"]),
                                  Node(name: "pool", op: "MaxPool", inputs: ["x"], outputs: ["p"],
                                       attributes: ["kernel_shape": .ints([3, 3]), "pads": .ints([1, 1, 1, 1])]),
                                  Node(name: "cat", op: "Concat", inputs: ["a", "p"], outputs: ["y"], attributes: ["axis": .int(1)])])
        return Model(card: ModelCard(name: "block"), graph: graph,
                     tensors: [("w", try Tensor(floats: values(12, seed: 3), shape: [4, 3, 1, 1])), ("b", try Tensor(floats: [1, -1, 0.5, 0], shape: [4]))])
    }

    @Test func concatProducersWriteInPlaceAtBatchOneAndMatchTheCopyingPath() throws {
        let session = try InferenceSession(model: try Self.inceptionBlock(), threads: 2)
        let xs = Self.values(2 * 3 * 7 * 9, seed: 11)
        let pair = try session.run(["x": try Tensor(floats: xs, shape: [2, 3, 7, 9])])["y"]!.scalars(as: Float.self)
        // Batch 2: the slices are not contiguous, the Concat copies.
        #expect(session.plans.first?.plan.placements.isEmpty == true)
        for image in 0..<2 {
            let one = try session.run(["x": try Tensor(floats: Array(xs[(image * 189)..<((image + 1) * 189)]), shape: [1, 3, 7, 9])])["y"]!
            #expect(session.plans.first?.plan.placements.count == 2)
            #expect(one.shape == [1, 7, 7, 9])
            let got = one.scalars(as: Float.self), want = Array(pair[(image * 441)..<((image + 1) * 441)])
            for (u, v) in zip(got, want) { #expect((u - v).magnitude <= 1e-6 * max(1, v.magnitude), "image \(image): \(u) vs \(v)") }
        }
        // A second run reuses the placement without stale data.
        let again = try session.run(["x": try Tensor(floats: Array(xs[0..<189]), shape: [1, 3, 7, 9])])["y"]!.scalars(as: Float.self)
        #expect(zip(again, pair[0..<441]).allSatisfy { ($0 - $1).magnitude <= 1e-6 * max(1, $1.magnitude) })
    }

    /// onnxruntime's outputs for the Inception and SqueezeNet fixtures (batch 2), one image at a
    /// time through zoo with the batch made symbolic, where the branches are written in place.
    @Test(arguments: ["inception_block", "squeezenet_fire"])
    func inPlaceConcatMatchesOnnxruntimeImageByImage(_ name: String) throws {
        let entry = try #require(Manifest.shared.models.first { $0.name == name })
        var model = try ONNXImporter.load(path: Manifest.path(entry.file))
        model.graph.inputs[0].shape[0] = .symbolic("n")
        for i in model.graph.outputs.indices { model.graph.outputs[i].shape[0] = .symbolic("n") }
        let session = try InferenceSession(model: model, threads: 2)
        let x = try NPY.read(path: Manifest.path(try #require(entry.inputs?.first).file))
        let io = try #require(entry.outputs?.first)
        let expected = try NPY.read(path: Manifest.path(io.file))
        let xs = x.scalars(as: Float.self), es = expected.scalars(as: Float.self)
        let perImage = xs.count / x.shape[0], perOutput = es.count / expected.shape[0]
        for image in 0..<x.shape[0] {
            let one = try Tensor(floats: Array(xs[(image * perImage)..<((image + 1) * perImage)]), shape: [1] + Array(x.shape.dropFirst()))
            let got = try #require(try session.run([model.graph.inputs[0].name: one])[io.name])
            #expect(session.plans.first?.plan.placements.isEmpty == false, "\(name): no producer was placed")
            let want = try Tensor(floats: Array(es[(image * perOutput)..<((image + 1) * perOutput)]), shape: [1] + Array(expected.shape.dropFirst()))
            let r = try Parity.compare(got, want, output: io.name)
            #expect(r.passed, "\(name) image \(image): max abs \(r.maxAbsError)")
        }
    }

    @Test func aRequestedBranchOutputIsNotPlacedAndStaysCorrect() throws {
        let session = try InferenceSession(model: try Self.inceptionBlock(), threads: 1, outputs: ["a", "y"])
        let xs = Self.values(189, seed: 5)
        let out = try session.run(["x": try Tensor(floats: xs, shape: [1, 3, 7, 9])])
        #expect(session.plans.first?.plan.placements.count == 1)
        let a = out["a"]!.scalars(as: Float.self), y = out["y"]!.scalars(as: Float.self)
        #expect(Array(y[0..<a.count]) == a)
    }

    @Test func channelSlicesAreViewsAndInPlaceReadersDoNotClobberTheSource() throws {
        // r = Relu(x); s = r[:, 1:3] (a view); t = Neg(s) may run in place only once r is dead; u = r + 1.
        let graph = Graph(inputs: [ValueInfo(name: "x", dtype: .f32, shape: [.fixed(1), .fixed(4), .fixed(2), .fixed(3)])],
                          outputs: [ValueInfo(name: "t", dtype: .f32, shape: [.fixed(1), .fixed(2), .fixed(2), .fixed(3)]),
                                    ValueInfo(name: "u", dtype: .f32, shape: [.fixed(1), .fixed(4), .fixed(2), .fixed(3)]),
                                    ValueInfo(name: "h", dtype: .f32, shape: [.fixed(1), .fixed(2), .fixed(2), .fixed(3)])],
                          nodes: [Node(name: "relu", op: "Relu", inputs: ["x"], outputs: ["r"]),
                                  Node(name: "slice", op: "Slice", inputs: ["r", "starts", "ends", "axes"], outputs: ["s"]),
                                  Node(name: "neg", op: "Neg", inputs: ["s"], outputs: ["t"]),
                                  Node(name: "add", op: "Add", inputs: ["r", "one"], outputs: ["u"]),
                                  Node(name: "split", op: "Split", inputs: ["x"], outputs: ["h", "h2"], attributes: ["axis": .int(1), "num_outputs": .int(2)])])
        let model = Model(card: ModelCard(name: "views"), graph: graph, tensors: [
            ("starts", try Self.ints([1])), ("ends", try Self.ints([3])), ("axes", try Self.ints([1])),
            ("one", try Tensor(floats: [1], shape: [1])),
        ])
        let xs = Self.values(24, seed: 9)
        let out = try InferenceSession(model: model, threads: 1).run(["x": try Tensor(floats: xs, shape: [1, 4, 2, 3])])
        let r = xs.map { max($0, 0) }
        #expect(out["t"]!.scalars(as: Float.self) == r[6..<18].map { -$0 })
        #expect(out["u"]!.scalars(as: Float.self) == r.map { $0 + 1 })
        #expect(out["h"]!.scalars(as: Float.self) == Array(xs[0..<12]))
    }

    @Test func contiguousOffsetAcceptsOnlyOneContiguousRun() {
        #expect(DataKernel.contiguousOffset(shape: [1, 8, 4, 4], starts: [0, 2, 0, 0], steps: [1, 1, 1, 1], outShape: [1, 3, 4, 4]) == 32)
        #expect(DataKernel.contiguousOffset(shape: [2, 8, 4, 4], starts: [0, 2, 0, 0], steps: [1, 1, 1, 1], outShape: [2, 3, 4, 4]) == nil)
        #expect(DataKernel.contiguousOffset(shape: [2, 8, 4, 4], starts: [1, 2, 0, 0], steps: [1, 1, 1, 1], outShape: [1, 3, 4, 4]) == 128 + 32)
        #expect(DataKernel.contiguousOffset(shape: [1, 8, 4, 4], starts: [0, 0, 1, 0], steps: [1, 1, 1, 1], outShape: [1, 8, 2, 4]) == nil)
        #expect(DataKernel.contiguousOffset(shape: [1, 8, 4, 4], starts: [0, 0, 0, 0], steps: [1, 2, 1, 1], outShape: [1, 4, 4, 4]) == nil)
        #expect(DataKernel.contiguousOffset(shape: [1, 8, 4, 4], starts: [0, 5, 2, 0], steps: [1, 1, 1, 1], outShape: [1, 1, 1, 4]) == 80 + 8)
    }
}

/// Keras's ZeroPadding2D before a Conv2D becomes the convolution's own pads.
@Suite struct PadFusionTests {
    @Test func zeroPadBeforeAConvFoldsIntoItsPadsAndMatchesTheUnfoldedGraph() throws {
        let graph = Graph(inputs: [ValueInfo(name: "x", dtype: .f32, shape: [.fixed(1), .fixed(2), .fixed(6), .fixed(5)])],
                          outputs: [ValueInfo(name: "y", dtype: .f32, shape: [.fixed(1), .fixed(3), .fixed(8), .fixed(7)])],
                          nodes: [Node(name: "pad", op: "Pad", inputs: ["x", "pads"], outputs: ["p"]),
                                  Node(name: "conv", op: "Conv", inputs: ["p", "w"], outputs: ["y"], attributes: ["pads": .ints([1, 0, 0, 1])])])
        let model = Model(card: ModelCard(name: "pad"), graph: graph, tensors: [
            ("pads", try GraphPlacementTests.ints([0, 0, 1, 2, 0, 0, 2, 1])),
            ("w", try Tensor(floats: GraphPlacementTests.values(54, seed: 4), shape: [3, 2, 3, 3])),
        ])
        let x = try Tensor(floats: GraphPlacementTests.values(60, seed: 8).map { $0 + 3 }, shape: [1, 2, 6, 5])
        let folded = try InferenceSession(model: model, threads: 1)
        #expect(folded.steps.map(\.node.op) == ["Conv"])
        #expect(try OpAttributes(node: folded.steps[0].node, spec: folded.steps[0].spec).optionalInts("pads") == [2, 2, 2, 2])
        let plain = try InferenceSession(model: model, threads: 1, outputs: ["p", "y"])
        #expect(plain.steps.count == 2)
        let a = try folded.run(["x": x])["y"]!, e = try plain.run(["x": x])["y"]!
        #expect(a.shape == [1, 3, 8, 7] && e.shape == a.shape)
        for (u, v) in zip(a.scalars(as: Float.self), e.scalars(as: Float.self)) { #expect((u - v).magnitude <= 1e-5 * max(1, v.magnitude)) }
    }
}

/// A node that needs more memory than the machine has is refused before anything is allocated.
@Suite struct MemoryLimitTests {
    @Test func aNodeLargerThanTheMemoryLimitIsATypedErrorBeforeAllocation() throws {
        let session = try InferenceSession(model: try GraphPlacementTests.inceptionBlock(), threads: 1)
        session.memoryLimit = 1 << 20
        let x = try Tensor(floats: [Float](repeating: 0.5, count: 3 * 7 * 9 * 1000), shape: [1000, 3, 7, 9])
        #expect(throws: RuntimeError.self) { _ = try session.run(["x": x]) }
        do {
            _ = try session.run(["x": x])
        } catch let e as RuntimeError {
            guard case .insufficientMemory(let node, _, let bytes, let available) = e else { Issue.record("unexpected \(e)"); return }
            #expect(node == "conv" && bytes > available && available == 1 << 20)
            #expect(e.localizedDescription.contains("smaller batch"))
        }
        #expect(session.activationBytes == 0)
        // The same session runs a batch that fits.
        #expect(try session.run(["x": try Tensor(floats: [Float](repeating: 0.5, count: 189), shape: [1, 3, 7, 9])])["y"]?.shape == [1, 7, 7, 9])
    }
}
