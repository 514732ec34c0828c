import ArgumentParser
import Foundation
import ZooCore
import ZooRegistry
#if canImport(Glibc)
import Glibc
#endif

/// Options shared by the commands that talk to an OCI registry.
struct OCIConnectionOptions: ParsableArguments {
    @Flag(help: "Allow plain HTTP to a registry that is not on a loopback address.")
    var insecure = false
}

struct Push: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Push a registered model to an OCI registry: oci://HOST[:PORT]/REPO[:TAG].",
        discussion: "The card goes up as the config blob and the .zoo file as the one layer, then the manifest. Blobs the repository has are skipped, blobs another repository of the registry has are mounted, and an interrupted upload resumes. Credentials: zoo login, ~/.docker/config.json or ZOO_REGISTRY_USER/ZOO_REGISTRY_PASSWORD.")
    @Argument(help: "Registered name.") var model: String
    @Argument(help: "Destination, oci://HOST[:PORT]/REPO[:TAG] (tag default: latest).") var reference: String
    @OptionGroup var connection: OCIConnectionOptions
    @Flag(help: "Print machine-readable JSON on stdout.") var json = false

    func run() throws {
        try runReportingErrors {
            let ref = try OCIReference(parsing: reference)
            let r = try Registry().push(model, to: ref, options: .init(insecure: connection.insecure))
            if json { try printJSON(r); return }
            print("pushed \(model) → \(r.reference)  \(r.manifestDigest)")
            print("  uploaded \(r.uploaded.count) blob(s), \(formatBytes(r.bytesUploaded))\(r.resumed ? " (resumed)" : ""); \(r.present.count) already there; \(r.mounted.count) mounted")
        }
    }
}

struct Login: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check and store credentials for an OCI registry (in $XDG_CONFIG_HOME/zoo/auth.json, mode 0600).")
    @Argument(help: "Registry host, HOST[:PORT].") var host: String
    @Option(name: [.short, .long], help: "User name.") var username: String
    @Flag(help: "Read the password from standard input (else it is asked for on the terminal).") var passwordStdin = false
    @OptionGroup var connection: OCIConnectionOptions

    func run() throws {
        try runReportingErrors {
            let password: String
            if passwordStdin {
                let data = FileHandle.standardInput.readDataToEndOfFile().prefix(1 << 16)
                password = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
            } else {
                guard let p = getpass("Password: ") else { throw CLIError(message: "no password given", code: .usage) }
                password = String(cString: p)
            }
            guard !password.isEmpty else { throw CLIError(message: "the password is empty", code: .usage) }
            let credentials = OCICredentials(username: username, password: password, origin: "zoo login")
            try Registry.login(host: host, credentials: credentials, insecure: connection.insecure)
            print("logged in to \(host) as \(username); credentials stored in \(OCICredentialStore.loginFile.path)")
        }
    }
}

struct Logout: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Forget the credentials zoo login stored for a registry.")
    @Argument(help: "Registry host, HOST[:PORT].") var host: String
    func run() throws {
        try runReportingErrors {
            print(try OCICredentialStore.remove(host) ? "removed the credentials for \(host)" : "no credentials stored for \(host)")
        }
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a registered model as an OCI image layout (oci-layout, index.json, blobs/sha256), for skopeo and other OCI tools.")
    @Argument(help: "Registered name.") var model: String
    @Argument(help: "Layout directory (new, empty, or an existing layout to add the tag to).") var directory: String
    @Option(help: "Tag (org.opencontainers.image.ref.name) in the layout.") var tag = "latest"
    @Flag(help: "Print machine-readable JSON on stdout.") var json = false

    func run() throws {
        try runReportingErrors {
            let d = try Registry().export(model, to: URL(fileURLWithPath: directory), tag: tag)
            if json { try printJSON(d); return }
            print("exported \(model) to \(directory) as '\(tag)'  \(d.digest)")
        }
    }
}

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import", abstract: "Register a model from an OCI image layout directory (zoo export, skopeo copy … oci:DIR).")
    @Argument(help: "Layout directory.") var directory: String
    @Option(help: "Tag to import when the layout holds several.") var tag: String?
    @Option(help: "Register under this name (default: the card's name, with the tag unless it is latest).") var name: String?
    @Flag(help: "Replace a name that points to another model.") var force = false
    @Flag(help: "Print the manifest as JSON.") var json = false

    func run() throws {
        try runReportingErrors {
            let registry = try Registry()
            let m = try registry.importLayout(URL(fileURLWithPath: directory), tag: tag, options: .init(name: name, force: force))
            if json { try printJSON(m) } else { print(registry.home.appendingPathComponent(m.model).path) }
        }
    }
}

/// `zoo pull oci://…`: no conversion and no HDF5, so no worker process.
func pullOCI(_ reference: String, name: String?, force: Bool, insecure: Bool, json: Bool) throws {
    let ref = try OCIReference(parsing: reference)
    let registry = try Registry()
    let m = try registry.pull(oci: ref, options: .init(insecure: insecure, name: name, force: force))
    if json { try printJSON(m) } else { print(registry.home.appendingPathComponent(m.model).path) }
}

/// `zoo list --remote oci://HOST/REPO`.
func listRemote(_ reference: String, insecure: Bool, json: Bool) throws {
    let ref = try OCIReference(parsing: reference)
    let tags = try Registry(create: false).remoteTags(ref, options: .init(insecure: insecure))
    struct RemoteTags: Encodable { var repository: String; var tags: [String] }
    if json { try printJSON(RemoteTags(repository: "\(OCIReference.scheme)\(ref.registry)/\(ref.repository)", tags: tags)); return }
    print(tags.isEmpty ? "no tags in \(OCIReference.scheme)\(ref.registry)/\(ref.repository)" : tags.joined(separator: "\n"))
}

/// `zoo info oci://…`: the manifest and the card, without downloading the model.
func remoteInfo(_ reference: String, insecure: Bool, json: Bool) throws {
    let ref = try OCIReference(parsing: reference)
    let info = try Registry(create: false).remoteInfo(ref, options: .init(insecure: insecure))
    if json { try printJSON(info); return }
    let layer = info.manifest.layers.first { $0.mediaType == "application/vnd.zoo.model.layer.v1.zoo" }
    var rows = [["reference", info.reference], ["manifest", info.manifestDigest],
                ["model digest", info.manifest.annotations?["org.zoo.model.digest"] ?? "-"],
                ["size", layer.map { formatBytes($0.size) } ?? "-"]]
    for (k, v) in (info.manifest.annotations ?? [:]).sorted(by: { $0.key < $1.key }) where k.hasPrefix("org.opencontainers.image.") {
        rows.append([String(k.dropFirst("org.opencontainers.image.".count)), v])
    }
    print(renderTable(rows, indent: ""))
    print()
    let card = info.card
    print(renderTable([["name", card.name], ["family", card.family ?? "-"], ["task", card.task ?? "-"],
                       ["inputs", card.inputs.map { "\($0.name) \($0.dtype.rawValue)\(ShapeMath.describe($0.shape))" }.joined(separator: ", ")],
                       ["outputs", card.outputs.map { "\($0.name) \($0.dtype.rawValue)\(ShapeMath.describe($0.shape))" }.joined(separator: ", ")],
                       ["license", card.license ?? "-"]], indent: ""))
}
