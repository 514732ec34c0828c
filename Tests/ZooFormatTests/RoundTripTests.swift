import Foundation
import Testing
import ZooCore
@testable import ZooFormat

@Suite struct RoundTripTests {
    @Test func everyDTypeScalarAndEmptyTensorRoundTrip() throws {
        let dir = try TempDir()
        let model = try Samples.everyDType()
        let url = dir.file("m.zoo")
        let result = try ZooWriter.write(model, to: url)
        let f = try ZooFile(path: url.path)
        #expect(f.digest == result.digest)
        #expect(f.card == model.card)
        #expect(f.entries.map(\.name) == model.tensors.map(\.name))
        for (name, original) in model.tensors {
            let t = try f.tensor(named: name)
            #expect(t.dtype == original.dtype, "\(name)")
            #expect(t.shape == original.shape, "\(name)")
            #expect(Array(t.bytes) == Array(original.bytes), "\(name)")
        }
        #expect(try f.tensor(named: "scalar").scalars(as: Float.self) == [3.5])
        #expect(try f.tensor(named: "empty").byteCount == 0)
        #expect(f.verify().intact)
    }

    @Test func tensorsAreAlignedAndDataSectionIsPageAligned() throws {
        let bytes = try ZooWriter.encode(try Samples.everyDType())
        let f = try ZooFile(bytes: bytes)
        #expect(f.dataOffset % 4096 == 0)
        for e in f.entries { #expect(e.offset % 64 == 0, "\(e.name)") }
    }

    @Test func graphAndCardSurviveRoundTrip() throws {
        let model = try Samples.tinyMLP()
        let f = try ZooFile(bytes: try ZooWriter.encode(model))
        #expect(f.graph == model.graph)
        #expect(f.card == model.card)
    }

    @Test func writingTwiceGivesIdenticalBytes() throws {
        let dir = try TempDir()
        let model = try Samples.everyDType()
        try ZooWriter.write(model, to: dir.file("a.zoo"))
        try ZooWriter.write(try Samples.everyDType(), to: dir.file("b.zoo"), threads: 1)
        let a = try Data(contentsOf: dir.file("a.zoo")), b = try Data(contentsOf: dir.file("b.zoo"))
        #expect(a == b)
        #expect(Array(a) == (try ZooWriter.encode(model)))
    }

    /// The committed demo model must be exactly what this writer produces:
    /// a change to the byte layout shows up here before it reaches users.
    /// Regenerate with ZOO_UPDATE_FIXTURES=1 after a deliberate format change.
    @Test func bundledDemoModelMatchesTheWriterByteForByte() throws {
        let url = Paths.fixtures.appendingPathComponent("zoo/tiny-mlp.zoo")
        let encoded = try ZooWriter.encode(try Samples.tinyMLP())
        if ProcessInfo.processInfo.environment["ZOO_UPDATE_FIXTURES"] == "1" {
            try ZooWriter.write(try Samples.tinyMLP(), to: url)
        }
        let committed = try Data(contentsOf: url)
        #expect(Array(committed) == encoded)
    }

    @Test func modelDigestIsTheSHA256OfTheHeaderBytes() throws {
        let bytes = try ZooWriter.encode(try Samples.tinyMLP())
        let f = try ZooFile(bytes: bytes)
        let header = Array(bytes[128..<(128 + headerLength(of: bytes))])
        #expect(f.digest == "sha256:" + sha256Hex(header))
    }

    @Test func changingAnyTensorChangesTheModelDigest() throws {
        var model = try Samples.tinyMLP()
        let before = try ZooFile(bytes: try ZooWriter.encode(model)).digest
        var values = model.tensors[1].tensor.scalars(as: Float.self)
        values[0] += 1
        model.tensors[1].tensor = try Tensor(floats: values, shape: model.tensors[1].tensor.shape)
        let after = try ZooFile(bytes: try ZooWriter.encode(model)).digest
        #expect(before != after)
    }
}

@Suite struct AtomicWriteTests {
    @Test func failedWriteLeavesExistingFileAndNoTempFiles() throws {
        let dir = try TempDir()
        let url = dir.file("m.zoo")
        try ZooWriter.write(try Samples.tinyMLP(), to: url)
        let before = try Data(contentsOf: url)
        var bad = try Samples.tinyMLP()
        bad.tensors.append(("fc1.weight", bad.tensors[0].tensor))
        #expect(throws: ZooFormatError.self) { try ZooWriter.write(bad, to: url) }
        #expect(try Data(contentsOf: url) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path) == ["m.zoo"])
    }

    @Test func writeIntoMissingDirectoryFailsWithIOError() throws {
        let dir = try TempDir()
        let url = dir.url.appendingPathComponent("missing/m.zoo")
        #expect {
            try ZooWriter.write(try Samples.tinyMLP(), to: url)
        } throws: { error in
            guard case .io(_, let op, _) = error as? ZooFormatError else { return false }
            return op == "create"
        }
    }

    @Test func graphReadingAnUndefinedValueIsRefusedBeforeWriting() throws {
        var model = try Samples.tinyMLP()
        model.graph.nodes[1].inputs = ["nowhere"]
        #expect(throws: ZooFormatError.self) { _ = try ZooWriter.encode(model) }
    }
}

