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

    @Option(help: "Hashing threads (default: all cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

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

    func run() throws {
        try runReportingErrors {
            var reports: [VerificationReport] = []
            var failed = false
            let targets = files.isEmpty ? try Registry().list().map { try Registry().path($0.name) } : try files.map(resolveModelPath)
            if targets.isEmpty { print("no models registered") }
            for path in targets {
                let start = DispatchTime.now()
                let (r, problem) = try Self.check(path, threads: threads)
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
                reports.append(r)
                if let problem {
                    failed = true
                    printError(problem)
                } else if !json {
                    print("ok  \(path)  \(r.digest ?? "")  \(r.tensorCount) tensors, \(formatBytes(r.bytesHashed)) in \(String(format: "%.2f", seconds)) s")
                }
            }
            if json { try printJSON(targets.count == 1 ? AnyEncodable(reports[0]) : AnyEncodable(reports)) }
            if failed { throw ExitCode(ZooExitCode.integrityFailure.rawValue) }
        }
    }
}

/// Type-erased `Encodable` for choosing between a single report and a list.
struct AnyEncodable: Encodable {
    let encodeTo: (Encoder) throws -> Void
    init<T: Encodable>(_ v: T) { encodeTo = v.encode }
    func encode(to encoder: Encoder) throws { try encodeTo(encoder) }
}
