import Foundation
import Testing
import ZooCommands
import ZooFormat
#if canImport(Glibc)
import Glibc
#endif

/// `zoo pull` over HTTP against a local server that misbehaves on purpose.
@Suite(.serialized) struct DownloadTests {
    let server: TestHTTPServer
    let home: Scratch
    let env: [String: String]
    let body: Data
    let sha: String

    init() throws {
        server = try TestHTTPServer()
        home = try Scratch()
        body = try Data(contentsOf: CLI.repoRoot.appendingPathComponent("fixtures/onnx/vgg_block.onnx"))
        sha = Self.sha256(body)
        env = ["ZOO_HOME": home.url.path, "no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost", "ZOO_HTTP_TIMEOUT": "3"]
    }

    static func sha256(_ d: Data) -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        let inPipe = Pipe(), outPipe = Pipe()
        p.standardInput = inPipe
        p.standardOutput = outPipe
        try? p.run()
        inPipe.fileHandleForWriting.write(d)
        try? inPipe.fileHandleForWriting.close()
        let out = outPipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(String(decoding: out, as: UTF8.self).prefix(64))
    }

    /// A catalog with one entry served by the test server.
    func catalog(path: String = "/m.onnx") throws -> String {
        let json = """
        {"schema": 1, "description": "test", "models": [{"name": "net-model", "format": "onnx",
         "sources": [{"url": "\(server.url(path))", "sha256": "\(sha)", "byteSize": \(body.count)}]}], "embeddings": []}
        """
        let p = home.url.appendingPathComponent("catalog.json")
        try Data(json.utf8).write(to: p)
        return p.path
    }

    func pull(_ cat: String) throws -> CLI.Result { try CLI.run(["pull", "net-model", "--catalog", cat], env: env) }

    /// Starts `zoo pull` in the background with a long HTTP timeout, for a
    /// server set to stall: the pull sits mid-download until killed.
    func startStalledPull(_ cat: String) throws -> Process {
        let p = Process()
        p.executableURL = CLI.binary
        p.arguments = ["pull", "net-model", "--catalog", cat]
        p.environment = ProcessInfo.processInfo.environment.merging(env.merging(["ZOO_HTTP_TIMEOUT": "30"]) { $1 }) { $1 }
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    /// Polls (up to 5 s) until a file in downloads/ holds `bytes`; returns the largest size seen.
    func waitForPartialDownload(bytes: Int) -> Int {
        let downloads = home.url.appendingPathComponent("downloads")
        var size = 0
        for _ in 0..<100 where size < bytes {
            Thread.sleep(forTimeInterval: 0.05)
            let files = (try? FileManager.default.contentsOfDirectory(atPath: downloads.path)) ?? []
            size = files.compactMap { (try? FileManager.default.attributesOfItem(atPath: downloads.appendingPathComponent($0).path)[.size] as? Int) ?? nil }.max() ?? 0
        }
        return size
    }

    func registered() -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: home.url.appendingPathComponent("refs").path)) ?? []
    }

    @Test func downloadVerifiesAndRegisters() throws {
        server.set("/m.onnx", .serve(body))
        let r = try pull(try catalog())
        #expect(r.status == 0, "\(r.stderr)")
        #expect(registered() == ["net-model.json"])
        server.stop()
    }

    @Test func droppedConnectionIsResumedWithRange() throws {
        server.set("/m.onnx", .drop(body, after: body.count / 3, times: 1))
        let r = try pull(try catalog())
        #expect(r.status == 0, "\(r.stderr)")
        #expect(server.requests.contains { $0.range == "bytes=\(body.count / 3)-" }, "\(server.requests)")
        server.stop()
    }

    @Test func wrongBytesAreRejectedAndNothingIsRegistered() throws {
        server.set("/m.onnx", .corrupt(body))
        let r = try pull(try catalog())
        #expect(r.status == ZooExitCode.integrityFailure.rawValue, "\(r.stderr)")
        #expect(r.stderr.contains("SHA-256"))
        #expect(registered().isEmpty)
        // The bad download is not kept for resuming.
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: home.url.appendingPathComponent("downloads").path)) ?? []).isEmpty)
        server.stop()
    }

    @Test func htmlErrorPageIsRefused() throws {
        server.set("/m.onnx", .html)
        let r = try pull(try catalog())
        #expect(r.status == ZooExitCode.inputError.rawValue, "\(r.stderr)")
        #expect(r.stderr.contains("HTML"))
        #expect(registered().isEmpty)
        server.stop()
    }

    @Test func killedPullResumesNextTime() throws {
        server.set("/m.onnx", .stall(body, after: body.count / 2))
        let cat = try catalog()
        let p = try startStalledPull(cat)
        let size = waitForPartialDownload(bytes: body.count / 2)
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(size == body.count / 2)
        #expect(registered().isEmpty)
        server.set("/m.onnx", .serve(body))
        let r = try pull(cat)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(server.requests.contains { $0.range == "bytes=\(body.count / 2)-" }, "\(server.requests)")
        server.stop()
    }

    /// gc holds the store lock exclusively; a pull holds it shared, so gc
    /// waits instead of deleting the pull's partial download under it.
    @Test func gcWaitsForAPullInProgressAndKeepsItsPartialDownload() throws {
        server.set("/m.onnx", .stall(body, after: body.count / 2))
        let cat = try catalog()
        let pull = try startStalledPull(cat)
        #expect(waitForPartialDownload(bytes: body.count / 2) == body.count / 2)
        let downloads = home.url.appendingPathComponent("downloads")
        func partials() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: downloads.path)) ?? []).filter { $0.hasSuffix(".partial") } }
        #expect(partials().count == 1)

        let gc = Process()
        gc.executableURL = CLI.binary
        gc.arguments = ["gc"]
        gc.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
        gc.standardOutput = FileHandle.nullDevice
        try gc.run()
        Thread.sleep(forTimeInterval: 1)
        #expect(gc.isRunning, "gc must wait for the pull")
        #expect(partials().count == 1, "the partial download survives while the pull runs")

        kill(pull.processIdentifier, SIGKILL)
        pull.waitUntilExit()
        gc.waitUntilExit()
        #expect(gc.terminationStatus == 0)
        #expect(partials().isEmpty, "with no pull running, gc drops the partial")
        server.stop()
    }

    @Test func concurrentPullsShareOneDownload() throws {
        server.set("/m.onnx", .serve(body))
        let cat = try catalog()
        func start() throws -> Process {
            let p = Process()
            p.executableURL = CLI.binary
            p.arguments = ["pull", "net-model", "--catalog", cat]
            p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            return p
        }
        let a = try start(), b = try start()
        a.waitUntilExit()
        b.waitUntilExit()
        #expect(a.terminationStatus == 0 && b.terminationStatus == 0)
        #expect(server.requests.filter { $0.path == "/m.onnx" }.count == 1)
        server.stop()
    }

    @Test func unreachableServerIsANetworkFailure() throws {
        server.stop()
        let r = try pull(try catalog())
        #expect(r.status == ZooExitCode.networkFailure.rawValue, "\(r.stderr)")
        #expect(registered().isEmpty)
    }
}

/// Registry correctness a new user ran into (issue: the first hour of a new user).
@Suite(.serialized) struct RegistryCorrectnessTests {
    let server: TestHTTPServer
    let home: Scratch
    let env: [String: String]
    let body: Data

    init() throws {
        server = try TestHTTPServer()
        home = try Scratch()
        body = try Data(contentsOf: CLI.repoRoot.appendingPathComponent("fixtures/onnx/vgg_block.onnx"))
        env = ["ZOO_HOME": home.url.path, "no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost", "ZOO_HTTP_TIMEOUT": "3"]
    }

    func zoo(_ args: String...) throws -> CLI.Result { try CLI.run(args, env: env) }
    func files(_ dir: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: home.url.appendingPathComponent(dir).path)) ?? []
    }

    @Test func anErrorPageIsNeverResumedIntoTheModel() throws {
        server.set("/late.onnx", .notFoundPage)
        let first = try zoo("pull", server.url("/late.onnx"))
        #expect(first.status == ZooExitCode.networkFailure.rawValue, "\(first.stderr)")
        #expect(files("downloads").isEmpty, "the 404 body was kept: \(files("downloads"))")
        server.set("/late.onnx", .serve(body))
        let second = try zoo("pull", server.url("/late.onnx"))
        #expect(second.status == 0, "\(second.stderr)")
        #expect(files("blobs/sha256") == [DownloadTests.sha256(body)])
    }

    @Test func anHTMLPageServedAsABinaryIsRefusedAndNotStored() throws {
        server.set("/page.onnx", .disguisedHTML)
        let r = try zoo("pull", server.url("/page.onnx"))
        #expect(r.status == ZooExitCode.inputError.rawValue && r.stderr.contains("HTML"), "\(r.stderr)")
        #expect(files("blobs/sha256").isEmpty)
    }

    @Test func aURLPulledBeforeComesFromTheCacheAlsoOffline() throws {
        server.set("/m.onnx", .serve(body))
        #expect(try zoo("pull", server.url("/m.onnx")).status == 0)
        let served = server.requests.count
        #expect(try zoo("pull", server.url("/m.onnx")).status == 0)
        let offline = try zoo("pull", server.url("/m.onnx"), "--offline")
        #expect(offline.status == 0, "\(offline.stderr)")
        #expect(server.requests.count == served, "the second and offline pulls downloaded again")
    }

    @Test func pullRepairsADamagedModel() throws {
        let catalog = CLI.repoRoot.appendingPathComponent("zoo.json").path
        #expect(try zoo("pull", "demo-vgg_block", "--catalog", catalog).status == 0)
        let path = try zoo("path", "demo-vgg_block").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count - 10] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: path))
        #expect(try zoo("verify", "demo-vgg_block").status == ZooExitCode.integrityFailure.rawValue)
        #expect(try zoo("pull", "demo-vgg_block", "--catalog", catalog).status == 0)
        #expect(try zoo("verify", "demo-vgg_block").status == 0)
    }

    @Test func aNameIsNotSilentlyRepointedAtAnotherModel() throws {
        let dir = try Scratch()
        let a = dir.url.appendingPathComponent("net.onnx"), b = dir.url.appendingPathComponent("other/net.onnx")
        try FileManager.default.createDirectory(at: b.deletingLastPathComponent(), withIntermediateDirectories: true)
        try body.write(to: a)
        try FileManager.default.copyItem(at: CLI.repoRoot.appendingPathComponent("fixtures/onnx/resnet_bottleneck.onnx"), to: b)
        #expect(try zoo("pull", a.path).status == 0)
        let before = try zoo("path", "net").stdout
        let clash = try zoo("pull", b.path)
        #expect(clash.status == ZooExitCode.inputError.rawValue && clash.stderr.contains("--force") && clash.stderr.contains("net.onnx"), "\(clash.stderr)")
        #expect(try zoo("path", "net").stdout == before)
        #expect(try zoo("pull", a.path).status == 0)   // the same source again is fine
        #expect(try zoo("pull", b.path, "--force").status == 0)
        #expect(try zoo("path", "net").stdout != before)
    }
}

/// `zoo convert` writes only regular files, never over one unasked, and leaves nothing when interrupted.
@Suite struct OutputSafetyTests {
    static let onnx = CLI.repoRoot.appendingPathComponent("fixtures/onnx/vgg_block.onnx").path

    @Test func convertRefusesAnExistingOutputUnlessForcedAndNeverReplacesASpecialFile() throws {
        let dir = try Scratch()
        let out = dir.url.appendingPathComponent("m.zoo").path
        #expect(try CLI.run(["convert", Self.onnx, "-o", out]).status == 0)
        let again = try CLI.run(["convert", Self.onnx, "-o", out])
        #expect(again.status == ZooExitCode.inputError.rawValue && again.stderr.contains("--force"), "\(again.stderr)")
        #expect(try CLI.run(["convert", Self.onnx, "-o", out, "--force"]).status == 0)
        let fifo = dir.url.appendingPathComponent("pipe.zoo").path
        #expect(mkfifo(fifo, 0o644) == 0)
        let f = try CLI.run(["convert", Self.onnx, "-o", fifo, "--force"])
        #expect(f.status == ZooExitCode.inputError.rawValue && f.stderr.contains("FIFO"), "\(f.stderr)")
        var st = stat()
        #expect(lstat(fifo, &st) == 0 && (st.st_mode & S_IFMT) == S_IFIFO)
        // A symlink to a regular file: the file behind it is replaced, the link kept.
        let target = dir.url.appendingPathComponent("real.zoo").path, link = dir.url.appendingPathComponent("link.zoo").path
        try Data("old".utf8).write(to: URL(fileURLWithPath: target))
        #expect(symlink(target, link) == 0)
        #expect(try CLI.run(["convert", Self.onnx, "-o", link, "--force"]).status == 0)
        #expect(lstat(link, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK)
        #expect(try ZooFile(path: target).verify().intact)
    }

    /// A real SIGINT to a `zoo convert` in the middle of writing a large model.
    @Test func anInterruptedConversionLeavesNoTemporaryFile() throws {
        let dir = try Scratch()
        // A word2vec binary large enough to be caught mid-write: 120 000 × 200 floats (96 MB).
        let rows = 120_000, dim = 200
        var data = Data("\(rows) \(dim)\n".utf8)
        // Every component 0.5 (00 00 00 3F): real float bytes, so the file is recognised as binary.
        let vector = Data((0..<dim).flatMap { _ in [UInt8(0), 0, 0, 0x3F] })
        for i in 0..<rows { data.append(Data("w\(i) ".utf8)); data.append(vector) }
        let src = dir.url.appendingPathComponent("big.bin")
        try data.write(to: src)
        let p = Process()
        p.executableURL = CLI.binary
        p.arguments = ["convert", src.path, "-o", dir.url.appendingPathComponent("big.zoo").path]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        var sawTemp = false
        for _ in 0..<400 where !sawTemp {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.url.path)) ?? []
            sawTemp = names.contains { $0.hasPrefix(".big.zoo.tmp-") }
            if !sawTemp { Thread.sleep(forTimeInterval: 0.005) }
        }
        // The writer's temporary must have been seen, or the signal tested nothing.
        #expect(sawTemp, "the temporary file never appeared")
        kill(p.processIdentifier, SIGINT)
        p.waitUntilExit()
        let left = ((try? FileManager.default.contentsOfDirectory(atPath: dir.url.path)) ?? []).filter { $0.hasPrefix(".big.zoo.tmp-") }
        if sawTemp && p.terminationReason == .uncaughtSignal {
            #expect(p.terminationStatus == SIGINT)
            #expect(left.isEmpty, "left behind: \(left)")
            #expect(!FileManager.default.fileExists(atPath: dir.url.appendingPathComponent("big.zoo").path))
        } else {
            // The conversion finished before the signal arrived: nothing half-written either way.
            #expect(left.isEmpty)
        }
    }
}
