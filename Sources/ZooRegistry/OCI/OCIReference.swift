import Foundation

/// A model in an OCI registry: `oci://HOST[:PORT]/REPO[:TAG|@sha256:HEX]`.
///
/// The repository follows the distribution spec's grammar (lower-case path
/// components separated by `/`, with `.`, `_`, `__` or `-` runs inside), the
/// tag is at most 128 characters of `[A-Za-z0-9_.-]` not starting with `.`
/// or `-`, and a digest is `sha256:` and 64 lower-case hex digits. Without a
/// tag or digest the tag is `latest`.
public struct OCIReference: Equatable, Sendable, CustomStringConvertible {
    /// `host` or `host:port` as written.
    public var registry: String
    public var repository: String
    public var tag: String?
    public var digest: String?

    public static let scheme = "oci://"

    public init(registry: String, repository: String, tag: String? = nil, digest: String? = nil) {
        self.registry = registry
        self.repository = repository
        self.tag = tag
        self.digest = digest
    }

    /// Parses `text`; the error names the reference and what is wrong.
    public init(parsing text: String) throws {
        func bad(_ why: String) -> RegistryError { .ociReference(reference: String(text.prefix(300)), detail: why) }
        guard text.count <= 2048 else { throw bad("the reference is longer than 2048 characters") }
        guard text.hasPrefix(Self.scheme) else { throw bad("an OCI reference starts with oci://, e.g. oci://registry.example.com/team/resnet50:v1") }
        let rest = String(text.dropFirst(Self.scheme.count))
        guard let slash = rest.firstIndex(of: "/") else { throw bad("no repository after the registry host (oci://HOST[:PORT]/REPO[:TAG])") }
        let host = String(rest[..<slash])
        var path = String(rest[rest.index(after: slash)...])
        guard Self.validHost(host) else { throw bad("'\(host)' is not a registry host (HOST or HOST:PORT)") }
        var tag: String?, digest: String?
        if let at = path.firstIndex(of: "@") {
            let d = String(path[path.index(after: at)...])
            guard Self.validDigest(d) else { throw bad("'\(d.prefix(80))' is not a digest (sha256: and 64 lower-case hex digits)") }
            digest = d
            path = String(path[..<at])
        }
        if let colon = path.lastIndex(of: ":"), !path[colon...].contains("/") {
            let t = String(path[path.index(after: colon)...])
            guard Self.validTag(t) else { throw bad("'\(t.prefix(80))' is not a tag (at most 128 of A-Z a-z 0-9 _ . -, not starting with . or -)") }
            tag = t
            path = String(path[..<colon])
        }
        guard Self.validRepository(path) else {
            throw bad("'\(path.prefix(200))' is not a repository name (lower-case letters and digits, separated by / . _ __ or -)")
        }
        self.init(registry: host, repository: path, tag: tag ?? (digest == nil ? "latest" : nil), digest: digest)
    }

    /// The tag or digest to address the manifest by (a digest wins).
    public var manifestReference: String { digest ?? tag ?? "latest" }

    public var description: String {
        Self.scheme + registry + "/" + repository + (tag.map { ":" + $0 } ?? "") + (digest.map { "@" + $0 } ?? "")
    }

    /// The host without the port, lower-cased.
    public var hostName: String {
        if registry.hasPrefix("[") { return String(registry.dropFirst().prefix { $0 != "]" }).lowercased() }
        return String(registry.split(separator: ":").first ?? "").lowercased()
    }

    /// Loopback registries may be reached over plain HTTP without `--insecure`.
    public var isLoopback: Bool { Self.isLoopback(host: hostName) }

    static func isLoopback(host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    static func validHost(_ h: String) -> Bool {
        guard !h.isEmpty, h.count <= 255 else { return false }
        var name = Substring(h), port: Substring?
        if h.hasPrefix("[") {
            guard let close = h.firstIndex(of: "]") else { return false }
            name = h[h.index(after: h.startIndex)..<close]
            let after = h[h.index(after: close)...]
            if !after.isEmpty { guard after.hasPrefix(":") else { return false }; port = after.dropFirst() }
            guard name.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return false }
        } else {
            let parts = h.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 2 else { return false }
            name = parts[0]
            if parts.count == 2 { port = parts[1] }
            guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") }),
                  !name.hasPrefix("-"), !name.hasPrefix(".") else { return false }
        }
        if let p = port { guard let n = Int(p), n > 0, n < 65536, p.allSatisfy(\.isNumber) else { return false } }
        return true
    }

    static func validRepository(_ r: String) -> Bool {
        guard !r.isEmpty, r.count <= 255 else { return false }
        for component in r.split(separator: "/", omittingEmptySubsequences: false) {
            guard let first = component.first, let last = component.last,
                  first.isASCII, first.isLowercase || first.isNumber, last.isASCII, last.isLowercase || last.isNumber else { return false }
            var separatorRun = ""
            for c in component {
                if c.isASCII && (c.isLowercase || c.isNumber) {
                    guard separatorRun.isEmpty || ["." , "_", "__"].contains(separatorRun) || separatorRun.allSatisfy({ $0 == "-" }) else { return false }
                    separatorRun = ""
                } else if c == "." || c == "_" || c == "-" {
                    separatorRun.append(c)
                } else {
                    return false
                }
            }
        }
        return true
    }

    static func validTag(_ t: String) -> Bool {
        guard let f = t.first, t.count <= 128, f != ".", f != "-" else { return false }
        return t.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) }
    }

    static func validDigest(_ d: String) -> Bool {
        guard d.hasPrefix("sha256:") else { return false }
        let hex = d.dropFirst(7)
        return hex.count == 64 && hex.allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }
}
