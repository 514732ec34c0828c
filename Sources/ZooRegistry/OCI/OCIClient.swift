import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// HTTP to one OCI distribution registry (`/v2/…`), with its authentication:
/// anonymous, HTTP Basic, or the Bearer token flow (a `401` whose
/// `WWW-Authenticate: Bearer realm=…,service=…,scope=…` names a token service;
/// the token is fetched with the credentials, if any, and reused per scope
/// until it expires). Plain HTTP only for loopback hosts or with `insecure`;
/// otherwise TLS with the system trust store (libcurl's). Credentials are
/// sent only to the registry and its token service, never printed.
final class OCIClient: @unchecked Sendable {
    let registry: String
    let base: URL
    let credentials: OCICredentials?
    let insecure: Bool
    let timeout: TimeInterval
    private var tokens: [String: (value: String, expires: Date)] = [:]
    private var useBasic = false
    private let lock = NSLock()

    struct Response {
        var status: Int
        /// Header names lower-cased.
        var headers: [String: String]
        var body: Data
        func header(_ name: String) -> String? { headers[name.lowercased()] }
    }

    init(reference: OCIReference, insecure: Bool, credentials: OCICredentials? = nil) throws {
        registry = reference.registry
        self.insecure = insecure
        let plain = insecure || reference.isLoopback
        guard let u = URL(string: "\(plain ? "http" : "https")://\(reference.registry)") else {
            throw RegistryError.ociReference(reference: reference.description, detail: "the host does not form a URL")
        }
        base = u
        self.credentials = credentials ?? OCICredentialStore.lookup(reference.registry)
        timeout = TimeInterval(ProcessInfo.processInfo.environment["ZOO_HTTP_TIMEOUT"].flatMap(Double.init) ?? 60)
    }

    func url(_ path: String, query: [(String, String)] = []) -> URL {
        var c = URLComponents(url: base, resolvingAgainstBaseURL: false)!
        c.percentEncodedPath = path
        if !query.isEmpty { c.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) } }
        // '+' and ':' in digests stay as they are; only '+' would be misread by a server.
        c.percentEncodedQuery = c.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        return c.url!
    }

    /// A `Location` header resolved against the registry (it may be relative).
    func resolve(location: String) throws -> URL {
        guard let u = URL(string: location, relativeTo: base)?.absoluteURL, let h = u.host else {
            throw RegistryError.ociRegistry(url: base.absoluteString, status: 0, detail: "the registry sent an unusable upload Location")
        }
        // An upload continues at the registry itself, never at another host with our credentials.
        guard h.lowercased() == base.host?.lowercased() else {
            throw RegistryError.ociRegistry(url: base.absoluteString, status: 0, detail: "the registry redirected an upload to another host (\(h.prefix(100))); refused")
        }
        return u
    }

    /// Sends one request, authenticating as the registry asks (at most one
    /// challenge round per call). `limit` bounds the response body.
    func send(_ method: String, _ url: URL, headers: [String: String] = [:], body: Data? = nil, scope: String,
              limit: Int = OCIArtifact.maxManifestBytes) throws -> Response {
        var answered = false
        while true {
            var h = headers
            if let auth = authorization(scope: scope) { h["Authorization"] = auth }
            let r = try OCIRequest.perform(method: method, url: url, headers: h, body: body, timeout: timeout, limit: limit)
            guard r.status == 401, !answered else {
                if r.status == 401 {
                    throw RegistryError.unauthorized(registry: registry, detail: credentials == nil
                        ? "the registry requires credentials: run 'zoo login \(registry)', or set ZOO_REGISTRY_USER and ZOO_REGISTRY_PASSWORD"
                        : "the registry rejected the \(credentials!.description)\(Self.errorSummary(r.body).map { " (\($0))" } ?? ""); check them with 'zoo login \(registry)'")
                }
                return r
            }
            answered = true
            try answer(challenge: r.header("WWW-Authenticate") ?? "", scope: scope)
        }
    }

    private func authorization(scope: String) -> String? {
        lock.lock(); defer { lock.unlock() }
        if let t = tokens[scope], t.expires > Date() { return "Bearer " + t.value }
        if useBasic, let c = credentials { return c.basicHeader }
        return nil
    }

    /// Handles a 401: Basic means send the credentials; Bearer means fetch a token for `scope`.
    private func answer(challenge header: String, scope: String) throws {
        guard let (scheme, params) = Self.parseChallenge(header) else {
            throw RegistryError.unauthorized(registry: registry, detail: "the registry answered 401 without a usable WWW-Authenticate challenge")
        }
        switch scheme.lowercased() {
        case "basic":
            guard credentials != nil else {
                throw RegistryError.unauthorized(registry: registry, detail: "the registry requires credentials: run 'zoo login \(registry)', or set ZOO_REGISTRY_USER and ZOO_REGISTRY_PASSWORD")
            }
            guard base.scheme == "https" || insecure || OCIReference.isLoopback(host: base.host ?? "") else {
                throw RegistryError.unauthorized(registry: registry, detail: "refusing to send a password over plain HTTP")
            }
            lock.lock(); useBasic = true; lock.unlock()
        case "bearer":
            try fetchToken(params: params, scope: scope)
        default:
            throw RegistryError.unauthorized(registry: registry, detail: "unsupported authentication scheme '\(scheme.prefix(40))'")
        }
    }

    private func fetchToken(params: [String: String], scope: String) throws {
        guard let realm = params["realm"], let realmURL = URL(string: realm), let host = realmURL.host,
              realmURL.scheme == "https" || realmURL.scheme == "http" else {
            throw RegistryError.unauthorized(registry: registry, detail: "the Bearer challenge names no usable token service (realm)")
        }
        guard realmURL.scheme == "https" || insecure || OCIReference.isLoopback(host: host) else {
            throw RegistryError.unauthorized(registry: registry, detail: "the token service \(host.prefix(100)) is plain HTTP; refused (use --insecure to allow)")
        }
        var c = URLComponents(url: realmURL, resolvingAgainstBaseURL: false)!
        var items = c.queryItems ?? []
        if let s = params["service"] { items.append(URLQueryItem(name: "service", value: s)) }
        // Ask for what this request needs; the challenge's own scope too when it differs.
        var scopes = scope.split(separator: " ").map(String.init)
        if let s = params["scope"], !scopes.contains(s) { scopes.append(s) }
        for s in scopes { items.append(URLQueryItem(name: "scope", value: s)) }
        c.queryItems = items
        var headers: [String: String] = [:]
        if let cr = credentials { headers["Authorization"] = cr.basicHeader }
        let r = try OCIRequest.perform(method: "GET", url: c.url!, headers: headers, body: nil, timeout: timeout, limit: 1 << 20)
        guard r.status == 200 else {
            let why = r.status == 401 || r.status == 403 ? (credentials == nil ? "it requires credentials: run 'zoo login \(registry)'" : "it rejected the \(credentials!.description)")
                : "HTTP \(r.status)"
            throw RegistryError.unauthorized(registry: registry, detail: "the token service \(host.prefix(100)) gave no token: \(why)")
        }
        struct TokenReply: Decodable { var token: String?; var access_token: String?; var expires_in: Int? }
        guard let reply = try? JSONDecoder().decode(TokenReply.self, from: r.body), let token = reply.token ?? reply.access_token, !token.isEmpty,
              token.count < 1 << 16, !token.contains(where: { $0.isNewline }) else {
            throw RegistryError.unauthorized(registry: registry, detail: "the token service \(host.prefix(100)) sent no token in its reply")
        }
        // The spec's default lifetime is 60 s; renew a little early.
        let life = max(1, reply.expires_in ?? 60)
        lock.lock()
        tokens[scope] = (token, Date().addingTimeInterval(TimeInterval(life) - min(5, Double(life) / 10)))
        lock.unlock()
    }

    /// The Authorization header to hand to the downloader for `scope` (after a request has authenticated).
    func currentAuthorization(scope: String) -> String? { authorization(scope: scope) }

    /// `WWW-Authenticate: Scheme k=v, k="quoted, with commas"` → (scheme, params).
    static func parseChallenge(_ header: String) -> (String, [String: String])? {
        guard header.count <= 8192 else { return nil }
        let chars = Array(header.trimmingCharacters(in: .whitespaces))
        var i = 0
        var scheme = ""
        while i < chars.count, chars[i] != " " { scheme.append(chars[i]); i += 1 }
        guard !scheme.isEmpty else { return nil }
        var params: [String: String] = [:]
        while i < chars.count {
            while i < chars.count, chars[i] == " " || chars[i] == "," { i += 1 }
            var key = ""
            while i < chars.count, chars[i] != "=", chars[i] != "," { key.append(chars[i]); i += 1 }
            guard i < chars.count, chars[i] == "=" else { break }
            i += 1
            var value = ""
            if i < chars.count, chars[i] == "\"" {
                i += 1
                while i < chars.count, chars[i] != "\"" {
                    if chars[i] == "\\", i + 1 < chars.count { i += 1 }
                    value.append(chars[i]); i += 1
                }
                i += 1
            } else {
                while i < chars.count, chars[i] != "," { value.append(chars[i]); i += 1 }
                value = value.trimmingCharacters(in: .whitespaces)
            }
            params[key.trimmingCharacters(in: .whitespaces).lowercased()] = value
        }
        return (scheme, params)
    }

    /// The first error code and message of a registry's `{"errors": [...]}` body, bounded.
    static func errorSummary(_ body: Data) -> String? {
        struct Errors: Decodable { struct E: Decodable { var code: String?; var message: String? }; var errors: [E] }
        guard body.count < 1 << 16, let e = try? JSONDecoder().decode(Errors.self, from: body), let first = e.errors.first else { return nil }
        let text = [first.code, first.message].compactMap { $0 }.joined(separator: ": ")
        let clean = String(text.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.map(Character.init))
        return clean.isEmpty ? nil : String(clean.prefix(200)) + (e.errors.count > 1 ? " (and \(e.errors.count - 1) more)" : "")
    }
}

/// One HTTP exchange, synchronously, with the response body bounded by `limit`.
final class OCIRequest: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private var response: HTTPURLResponse?
    private var body = Data()
    private let limit: Int
    private var overflow = false
    private var failure: Error?
    private let done = DispatchSemaphore(value: 0)

    /// HEAD answers carry the Content-Length of a body they do not send.
    private let isHead: Bool

    private init(limit: Int, isHead: Bool) { self.limit = limit; self.isHead = isHead }

    static func perform(method: String, url: URL, headers: [String: String], body: Data?, timeout: TimeInterval, limit: Int) throws -> OCIClient.Response {
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = method
        for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
        let r = OCIRequest(limit: limit, isHead: method == "HEAD")
        let config = URLSessionConfiguration.ephemeral
        config.timeoutIntervalForRequest = timeout
        let session = URLSession(configuration: config, delegate: r, delegateQueue: nil)
        defer { session.finishTasksAndInvalidate() }
        let task: URLSessionTask
        if let body { task = session.uploadTask(with: request, from: body) } else { task = session.dataTask(with: request) }
        task.resume()
        r.done.wait()
        let shown = url.host.map { "\(url.scheme ?? "")://\($0)\(url.port.map { ":\($0)" } ?? "")\(url.path)" } ?? "the registry"
        if r.overflow {
            throw RegistryError.ociRegistry(url: shown, status: r.response?.statusCode ?? 0, detail: "the response is larger than \(limit) bytes; refused")
        }
        guard let http = r.response else {
            throw RegistryError.network(url: shown, detail: "no response (\(r.failure?.localizedDescription ?? "connection failed"))")
        }
        // A 401 arrives as a cancelled task (its challenge was declined above) with the response intact.
        if let f = r.failure, !(http.statusCode == 401 && (f as NSError).code == NSURLErrorCancelled) {
            throw RegistryError.network(url: shown, detail: "the response was cut off (\(f.localizedDescription))")
        }
        var h: [String: String] = [:]
        for (k, v) in http.allHeaderFields { if let k = k as? String, let v = v as? String { h[k.lowercased()] = v } }
        return OCIClient.Response(status: http.statusCode, headers: h, body: r.body)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        self.response = response as? HTTPURLResponse
        if !isHead, response.expectedContentLength > Int64(limit) { overflow = true; completionHandler(.cancel); return }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        guard !overflow else { return }
        if body.count + data.count > limit { overflow = true; dataTask.cancel(); return }
        body.append(data)
    }

    /// A 401 is answered by `OCIClient` itself (Basic or a Bearer token), never by
    /// Foundation's credential machinery: the response is handed back as it is.
    func urlSession(_ session: URLSession, task: URLSessionTask, didReceive challenge: URLAuthenticationChallenge,
                    completionHandler: @escaping (URLSession.AuthChallengeDisposition, URLCredential?) -> Void) {
        completionHandler(.rejectProtectionSpace, nil)
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        if !overflow { failure = error }
        if response == nil, let r = task.response as? HTTPURLResponse { response = r }
        done.signal()
    }
}
