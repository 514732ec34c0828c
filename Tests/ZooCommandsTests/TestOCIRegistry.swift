import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Debian's docker-registry (the CNCF distribution registry, 2.8) on a free
/// loopback port, with its own storage directory and config; optionally with
/// htpasswd Basic auth. Started and stopped by the tests (`stop`, or deinit).
final class TestOCIRegistry {
    let port: UInt16
    let directory: URL
    private let process: Process

    static var available: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/docker-registry") }

    /// `users`: name → password, written with `htpasswd -B` (bcrypt, as the registry requires).
    init(users: [String: String] = [:]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-registry-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        port = try Self.freePort()
        var auth = ""
        if !users.isEmpty {
            let htpasswd = directory.appendingPathComponent("htpasswd")
            var lines = ""
            for (u, p) in users {
                let h = Process()
                h.executableURL = URL(fileURLWithPath: "/usr/bin/htpasswd")
                h.arguments = ["-Bbn", u, p]
                let out = Pipe()
                h.standardOutput = out
                try h.run()
                lines += String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) + "\n"
                h.waitUntilExit()
            }
            try lines.write(to: htpasswd, atomically: true, encoding: .utf8)
            auth = "auth:\n  htpasswd:\n    realm: zoo-test\n    path: \(htpasswd.path)\n"
        }
        let config = """
            version: 0.1
            log:
              level: error
            storage:
              filesystem:
                rootdirectory: \(directory.appendingPathComponent("data").path)
              delete:
                enabled: true
            http:
              addr: 127.0.0.1:\(port)
            \(auth)
            """
        let configURL = directory.appendingPathComponent("config.yml")
        try config.write(to: configURL, atomically: true, encoding: .utf8)
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/docker-registry")
        process.arguments = ["serve", configURL.path]
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = try FileHandle(forWritingTo: { let u = directory.appendingPathComponent("registry.log"); _ = FileManager.default.createFile(atPath: u.path, contents: nil); return u }())
        try process.run()
        // Ready when /v2/ answers (200, or 401 with auth).
        for _ in 0..<200 {
            if Self.answers(port: port) { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        stop()
        throw POSIXError(.ETIMEDOUT)
    }

    var host: String { "127.0.0.1:\(port)" }
    func reference(_ repoAndTag: String) -> String { "oci://\(host)/\(repoAndTag)" }

    func stop() {
        if process.isRunning { process.terminate(); process.waitUntilExit() }
        try? FileManager.default.removeItem(at: directory)
    }

    deinit { stop() }

    static func freePort() throws -> UInt16 { try Loopback.listen(backlog: nil).port }

    static func answers(port: UInt16) -> Bool {
        guard let reply = TestOCIServer.exchange(port: port, request: Data("GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n".utf8)) else { return false }
        return reply.starts(with: Data("HTTP/1.1 200".utf8)) || reply.starts(with: Data("HTTP/1.1 401".utf8))
    }
}

/// A loopback HTTP/1.1 server whose answers a closure decides: a fake
/// registry that lies on purpose, or a proxy in front of the real registry
/// that demands Bearer tokens from its own token endpoint.
final class TestOCIServer: @unchecked Sendable {
    struct Request {
        var method: String
        var path: String
        var headers: [String: String]   // lower-cased names
        var body: Data
        var raw: Data
    }

    enum Reply {
        case response(status: Int, headers: [String: String], body: Data)
        /// Headers (with the full Content-Length), then only `after` bytes of the body, then close.
        case truncated(status: Int, headers: [String: String], body: Data, after: Int)
        /// Bytes sent as they are (a proxied response).
        case raw(Data)
    }

    private let listener: Int32
    let port: UInt16
    private let handler: @Sendable (Request) -> Reply
    private let lock = NSLock()
    private var stopped = false
    private var log: [String] = []

    init(_ handler: @escaping @Sendable (Request) -> Reply) throws {
        self.handler = handler
        (listener, port) = try Loopback.listen(backlog: 64)
        Thread { [self] in acceptLoop() }.start()
    }

    var host: String { "127.0.0.1:\(port)" }
    /// "METHOD path" of every request so far.
    var requests: [String] { lock.lock(); defer { lock.unlock() }; return log }

    func stop() {
        lock.lock(); stopped = true; lock.unlock()
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    deinit { stop() }

    private func acceptLoop() {
        while true {
            let c = accept(listener, nil, nil)
            if c < 0 { lock.lock(); let s = stopped; lock.unlock(); if s { return }; continue }
            Thread { [self] in serve(c) }.start()
        }
    }

    /// One request per connection (every reply says Connection: close).
    private func serve(_ c: Int32) {
        defer { close(c) }
        var data = Data()
        var buf = [UInt8](repeating: 0, count: 65536)
        var headerEnd: Range<Data.Index>?
        while headerEnd == nil {
            let n = recv(c, &buf, buf.count, 0)
            if n <= 0 { return }
            data.append(contentsOf: buf[0..<n])
            headerEnd = data.range(of: Data("\r\n\r\n".utf8))
        }
        let head = String(decoding: data[..<headerEnd!.lowerBound], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        var headers: [String: String] = [:]
        for l in lines { if let i = l.firstIndex(of: ":") { headers[l[..<i].lowercased()] = l[l.index(after: i)...].trimmingCharacters(in: .whitespaces) } }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        while data.count - headerEnd!.upperBound < length {
            let n = recv(c, &buf, buf.count, 0)
            if n <= 0 { return }
            data.append(contentsOf: buf[0..<n])
        }
        let body = data[headerEnd!.upperBound..<(headerEnd!.upperBound + length)]
        let req = Request(method: String(requestLine.first ?? ""), path: requestLine.count > 1 ? String(requestLine[1]) : "/",
                          headers: headers, body: Data(body), raw: data)
        lock.lock(); log.append("\(req.method) \(req.path)"); lock.unlock()
        switch handler(req) {
        case .raw(let bytes):
            Self.send(c, bytes)
        case .response(let status, let h, let b):
            Self.send(c, Self.head(status, h, length: b.count))
            if req.method != "HEAD" { Self.send(c, b) }
        case .truncated(let status, let h, let b, let after):
            Self.send(c, Self.head(status, h, length: b.count))
            Self.send(c, b.prefix(after))
        }
    }

    static func head(_ status: Int, _ headers: [String: String], length: Int) -> Data {
        var s = "HTTP/1.1 \(status) X\r\n"
        for (k, v) in headers { s += "\(k): \(v)\r\n" }
        s += "Content-Length: \(length)\r\nConnection: close\r\n\r\n"
        return Data(s.utf8)
    }

    static func send(_ c: Int32, _ d: Data) {
        d.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = Glibc.send(c, raw.baseAddress! + off, raw.count - off, Int32(MSG_NOSIGNAL))
                if n <= 0 { return }
                off += n
            }
        }
    }

    /// Sends `request` to 127.0.0.1:`port` and reads the whole answer (until the server closes).
    static func exchange(port: UInt16, request: Data) -> Data? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = port.bigEndian
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard ok == 0 else { return nil }
        send(fd, request)
        var out = Data()
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return out
    }

    /// `req` passed on to the registry at `port` with `Authorization` removed and
    /// `Connection: close`; the answer comes back byte for byte.
    static func forward(_ req: Request, to port: UInt16) -> Reply {
        var head = "\(req.method) \(req.path) HTTP/1.1\r\n"
        for (k, v) in req.headers where k != "authorization" && k != "connection" { head += "\(k): \(v)\r\n" }
        head += "Connection: close\r\n\r\n"
        var bytes = Data(head.utf8)
        bytes.append(req.body)
        return .raw(exchange(port: port, request: bytes) ?? Data("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8))
    }
}
