import ArgumentParser
import Foundation
import ZooCore
import ZooFormat
import ZooRegistry

/// `zoo verify FILE…`: prove the bytes on disk are the bytes that were written.
struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every tensor's SHA-256 and the header digest of .zoo files.",
        discussion: "Exits 0 when every file is intact and 66 (integrity failure) when any is damaged, naming each damaged tensor.")

    @Argument(help: ".zoo files or registered names (all registered models when none are given).")
    var files: [String] = []

    @Option(name: .customLong("threads"), help: "Hashing threads (default: all cores).")
    var threadsOption: Int?
    var threads: Int { threadsOption ?? ProcessInfo.processInfo.activeProcessorCount }

    @Flag(help: "Print machine-readable JSON on stdout.")
    var json = false

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
    }

    /// Verifies one file; structural and header damage become a report too,
    /// so every file gets a verdict. I/O errors (missing file) are rethrown.
    static func check(_ path: String, threads: Int) throws -> (report: VerificationReport, problem: String?) {
        do {
            let f = try ZooFile(path: path)
            let r = f.verify(threads: threads)
            guard !r.intact else { return (r, nil) }
            let parts = r.damage.map { d in
                d.kind == "tensor" ? "tensor '\(d.name ?? "")' (offset \(d.offset))" : "\(d.kind) byte at offset \(d.offset)"
            }
            return (r, "\(path): damaged: " + parts.joined(separator: ", ") + "; re-download or re-convert it")
        } catch let e as ZooFormatError where e.isIntegrityFailure {
            let offset: Int
            switch e {
            case .headerDigestMismatch: offset = ZooFormatSpec.preambleSize
            default: offset = 0
            }
            let r = VerificationReport(path: path, digest: nil, tensorCount: 0, bytesHashed: 0,
                                       damage: [.init(kind: "header", name: nil, offset: offset)])
            return (r, e.localizedDescription)
        }
    }

    /// One entry of `verify --json` (always an array, one entry per file, in order).
    struct Entry: Encodable {
        var path: String
        /// "ok", "damaged" or "error" (the file could not be read).
        var result: String
        var digest: String?
        var tensorCount: Int
        var bytesHashed: Int
        var damage: [VerificationReport.Damage]
        var error: String?
        var seconds: Double
    }

    func run() throws {
        try runReportingErrors {
            // Every file is checked, whatever happens to the others; the exit code is the most
            // severe result: 66 if any file is damaged, else 65 if any could not be read.
            var entries: [Entry] = []
            var worst: ZooExitCode?
            let targets: [(label: String, path: String?, error: String?)]
            if files.isEmpty {
                targets = try Registry(create: false).list().map { m in
                    do { return (m.name, try Registry(create: false).path(m.name), nil) } catch { return (m.name, nil, error.localizedDescription) }
                }
            } else {
                targets = files.map { f in
                    do { return (f, try resolveModelPath(f), nil) } catch { return (f, nil, (error as? LocalizedError)?.errorDescription ?? "\(error)") }
                }
            }
            if targets.isEmpty && !json { print("no models registered") }
            for t in targets {
                let start = DispatchTime.now()
                var entry = Entry(path: t.path ?? t.label, result: "ok", digest: nil, tensorCount: 0, bytesHashed: 0, damage: [], error: nil, seconds: 0)
                do {
                    guard let path = t.path else { throw CLIError(message: t.error ?? "\(t.label): not found", code: .inputError) }
                    let (r, problem) = try Self.check(path, threads: threads)
                    entry.digest = r.digest
                    entry.tensorCount = r.tensorCount
                    entry.bytesHashed = r.bytesHashed
                    entry.damage = r.damage
                    if let problem {
                        entry.result = "damaged"
                        entry.error = problem
                        worst = .integrityFailure
                        printError(problem)
                    }
                } catch {
                    entry.result = "error"
                    entry.error = (error as? CLIError)?.message ?? (error as? LocalizedError)?.errorDescription ?? "\(error)"
                    if worst == nil { worst = .inputError }
                    printError(entry.error!)
                }
                entry.seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
                if !json && entry.result == "ok" {
                    print("ok  \(entry.path)  \(entry.digest ?? "")  \(entry.tensorCount) tensors, \(formatBytes(entry.bytesHashed)) in \(String(format: "%.2f", entry.seconds)) s")
                }
                entries.append(entry)
            }
            if json { try printJSON(entries) }
            if let worst { throw ExitCode(worst.rawValue) }
        }
    }
}

/// Type-erased `Encodable` for choosing between a single report and a list.
struct AnyEncodable: Encodable {
    let encodeTo: (Encoder) throws -> Void
    init<T: Encodable>(_ v: T) { encodeTo = v.encode }
    func encode(to encoder: Encoder) throws { try encodeTo(encoder) }
}
