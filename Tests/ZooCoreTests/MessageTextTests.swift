import Testing
import ZooCore

/// Error messages quote names from files; a file with a million of them, or one
/// name of a megabyte, must still give one short line that says how much is left out.
@Suite struct MessageTextTests {
    @Test func aMillionNamesAreCutToEightAndACount() {
        let names = (0..<1_000_000).map { "layer_\($0)" }
        let text = MessageText.list(names)
        #expect(text.hasPrefix("layer_0, layer_1, "))
        #expect(text.hasSuffix("layer_7, … 999992 more"))
        #expect(text.count < 200)
    }

    @Test func aShortListIsUnchanged() {
        #expect(MessageText.list(["a", "b"]) == "a, b")
        #expect(MessageText.list([String]()) == "")
    }

    @Test func aLongNameIsClippedWithAnEllipsis() {
        let name = String(repeating: "g", count: 1 << 20)
        let clipped = MessageText.clip(name, 200)
        #expect(clipped.count == 201 && clipped.hasSuffix("…"))
        #expect(MessageText.list([name], itemLength: 50).count == 51)
        #expect(MessageText.clip("short") == "short")
    }
}
