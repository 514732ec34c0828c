import ArgumentParser
import Foundation
import ZooCore
import ZooFormat
import ZooRegistry

/// Where the catalog and the registry are.
struct RegistryOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The catalog (default: $ZOO_CATALOG, else the one built into zoo).", valueName: "file"))
    var catalog: String?

    func openCatalog() throws -> Catalog? {
        if let c = catalog ?? ProcessInfo.processInfo.environment["ZOO_CATALOG"] { return try Catalog(path: c) }
        return try Catalog.bundled()
    }

    /// The registry at $ZOO_HOME (default ~/.cache/zoo).
    func registry() throws -> Registry { try Registry() }
}

/// A model argument: a `.zoo` path, or a registered name.
func resolveModelPath(_ model: String) throws -> String {
    if FileManager.default.fileExists(atPath: model) || model.hasSuffix(".zoo") { return model }
    return try Registry(create: false).path(model)
}

struct Pull: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fetch, verify, convert and register a model: a catalog NAME[:VARIANT], a file path, a file:// or http(s) URL, or oci://HOST/REPO[:TAG|@DIGEST].",
        discussion: "Nothing is registered unless the source's published hash matches and the converted model verifies. Prints the model's path.")

    @Argument(help: "Catalog name (e.g. demo-resnet_bottleneck, keras-vgg16:notop), path or file:// URL.")
    var model: String

    @OptionGroup var registryOptions: RegistryOptions

    @Option(help: ArgumentHelp("Use this file, downloaded by hand, as the source (its hash is still checked).", valueName: "file"))
    var from: String?

    @Option(help: ArgumentHelp("Architecture for weights-only Keras files: a JSON file or a catalog reference (default for a catalog model: its own).", valueName: "file|ref"))
    var arch: String?

    @Option(help: ArgumentHelp("Global pooling for a built-in Keras notop architecture: none, avg or max.", valueName: "mode"))
    var pooling: String?

    @Option(help: "Register under this name.")
    var name: String?

    @Option(help: ArgumentHelp("For archives holding several files (GloVe zips): the member to convert.", valueName: "name"))
    var member: String?

    @Flag(help: "Use the cache only (also ZOO_OFFLINE=1).")
    var offline = false

    @Flag(help: "Replace a name that already points to a model from another source.")
    var force = false

    @Flag(help: "Print the manifest as JSON.")
    var json = false

    @Flag(help: "For oci:// references: allow plain HTTP to a registry that is not on a loopback address.")
    var insecure = false

    /// Set in the child process that does the work (see `runInChildProcess`).
    @Flag(help: .hidden)
    var inProcess = false

    func run() throws {
        try runReportingErrors {
            if model.hasPrefix(OCIReference.scheme) {
                try pullOCI(model, name: name, force: force, insecure: insecure, json: json)
                return
            }
            if !inProcess {
                try runInChildProcess(describing: model) { pid in
                    // Staging files carry the worker's pid; the lock died with it.
                    let tmp = Registry.defaultHome().appendingPathComponent("tmp")
                    for f in (try? FileManager.default.contentsOfDirectory(atPath: tmp.path)) ?? [] where f.contains("-\(pid)-") {
                        try? FileManager.default.removeItem(at: tmp.appendingPathComponent(f))
                    }
                }
                return
            }
            // A file given here bounds the CPU time; a download's size is known only later.
            try becomeWorker(sourceBytes: from.flatMap(fileBytes) ?? fileBytes(model).map { $0 } )
            let options = Registry.PullOptions(catalog: try registryOptions.openCatalog(),
                                               offline: offline || ProcessInfo.processInfo.environment["ZOO_OFFLINE"] == "1",
                                               from: from, architecture: arch, name: name)
            var opts = options
            opts.member = member
            opts.pooling = pooling
            opts.force = force
            let registry = try registryOptions.registry()
            let m = try registry.pull(model, options: opts)
            if json { try printJSON(m) } else { print(registry.home.appendingPathComponent(m.model).path) }
        }
    }
}

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List registered models, or with --remote the tags of an OCI repository.")
    @Option(help: ArgumentHelp("List the tags of this OCI repository instead.", valueName: "oci://HOST/REPO")) var remote: String?
    @OptionGroup var connection: OCIConnectionOptions
    @Flag(help: "Print machine-readable JSON on stdout.") var json = false

    func run() throws {
        try runReportingErrors {
            if let remote { try listRemote(remote, insecure: connection.insecure, json: json); return }
            let all = try Registry(create: false).list()
            if json { try printJSON(all); return }
            var rows = [["name", "digest", "source", "format"]]
            for m in all { rows.append([m.name, String(m.digest.prefix(19)), m.source.file ?? m.source.url ?? "-", m.source.format]) }
            print(all.isEmpty ? "no models registered; 'zoo pull NAME' adds one" : renderTable(rows, indent: ""))
        }
    }
}

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a registered model's manifest and card, or those of oci://HOST/REPO[:TAG] without downloading it.")
    @Argument(help: "Registered name, or oci://HOST/REPO[:TAG|@DIGEST].") var model: String
    @OptionGroup var connection: OCIConnectionOptions
    @Flag(help: "Print machine-readable JSON on stdout.") var json = false

    func run() throws {
        try runReportingErrors {
            if model.hasPrefix(OCIReference.scheme) { try remoteInfo(model, insecure: connection.insecure, json: json); return }
            let registry = try Registry(create: false)
            let m = try registry.manifest(model)
            if json {
                // The manifest and the model's card, in one object.
                struct Output: Encodable { var manifest: Registry.Manifest; var card: ModelCard }
                try printJSON(Output(manifest: m, card: try registry.open(model).card))
                return
            }
            print(renderTable([["name", m.name], ["digest", m.digest], ["model", registry.home.appendingPathComponent(m.model).path],
                               ["source", "\(m.source.format)  \(m.source.file ?? "")  \(formatBytes(m.source.byteSize))  sha256:\(m.source.sha256)"],
                               ["converter", m.converter]], indent: ""))
            print()
            print(Inspect.describe(try registry.open(model)))
        }
    }
}

struct PathCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "path", abstract: "Print the path of a registered model's .zoo file (for scripts).")
    @Argument(help: "Registered name.") var model: String
    @Flag(help: "Print machine-readable JSON on stdout.") var json = false
    func run() throws {
        try runReportingErrors {
            let path = try Registry(create: false).path(model)
            if json { try printJSON(["name": model, "path": path]) } else { print(path) }
        }
    }
}

struct Remove: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Unregister models (files are reclaimed by 'zoo gc').")
    @Argument(help: "Registered names.") var models: [String]
    @Flag(help: "Print machine-readable JSON on stdout.") var json = false
    func run() throws {
        try runReportingErrors {
            for m in models { try Registry().remove(m) }
            if json { try printJSON(["removed": models]) }
        }
    }
}

struct GC: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gc", abstract: "Delete blobs and models no name refers to, and leftover temporary files.")
    @Flag(help: "Print machine-readable JSON on stdout.") var json = false
    func run() throws {
        try runReportingErrors {
            let r = try Registry().gc()
            if json { try printJSON(r) } else {
                print("removed \(r.removedBlobs) blobs, \(r.removedModels) models, \(r.removedTemporary) temporary files; freed \(formatBytes(r.freedBytes))")
            }
        }
    }
}

struct CatalogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "catalog", abstract: "List the models the catalog can pull.")
    @OptionGroup var registryOptions: RegistryOptions
    @Flag(help: "Print machine-readable JSON on stdout.") var json = false

    struct Row: Encodable { var name: String; var family: String?; var format: String; var variants: [String]; var license: String? }

    func run() throws {
        try runReportingErrors {
            guard let c = try registryOptions.openCatalog() else {
                throw CLIError(message: "no catalog: give --catalog zoo.json or set ZOO_CATALOG", code: .usage)
            }
            let rows = c.entries.map { Row(name: $0.name, family: $0.family, format: $0.format, variants: ($0.variants ?? []).map(\.name), license: $0.license) }
            if json { try printJSON(rows); return }
            print(renderTable([["name", "family", "format", "variants"]] + rows.map { [$0.name, $0.family ?? "", $0.format, $0.variants.joined(separator: ",")] }, indent: ""))
        }
    }
}
