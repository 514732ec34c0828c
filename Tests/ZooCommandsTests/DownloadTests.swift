import Foundation
import Testing
import ZooCommands
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
