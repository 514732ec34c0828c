import Foundation
import ZooCore

/// Why a registry operation failed; each case says what, where and what to do.
public enum RegistryError: Error, LocalizedError, Equatable {
    case unknownModel(name: String, catalog: String?, suggestions: [String])
    case unknownVariant(name: String, variant: String, available: [String])
    case noUsableSource(name: String, detail: String)
    case hashMismatch(source: String, algorithm: String, expected: String, actual: String)
    case sizeMismatch(source: String, expected: Int, actual: Int)
    case notAModel(source: String, detail: String)
    case notRegistered(name: String)
    case offline(name: String)
    case network(url: String, detail: String)
    case invalidCatalog(path: String, detail: String)
    case io(path: String, operation: String, detail: String)
    case conversion(source: String, detail: String)
    /// An `oci://` reference that does not parse.
    case ociReference(reference: String, detail: String)
    /// A manifest or config that zoo cannot use (not a zoo model, malformed, too large).
    case ociManifest(reference: String, detail: String)
    /// A registry answered a request with an error.
    case ociRegistry(url: String, status: Int, detail: String)
    /// The registry or its token service refused the credentials (or needs some).
    case unauthorized(registry: String, detail: String)
    /// An OCI image layout directory (`zoo export` / `zoo import`) that is missing or malformed.
    case ociLayout(path: String, detail: String)
    /// The name is taken by a model converted from another source.
    case nameTaken(name: String, digest: String, source: String)

    public var errorDescription: String? {
        switch self {
        case let .unknownModel(n, c, s):
            return "no model named '\(n)'" + (c.map { " in the catalog \($0)" } ?? " (no catalog: give --catalog zoo.json, a URL or a file path)")
                + (s.isEmpty ? "" : "; did you mean \(s.map { "'\($0)'" }.joined(separator: ", "))?") + " ('zoo catalog' lists them)"
        case let .unknownVariant(n, v, a): return "'\(n)' has no variant '\(v)'; variants: \(MessageText.list(a))"
        case let .noUsableSource(n, d): return "'\(n)': \(d)"
        case let .hashMismatch(s, alg, e, a): return "\(s): \(alg) is \(a), expected \(e); the download is damaged or was replaced — nothing was registered"
        case let .sizeMismatch(s, e, a): return "\(s): \(a) bytes, expected \(e); the download is incomplete or wrong — nothing was registered"
        case let .notAModel(s, d): return "\(s): \(d) — nothing was registered"
        case let .notRegistered(n): return "'\(n)' is not in the registry; 'zoo list' shows what is, 'zoo pull \(n)' fetches it"
        case let .offline(n): return "'\(n)' is not cached and offline mode is on (ZOO_OFFLINE / --offline); pull it online or seed it with --from FILE"
        case let .network(u, d): return "\(u): \(d)"
        case let .invalidCatalog(p, d): return "\(p): invalid catalog: \(d)"
        case let .io(p, op, d): return "\(p): \(op) failed: \(d)"
        case let .conversion(s, d): return "\(s): \(d)"
        case let .ociReference(r, d): return "\(r): \(d)"
        case let .ociManifest(r, d): return "\(r): \(d) — nothing was registered"
        case let .ociRegistry(u, status, d): return "\(u): " + (status > 0 ? "HTTP \(status): " : "") + d
        case let .unauthorized(r, d): return "\(r): authentication failed: \(d)"
        case let .ociLayout(p, d): return "\(p): not a usable OCI image layout: \(d)"
        case let .nameTaken(n, d, src):
            return "'\(n)' already names another model (\(d.prefix(19))…, converted from \(src)); give --force to replace it or --name for a new name — nothing was registered"
        }
    }
}
