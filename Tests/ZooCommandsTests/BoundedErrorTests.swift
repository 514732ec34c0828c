import Foundation
import Testing
import ZIPFoundation
@testable import ZooCommands

/// Item 6 of issue #18: an error message is one line, at most 1,000 characters,
/// names the file, and says how much of a long list it left out, however many or
/// however long the names a hostile file holds.
@Suite struct BoundedErrorTests {
    @Test func aZipOfTenThousandLongMemberNamesGivesOneShortLine() throws {
        let scratch = try Scratch()
        let zip = scratch.url.appendingPathComponent("vectors.zip")
        let archive = try Archive(url: zip, accessMode: .create)
        for i in 0..<10_000 {
            let name = "glove.\(i).\(String(repeating: "d", count: 200)).txt"
            try archive.addEntry(with: name, type: .file, uncompressedSize: Int64(4), provider: { _, _ in Data("a 1\n".utf8) })
        }
        let r = try CLI.run(["convert", zip.path, "-o", scratch.url.appendingPathComponent("v.zoo").path])
        #expect(r.status == 65, "\(r.status): \(r.stderr.prefix(300))")
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1 && r.stderr.count <= 1_020, "\(r.stderr.count) characters")
        #expect(r.stderr.contains(zip.path) && r.stderr.contains("9992 more") && r.stderr.contains("--member"), "\(r.stderr)")
    }

    @Test func aLongMemberNameIsClippedInTheMessage() throws {
        let scratch = try Scratch()
        let zip = scratch.url.appendingPathComponent("one.zip")
        let archive = try Archive(url: zip, accessMode: .create)
        for name in ["a.txt", "b.txt"] {
            try archive.addEntry(with: name, type: .file, uncompressedSize: Int64(4), provider: { _, _ in Data("a 1\n".utf8) })
        }
        let r = try CLI.run(["convert", zip.path, "--member", String(repeating: "m", count: 3000), "-o", scratch.url.appendingPathComponent("v.zoo").path])
        #expect(r.status == 65, "\(r.status)")
        #expect(r.stderr.split(separator: "\n").count == 1 && r.stderr.count < 400, "\(r.stderr.count) characters")
        #expect(r.stderr.contains(zip.path) && r.stderr.contains("m…'") && r.stderr.contains("a.txt, b.txt"), "\(r.stderr)")
    }

    @Test func anOverlongMessageKeepsItsStartAndEndAndSaysWhatWasCut() {
        let message = "/data/model.onnx: node '" + String(repeating: "n", count: 50_000) + "': re-export the model"
        let line = boundedErrorLine(message + "\nsecond line")
        #expect(line.count <= maxErrorLength && !line.contains("\n"))
        #expect(line.hasPrefix("/data/model.onnx: node 'nnn") && line.hasSuffix("re-export the model\\x0asecond line"))
        #expect(line.contains("characters cut]"))
    }
}
