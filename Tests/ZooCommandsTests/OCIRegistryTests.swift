import Foundation
import Testing
import ZooCore
import ZooFormat
#if canImport(Glibc)
import Glibc
#endif

/// `zoo push` / `zoo pull oci://` / `zoo export` / `zoo import` against the
/// real distribution registry (Debian docker-registry, started per test on a
/// free loopback port), skopeo, and loopback servers that lie or demand tokens.
@Suite(.serialized) struct OCIRegistryTests {
    /// A private ZOO_HOME, HOME and config directories, so no real credentials are read or written.
    final class Home {
        let scratch: Scratch
        init() throws { scratch = try Scratch() }
        var path: String { scratch.url.path }
        var env: [String: String] {
            ["ZOO_HOME": path + "/zoo", "HOME": path, "XDG_CONFIG_HOME": path + "/config", "DOCKER_CONFIG": path + "/docker",
             "ZOO_REGISTRY_USER": "", "ZOO_REGISTRY_PASSWORD": ""]
        }
        func run(_ args: [String], env extra: [String: String] = [:], stdin: String? = nil) throws -> CLI.Result {
            let p = Process()
            p.executableURL = CLI.binary
            p.arguments = args
            p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }.merging(extra) { $1 }
            let out = Pipe(), err = Pipe(), input = Pipe()
            p.standardOutput = out
            p.standardError = err
            p.standardInput = input
            try p.run()
            if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
            try input.fileHandleForWriting.close()
            let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return CLI.Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
        }
        func json(_ args: [String], env extra: [String: String] = [:]) throws -> [String: Any] {
            let r = try run(args + ["--json"], env: extra)
            guard r.status == 0, let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] else {
                Issue.record("zoo \(args.joined(separator: " ")): exit \(r.status): \(r.stderr)")
                return [:]
            }
            return obj
        }
        func registered() throws -> [String] {
            let r = try run(["list", "--json"])
            return ((try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String }
        }
    }

    static let fixture = CLI.repoRoot.appendingPathComponent("fixtures/onnx").path

    static func requireTools() throws {
        try #require(TestOCIRegistry.available, "docker-registry is missing: run scripts/setup.sh")
    }

    /// A home with demo-resnet_bottleneck pulled; returns its model digest.
    static func seeded() throws -> (Home, String) {
        let h = try Home()
        let m = try h.json(["pull", "demo-resnet_bottleneck"])
        return (h, m["digest"] as? String ?? "")
    }

    @Test func pushThenPullIntoAnEmptyStoreVerifiesAndKeepsParity() throws {
        try Self.requireTools()
        let reg = try TestOCIRegistry()
        let (a, digest) = try Self.seeded()
        let first = try a.json(["push", "demo-resnet_bottleneck", reg.reference("team/resnet:v1")])
        #expect((first["uploaded"] as? [String])?.count == 2)
        // Pushing again uploads nothing; a second repository mounts both blobs.
        let again = try a.json(["push", "demo-resnet_bottleneck", reg.reference("team/resnet:v1")])
        #expect((again["uploaded"] as? [String])?.isEmpty == true && (again["present"] as? [String])?.count == 2)
        #expect(again["manifestDigest"] as? String == first["manifestDigest"] as? String, "the same model gives the same manifest")
        let mount = try a.json(["push", "demo-resnet_bottleneck", reg.reference("other/resnet:v2")])
        #expect((mount["mounted"] as? [String])?.count == 2 && (mount["uploaded"] as? [String])?.isEmpty == true)

        let b = try Home()
        let pulled = try b.json(["pull", reg.reference("team/resnet:v1")])
        #expect(pulled["name"] as? String == "resnet:v1" && pulled["digest"] as? String == digest)
        #expect(try b.run(["verify", "resnet:v1"]).status == 0)
        let parity = try b.run(["parity", "resnet:v1", "--input", Self.fixture + "/resnet_bottleneck.in0.npy", "--expect", Self.fixture + "/resnet_bottleneck.out0.npy"])
        #expect(parity.status == 0, "\(parity.stdout) \(parity.stderr)")
        // By digest, and from the mounted repository.
        let manifestDigest = first["manifestDigest"] as? String ?? ""
        let byDigest = try b.json(["pull", reg.reference("team/resnet@\(manifestDigest)"), "--name", "pinned"])
        #expect(byDigest["digest"] as? String == digest)
        #expect(try b.json(["pull", reg.reference("other/resnet:v2")])["digest"] as? String == digest)
        #expect(Set(try b.registered()) == ["resnet:v1", "pinned", "resnet:v2"])

        let tags = try b.run(["list", "--remote", reg.reference("team/resnet")])
        #expect(tags.status == 0 && tags.stdout.split(separator: "\n") == ["v1"])
        let c = try Home()
        let info = try c.run(["info", reg.reference("team/resnet:v1")])
        #expect(info.status == 0 && info.stdout.contains("demo-resnet_bottleneck") && info.stdout.contains(digest))
        #expect(try c.registered().isEmpty, "info downloads and registers nothing")
    }

    @Test func wordVectorsAndFittedModelsTravelTheSameWayAsNetworks() throws {
        try Self.requireTools()
        let reg = try TestOCIRegistry()
        let a = try Home()
        let glove = CLI.repoRoot.appendingPathComponent("fixtures/embeddings/glove.txt").path
        let converted = try a.json(["pull", glove, "--name", "glove"])
        #expect(try a.run(["push", "glove", reg.reference("vectors/glove:6b")]).status == 0)
        let b = try Home()
        #expect(try b.json(["pull", reg.reference("vectors/glove:6b")])["digest"] as? String == converted["digest"] as? String)
        let here = try a.run(["similar", "glove", "oecunqnw"]), there = try b.run(["similar", "glove:6b", "oecunqnw"])
        #expect(here.status == 0 && here.stdout == there.stdout && !here.stdout.isEmpty)

        // A model zoo fit trained (its own source), with its labels and lineage.
        let backbone = a.path + "/backbone.zoo"
        #expect(try a.run(["convert", TransferCLITests.path("backbone.keras"), "-o", backbone, "--preprocess", "tf", "--size", "64,64"]).status == 0)
        let fit = try a.run(["fit", backbone, TransferCLITests.path("demo/train"), "--name", "shapes", "--epochs", "5"])
        #expect(fit.status == 0, "\(fit.stderr)")
        #expect(try a.run(["push", "shapes", reg.reference("heads/shapes:v1")]).status == 0)
        let pulled = try b.json(["pull", reg.reference("heads/shapes:v1")])
        #expect(pulled["digest"] as? String == (try a.json(["info", "shapes"])["manifest"] as? [String: Any])?["digest"] as? String)
        let image = TransferCLITests.path("demo/val/circles")
        let first = try FileManager.default.contentsOfDirectory(atPath: image).sorted().first ?? ""
        let mine = try a.run(["classify", "shapes", image + "/" + first]), theirs = try b.run(["classify", "shapes:v1", image + "/" + first])
        #expect(mine.status == 0 && mine.stdout == theirs.stdout, "\(mine.stderr) \(theirs.stderr)")
    }

    @Test func skopeoSeesZoosManifestAndCopiesAnExportedLayoutThatPullsBackTheSameModel() throws {
        try Self.requireTools()
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/skopeo"), "skopeo is missing: run scripts/setup.sh")
        let reg = try TestOCIRegistry()
        let (a, digest) = try Self.seeded()
        _ = try a.json(["push", "demo-resnet_bottleneck", reg.reference("team/resnet:v1")])
        let raw = try Self.skopeo(["inspect", "--raw", "--tls-verify=false", "docker://\(reg.host)/team/resnet:v1"])
        let manifest = try JSONSerialization.jsonObject(with: Data(raw.utf8)) as? [String: Any]
        #expect(manifest?["artifactType"] as? String == "application/vnd.zoo.model.v1")
        #expect((manifest?["config"] as? [String: Any])?["mediaType"] as? String == "application/vnd.zoo.model.card.v1+json")

        let layout = a.path + "/layout"
        let exported = try a.run(["export", "demo-resnet_bottleneck", layout, "--tag", "v3"])
        #expect(exported.status == 0, "\(exported.stderr)")
        for f in ["oci-layout", "index.json", "blobs/sha256"] { #expect(FileManager.default.fileExists(atPath: "\(layout)/\(f)")) }
        _ = try Self.skopeo(["copy", "--dest-tls-verify=false", "oci:\(layout):v3", "docker://\(reg.host)/copied/resnet:v3"])
        let b = try Home()
        #expect(try b.json(["pull", reg.reference("copied/resnet:v3")])["digest"] as? String == digest)
        // And straight from the layout, with no registry.
        let c = try Home()
        let imported = try c.json(["import", layout])
        #expect(imported["digest"] as? String == digest && imported["name"] as? String == "demo-resnet_bottleneck:v3")
        #expect(try c.run(["verify", "demo-resnet_bottleneck:v3"]).status == 0)
    }

    static func skopeo(_ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/skopeo")
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "skopeo \(args.joined(separator: " ")): \(String(decoding: e, as: UTF8.self))")
        return String(decoding: o, as: UTF8.self)
    }

    @Test func basicAuthNeedsTheRightPasswordFromLoginEnvironmentOrDockerConfig() throws {
        try Self.requireTools()
        let password = "s3cret-Pa55"
        let reg = try TestOCIRegistry(users: ["alice": password])
        let (a, digest) = try Self.seeded()
        let anonymous = try a.run(["push", "demo-resnet_bottleneck", reg.reference("team/resnet:v1")])
        #expect(anonymous.status == 77 && anonymous.stderr.contains("zoo login"), "\(anonymous.status) \(anonymous.stderr)")
        let wrong = try a.run(["push", "demo-resnet_bottleneck", reg.reference("team/resnet:v1")],
                              env: ["ZOO_REGISTRY_USER": "alice", "ZOO_REGISTRY_PASSWORD": "not-it-\(password)"])
        #expect(wrong.status == 77 && wrong.stderr.contains("rejected") && !wrong.stderr.contains(password), "\(wrong.stderr)")
        let badLogin = try a.run(["login", reg.host, "-u", "alice", "--password-stdin"], stdin: "guess\n")
        #expect(badLogin.status == 77 && !badLogin.stderr.contains("guess"))
        #expect(!FileManager.default.fileExists(atPath: a.path + "/config/zoo/auth.json"), "a rejected login stores nothing")

        let login = try a.run(["login", reg.host, "-u", "alice", "--password-stdin"], stdin: password + "\n")
        #expect(login.status == 0, "\(login.stderr)")
        let attributes = try FileManager.default.attributesOfItem(atPath: a.path + "/config/zoo/auth.json")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let pushed = try a.run(["push", "demo-resnet_bottleneck", reg.reference("team/resnet:v1")])
        #expect(pushed.status == 0, "\(pushed.stderr)")
        #expect(!(pushed.stdout + pushed.stderr + login.stdout + login.stderr).contains(password))

        // Docker's config.json, base64 user:password.
        let b = try Home()
        try FileManager.default.createDirectory(atPath: b.path + "/docker", withIntermediateDirectories: true)
        let auth = Data("alice:\(password)".utf8).base64EncodedString()
        try #"{"auths": {"\#(reg.host)": {"auth": "\#(auth)"}}}"#.write(toFile: b.path + "/docker/config.json", atomically: true, encoding: .utf8)
        #expect(try b.json(["pull", reg.reference("team/resnet:v1")])["digest"] as? String == digest)
        // The environment.
        let c = try Home()
        let viaEnv = try c.json(["pull", reg.reference("team/resnet:v1")], env: ["ZOO_REGISTRY_USER": "alice", "ZOO_REGISTRY_PASSWORD": password])
        #expect(viaEnv["digest"] as? String == digest)
        #expect(try a.run(["logout", reg.host]).status == 0)
        #expect(try a.run(["push", "demo-resnet_bottleneck", reg.reference("team/resnet:v1")]).status == 77)
    }

    /// A token service and a registry front that accepts only its tokens, in front of the real registry.
    final class TokenGate: @unchecked Sendable {
        let lock = NSLock()
        var issued: [(token: String, scopes: [String], at: Date)] = []
        /// Requests the gate honours per token (it advertises 300 s: a token can die before its stated expiry).
        var usesPerToken = Int.max
        var uses: [String: Int] = [:]
        var server: TestOCIServer!
        let user: String, password: String

        init(registry: TestOCIRegistry, user: String, password: String) throws {
            self.user = user
            self.password = password
            let port = registry.port
            server = try TestOCIServer { [unowned self] req in self.handle(req, registryPort: port) }
        }

        var tokenRequests: Int { lock.lock(); defer { lock.unlock() }; return issued.count }

        func handle(_ req: TestOCIServer.Request, registryPort: UInt16) -> TestOCIServer.Reply {
            if req.path.hasPrefix("/token") {
                let comps = URLComponents(string: "http://x\(req.path)")
                let scopes = comps?.queryItems?.filter { $0.name == "scope" }.compactMap(\.value) ?? []
                let basic = "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
                guard req.headers["authorization"] == basic else {
                    return .response(status: 401, headers: ["Content-Type": "application/json"], body: Data(#"{"errors":[{"code":"UNAUTHORIZED"}]}"#.utf8))
                }
                lock.lock()
                let token = "tok-\(issued.count)-\(UUID().uuidString)"
                issued.append((token, scopes, Date()))
                lock.unlock()
                return .response(status: 200, headers: ["Content-Type": "application/json"],
                                 body: Data(#"{"token":"\#(token)","expires_in":300,"issued_at":"2026-12-01T00:00:00Z"}"#.utf8))
            }
            let repo = req.path.split(separator: "/").dropFirst(1).prefix { !["blobs", "manifests", "tags"].contains($0) }.joined(separator: "/")
            let need = req.method == "GET" || req.method == "HEAD" ? "pull" : "push"
            lock.lock()
            let match = issued.first { t in
                req.headers["authorization"] == "Bearer \(t.token)" && (uses[t.token] ?? 0) < usesPerToken
                    && (repo.isEmpty || t.scopes.contains { $0.hasPrefix("repository:\(repo):") && $0.contains(need) })
            }
            if let t = match { uses[t.token, default: 0] += 1 }
            let ok = match != nil
            lock.unlock()
            guard ok else {
                let scope = repo.isEmpty ? "" : ",scope=\"repository:\(repo):\(need == "pull" ? "pull" : "pull,push")\""
                return .response(status: 401, headers: ["WWW-Authenticate": "Bearer realm=\"http://\(server.host)/token\",service=\"zoo-test\"\(scope)",
                                                        "Content-Type": "application/json"],
                                 body: Data(#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#.utf8))
            }
            return TestOCIServer.forward(req, to: registryPort)
        }
    }

    @Test func bearerTokensAreFetchedOncePerScopeAndRenewedWhenTheRegistryExpiresThem() throws {
        try Self.requireTools()
        let reg = try TestOCIRegistry()
        let gate = try TokenGate(registry: reg, user: "bob", password: "tok3n-pass")
        let (a, digest) = try Self.seeded()
        let ref = "oci://\(gate.server.host)/team/resnet:v1"
        let creds = ["ZOO_REGISTRY_USER": "bob", "ZOO_REGISTRY_PASSWORD": "tok3n-pass"]
        #expect(try a.run(["push", "demo-resnet_bottleneck", ref]).status == 77, "the token service needs credentials")
        let before = gate.tokenRequests
        let pushed = try a.run(["push", "demo-resnet_bottleneck", ref], env: creds)
        #expect(pushed.status == 0, "\(pushed.stderr)")
        // HEAD, POST, PUT ×2, manifest PUT: one token for the whole push.
        #expect(gate.tokenRequests - before == 1, "token requests: \(gate.tokenRequests - before)")
        let b = try Home()
        let pulled = try b.json(["pull", ref], env: creds)
        #expect(pulled["digest"] as? String == digest)
        // Now each token dies after two requests, long before its stated expiry: the
        // client is challenged again mid-pull (and mid-download) and renews.
        gate.usesPerToken = 2
        let c = try Home()
        let n = gate.tokenRequests
        let renewed = try c.run(["pull", ref, "--json"], env: creds)
        #expect(renewed.status == 0, "\(renewed.stderr)")
        #expect(gate.tokenRequests - n >= 2, "token requests: \(gate.tokenRequests - n)")
        #expect(!pushed.stderr.contains("tok3n-pass") && !renewed.stderr.contains("tok3n-pass"))
    }

    /// A model of about 8 MB (one constant tensor), registered in `home` as `big`.
    static func bigModel(in home: Home) throws -> String {
        let n = 2_000_000
        let values = (0..<n).map { Float(($0 &* 2_654_435_761) % 10007) / 10007 }
        let graph = Graph(inputs: [ValueInfo(name: "x", dtype: .f32, shape: [.fixed(n)])],
                          outputs: [ValueInfo(name: "y", dtype: .f32, shape: [.fixed(n)])],
                          nodes: [Node(name: "add", op: "Add", inputs: ["x", "w"], outputs: ["y"])])
        let model = Model(card: ModelCard(name: "big"), graph: graph, tensors: [("w", try Tensor(floats: values, shape: [n]))])
        let file = URL(fileURLWithPath: home.path + "/big.zoo")
        try ZooWriter.write(model, to: file)
        let m = try home.json(["pull", file.path, "--name", "big"])
        return m["digest"] as? String ?? ""
    }

    @Test func aKilledChunkedPushCompletesOnTheNextPushAndTheTagNeverPointsAtMissingBlobs() throws {
        try Self.requireTools()
        let reg = try TestOCIRegistry()
        let a = try Home()
        let digest = try Self.bigModel(in: a)
        let chunks = ["ZOO_OCI_CHUNK_BYTES": "65536"]
        let p = Process()
        p.executableURL = CLI.binary
        p.arguments = ["push", "big", reg.reference("big/model:v1")]
        p.environment = ProcessInfo.processInfo.environment.merging(a.env) { $1 }.merging(chunks) { $1 }
        p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        p.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        // Killed once the first chunk is acknowledged (the upload state is on disk).
        let uploads = a.path + "/zoo/oci/uploads"
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && p.isRunning && ((try? FileManager.default.contentsOfDirectory(atPath: uploads)) ?? []).filter({ $0.hasSuffix(".json") }).isEmpty {
            usleep(2000)
        }
        let killed = p.isRunning
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(killed, "the push finished before it could be interrupted")
        let missing = try a.run(["info", reg.reference("big/model:v1")])
        #expect(missing.status == 68 && missing.stderr.contains("MANIFEST_UNKNOWN"), "\(missing.stderr)")
        // The kill usually lands inside a PATCH; the registry then holds more bytes than the saved
        // upload state and refuses to resume it (distribution's "upload resumed at wrong offset"),
        // so the push starts that blob again. Either way it completes with the whole file.
        let again = try a.json(["push", "big", reg.reference("big/model:v1")], env: chunks)
        let size = try FileManager.default.attributesOfItem(atPath: try a.run(["path", "big"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines))[.size] as? Int ?? 0
        #expect((again["bytesUploaded"] as? Int ?? Int.max) <= size)
        let b = try Home()
        #expect(try b.json(["pull", reg.reference("big/model:v1")])["digest"] as? String == digest)
        #expect(try b.run(["verify", "model:v1"]).status == 0)
    }

    /// A push cut off between two chunks (a front that fails the fifth PATCH) resumes from the
    /// registry's Range and sends only the rest.
    @Test func aPushInterruptedBetweenChunksResumesWithOnlyTheMissingBytes() throws {
        try Self.requireTools()
        let reg = try TestOCIRegistry()
        final class Counter: @unchecked Sendable { let lock = NSLock(); var patches = 0; var failing = true }
        let counter = Counter()
        let port = reg.port
        let front = try TestOCIServer { req in
            if req.method == "PATCH" {
                counter.lock.lock()
                counter.patches += 1
                let fail = counter.failing && counter.patches == 5
                counter.lock.unlock()
                if fail { return .response(status: 503, headers: ["Content-Type": "application/json"], body: Data(#"{"errors":[{"code":"UNAVAILABLE","message":"try again"}]}"#.utf8)) }
            }
            return TestOCIServer.forward(req, to: port)
        }
        let a = try Home()
        let digest = try Self.bigModel(in: a)
        let chunks = ["ZOO_OCI_CHUNK_BYTES": "65536"]
        let ref = "oci://\(front.host)/big/model:v1"
        let cut = try a.run(["push", "big", ref], env: chunks)
        #expect(cut.status == 68 && cut.stderr.contains("503"), "\(cut.stderr)")
        #expect(try a.run(["info", ref]).status == 68, "no manifest before every blob is in")
        counter.lock.lock(); counter.failing = false; counter.lock.unlock()
        let resumed = try a.json(["push", "big", ref], env: chunks)
        let size = try FileManager.default.attributesOfItem(atPath: try a.run(["path", "big"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines))[.size] as? Int ?? 0
        #expect(resumed["resumed"] as? Bool == true)
        // Four 64 KiB chunks were in before the cut.
        #expect(resumed["bytesUploaded"] as? Int == size - 4 * 65536, "resumed \(resumed["bytesUploaded"] ?? "?") of \(size) bytes")
        let b = try Home()
        #expect(try b.json(["pull", ref])["digest"] as? String == digest)
    }

    @Test func concurrentPushesBothSucceedAndConcurrentPullsDownloadOnce() throws {
        try Self.requireTools()
        let reg = try TestOCIRegistry()
        let a = try Home()
        let digest = try Self.bigModel(in: a)
        // Each process's stderr goes to its own file, so that a failure says what the CLI said.
        func start(_ home: Home, _ args: [String], env: [String: String] = [:]) throws -> (Process, String) {
            let p = Process()
            p.executableURL = CLI.binary
            p.arguments = args
            p.environment = ProcessInfo.processInfo.environment.merging(home.env) { $1 }.merging(env) { $1 }
            let log = home.path + "/stderr-\(UUID().uuidString)"
            FileManager.default.createFile(atPath: log, contents: nil)
            p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
            p.standardError = FileHandle(forWritingAtPath: log)
            try p.run()
            return (p, log)
        }
        func finish(_ started: [(Process, String)]) {
            for (p, log) in started {
                p.waitUntilExit()
                let said = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                #expect(p.terminationStatus == 0, "zoo \((p.arguments ?? []).joined(separator: " ")): \(said)")
            }
        }
        let pushes = try (0..<2).map { _ in try start(a, ["push", "big", reg.reference("big/model:v1")], env: ["ZOO_OCI_CHUNK_BYTES": "1048576"]) }
        finish(pushes)
        // Pulls through a counting pass-through front.
        let port = reg.port
        let front = try TestOCIServer { req in TestOCIServer.forward(req, to: port) }
        let b = try Home()
        let pulls = try (0..<2).map { _ in try start(b, ["pull", "oci://\(front.host)/big/model:v1"]) }
        finish(pulls)
        let layerGets = front.requests.filter { $0.hasPrefix("GET /v2/big/model/blobs/") }.count
        // One config fetch per pull, one layer download in all.
        #expect(layerGets == 3, "blob GETs: \(front.requests.filter { $0.hasPrefix("GET") })")
        #expect(try b.json(["info", "model:v1"])["manifest"].flatMap { ($0 as? [String: Any])?["digest"] as? String } == digest)
    }

    // MARK: registries that lie

    /// The three blobs of an exported demo model, to serve from a fake registry.
    static func artifact() throws -> (manifest: Data, config: (String, Data), layer: (String, Data), digest: String) {
        let (a, digest) = try seeded()
        let layout = a.path + "/layout"
        #expect(try a.run(["export", "demo-resnet_bottleneck", layout]).status == 0)
        let index = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: layout + "/index.json"))) as! [String: Any]
        let md = ((index["manifests"] as! [[String: Any]])[0]["digest"] as! String).dropFirst(7)
        let manifest = try Data(contentsOf: URL(fileURLWithPath: "\(layout)/blobs/sha256/\(md)"))
        let m = try JSONSerialization.jsonObject(with: manifest) as! [String: Any]
        let c = (m["config"] as! [String: Any])["digest"] as! String
        let l = ((m["layers"] as! [[String: Any]])[0])["digest"] as! String
        func blob(_ d: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: "\(layout)/blobs/sha256/\(d.dropFirst(7))")) }
        return (manifest, (c, try blob(c)), (l, try blob(l)), digest)
    }

    /// A fake registry serving `manifest` for repo `x/m:t` and the blobs by digest, `layer` as `layerReply` says.
    static func liar(manifest: Data, blobs: [String: Data], layerReply: (@Sendable (Data) -> TestOCIServer.Reply)? = nil, layerDigest: String = "") throws -> TestOCIServer {
        try TestOCIServer { req in
            if req.path.hasPrefix("/v2/x/m/manifests/") {
                return .response(status: 200, headers: ["Content-Type": "application/vnd.oci.image.manifest.v1+json"], body: manifest)
            }
            if req.path.hasPrefix("/v2/x/m/blobs/") {
                let d = String(req.path.dropFirst("/v2/x/m/blobs/".count))
                guard let data = blobs[d] else {
                    return .response(status: 404, headers: ["Content-Type": "application/json"], body: Data(#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}"#.utf8))
                }
                if d == layerDigest, let r = layerReply, req.method == "GET" { return r(data) }
                return .response(status: 200, headers: ["Content-Type": "application/octet-stream"], body: data)
            }
            return .response(status: 200, headers: [:], body: Data("{}".utf8))
        }
    }

    @Test func aRegistryThatLiesGetsATypedErrorAndNothingIsRegistered() throws {
        let art = try Self.artifact()
        let blobs = [art.config.0: art.config.1, art.layer.0: art.layer.1]
        func pull(_ server: TestOCIServer, expect status: Int32, _ needle: String) throws {
            let h = try Home()
            let r = try h.run(["pull", "oci://\(server.host)/x/m:t"], env: ["ZOO_HTTP_TIMEOUT": "5"])
            #expect(r.status == status && r.stderr.contains(needle), "exit \(r.status): \(r.stderr)")
            #expect(try h.registered().isEmpty)
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: h.path + "/zoo/models/sha256")) ?? []).isEmpty)
        }
        // Wrong bytes for the layer's digest.
        var flipped = art.layer.1
        flipped[flipped.count / 2] ^= 0xFF
        let corrupt = flipped
        try pull(try Self.liar(manifest: art.manifest, blobs: blobs, layerReply: { _ in .response(status: 200, headers: [:], body: corrupt) }, layerDigest: art.layer.0),
                 expect: 66, "SHA-256")
        // A manifest naming a blob the registry does not have.
        try pull(try Self.liar(manifest: art.manifest, blobs: [art.config.0: art.config.1]), expect: 68, "does not have")
        // A layer cut short every time.
        try pull(try Self.liar(manifest: art.manifest, blobs: blobs, layerReply: { d in .truncated(status: 200, headers: [:], body: d, after: d.count / 3) }, layerDigest: art.layer.0),
                 expect: 68, "attempts")
        // More bytes than the manifest declares.
        try pull(try Self.liar(manifest: art.manifest, blobs: blobs, layerReply: { d in .response(status: 200, headers: [:], body: d + Data(repeating: 7, count: 100)) }, layerDigest: art.layer.0),
                 expect: 66, "bytes")
        // An HTML error page instead of the manifest.
        let html = try TestOCIServer { _ in .response(status: 200, headers: ["Content-Type": "text/html"], body: Data("<!DOCTYPE html><html><body>Sign in</body></html>".utf8)) }
        try pull(html, expect: 65, "HTML")
        // A manifest over 4 MiB.
        let huge = try Self.liar(manifest: Data(repeating: 0x20, count: 5 << 20), blobs: blobs)
        try pull(huge, expect: 68, "larger than")
        // Not a zoo artifact (a container image's config type).
        let image = String(decoding: art.manifest, as: UTF8.self)
            .replacingOccurrences(of: "application/vnd.zoo.model.v1", with: "application/vnd.example.thing.v1")
            .replacingOccurrences(of: "application/vnd.zoo.model.card.v1+json", with: "application/vnd.oci.image.config.v1+json")
        try pull(try Self.liar(manifest: Data(image.utf8), blobs: blobs), expect: 65, "not a zoo model")
    }

    @Test func registriesThatNeverFinishAPageOrAnUploadCannotKeepZooWaiting() throws {
        // A tag list whose Link always points at itself, with no tags.
        let pages = try TestOCIServer { req in
            .response(status: 200, headers: ["Content-Type": "application/json", "Link": "</v2/x/m/tags/list?n=1000&last=a>; rel=\"next\""],
                      body: Data(#"{"name":"x/m","tags":[]}"#.utf8))
        }
        let h = try Home()
        let listed = try h.run(["list", "--remote", "oci://\(pages.host)/x/m"])
        #expect(listed.status == 0 && pages.requests.count == 100, "exit \(listed.status), \(pages.requests.count) requests")
        // A registry that acknowledges every chunk without taking it (Range stays at 0-65535).
        let stuck = try TestOCIServer { req in
            switch req.method {
            case "HEAD": return .response(status: 404, headers: [:], body: Data())
            case "POST": return .response(status: 202, headers: ["Location": "/v2/big/model/blobs/uploads/u1"], body: Data())
            case "PATCH": return .response(status: 202, headers: ["Location": "/v2/big/model/blobs/uploads/u1", "Range": "0-65535"], body: Data())
            default: return .response(status: 201, headers: [:], body: Data())
            }
        }
        _ = try Self.bigModel(in: h)
        let pushed = try h.run(["push", "big", "oci://\(stuck.host)/big/model:v1"], env: ["ZOO_OCI_CHUNK_BYTES": "65536"])
        #expect(pushed.status == 68 && pushed.stderr.contains("claims 65536 bytes"), "exit \(pushed.status): \(pushed.stderr)")
        #expect(stuck.requests.filter { $0.hasPrefix("PATCH") }.count == 2)
    }

    @Test(arguments: ["oci://", "oci://host", "oci://host/", "oci://ho st/repo", "oci://host/Repo", "oci://host/repo:bad tag",
                      "oci://host/repo@sha256:abc", "oci://host:99999/repo", "oci://host/a//b", "https://host/repo"])
    func referencesThatDoNotParseAreUsageErrors(_ reference: String) throws {
        let h = try Home()
        let command = reference.hasPrefix("oci://") ? ["pull", reference] : ["list", "--remote", reference]
        let r = try h.run(command)
        #expect(r.status == 64, "\(reference): exit \(r.status) \(r.stderr)")
        #expect(r.stderr.contains("zoo: error:") && r.stderr.count < 600)
    }
}
