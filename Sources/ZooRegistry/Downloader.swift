import Crypto
import Foundation
import ZooFormat
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Downloads one URL into a `.partial` file, resuming with `Range` after a
/// dropped connection or a killed process, retrying with backoff. Proxy
/// variables (`http_proxy`, `https_proxy`, `no_proxy`) are honoured by libcurl.
final class Downloader: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    let url: URL
    let partial: String
    let expectedSize: Int?
    let progress: Bool
    /// Seconds without data before a request is abandoned (ZOO_HTTP_TIMEOUT for tests).
    let timeout: TimeInterval

    private var fd: Int32 = -1
    private var received = 0
    private var startOffset = 0
    private var status = 0
    /// The size to show progress against: the catalog's, else the server's Content-Length.
    private var total: Int?
    private var contentType = ""
    private var writeError: String?
    /// The server sent more bytes than the expected size.
    private var oversize = false
    private var done = DispatchSemaphore(value: 0)
    private var failure: Error?
    private var started = Date()
    private var lastPrint = Date.distantPast
    /// Running digests of the file's bytes in order, so no second pass is needed.
    private var sha = SHA256()
    private var md5 = Insecure.MD5()
    private var hashed = 0

    /// MD5 is only computed when the publisher gives nothing better (it is slower than SHA-256 here).
    let needMD5: Bool

    /// Extra request headers (an OCI registry's Authorization); never printed.
    let headers: [String: String]

    init(url: URL, partial: String, expectedSize: Int?, needMD5: Bool = false, headers: [String: String] = [:]) {
        self.url = url
        self.headers = headers
        self.needMD5 = needMD5
        self.partial = partial
        self.expectedSize = expectedSize
        progress = isatty(2) != 0
        timeout = TimeInterval(ProcessInfo.processInfo.environment["ZOO_HTTP_TIMEOUT"].flatMap(Double.init) ?? 30)
    }

    /// The digests of the completed file (valid after `run`).
    var digests: (sha256: String, md5: String, size: Int) {
        (Hex.encode(sha.finalize()), Hex.encode(md5.finalize()), hashed)
    }

    /// Brings the running digests up to the file's current length (after a
    /// resume, the bytes from an earlier process).
    private func catchUpHashes() throws {
        var st = stat()
        let size = stat(partial, &st) == 0 ? Int(st.st_size) : 0
        if size < hashed { sha = SHA256(); md5 = Insecure.MD5(); hashed = 0 }
        guard size > hashed else { return }
        let fd = open(partial, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw RegistryError.io(path: partial, operation: "open", detail: String(cString: strerror(errno))) }
        defer { close(fd) }
        let chunk = 1 << 22
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 64)
        defer { buffer.deallocate() }
        var at = hashed
        while at < size {
            let n = pread(fd, buffer, min(chunk, size - at), off_t(at))
            if n <= 0 { break }
            let part = UnsafeRawBufferPointer(start: buffer, count: n)
            sha.update(bufferPointer: part)
            if needMD5 { md5.update(bufferPointer: part) }
            at += n
        }
        hashed = at
    }

    /// Fetches until the file is complete; returns its path.
    func run(attempts: Int = 4) throws -> String {
        var lastError = ""
        for attempt in 0..<attempts {
            if attempt > 0 { Thread.sleep(forTimeInterval: min(4, 0.25 * pow(2, Double(attempt - 1)))) }
            do {
                try catchUpHashes()
                if try fetchOnce() {
                    try catchUpHashes()
                    return partial
                }
                lastError = "the connection closed early"
            } catch let e as RegistryError {
                if case .notAModel = e { throw e }
                if case .sizeMismatch = e { throw e }
                if case .network(_, let d) = e, d.hasPrefix("HTTP 4") { throw e }
                lastError = e.localizedDescription
            }
        }
        throw RegistryError.network(url: url.absoluteString, detail: "download failed after \(attempts) attempts: \(lastError); run the pull again to resume")
    }

    /// One request; true when the file is complete.
    private func fetchOnce() throws -> Bool {
        var st = stat()
        startOffset = stat(partial, &st) == 0 ? Int(st.st_size) : 0
        if let e = expectedSize, startOffset == e { return true }
        if let e = expectedSize, startOffset > e { unlink(partial); startOffset = 0 }
        fd = open(partial, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw RegistryError.io(path: partial, operation: "open", detail: String(cString: strerror(errno))) }
        defer { close(fd); fd = -1 }
        received = 0
        oversize = false
        status = 0
        failure = nil
        writeError = nil
        started = Date()
        done = DispatchSemaphore(value: 0)
        var request = URLRequest(url: url, timeoutInterval: timeout)
        for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
        if startOffset > 0 { request.setValue("bytes=\(startOffset)-", forHTTPHeaderField: "Range") }
        let config = URLSessionConfiguration.ephemeral
        config.timeoutIntervalForRequest = timeout
        let session = URLSession(configuration: config, delegate: self, delegateQueue: nil)
        defer { session.invalidateAndCancel() }
        session.dataTask(with: request).resume()
        done.wait()
        if progress { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        if let w = writeError { throw RegistryError.io(path: partial, operation: "write", detail: w) }
        if oversize, let e = expectedSize {
            unlink(partial)
            throw RegistryError.sizeMismatch(source: url.absoluteString, expected: e, actual: startOffset + received + 1)
        }
        if status == 416, let e = expectedSize, startOffset >= e { return true }
        guard status == 200 || status == 206 else {
            if startOffset == 0 { unlink(partial) }
            throw RegistryError.network(url: url.absoluteString, detail: status == 0 ? "no response (\(failure?.localizedDescription ?? "connection failed"))" : "HTTP \(status)")
        }
        if contentType.lowercased().hasPrefix("text/html") {
            unlink(partial)
            throw RegistryError.notAModel(source: url.absoluteString, detail: "the server sent an HTML page (a login or error page?), not the model file")
        }
        if failure != nil { return false }
        var st2 = stat()
        let size = stat(partial, &st2) == 0 ? Int(st2.st_size) : 0
        if let e = expectedSize { return size == e }
        return true
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        let http = response as? HTTPURLResponse
        status = http?.statusCode ?? 0
        total = expectedSize ?? ((response.expectedContentLength > 0 && (status == 200 || status == 206))
            ? (status == 206 ? startOffset : 0) + Int(response.expectedContentLength) : nil)
        contentType = http?.value(forHTTPHeaderField: "Content-Type") ?? ""
        if status == 200 && startOffset > 0 {
            // The server ignored the Range request: start over.
            _ = ftruncate(fd, 0)
            startOffset = 0
            sha = SHA256(); md5 = Insecure.MD5(); hashed = 0
        }
        if status == 206 || status == 200 { _ = lseek(fd, off_t(startOffset), SEEK_SET) }
        completionHandler(status == 200 || status == 206 ? .allow : .cancel)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        // Only the file's bytes go into the partial file: an error page's body (404, 500, …)
        // must never be resumed into the model.
        guard writeError == nil, !oversize, status == 200 || status == 206 else { return }
        // More than the publisher declared: a lying or broken server; nothing more is written.
        if let e = expectedSize, startOffset + received + data.count > e {
            oversize = true
            dataTask.cancel()
            return
        }
        data.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = write(fd, raw.baseAddress! + off, raw.count - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    writeError = String(cString: strerror(errno))
                    dataTask.cancel()
                    return
                }
                off += n
            }
        }
        received += data.count
        if startOffset + received - data.count == hashed {
            data.withUnsafeBytes { raw in
                sha.update(bufferPointer: raw)
                if needMD5 { md5.update(bufferPointer: raw) }
            }
            hashed += data.count
        }
        if progress, Date().timeIntervalSince(lastPrint) > 0.2 {
            lastPrint = Date()
            let elapsed = max(Date().timeIntervalSince(started), 0.001)
            let rate = Double(received) / elapsed
            var line = "\r\u{1B}[K\(url.lastPathComponent): \(Self.bytes(startOffset + received))"
            if let e = total {
                line += " / \(Self.bytes(e)) (\(Int(100 * Double(startOffset + received) / Double(max(e, 1))))%)"
                if rate > 0 { line += ", ETA \(Int(Double(e - startOffset - received) / rate)) s" }
            }
            line += ", \(Self.bytes(Int(rate)))/s"
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    /// Foundation's own credential handling is declined (it can retry a 401 forever);
    /// the 401 is reported, and an OCI pull renews its token and resumes.
    func urlSession(_ session: URLSession, task: URLSessionTask, didReceive challenge: URLAuthenticationChallenge,
                    completionHandler: @escaping (URLSession.AuthChallengeDisposition, URLCredential?) -> Void) {
        completionHandler(.rejectProtectionSpace, nil)
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        if status == 0, let r = task.response as? HTTPURLResponse { status = r.statusCode }
        failure = error
        done.signal()
    }

    static func bytes(_ n: Int) -> String {
        let units = ["B", "KB", "MB", "GB"]
        var v = Double(n), u = 0
        while v >= 1000, u < units.count - 1 { v /= 1000; u += 1 }
        return u == 0 ? "\(n) B" : String(format: "%.1f %@", v, units[u])
    }
}
