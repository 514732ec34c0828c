import Foundation
import Testing
import ZooCore
@testable import ZooFormat

@Suite struct IntegrityTests {
    @Test func flippedBitInAnyTensorIsReportedByName() throws {
        let model = try Samples.everyDType()
        let valid = try ZooWriter.encode(model)
        let f = try ZooFile(bytes: valid)
        for e in f.entries where e.length > 0 {
            for bit in [0, 7] {
                var bytes = valid
                let at = f.dataOffset + e.offset + (e.length - 1) * bit / 7
                bytes[at] ^= UInt8(1 << (bit % 8))
                let damaged = try ZooFile(bytes: bytes)
                let report = damaged.verify()
                #expect(report.damagedTensors == [e.name])
                #expect(!report.intact)
                #expect(throws: ZooFormatError.tensorDigestMismatch(path: "<memory>", tensor: e.name, offset: f.dataOffset + e.offset)) {
                    _ = try damaged.tensor(named: e.name)
                }
            }
        }
    }

    @Test func severalDamagedTensorsAreAllNamed() throws {
        let valid = try ZooWriter.encode(try Samples.tinyMLP())
        let f = try ZooFile(bytes: valid)
        var bytes = valid
        bytes[f.dataOffset + f.entries[0].offset] ^= 0x80
        bytes[f.dataOffset + f.entries[3].offset + 4] ^= 0x01
        let r = try ZooFile(bytes: bytes).verify(threads: 2)
        #expect(r.damagedTensors == ["fc1.weight", "fc2.bias"])
    }

    @Test func nonZeroPaddingBetweenTensorsIsReported() throws {
        let valid = try ZooWriter.encode(try Samples.tinyMLP())
        let f = try ZooFile(bytes: valid)
        var bytes = valid
        let gap = f.dataOffset + f.entries[1].offset + f.entries[1].length   // 32 bytes of bias, then padding
        bytes[gap] = 0xFF
        let r = try ZooFile(bytes: bytes).verify()
        #expect(r.damage == [.init(kind: "padding", name: nil, offset: gap)])
    }

    @Test func lazyVerificationChecksEachTensorOnFirstUse() throws {
        let dir = try TempDir()
        let url = dir.file("m.zoo")
        try ZooWriter.write(try Samples.tinyMLP(), to: url)
        // Damage one tensor after writing: opening does not hash anything, the
        // first use of that tensor does, and verify: false skips the check.
        var bytes = Array(try Data(contentsOf: url))
        let entry = try #require(try ZooFile(bytes: bytes).entries.first { $0.name == "fc2.bias" })
        let at = try ZooFile(bytes: bytes).dataOffset + entry.offset
        bytes[at] ^= 0x01
        try Data(bytes).write(to: url)
        let f = try ZooFile(path: url.path)
        #expect(try f.tensor(named: "fc1.bias").shape == [8])
        #expect(throws: ZooFormatError.self) { _ = try f.tensor(named: "fc2.bias") }
        #expect(try f.tensor(named: "fc2.bias", verify: false).shape == [3])
        #expect(throws: ZooFormatError.tensorNotFound(path: url.path, tensor: "nope")) { _ = try f.tensor(named: "nope") }
    }

    @Test func mappedTensorsOutliveTheirFileObject() throws {
        let dir = try TempDir()
        let url = dir.file("m.zoo")
        let model = try Samples.tinyMLP()
        try ZooWriter.write(model, to: url)
        var tensor: Tensor?
        do { tensor = try ZooFile(path: url.path).tensor(named: "fc1.weight") }
        #expect(Array(tensor!.bytes) == Array(model.tensors[0].tensor.bytes))
    }

    /// 10,000 seeded random mutations: the reader and verifier never crash, and
    /// no mutated file is ever reported intact, except one whose only change is
    /// the minor version (readers accept newer minors by design, FORMAT.md).
    @Test func randomMutationsNeverCrashAndAreNeverReportedIntact() throws {
        let valid = try ZooWriter.encode(try Samples.everyDType())
        var rng = SplitMix64(seed: 0x5EED)
        var outcomes: [String: Int] = [:]
        for _ in 0..<10_000 {
            var bytes = valid
            switch Int.random(in: 0..<7, using: &rng) {
            case 0: // flip one bit anywhere
                let i = Int.random(in: 0..<bytes.count, using: &rng)
                bytes[i] ^= UInt8(1 << Int.random(in: 0..<8, using: &rng))
            case 1: // overwrite a few bytes
                for _ in 0..<Int.random(in: 1...8, using: &rng) {
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
            case 2: // truncate
                bytes.removeLast(Int.random(in: 1...bytes.count, using: &rng))
            case 3: // append garbage
                bytes += (0..<Int.random(in: 1...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            case 4: // mutate the preamble specifically
                let i = Int.random(in: 0..<128, using: &rng)
                bytes[i] = UInt8.random(in: 0...255, using: &rng)
            case 5: // delete a range
                let a = Int.random(in: 0..<bytes.count, using: &rng)
                bytes.removeSubrange(a..<min(bytes.count, a + Int.random(in: 1...64, using: &rng)))
            default: // mutate the header JSON
                let i = Int.random(in: 128..<(128 + 400), using: &rng)
                bytes[i] = UInt8.random(in: 0x20...0x7E, using: &rng)
            }
            if bytes == valid { outcomes["unchanged", default: 0] += 1; continue }
            do {
                let f = try ZooFile(bytes: bytes)
                let r = f.verify(threads: 2)
                if r.intact {
                    let diff = bytes.indices.filter { $0 < valid.count && bytes[$0] != valid[$0] }
                    let onlyMinor = bytes.count == valid.count && diff.allSatisfy { $0 == 10 || $0 == 11 }
                    #expect(onlyMinor, "a mutated file was reported intact (diff at \(diff.prefix(5)))")
                    outcomes["minor version only", default: 0] += 1
                } else {
                    outcomes["damage reported", default: 0] += 1
                }
            } catch let e as ZooFormatError {
                outcomes[caseName(e), default: 0] += 1
            }
        }
        // The mutations must exercise many distinct rejection paths, not one.
        #expect(outcomes.count >= 8, "\(outcomes)")
    }
}
