import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A tiny HTTP/1.1 server on 127.0.0.1 for download tests: serves one body
/// per path with `Range` support, and can misbehave on purpose (drop the
/// connection mid-body, send wrong bytes, send an HTML page, stall).
final class TestHTTPServer: @unchecked Sendable {
    enum Behavior {
        case serve(Data)
        /// Sends the headers and `bytes` bytes of the body, then closes — `times` times, then serves normally.
        case drop(Data, after: Int, times: Int)
        case corrupt(Data)
        case html
        /// An HTML page sent as `application/octet-stream` with status 200.
        case disguisedHTML
        /// 404 with a 335-byte HTML error page as the body.
        case notFoundPage
        /// Sends `bytes` bytes of the body, then goes silent (until the client gives up or dies).
        case stall(Data, after: Int)
    }

    private let listener: Int32
    let port: UInt16
    private let lock = NSLock()
    private var routes: [String: Behavior] = [:]
    private var log: [(path: String, range: String?)] = []
    private var stopped = false

    init() throws {
        (listener, port) = try Loopback.listen(backlog: 16)
        let t = Thread { [self] in acceptLoop() }
        t.start()
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    func set(_ path: String, _ b: Behavior) { lock.lock(); routes[path] = b; lock.unlock() }

    var requests: [(path: String, range: String?)] { lock.lock(); defer { lock.unlock() }; return log }

    func stop() {
        lock.lock(); stopped = true; lock.unlock()
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptLoop() {
        while true {
            let c = accept(listener, nil, nil)
            if c < 0 { lock.lock(); let s = stopped; lock.unlock(); if s { return }; continue }
            let t = Thread { [self] in handle(c) }
            t.start()
        }
    }

    private func send(_ c: Int32, _ d: Data) {
        d.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = Glibc.send(c, raw.baseAddress! + off, raw.count - off, Int32(MSG_NOSIGNAL))
                if n <= 0 { return }
                off += n
            }
        }
    }

    private func handle(_ c: Int32) {
        defer { close(c) }
        var buf = [UInt8](repeating: 0, count: 8192)
        var req = Data()
        while !req.contains(Data("\r\n\r\n".utf8)) {
            let n = recv(c, &buf, buf.count, 0)
            if n <= 0 { return }
            req.append(contentsOf: buf[0..<n])
        }
        let lines = String(decoding: req, as: UTF8.self).components(separatedBy: "\r\n")
        let path = lines.first?.split(separator: " ").dropFirst().first.map(String.init) ?? "/"
        let range = lines.first { $0.lowercased().hasPrefix("range:") }.map { String($0.dropFirst(6)).trimmingCharacters(in: .whitespaces) }
        lock.lock()
        log.append((path, range))
        var behavior = routes[path]
        if case .drop(let d, let after, let times)? = behavior {
            routes[path] = times > 1 ? .drop(d, after: after, times: times - 1) : .serve(d)
        }
        lock.unlock()
        guard let b = behavior else {
            send(c, Data("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8))
            return
        }
        func body(_ full: Data) -> (Data, String) {
            if let r = range, r.hasPrefix("bytes="), let start = Int(r.dropFirst(6).split(separator: "-").first ?? ""), start < full.count {
                return (full.subdata(in: start..<full.count), "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes \(start)-\(full.count - 1)/\(full.count)\r\n")
            }
            return (full, "HTTP/1.1 200 OK\r\n")
        }
        switch b {
        case .serve(let d), .corrupt(let d):
            var data = d
            if case .corrupt = b { data = Data(d.map { $0 ^ 0x5A }) }
            let (payload, status) = body(data)
            send(c, Data((status + "Content-Type: application/octet-stream\r\nContent-Length: \(payload.count)\r\nConnection: close\r\n\r\n").utf8))
            send(c, payload)
        case .drop(let d, let after, _), .stall(let d, let after):
            let (payload, status) = body(d)
            send(c, Data((status + "Content-Type: application/octet-stream\r\nContent-Length: \(payload.count)\r\nConnection: close\r\n\r\n").utf8))
            send(c, payload.prefix(after))
            if case .stall = b { Thread.sleep(forTimeInterval: 30) }
        case .disguisedHTML:
            let page = Data("<!DOCTYPE HTML><html><head><title>Error</title></head><body>Not here</body></html>".utf8)
            send(c, Data("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: \(page.count)\r\nConnection: close\r\n\r\n".utf8))
            send(c, page)
        case .notFoundPage:
            var page = Data("<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\"><html><head><title>404 Not Found</title></head><body><h1>Not Found</h1><p>The requested URL was not found on this server.</p></body></html>".utf8)
            page.append(Data(repeating: 0x20, count: max(0, 335 - page.count)))
            send(c, Data("HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: \(page.count)\r\nConnection: close\r\n\r\n".utf8))
            send(c, page)
        case .html:
            let page = Data("<!DOCTYPE html><html><body>Please sign in</body></html>".utf8)
            send(c, Data("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: \(page.count)\r\nConnection: close\r\n\r\n".utf8))
            send(c, page)
        }
        behavior = nil
    }
}

/// A TCP socket on 127.0.0.1 with a port the kernel picks, for the test servers.
enum Loopback {
    /// Listening with `backlog`, or (`backlog` nil) closed again once its port is known (a free port for another process).
    static func listen(backlog: Int32?) throws -> (fd: Int32, port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, backlog.map({ Glibc.listen(fd, $0) == 0 }) ?? true else { close(fd); throw POSIXError(.EADDRINUSE) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        let port = UInt16(bigEndian: addr.sin_port)
        if backlog == nil { close(fd) }
        return (fd, port)
    }
}
