import Foundation
import Testing
import ZooCore
@testable import ZooFormat

/// Each kind of malformed file is refused with its own typed error.
@Suite struct ValidationTests {
    let valid: [UInt8]
    let model: Model

    init() throws {
        model = try Samples.tinyMLP()
        valid = try ZooWriter.encode(model)
    }

    var headerLength: Int { ZooFormatTests.headerLength(of: valid) }

    func setHeaderLength(_ bytes: inout [UInt8], _ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { for (i, b) in $0.enumerated() { bytes[16 + i] = b } }
    }

    /// The file's header and data section, for crafting variants with a valid header digest.
    func parts() throws -> (FileHeader, [UInt8]) {
        let f = try ZooFile(bytes: valid)
        let header = FileHeader(card: f.card, graph: f.graph, tensors: f.entries, dataLength: f.dataLength)
        return (header, Array(valid[f.dataOffset...]))
    }

    @Test func validFileOpens() throws {
        #expect(openError(valid) == nil)
    }

    @Test func truncatedFileIsReportedAsTruncated() {
        for cut in [valid.count - 1, valid.count - 200, 4096 + 10, 127, 0] {
            let e = openError(Array(valid.prefix(cut)))
            #expect(e.map(caseName) == "truncated", "cut at \(cut): \(String(describing: e))")
        }
    }

    @Test func headerLengthThatLiesIsDetected() {
        var shorter = valid
        setHeaderLength(&shorter, UInt64(headerLength - 1))
        #expect(openError(shorter).map(caseName) == "headerLengthMismatch")
        var longer = valid
        setHeaderLength(&longer, UInt64(headerLength + 7))
        #expect(openError(longer).map(caseName) == "headerLengthMismatch")
        var pastEnd = valid
        setHeaderLength(&pastEnd, UInt64(valid.count))
        #expect(openError(pastEnd).map(caseName) == "headerExceedsFile")
    }

    @Test func oversizeHeaderLengthIsRefusedBeforeAllocating() {
        var bytes = valid
        setHeaderLength(&bytes, UInt64.max)
        #expect(openError(bytes).map(caseName) == "headerTooLarge")
        setHeaderLength(&bytes, UInt64(ZooFormatSpec.maxHeaderLength + 1))
        #expect(openError(bytes).map(caseName) == "headerTooLarge")
    }

    @Test func unknownMajorVersionIsRefused() throws {
        var bytes = valid
        bytes[8] = 2
        #expect(openError(bytes) == .unsupportedMajorVersion(path: "<memory>", found: 2, supported: 1))
        let (header, data) = try parts()
        #expect(openError(try craft(header, data: data, major: 7)).map(caseName) == "unsupportedMajorVersion")
    }

    @Test func newerMinorVersionIsStillReadable() {
        var bytes = valid
        bytes[10] = 9
        #expect(openError(bytes) == nil)
    }

    @Test func badMagicIsRefused() {
        var bytes = valid
        bytes[1] = UInt8(ascii: "X")
        #expect(openError(bytes) == .badMagic(path: "<memory>"))
    }

    @Test func trailingBytesAreRefused() {
        #expect(openError(valid + [0]).map(caseName) == "trailingBytes")
        #expect(openError(valid + Samples.bytes(5000, seed: 1)).map(caseName) == "trailingBytes")
    }

    @Test func damagedHeaderFailsTheHeaderDigest() {
        var bytes = valid
        // Flip a bit inside a JSON string so the JSON stays well-formed.
        let text = Array("tiny-mlp".utf8)
        let at = (128..<(128 + headerLength)).first { Array(bytes[$0..<($0 + text.count)]) == text }!
        bytes[at] ^= 0x01
        #expect(openError(bytes).map(caseName) == "headerDigestMismatch")
    }

    @Test func nonZeroHeaderPaddingIsRefused() {
        var bytes = valid
        bytes[128 + headerLength + 5] = 1
        #expect(openError(bytes).map(caseName) == "nonZeroPadding")
    }

    @Test func overlappingTensorsAreRefused() throws {
        var (header, data) = try parts()
        header.tensors[2].offset = header.tensors[1].offset
        #expect(openError(try craft(header, data: data)).map(caseName) == "overlap")
    }

    @Test func outOfBoundsTensorIsRefused() throws {
        var (header, data) = try parts()
        let last = header.tensors.count - 1
        header.tensors[last].shape = [100, 100]
        header.tensors[last].length = 40_000
        #expect(openError(try craft(header, data: data)).map(caseName) == "tensorOutOfBounds")
    }

    @Test func lengthThatDisagreesWithDTypeAndShapeIsRefused() throws {
        var (header, data) = try parts()
        header.tensors[0].dtype = .f64
        let e = openError(try craft(header, data: data))
        #expect(e == .lengthMismatch(path: "<memory>", tensor: "fc1.weight", dtype: .f64, shape: [8, 4], expected: 256, declared: 128))
    }

    @Test func gapBetweenTensorsIsRefused() throws {
        var (header, data) = try parts()
        header.tensors[1].offset += 64
        #expect(openError(try craft(header, data: data)).map(caseName) == "hole")
    }

    @Test func misalignedTensorIsRefused() throws {
        var (header, data) = try parts()
        header.tensors[1].offset += 4
        #expect(openError(try craft(header, data: data)).map(caseName) == "misaligned")
    }

    @Test func dataLengthLargerThanTensorsUseIsRefused() throws {
        var (header, data) = try parts()
        header.dataLength += 64
        #expect(openError(try craft(header, data: data + [UInt8](repeating: 0, count: 64))).map(caseName) == "dataLengthMismatch")
    }

    @Test func negativeDimensionIsRefused() throws {
        var (header, data) = try parts()
        header.tensors[0].shape = [-8, -4]
        #expect(openError(try craft(header, data: data)).map(caseName) == "invalidShape")
    }

    @Test func duplicateTensorNameIsRefused() throws {
        var (header, data) = try parts()
        header.tensors[1].name = header.tensors[0].name
        #expect(openError(try craft(header, data: data)).map(caseName) == "duplicateTensor")
    }

    @Test func unknownDTypeIsReportedByTensorName() throws {
        let (header, data) = try parts()
        var bytes = try craft(header, data: data)
        // Rewrite the first dtype to an unknown name of the same length and fix the digest.
        let hl = headerLength
        var json = String(decoding: bytes[128..<(128 + hl)], as: UTF8.self)
        let table = json.range(of: "\"tensors\":")!
        let first = json.range(of: "\"dtype\":\"f32\"", range: table.upperBound..<json.endIndex)!
        json.replaceSubrange(first, with: "\"dtype\":\"q32\"")
        let jb = Array(json.utf8)
        bytes.replaceSubrange(128..<(128 + hl), with: jb)
        let digest = sha256Hex(jb)
        for i in 0..<32 { bytes[24 + i] = UInt8(digest.dropFirst(2 * i).prefix(2), radix: 16)! }
        let e = openError(bytes)
        #expect(e == .unknownDType(path: "<memory>", tensor: "fc1.weight", dtype: "q32"))
    }

    @Test func malformedJSONIsReportedWithItsField() throws {
        var (header, data) = try parts()
        header.graph.nodes[0].inputs = ["x", "fc1.weight", "missing"]
        let e = openError(try craft(header, data: data))
        #expect(e.map(caseName) == "invalidGraph")
    }
}
