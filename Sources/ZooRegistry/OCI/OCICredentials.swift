import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A user name and password (or token) for one registry. Never printed.
public struct OCICredentials: Sendable, Equatable, CustomStringConvertible {
    public var username: String
    public var password: String
    /// Where they came from, for messages ("zoo login", "~/.docker/config.json", "environment").
    public var origin: String

    public init(username: String, password: String, origin: String) {
        self.username = username
        self.password = password
        self.origin = origin
    }

    /// Redacted: credentials must never reach a log or an error message.
    public var description: String { "credentials for '\(username)' from \(origin)" }

    var basicHeader: String { "Basic " + Data("\(username):\(password)".utf8).base64EncodedString() }
}

/// Where zoo finds registry credentials, in order: `ZOO_REGISTRY_USER` and
/// `ZOO_REGISTRY_PASSWORD`; the file `zoo login` writes
/// (`$XDG_CONFIG_HOME/zoo/auth.json`, else `~/.config/zoo/auth.json`, mode
/// 0600); Docker's `config.json` (`$DOCKER_CONFIG`, else `~/.docker`) `auths`
/// entries with a base64 `auth`.
public enum OCICredentialStore {
    struct File: Codable { var auths: [String: Entry] }
    struct Entry: Codable { var auth: String? }

    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    static var home: URL {
        if let h = environment["HOME"], !h.isEmpty { return URL(fileURLWithPath: h) }
        return FileManager.default.homeDirectoryForCurrentUser
    }

    /// The file `zoo login` writes.
    public static var loginFile: URL {
        if let x = environment["XDG_CONFIG_HOME"], !x.isEmpty { return URL(fileURLWithPath: x).appendingPathComponent("zoo/auth.json") }
        return home.appendingPathComponent(".config/zoo/auth.json")
    }

    static var dockerConfig: URL {
        if let d = environment["DOCKER_CONFIG"], !d.isEmpty { return URL(fileURLWithPath: d).appendingPathComponent("config.json") }
        return home.appendingPathComponent(".docker/config.json")
    }

    /// The credentials for `registry` (`host[:port]`), if any source has them.
    public static func lookup(_ registry: String) -> OCICredentials? {
        if let u = environment["ZOO_REGISTRY_USER"], let p = environment["ZOO_REGISTRY_PASSWORD"], !u.isEmpty {
            return OCICredentials(username: u, password: p, origin: "ZOO_REGISTRY_USER / ZOO_REGISTRY_PASSWORD")
        }
        if let c = read(loginFile, registry: registry, origin: "zoo login") { return c }
        return read(dockerConfig, registry: registry, origin: dockerConfig.path)
    }

    static func read(_ url: URL, registry: String, origin: String) -> OCICredentials? {
        guard let data = try? Data(contentsOf: url), data.count < 1 << 20,
              let file = try? JSONDecoder().decode(File.self, from: data) else { return nil }
        let wanted = registry.lowercased()
        for (key, entry) in file.auths {
            // Docker writes bare hosts and, for Docker Hub, https://index.docker.io/v1/.
            var k = key.lowercased()
            for p in ["https://", "http://"] where k.hasPrefix(p) { k = String(k.dropFirst(p.count)) }
            k = String(k.prefix { $0 != "/" })
            guard k == wanted, let auth = entry.auth, let raw = Data(base64Encoded: auth),
                  let text = String(data: raw, encoding: .utf8), let colon = text.firstIndex(of: ":") else { continue }
            return OCICredentials(username: String(text[..<colon]), password: String(text[text.index(after: colon)...]), origin: origin)
        }
        return nil
    }

    /// Stores `credentials` for `registry` in the login file (created 0600, replaced atomically).
    public static func save(_ credentials: OCICredentials, for registry: String) throws {
        var file = (try? Data(contentsOf: loginFile)).flatMap { try? JSONDecoder().decode(File.self, from: $0) } ?? File(auths: [:])
        file.auths[registry.lowercased()] = Entry(auth: Data("\(credentials.username):\(credentials.password)".utf8).base64EncodedString())
        try write(file)
    }

    /// Forgets `registry`; true when it was stored.
    @discardableResult
    public static func remove(_ registry: String) throws -> Bool {
        guard var file = (try? Data(contentsOf: loginFile)).flatMap({ try? JSONDecoder().decode(File.self, from: $0) }),
              file.auths.removeValue(forKey: registry.lowercased()) != nil else { return false }
        try write(file)
        return true
    }

    static func write(_ file: File) throws {
        let dir = loginFile.deletingLastPathComponent()
        do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]) } catch {
            throw RegistryError.io(path: dir.path, operation: "create directory", detail: error.localizedDescription)
        }
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try e.encode(file)
        let tmp = dir.appendingPathComponent(".auth-\(getpid()).json").path
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw RegistryError.io(path: tmp, operation: "create", detail: String(cString: strerror(errno))) }
        let ok = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) == $0.count } && fchmod(fd, 0o600) == 0 && fsync(fd) == 0
        close(fd)
        guard ok, rename(tmp, loginFile.path) == 0 else {
            unlink(tmp)
            throw RegistryError.io(path: loginFile.path, operation: "write", detail: String(cString: strerror(errno)))
        }
    }
}
