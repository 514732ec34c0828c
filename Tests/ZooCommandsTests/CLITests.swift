import Foundation
import Testing
import ZooCommands

/// Runs the built `zoo` executable the way a user or script would.
struct CLI {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let demo = repoRoot.appendingPathComponent("fixtures/zoo/tiny-mlp.zoo").path

    /// The `zoo` binary next to the test bundle (SwiftPM builds it with the tests).
    static var binary: URL {
        var dir = Bundle.main.bundleURL
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("zoo")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return repoRoot.appendingPathComponent(".build/debug/zoo")
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ args: [String]) throws -> Result {
        let p = Process()
        p.executableURL = binary
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }
}

final class Scratch {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
}

@Suite struct CLITests {
    @Test func inspectShowsCardIOAndTensorTable() throws {
        let r = try CLI.run(["inspect", CLI.demo])
        #expect(r.status == 0)
        for needle in ["tiny-mlp", "sha256:", "x  f32  [N×4]  NC", "fc1.weight", "Gemm ×2"] {
            #expect(r.stdout.contains(needle), "missing \(needle)")
        }
    }

    @Test func inspectJSONIsParseableAndComplete() throws {
        let r = try CLI.run(["inspect", "--json", CLI.demo])
        #expect(r.status == 0)
        let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        #expect((obj?["tensors"] as? [Any])?.count == 4)
        #expect((obj?["digest"] as? String)?.hasPrefix("sha256:") == true)
        #expect((obj?["card"] as? [String: Any])?["name"] as? String == "tiny-mlp")
    }

    @Test func verifyIntactFileExitsZero() throws {
        let r = try CLI.run(["verify", CLI.demo])
        #expect(r.status == 0)
        #expect(r.stdout.hasPrefix("ok  "))
    }

    @Test func verifyDamagedFileExitsWithIntegrityFailureNamingTheTensor() throws {
        let dir = try Scratch()
        var bytes = try Data(contentsOf: URL(fileURLWithPath: CLI.demo))
        bytes[4096 + 200] ^= 0x10   // inside fc2.weight (offset 192, 96 bytes)
        let path = dir.url.appendingPathComponent("damaged.zoo").path
        try bytes.write(to: URL(fileURLWithPath: path))
        let r = try CLI.run(["verify", path])
        #expect(r.status == ZooExitCode.integrityFailure.rawValue)
        #expect(r.stderr.contains("tensor 'fc2.weight'"))
        let j = try CLI.run(["verify", "--json", path])
        #expect(j.status == ZooExitCode.integrityFailure.rawValue)
        #expect(j.stdout.contains("\"intact\" : false"))
    }

    @Test func verifyDamagedHeaderIsAnIntegrityFailure() throws {
        let dir = try Scratch()
        var bytes = try Data(contentsOf: URL(fileURLWithPath: CLI.demo))
        let range = bytes.range(of: Data("tiny-mlp".utf8))!
        bytes[range.lowerBound] = UInt8(ascii: "T")
        let path = dir.url.appendingPathComponent("h.zoo").path
        try bytes.write(to: URL(fileURLWithPath: path))
        let r = try CLI.run(["verify", path])
        #expect(r.status == ZooExitCode.integrityFailure.rawValue)
        #expect(r.stderr.contains("header damaged"))
    }

    @Test func missingFileIsAnInputError() throws {
        let r = try CLI.run(["inspect", "/nonexistent/model.zoo"])
        #expect(r.status == ZooExitCode.inputError.rawValue)
        #expect(r.stderr.hasPrefix("zoo: error: /nonexistent/model.zoo: open failed"))
    }

    @Test func notAZooFileIsAnInputErrorForInspect() throws {
        let r = try CLI.run(["inspect", CLI.repoRoot.appendingPathComponent("Package.swift").path])
        #expect(r.status == ZooExitCode.inputError.rawValue)
        #expect(r.stderr.contains("not a .zoo file"))
    }

    @Test func versionAndHelpReadWell() throws {
        let v = try CLI.run(["--version"])
        #expect(v.status == 0)
        #expect(v.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").count == 3)
        let h = try CLI.run(["--help"])
        #expect(h.stdout.contains("inspect") && h.stdout.contains("verify") && h.stdout.contains("Exit codes"))
    }

    @Test func badUsageExitsWithUsageCode() throws {
        let r = try CLI.run(["verify", "--threads", "0", CLI.demo])
        #expect(r.status == ZooExitCode.usage.rawValue)
    }
}
