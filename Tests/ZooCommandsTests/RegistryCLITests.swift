import CZooSupport
import Foundation
import Testing
import ZooCommands
import ZooCore
import ZooFormat

/// `zoo pull` and friends against a private registry ($ZOO_HOME in a temp dir)
/// and the repository's catalog; everything offline.
@Suite struct RegistryCLITests {
    let home: Scratch
    let env: [String: String]
    let catalog = CLI.repoRoot.appendingPathComponent("zoo.json").path

    init() throws {
        home = try Scratch()
        env = ["ZOO_HOME": home.url.path]
    }

    func zoo(_ args: String...) throws -> CLI.Result { try CLI.run(args, env: env) }

    func listed() throws -> [[String: Any]] {
        let r = try zoo("list", "--json")
        return (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]]) ?? []
    }

    func files(_ dir: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: home.url.appendingPathComponent(dir).path)) ?? []
    }

    @Test func pullingABundledModelRegistersAVerifiedModel() throws {
        let r = try zoo("pull", "demo-vgg_block", "--catalog", catalog)
        #expect(r.status == 0, "\(r.stderr)")
        let path = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(FileManager.default.fileExists(atPath: path))
        #expect(try zoo("path", "demo-vgg_block").stdout.trimmingCharacters(in: .whitespacesAndNewlines) == path)
        #expect(try listed().map { $0["name"] as? String } == ["demo-vgg_block"])
        #expect(try zoo("verify").status == 0)
        let parity = try zoo("parity", "demo-vgg_block", "--input", CLI.repoRoot.appendingPathComponent("fixtures/onnx/vgg_block.in0.npy").path,
                             "--expect", CLI.repoRoot.appendingPathComponent("fixtures/onnx/vgg_block.out0.npy").path)
        #expect(parity.status == 0, "\(parity.stdout)")
        // Pulling again reuses the blob and the model.
        #expect(try zoo("pull", "demo-vgg_block", "--catalog", catalog).status == 0)
        #expect(files("blobs/sha256").count == 1 && files("models/sha256").count == 1)
    }

    @Test func aFileWithTheWrongHashIsRejectedAndNothingIsRegistered() throws {
        let wrong = CLI.repoRoot.appendingPathComponent("fixtures/onnx/alexnet_tiny.onnx").path
        let r = try zoo("pull", "demo-vgg_block", "--catalog", catalog, "--from", wrong)
        #expect(r.status == ZooExitCode.integrityFailure.rawValue, "\(r.stderr)")
        #expect(r.stderr.contains("nothing was registered"))
        #expect(try listed().isEmpty)
        #expect(files("blobs/sha256").isEmpty && files("models/sha256").isEmpty && files("tmp").isEmpty)
    }

    @Test func htmlPagesAndGitLFSPointersAreRefused() throws {
        let html = home.url.appendingPathComponent("page.onnx"), lfs = home.url.appendingPathComponent("pointer.onnx")
        try Data("<!DOCTYPE html><html><body>Sign in</body></html>".utf8).write(to: html)
        try Data("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n".utf8).write(to: lfs)
        let a = try zoo("pull", "demo-vgg_block", "--catalog", catalog, "--from", html.path)
        #expect(a.status == ZooExitCode.inputError.rawValue && a.stderr.contains("HTML"), "\(a.stderr)")
        let b = try zoo("pull", "demo-vgg_block", "--catalog", catalog, "--from", lfs.path)
        #expect(b.status == ZooExitCode.inputError.rawValue && b.stderr.contains("Git LFS"), "\(b.stderr)")
        #expect(try listed().isEmpty)
    }

    @Test func offlineModeServesTheCacheOnly() throws {
        let missing = try zoo("pull", "keras-vgg16", "--catalog", catalog, "--offline")
        #expect(missing.status == ZooExitCode.networkFailure.rawValue, "\(missing.stderr)")
        #expect(missing.stderr.contains("offline"))
        #expect(try zoo("pull", "demo-squeezenet_fire", "--catalog", catalog).status == 0)
        try FileManager.default.removeItem(at: home.url.appendingPathComponent("refs"))
        try FileManager.default.createDirectory(at: home.url.appendingPathComponent("refs"), withIntermediateDirectories: true)
        // The blob is cached: offline re-registration works.
        let again = try CLI.run(["pull", "demo-squeezenet_fire", "--catalog", catalog, "--offline"], env: env.merging(["ZOO_OFFLINE": "1"]) { $1 })
        #expect(again.status == 0, "\(again.stderr)")
    }

    @Test func twoConcurrentPullsOfOneModelBothSucceedWithOneBlob() throws {
        func start() throws -> (Process, Pipe) {
            let p = Process()
            p.executableURL = CLI.binary
            p.arguments = ["pull", "demo-inception_block", "--catalog", catalog]
            p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
            let out = Pipe()
            p.standardOutput = out
            p.standardError = out
            try p.run()
            return (p, out)
        }
        let (a, oa) = try start(), (b, ob) = try start()
        let ta = oa.fileHandleForReading.readDataToEndOfFile(), tb = ob.fileHandleForReading.readDataToEndOfFile()
        a.waitUntilExit()
        b.waitUntilExit()
        #expect(a.terminationStatus == 0, "\(String(decoding: ta, as: UTF8.self))")
        #expect(b.terminationStatus == 0, "\(String(decoding: tb, as: UTF8.self))")
        #expect(files("blobs/sha256").count == 1)
        #expect(files("models/sha256").count == 1)
        #expect(files("tmp").isEmpty)
    }

    @Test func removeThenGarbageCollectReclaimsFiles() throws {
        #expect(try zoo("pull", "demo-densenet_block", "--catalog", catalog).status == 0)
        #expect(try zoo("rm", "demo-densenet_block").status == 0)
        #expect(try listed().isEmpty)
        let gc = try zoo("gc", "--json")
        #expect(gc.status == 0)
        #expect(gc.stdout.contains("\"removedBlobs\" : 1") && gc.stdout.contains("\"removedModels\" : 1"), "\(gc.stdout)")
        #expect(try zoo("path", "demo-densenet_block").status == ZooExitCode.inputError.rawValue)
    }

    @Test func aLocalKerasFileCanBePulledAndRunByName() throws {
        let file = CLI.repoRoot.appendingPathComponent("fixtures/keras/resnet_block.keras").path
        #expect(try zoo("pull", file).status == 0)
        let r = try zoo("parity", "resnet_block", "--input", CLI.repoRoot.appendingPathComponent("fixtures/keras/resnet_block.in0.npy").path,
                        "--expect", CLI.repoRoot.appendingPathComponent("fixtures/keras/resnet_block.out0.npy").path)
        #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
    }

    /// A write that fails part-way (here a file-size limit standing in for a
    /// full disk) is a clear I/O error and leaves the registry as it was.
    @Test(.disabled(if: czoo_thread_sanitized() != 0, "ThreadSanitizer's runtime faults (SIGBUS) in any process under ulimit -f 16, even zoo --version"))
    func aFailedWriteIsAnIOErrorAndLeavesTheRegistryUnchanged() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        // 16 blocks of 512 bytes: the 28 KB source cannot be stored.
        p.arguments = ["-c", "ulimit -f 16; exec \"$0\" pull demo-vgg_block --catalog \"$1\"", CLI.binary.path, catalog]
        p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationReason == .exit)
        #expect(p.terminationStatus == ZooExitCode.ioError.rawValue, "\(text)")
        #expect(text.contains("write failed"), "\(text)")
        #expect(try listed().isEmpty)
        #expect(files("blobs/sha256").isEmpty && files("models/sha256").isEmpty && files("tmp").isEmpty)
    }

    /// A store the process cannot write to (an immutable directory: it stops
    /// root too) gives a one-line I/O error naming the path.
    @Test func anUnwritableRegistryIsAClearIOError() throws {
        #expect(try zoo("gc").status == 0)   // creates the layout (read-only commands such as list do not)
        let tmp = home.url.appendingPathComponent("tmp").path
        func chattr(_ flag: String) throws -> Int32 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/chattr")
            p.arguments = [flag, tmp]
            try p.run()
            p.waitUntilExit()
            return p.terminationStatus
        }
        #expect(try chattr("+i") == 0, "chattr is needed to make a directory unwritable for root")
        defer { _ = try? chattr("-i") }
        let r = try zoo("pull", "demo-vgg_block", "--catalog", catalog)
        #expect(r.status == ZooExitCode.ioError.rawValue, "\(r.stderr)")
        #expect(r.stderr.contains(tmp) && r.stderr.contains("not permitted"), "\(r.stderr)")
        #expect(try listed().isEmpty)
    }

    @Test func unknownCatalogNameSuggestsTheClosestNames() throws {
        let r = try zoo("pull", "keras-vgg61", "--catalog", catalog)
        #expect(r.status == ZooExitCode.inputError.rawValue)
        #expect(r.stderr.contains("did you mean") && r.stderr.contains("'keras-vgg16'"), "\(r.stderr)")
        #expect(try listed().isEmpty)
    }

    @Test func convertWithRegisterAddsTheModelToTheRegistry() throws {
        let out = home.url.appendingPathComponent("fire.zoo").path
        let r = try zoo("convert", CLI.repoRoot.appendingPathComponent("fixtures/onnx/squeezenet_fire.onnx").path, "-o", out, "--register", "--name", "fire")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try listed().map { $0["name"] as? String } == ["fire"])
        #expect(try zoo("verify", "fire").status == 0)
    }
}

/// Keras Applications weights through `zoo convert` and `zoo pull` with no architecture file.
@Suite struct KerasApplicationsCLITests {
    static let weights = CLI.repoRoot.appendingPathComponent("fixtures/keras/applications/mobilenet_0_25_notop.h5").path

    @Test func convertRecognisesAnApplicationsWeightsFileAndSaysWhichItIs() throws {
        let dir = try Scratch()
        // No extension, no --arch: recognised by content and by its weights.
        let src = dir.url.appendingPathComponent("downloaded").path
        try FileManager.default.copyItem(atPath: Self.weights, toPath: src)
        let r = try CLI.run(["convert", src, "-o", dir.url.appendingPathComponent("m.zoo").path, "--pooling", "avg"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("recognised keras.applications MobileNet(alpha=0.25)/notop/avg"), "\(r.stdout)")
        let wrong = try CLI.run(["convert", src, "--arch", "keras-nothing:top", "-o", dir.url.appendingPathComponent("x.zoo").path])
        #expect(wrong.status == ZooExitCode.inputError.rawValue && wrong.stderr.contains("keras-nothing:top"), "\(wrong.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.url.appendingPathComponent("x.zoo").path))
    }

    /// A catalog entry's card fields (preprocessing, license, labels) reach the pulled model.
    @Test func pullCarriesTheCatalogsPreprocessingLabelsAndLicense() throws {
        let home = try Scratch()
        let sha = try SourceDigest(file: MappedFile(path: Self.weights)).value()
        let dir = try Scratch()
        try FileManager.default.copyItem(atPath: Self.weights, toPath: dir.url.appendingPathComponent("mobilenet_small_notop").path)
        let catalog = dir.url.appendingPathComponent("catalog.json")
        try Data("""
            {"schema": 1, "models": [{"name": "mobilenet-small", "family": "mobilenet", "task": "image-classification",
              "format": "keras-h5", "license": "Apache-2.0", "labels": "imagenet-1k",
              "preprocessing": {"mode": "tf", "scale": 0.00784313725, "channelOrder": "RGB", "inputSize": [224, 224]},
              "sources": [{"fixture": "mobilenet_small_notop", "sha256": "\(sha)"}]}]}
            """.utf8).write(to: catalog)
        let r = try CLI.run(["pull", "mobilenet-small", "--catalog", catalog.path], env: ["ZOO_HOME": home.url.path])
        #expect(r.status == 0, "\(r.stderr)")
        let info = try CLI.run(["inspect", r.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "--json"])
        let card = (try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any])?["card"] as? [String: Any]
        #expect(card?["license"] as? String == "Apache-2.0")
        #expect((card?["preprocessing"] as? [String: Any])?["mode"] as? String == "tf")
        #expect((card?["metadata"] as? [String: String])?["labels"] == "imagenet-1k")
        #expect((card?["metadata"] as? [String: String])?["keras.application"] == "MobileNet(alpha=0.25)/notop")
    }
}
