import Foundation
import Testing
import ZooCore

@Suite struct ShapeMathTests {
    @Test func scalarHasOneElementAndEmptyDimensionHasNone() {
        #expect(ShapeMath.elementCount([]) == 1)
        #expect(ShapeMath.elementCount([0, 5]) == 0)
        #expect(ShapeMath.byteCount(.f64, [2, 3]) == 48)
    }

    @Test func negativeOrOverflowingShapesAreRejectedWithoutTrapping() {
        #expect(ShapeMath.elementCount([-1]) == nil)
        #expect(ShapeMath.elementCount([Int.max, 2]) == nil)
        #expect(ShapeMath.elementCount([1 << 30, 1 << 30]) == nil)
        #expect(ShapeMath.byteCount(.i64, [1 << 47, 2]) == (1 << 48) * 8)   // exactly at the element limit
        #expect(ShapeMath.elementCount([1 << 47, 3]) == nil)                 // just past it
        #expect(ShapeMath.alignUp(Int.max, 64) == nil)
        #expect(ShapeMath.alignUp(65, 64) == 128)
    }
}

@Suite struct TensorTests {
    @Test func tensorRefusesBytesThatDisagreeWithItsShape() {
        #expect(throws: ZooCoreError.self) { try Tensor(dtype: .f32, shape: [2, 2], bytes: [UInt8](repeating: 0, count: 15)) }
        #expect(throws: ZooCoreError.self) { try Tensor(dtype: .f32, shape: [-2], bytes: []) }
    }

    @Test func ownedStorageIs64ByteAligned() throws {
        let t = try Tensor(floats: [1, 2, 3], shape: [3])
        #expect(Int(bitPattern: t.bytes.baseAddress) % 64 == 0)
        #expect(t.scalars(as: Float.self) == [1, 2, 3])
    }

    @Test func mappedFileExposesFileBytes() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-map-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data([1, 2, 3, 4]).write(to: url)
        let m = try MappedFile(path: url.path)
        #expect(Array(m.bytes) == [1, 2, 3, 4])
        #expect(throws: ZooCoreError.self) { try MappedFile(path: url.path + ".missing") }
    }
}

@Suite struct GraphTests {
    let graph = Graph(
        inputs: [ValueInfo(name: "x", dtype: .f32, shape: [.symbolic("N"), .fixed(2)])],
        outputs: [ValueInfo(name: "y", dtype: .f32, shape: [.symbolic("N"), .fixed(2)])],
        nodes: [Node(name: "add", op: "Add", inputs: ["x", "b"], outputs: ["y"])])

    @Test func validGraphPasses() throws {
        try graph.validate(initializers: ["b"])
    }

    @Test func readingAMissingValueNamesTheNode() {
        #expect(throws: ZooCoreError.danglingValue(node: "add", value: "b")) { try graph.validate(initializers: []) }
    }

    @Test func valueProducedTwiceIsRefused() {
        var g = graph
        g.nodes.append(Node(name: "again", op: "Relu", inputs: ["x"], outputs: ["y"]))
        #expect(throws: ZooCoreError.duplicateValue(name: "y")) { try g.validate(initializers: ["b"]) }
    }

    @Test func attributesAndSymbolicDimsRoundTripThroughJSON() throws {
        var g = graph
        g.nodes[0].attributes = ["i": .int(3), "is": .ints([1, -2]), "f": .float(0.5), "fs": .floats([1.5]),
                                 "s": .string("SAME_UPPER"), "ss": .strings(["a", "b"])]
        let back = try JSONDecoder().decode(Graph.self, from: try JSONEncoder().encode(g))
        #expect(back == g)
    }
}

/// Shape rules and file formats checked directly rather than through the importers.
@Suite struct ShapeRuleTests {
    func concat(_ a: SymShape, _ b: SymShape) throws -> SymShape {
        let node = Node(name: "cat", op: "Concat", inputs: ["a", "b"], outputs: ["y"], attributes: ["axis": .int(0)])
        return try ShapeInference.outputShapes(of: node, inputs: [a, b])[0]
    }

    @Test func concatAddsSizesSymbolicallyAndRefusesProvablyDifferentOffAxisSizes() throws {
        #expect(try concat([SymDim(2), SymDim(3)], [SymDim(4), SymDim(3)]) == [SymDim(6), SymDim(3)])
        #expect(try concat([SymDim(symbol: "N", coeff: 2), SymDim(3)], [SymDim(symbol: "N"), SymDim(3)]) == [SymDim(symbol: "N", coeff: 3), SymDim(3)])
        #expect(try concat([SymDim(symbol: "N"), SymDim(3)], [SymDim(symbol: "M"), SymDim(3)])[0].description == "M+N")
        #expect(try concat([SymDim(symbol: "N"), SymDim(3)], [SymDim(2), SymDim(3)])[0].description == "N+2")
        #expect(throws: (any Error).self) { _ = try concat([SymDim(1), SymDim(3)], [SymDim(1), SymDim(4)]) }
    }

    @Test func bfloat16NPYHeaderDescribesItsData() throws {
        let t = try Tensor(dtype: .bf16, shape: [2, 3], bytes: [UInt8](repeating: 0x3F, count: 12))
        let header = String(decoding: NPY.encode(t).dropLast(12), as: UTF8.self)
        #expect(header.contains("'descr': '<u2'") && header.contains("'shape': (2, 3)"), "\(header)")
    }

    @Test func bfloat16KeepsNaNAndRoundsHalfToEven() {
        #expect(BFloat16.float(BFloat16.bits(Float(bitPattern: 0x7F80_0001))).isNaN)  // a signalling NaN is not Inf
        #expect(BFloat16.float(BFloat16.bits(Float(bitPattern: 0x7FFF_FFFF))).isNaN)  // and does not wrap to -0
        #expect(BFloat16.bits(.infinity) == 0x7F80)
        #expect(BFloat16.bits(1 + 0x1p-8) == 0x3F80)  // a tie goes to the even 1.0
        #expect(BFloat16.bits(1 + 0x1p-8 + 0x1p-20) == 0x3F81)  // past the tie rounds up
        #expect(BFloat16.float(0x3F81) == 1 + 0x1p-7)
    }
}

@Suite struct TensorStorageTests {
    struct Boom: Error {}
    /// A fill that throws leaves the allocation to deinit (it was freed twice).
    @Test func aThrowingFillFreesItsBufferOnce() {
        for _ in 0..<100 {
            #expect(throws: Boom.self) { _ = try TensorStorage(count: 64) { _ in throw Boom() } }
        }
    }
}

@Suite struct WeightBindingTests {
    /// Every kind of problem is collected in one pass, with stand-ins of the expected shapes.
    @Test func bindingReportsMissingMismatchedExtraAndUnusedWeightsAtOnce() throws {
        var b = WeightBinding()
        let k = try Tensor(floats: [Float](repeating: 1, count: 6), shape: [2, 3])
        let ok = try b.bind(layer: "dense", expected: [("kernel", [2, 3])], found: [("renamed_kernel:0", k)], path: ["dense"])
        #expect(ok[0].shape == [2, 3] && ok[0].scalars(as: Float.self) == k.scalars(as: Float.self))   // positional, names ignored
        let wild = try b.bind(layer: "fc", expected: [("kernel", [WeightBinding.anySize, 3])], found: [("k", k)], path: ["fc"])
        #expect(wild[0].shape == [2, 3])
        #expect(b.problems.isEmpty)
        let bad = try b.bind(layer: "conv", expected: [("kernel", [3, 3]), ("bias", [3])], found: [("k", k)], path: ["conv"])
        #expect(bad.map(\.shape) == [[3, 3], [3]])
        _ = try b.bind(layer: "bn", expected: [("gamma", [3])], found: [("g", try Tensor(floats: [1, 1, 1], shape: [3])), ("extra", k)], path: ["bn"])
        b.reportUnused([["dense"], ["fc"], ["conv"], ["bn"], ["orphan"]])
        #expect(b.problems == [
            .shape(layer: "conv", weight: "kernel", expected: [3, 3], found: [2, 3]),
            .missing(layer: "conv", weight: "bias", shape: [3]),
            .extra(layer: "bn", count: 1, names: ["extra"]),
            .unused(layer: "orphan"),
        ])
        #expect(b.problems[0].description == "layer 'conv': weight 'kernel' has shape [2×3], expected [3×3]")
    }
}
