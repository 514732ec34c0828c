import Crypto
import Foundation
import Testing
import ZooCore
@testable import ZooFormat

/// A header that repeats a key in one object could be read two ways under one
/// digest (Foundation keeps one value, other libraries the other); readers refuse it.
@Suite struct DuplicateKeyTests {
    func header(of file: [UInt8]) -> String {
        let n = headerLength(of: file)
        return String(decoding: file[ZooFormatSpec.preambleSize..<(ZooFormatSpec.preambleSize + n)], as: UTF8.self)
    }

    @Test func rewrappedHeaderWithoutChangesStillOpens() throws {
        let file = try ZooWriter.encode(try Samples.tinyMLP())
        #expect(openError(try rewrap(file, header: Array(header(of: file).utf8))) == nil)
    }

    @Test(arguments: [
        ("\"name\":\"tiny-mlp\"", "\"name\":\"tiny-mlp\",\"name\":\"evil\"", "card.name"),
        ("\"name\":\"tiny-mlp\"", "\"name\":\"tiny-mlp\",\"\\u006eame\":\"evil\"", "card.name"),
        ("\"task\":", "\"task\":\"x\",\"task\":", "card.task"),
    ])
    func repeatedKeyIsAMalformedHeaderNamingTheField(original: String, replacement: String, field: String) throws {
        let file = try ZooWriter.encode(try Samples.tinyMLP())
        let text = header(of: file)
        #expect(text.contains(original), "fixture header changed: \(text.prefix(200))")
        let bad = try rewrap(file, header: Array(text.replacingOccurrences(of: original, with: replacement).utf8))
        guard case let .malformedHeader(_, f, detail)? = openError(bad) else {
            Issue.record("accepted or wrong error: \(String(describing: openError(bad)))")
            return
        }
        #expect(f == field)
        #expect(detail.contains("appears twice"))
    }

    @Test func sameKeyInDifferentObjectsIsFine() {
        let json = Array(#"{"a":{"name":1},"b":{"name":2},"c":[{"name":3},{"name":4}]}"#.utf8)
        #expect(json.withUnsafeBytes { JSONKeyCheck.firstDuplicate(in: $0) } == nil)
        let nested = Array(#"{"a":{"x":[1,{"y":"}\"{"}],"x":2}}"#.utf8)
        #expect(nested.withUnsafeBytes { JSONKeyCheck.firstDuplicate(in: $0) } == .init(object: "a", key: "x"))
    }

    @Test func checkerNeverCrashesOnArbitraryBytes() {
        var g = SplitMix64(seed: 7)
        let alphabet = Array(#"{}[]",:\u0123abcdDE 9"#.utf8)
        for _ in 0..<5000 {
            let n = Int.random(in: 0...64, using: &g)
            let bytes = (0..<n).map { _ in Bool.random(using: &g) ? alphabet.randomElement(using: &g)! : UInt8.random(in: 0...255, using: &g) }
            _ = bytes.withUnsafeBytes { JSONKeyCheck.firstDuplicate(in: $0) }
        }
    }
}
