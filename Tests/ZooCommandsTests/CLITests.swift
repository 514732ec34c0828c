import CZooSupport
import Foundation
import Testing
import ZooCommands
import ZooCore

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

    static func run(_ args: [String], env: [String: String] = [:], cwd: String? = nil) throws -> Result {
        let p = Process()
        p.executableURL = binary
        p.arguments = args
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        if !env.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 } }
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
        // One schema: an array with an entry per file, every file checked, the most severe exit code.
        let j = try CLI.run(["verify", "--json", path, dir.url.appendingPathComponent("missing.zoo").path, CLI.demo])
        #expect(j.status == ZooExitCode.integrityFailure.rawValue)
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [[String: Any]], "\(j.stdout)")
        #expect(entries.map { $0["result"] as? String } == ["damaged", "error", "ok"])
        let one = try CLI.run(["verify", "--json", CLI.demo])
        let oneParsed = try JSONSerialization.jsonObject(with: Data(one.stdout.utf8)) as? [[String: Any]]
        #expect(oneParsed?.count == 1)
        let empty = try Scratch()
        let none = try CLI.run(["verify", "--json"], env: ["ZOO_HOME": empty.url.path])
        let noneParsed = try JSONSerialization.jsonObject(with: Data(none.stdout.utf8)) as? [Any]
        #expect(none.status == 0 && noneParsed?.isEmpty == true, "\(none.stdout)")
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

@Suite struct ConvertCLITests {
    static let onnx = CLI.repoRoot.appendingPathComponent("fixtures/onnx")

    @Test func convertWritesAVerifiableModelWithACompleteCard() throws {
        let dir = try Scratch()
        let out = dir.url.appendingPathComponent("r.zoo").path
        let r = try CLI.run(["convert", Self.onnx.appendingPathComponent("resnet_bottleneck.onnx").path, "-o", out, "--name", "resnet-block"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("sha256:"))
        #expect(try CLI.run(["verify", out]).status == 0)
        let info = try CLI.run(["inspect", "--json", out])
        let obj = try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any]
        let card = obj?["card"] as? [String: Any]
        #expect(card?["name"] as? String == "resnet-block")
        let source = card?["source"] as? [String: Any]
        #expect(source?["format"] as? String == "onnx")
        #expect((source?["sha256"] as? String)?.count == 64)
        #expect((card?["framework"] as? [String: Any])?["opset"] as? Int == 9)
    }

    @Test func failedConversionWritesNothingAndExitsWithInputError() throws {
        let dir = try Scratch()
        let out = dir.url.appendingPathComponent("u.zoo").path
        let r = try CLI.run(["convert", Self.onnx.appendingPathComponent("unsupported_ops.onnx").path, "-o", out])
        #expect(r.status == ZooExitCode.inputError.rawValue)
        #expect(r.stderr.contains("unsupported ops at opset 13: RandomNormalLike ×2 (node 'RandomNormalLike_1'), RandomUniformLike ×1 (node 'RandomUniformLike_4')"))
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path).isEmpty)
    }

    @Test func unwritableOutputIsAnIOError() throws {
        let r = try CLI.run(["convert", Self.onnx.appendingPathComponent("vgg_block.onnx").path, "-o", "/nonexistent-dir/v.zoo"])
        #expect(r.status == ZooExitCode.ioError.rawValue)
    }

    /// libhdf5 loops forever on this damaged file; the worker's CPU-time limit turns that into exit 65.
    /// While it spins, the worker's limits are read from /proc: CPU time, and an address space of
    /// 8 GiB (the floor for a small file) so a ballooning libhdf5 fails an allocation instead of
    /// taking the machine.
    @Test func aFileThatMakesHDF5LoopForeverEndsInATypedError() throws {
        let dir = try Scratch()
        let out = dir.url.appendingPathComponent("m.zoo").path
        var limits: String?
        let parent = Process()
        parent.executableURL = CLI.binary
        parent.arguments = ["convert", CLI.repoRoot.appendingPathComponent("fixtures/keras/mutants/hdf5_global_heap_loop.h5").path, "-o", out]
        let err = Pipe()
        parent.standardError = err
        try parent.run()
        for _ in 0..<100 where limits == nil {
            usleep(100_000)
            let children = (try? String(contentsOfFile: "/proc/\(parent.processIdentifier)/task/\(parent.processIdentifier)/children", encoding: .utf8)) ?? ""
            if let child = children.split(separator: " ").first, let text = try? String(contentsOfFile: "/proc/\(child)/limits", encoding: .utf8),
               text.contains("Max cpu time") && !text.contains("Max cpu time              unlimited") {
                limits = text
            }
        }
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        parent.waitUntilExit()
        let r = CLI.Result(status: parent.terminationStatus, stdout: "", stderr: stderr)
        let text = try #require(limits, "the worker's /proc limits were not seen")
        let line = { (name: String) in text.split(separator: "\n").first { $0.hasPrefix(name) }.map(String.init) ?? "" }
        #expect(line("Max cpu time").contains(" 10 ") && line("Max cpu time").contains(" 15 "), "\(line("Max cpu time"))")
        // Sanitizer builds (make test-sanitize) need terabytes of address space for shadow memory.
        if czoo_sanitized() == 0 {
            #expect(line("Max address space").contains("\(8 << 30)"), "\(line("Max address space"))")
        }
        #expect(r.status == ZooExitCode.inputError.rawValue, "\(r.stderr)")
        #expect(r.stderr.contains("CPU-time limit") && r.stderr.contains("hdf5_global_heap_loop.h5"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: dir.url.path)) ?? []).isEmpty)
    }

    /// Mutants the survey found: each is one typed line and exit 65, whatever libhdf5 does.
    @Test(arguments: ["hdf5_close_invalid_free.h5", "control_characters_in_link_name.h5", "failed_read_double_free.h5"])
    func aHostileHDF5FileGivesOneTypedLine(file: String) throws {
        let dir = try Scratch()
        let r = try CLI.run(["convert", CLI.repoRoot.appendingPathComponent("fixtures/keras/mutants/\(file)").path, "-o", dir.url.appendingPathComponent("m.zoo").path])
        #expect(r.status == ZooExitCode.inputError.rawValue, "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1 && r.stderr.hasPrefix("zoo: error: "), "\(r.stderr)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: dir.url.path)) ?? []).isEmpty)
    }

    @Test func unknownSourceFormatIsAnInputError() throws {
        let r = try CLI.run(["convert", CLI.repoRoot.appendingPathComponent("README.md").path])
        #expect(r.status == ZooExitCode.inputError.rawValue)
        #expect(r.stderr.contains("not a model zoo can read") && r.stderr.contains("--format"), "\(r.stderr)")
    }
}

@Suite struct RunAndParityCLITests {
    static let onnx = CLI.repoRoot.appendingPathComponent("fixtures/onnx")
    static func fixture(_ name: String) -> String { onnx.appendingPathComponent(name).path }

    func converted(_ dir: Scratch, _ name: String) throws -> String {
        let out = dir.url.appendingPathComponent("\(name).zoo").path
        let r = try CLI.run(["convert", Self.fixture("\(name).onnx"), "-o", out])
        #expect(r.status == 0, "\(r.stderr)")
        return out
    }

    @Test func runWritesOutputsThatMatchOnnxruntime() throws {
        let dir = try Scratch()
        let model = try converted(dir, "inception_block")
        let y = dir.url.appendingPathComponent("y.npy").path
        let r = try CLI.run(["run", model, "--input", Self.fixture("inception_block.in0.npy"), "-o", y])
        #expect(r.status == 0, "\(r.stderr)")
        let p = try CLI.run(["parity", model, "--input", Self.fixture("inception_block.in0.npy"), "--expect", Self.fixture("inception_block.out0.npy"), "--json"])
        #expect(p.status == 0, "\(p.stderr)")
        #expect(p.stdout.contains("\"passed\" : true"))
        // The file written by run is exactly what parity compared.
        let again = try CLI.run(["parity", model, "--input", Self.fixture("inception_block.in0.npy"), "--expect", y, "--rtol", "0", "--atol", "0"])
        #expect(again.status == 0, "\(again.stderr)")
    }

    @Test func parityFailureExitsWith67() throws {
        let dir = try Scratch()
        let model = try converted(dir, "activations")
        // Compare output 0 of one fixture against a different output of the same model.
        let r = try CLI.run(["parity", model, "--input", Self.fixture("activations.in0.npy"), "--output", "relu",
                             "--expect", Self.fixture("activations.out1.npy")])
        #expect(r.status == ZooExitCode.parityFailure.rawValue, "\(r.stdout) \(r.stderr)")
    }

    @Test func topKPrintsRankedClasses() throws {
        let dir = try Scratch()
        let model = try converted(dir, "alexnet_tiny")
        let r = try CLI.run(["run", model, "--input", Self.fixture("alexnet_tiny.in0.npy"), "--top", "3", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]]
        let top = (obj?.first?["top"] as? [[[String: Any]]])?.first
        #expect(top?.count == 3)
        let scores = top?.compactMap { $0["score"] as? Double } ?? []
        #expect(scores == scores.sorted(by: >))
    }

    @Test func intermediateOutputGoesToNpz() throws {
        let dir = try Scratch()
        let model = try converted(dir, "vgg_block")
        let out = dir.url.appendingPathComponent("features.npz").path
        let r = try CLI.run(["run", model, "--input", Self.fixture("vgg_block.in0.npy"), "--output", "pool1", "--output", "fc", "-o", out])
        #expect(r.status == 0, "\(r.stderr)")
        let check = try CLI.run(["parity", model, "--input", Self.fixture("vgg_block.in0.npy"), "--output", "pool1",
                                 "--expect", Self.fixture("vgg_block.mid.pool1.npy")])
        #expect(check.status == 0, "\(check.stdout) \(check.stderr)")
        #expect(FileManager.default.fileExists(atPath: out))
    }

    @Test func wrongInputShapeIsAnInputErrorNamingTheInput() throws {
        let dir = try Scratch()
        let model = try converted(dir, "vgg_block")
        let r = try CLI.run(["run", model, "--input", Self.fixture("alexnet_tiny.in0.npy")])
        #expect(r.status == ZooExitCode.inputError.rawValue)
        #expect(r.stderr.contains("input '"))
        #expect(r.stderr.contains("the model expects"))
    }
}

@Suite struct KerasCLITests {
    static let keras = CLI.repoRoot.appendingPathComponent("fixtures/keras")

    @Test func kerasWeightsWithArchitectureConvertAndMatchKeras() throws {
        let dir = try Scratch()
        let out = dir.url.appendingPathComponent("r.zoo").path
        let c = try CLI.run(["convert", Self.keras.appendingPathComponent("resnet_block.k2.weights.h5").path,
                             "--arch", Self.keras.appendingPathComponent("resnet_block.k2.json").path, "-o", out])
        #expect(c.status == 0, "\(c.stderr)")
        let p = try CLI.run(["parity", out, "--input", Self.keras.appendingPathComponent("resnet_block.in0.npy").path,
                             "--expect", Self.keras.appendingPathComponent("resnet_block.out0.npy").path])
        #expect(p.status == 0, "\(p.stdout) \(p.stderr)")
        let info = try CLI.run(["inspect", out])
        #expect(info.stdout.contains("NHWC"))
        #expect(info.stdout.contains("keras"))
    }

    /// libhdf5 itself crashes on some damaged files; zoo converts HDF5 in a
    /// child process, so every seeded mutation ends in success or a typed
    /// input error (65) — never a signal — and leaves no partial output.
    @Test func damagedHDF5FilesNeverCrashZoo() throws {
        let dir = try Scratch()
        let source = Array(try Data(contentsOf: Self.keras.appendingPathComponent("vgg_block.k2.h5")))
        var state: UInt64 = 0xBADF11E
        func next() -> Int {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Int(truncatingIfNeeded: (z ^ (z >> 31)) >> 1)
        }
        var outcomes: [Int32: Int] = [:]
        for i in 0..<60 {
            var bytes = source
            for _ in 0..<(1 + next() % 20) { bytes[next() % bytes.count] = UInt8(next() % 256) }
            if i % 5 == 0 { bytes.removeLast(next() % bytes.count) }
            let input = dir.url.appendingPathComponent("m.h5")
            try Data(bytes).write(to: input)
            let out = dir.url.appendingPathComponent("o.zoo").path
            try? FileManager.default.removeItem(atPath: out)
            let r = try CLI.run(["convert", input.path, "-o", out])
            outcomes[r.status, default: 0] += 1
            #expect(r.status == 0 || r.status == ZooExitCode.inputError.rawValue, "mutation \(i): exit \(r.status): \(r.stderr.suffix(300))")
            if r.status != 0 { #expect(!FileManager.default.fileExists(atPath: out)) }
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.url.path).filter { $0.contains(".tmp-") }
            #expect(leftovers.isEmpty, "temporary files left: \(leftovers)")
        }
        #expect(outcomes[ZooExitCode.inputError.rawValue, default: 0] > 0)
    }
}

/// Small things a new user notices.
@Suite struct CLIPolishTests {
    @Test func f16OnAModelIsRefused() throws {
        let dir = try Scratch()
        let r = try CLI.run(["convert", CLI.repoRoot.appendingPathComponent("fixtures/onnx/vgg_block.onnx").path, "--f16", "-o", dir.url.appendingPathComponent("m.zoo").path])
        #expect(r.status == ZooExitCode.inputError.rawValue && r.stderr.contains("--f16"), "\(r.stderr)")
    }

    @Test func aDamagedModelIsAnIntegrityFailureForRunInspectAndVerifyAlike() throws {
        let dir = try Scratch()
        var bytes = try Data(contentsOf: URL(fileURLWithPath: CLI.demo))
        let range = bytes.range(of: Data("tiny-mlp".utf8))!
        bytes[range.lowerBound] = UInt8(ascii: "T")   // the header digest no longer matches
        let path = dir.url.appendingPathComponent("damaged.zoo").path
        try bytes.write(to: URL(fileURLWithPath: path))
        let x = dir.url.appendingPathComponent("x.npy").path
        try Data(NPY.encode(try Tensor(floats: [Float](repeating: 0, count: 4), shape: [1, 4]))).write(to: URL(fileURLWithPath: x))
        for args in [["verify", path], ["inspect", path], ["run", path, "--input", x]] {
            #expect(try CLI.run(args).status == ZooExitCode.integrityFailure.rawValue, "\(args[0])")
        }
    }

    @Test func readOnlyCommandsCreateNothingAndNamesSayWhatIsValid() throws {
        let dir = try Scratch()
        let home = dir.url.appendingPathComponent("never-created")
        let r = try CLI.run(["list"], env: ["ZOO_HOME": home.path])
        #expect(r.status == 0 && !FileManager.default.fileExists(atPath: home.path), "\(r.stderr)")
        let bad = try CLI.run(["pull", CLI.repoRoot.appendingPathComponent("fixtures/onnx/vgg_block.onnx").path, "--name", "Bad Name"], env: ["ZOO_HOME": home.path])
        #expect(bad.status != 0 && bad.stderr.contains("letters, digits"), "\(bad.stderr)")
    }

    @Test func runningAWordVectorModelSaysWhatToUseInstead() throws {
        let dir = try Scratch()
        let out = dir.url.appendingPathComponent("w2v.zoo").path
        #expect(try CLI.run(["convert", CLI.repoRoot.appendingPathComponent("fixtures/embeddings/w2v.bin").path, "-o", out]).status == 0)
        let x = dir.url.appendingPathComponent("x.npy").path
        try Data(NPY.encode(try Tensor(floats: [1], shape: [1]))).write(to: URL(fileURLWithPath: x))
        let r = try CLI.run(["run", out, "--input", x])
        #expect(r.status == ZooExitCode.inputError.rawValue && r.stderr.contains("no inputs"), "\(r.stderr)")
    }
}

@Suite struct HelpTextTests {
    @Test func defaultsAreStatedOnce() throws {
        for cmd in ["run", "parity", "verify"] {
            let h = try CLI.run([cmd, "--help"])
            #expect(!h.stdout.contains("(default: all cores). (default:"), "\(cmd): \(h.stdout)")
        }
    }
}
