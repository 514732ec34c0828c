import ArgumentParser
import CZooSupport
import Foundation
import ZooCore
import ZooFormat
import ZooRegistry

/// The documented exit codes of `zoo` (README, "Exit codes"). Scripts rely on
/// them to tell bad input from a damaged file from a failed download.
public enum ZooExitCode: Int32, CaseIterable, Sendable {
    case success = 0
    /// An unexpected internal failure (a bug: please report it).
    case internalError = 1
    /// Bad command line (ArgumentParser's validation code).
    case usage = 64
    /// An input file cannot be read, is malformed or is unsupported.
    case inputError = 65
    /// A file's bytes do not match its recorded digests.
    case integrityFailure = 66
    /// Converted model outputs differ from the reference beyond tolerance.
    case parityFailure = 67
    /// A download failed.
    case networkFailure = 68
    /// Writing output failed (permissions, disk full).
    case ioError = 74
    /// A registry or its token service refused the credentials, or needs some (EX_NOPERM).
    case authFailure = 77
}

/// An error the CLI reports as one line with a chosen exit code.
struct CLIError: Error {
    var message: String
    var code: ZooExitCode
}

/// Prints a one-line error to stderr and maps it to its documented exit code.
func runReportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as ExitCode {
        throw e
    } catch let e as CLIError {
        printError(e.message)
        throw ExitCode(e.code.rawValue)
    } catch let e as ZooFormatError {
        printError(e.localizedDescription)
        // Damaged bytes are an integrity failure in every command, as in verify.
        if e.isDamage { throw ExitCode(ZooExitCode.integrityFailure.rawValue) }
        // Failing to read an input is an input error; failing to write output is an I/O error.
        if case .io(_, let op, _) = e, ["create", "write", "fsync", "rename"].contains(op) {
            throw ExitCode(ZooExitCode.ioError.rawValue)
        }
        throw ExitCode(ZooExitCode.inputError.rawValue)
    } catch let e as RegistryError {
        printError(e.localizedDescription)
        switch e {
        case .network, .offline, .ociRegistry: throw ExitCode(ZooExitCode.networkFailure.rawValue)
        case .unauthorized: throw ExitCode(ZooExitCode.authFailure.rawValue)
        case .ociReference: throw ExitCode(ZooExitCode.usage.rawValue)
        case .hashMismatch, .sizeMismatch: throw ExitCode(ZooExitCode.integrityFailure.rawValue)
        case .io: throw ExitCode(ZooExitCode.ioError.rawValue)
        default: throw ExitCode(ZooExitCode.inputError.rawValue)
        }
    } catch let e as LocalizedError {
        printError(e.errorDescription ?? "\(e)")
        throw ExitCode(ZooExitCode.inputError.rawValue)
    } catch {
        printError("\(error)")
        throw ExitCode(ZooExitCode.internalError.rawValue)
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data(("zoo: error: " + boundedErrorLine(message) + "\n").utf8))
}

/// Longest error line printed, in characters. Messages name the file first and
/// what to do last, so a longer one keeps its start and its end.
let maxErrorLength = 1000

/// One line, whatever a hostile file put into a name the message quotes
/// (control characters escaped), and at most `maxErrorLength` characters
/// (the middle cut, with how much).
func boundedErrorLine(_ message: String) -> String {
    var line = String(String.UnicodeScalarView(message.unicodeScalars.flatMap { c -> [Unicode.Scalar] in
        c.value < 0x20 || c.value == 0x7F ? Array(String(format: "\\x%02x", c.value).unicodeScalars) : [c]
    }))
    if line.count > maxErrorLength {
        let head = line.prefix(maxErrorLength - 300), tail = line.suffix(240)
        line = "\(head) … [\(line.count - head.count - tail.count) characters cut] … \(tail)"
    }
    return line
}

/// Writes `value` as pretty, key-sorted JSON on stdout (the `--json` contract).
func printJSON<T: Encodable>(_ value: T) throws {
    let e = JSONEncoder()
    e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    FileHandle.standardOutput.write(try e.encode(value))
    FileHandle.standardOutput.write(Data("\n".utf8))
}

/// Human-readable byte counts ("550.0 MB").
func formatBytes(_ n: Int) -> String {
    let units = ["B", "KB", "MB", "GB", "TB"]
    var v = Double(n)
    var u = 0
    while v >= 1000, u < units.count - 1 {
        v /= 1000
        u += 1
    }
    return u == 0 ? "\(n) B" : String(format: "%.1f %@", v, units[u])
}

/// Left-aligned text table with two-space gaps.
func renderTable(_ rows: [[String]], indent: String = "  ") -> String {
    guard let width = rows.map(\.count).max() else { return "" }
    var widths = [Int](repeating: 0, count: width)
    for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
    return rows.map { r in
        indent + r.enumerated().map { i, c in
            i == r.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }.joined(separator: "\n")
}

/// Re-runs this command in a child process with `--in-process` added.
///
/// libhdf5 crashes on some malformed files; running the work in a child
/// turns such a crash into a typed input error (exit 65) instead of killing
/// zoo. `cleanup` gets the child's pid to remove what it left half-written.
/// With `captureErrors` (no progress output to keep live), the worker's stderr is held back
/// and replaced by one line if the worker is killed.
func runInChildProcess(describing source: String, captureErrors: Bool = false, cleanup: (Int32) -> Void) throws {
    let child = Process()
    child.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    child.arguments = Array(CommandLine.arguments.dropFirst()) + ["--in-process"]
    var env = ProcessInfo.processInfo.environment
    env["SWIFT_BACKTRACE"] = "enable=no"   // the crash is reported below, in one line
    child.environment = env
    // The worker's stderr is passed on when it exits normally; when a library kills it, what
    // the C runtime printed on the way down ("free(): invalid pointer") is replaced by one line.
    let err = Pipe()
    if captureErrors { child.standardError = err }
    do { try child.run() } catch {
        throw CLIError(message: "cannot start the worker process: \(error.localizedDescription)", code: .internalError)
    }
    if captureErrors {
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        child.waitUntilExit()
        if child.terminationReason != .uncaughtSignal { FileHandle.standardError.write(errors) }
    } else {
        child.waitUntilExit()
    }
    if child.terminationReason == .uncaughtSignal {
        cleanup(child.processIdentifier)
        TemporaryFiles.removeScratch(ofProcess: child.processIdentifier)
        if child.terminationStatus == SIGINT || child.terminationStatus == SIGTERM {
            // Interrupted, not crashed: end the same way.
            TemporaryFiles.removeAll()
            signal(child.terminationStatus, SIG_DFL)
            kill(getpid(), child.terminationStatus)
        }
        if child.terminationStatus == SIGXCPU || child.terminationStatus == SIGKILL {
            throw CLIError(message: "\(source): reading this file did not finish within its CPU-time limit (a malformed HDF5 file can make libhdf5 loop forever); it is malformed or hostile — re-download it", code: .inputError)
        }
        let limit = workerMemoryLimit(sourceBytes: fileBytes(source)) >> 30
        throw CLIError(message: "\(source): the HDF5 library crashed reading this file (signal \(child.terminationStatus)) or it needed more than the worker's \(limit) GiB of memory; it is malformed or hostile — re-download it", code: .inputError)
    }
    if child.terminationStatus != 0 { throw ExitCode(child.terminationStatus) }
}

/// Called first in a worker: die with the parent, so a `kill -9` of the
/// command leaves no worker behind holding locks or writing files; and bound
/// its CPU time and address space, so a file that makes a library loop
/// forever (libhdf5 does on some damaged global heaps) or allocate without
/// end ends in a typed error instead of a hang or the machine's OOM killer.
///
/// The CPU limit is 10 s plus 1 s per 10 MB of `sourceBytes` (conversion
/// itself runs at well over 100 MB/s of CPU time); the kernel sends SIGXCPU at
/// the soft limit and SIGKILL 5 s later. The address-space limit is
/// `workerMemoryLimit`; a failed allocation makes libhdf5 return an error and
/// the Swift runtime abort, and both end in one typed line from the parent.
func becomeWorker(sourceBytes: Int?) throws {
    if czoo_die_with_parent() != 0 && getppid() == 1 {
        throw ExitCode(ZooExitCode.internalError.rawValue)
    }
    let seconds = workerCPULimit(sourceBytes: sourceBytes)
    var limit = rlimit(rlim_cur: rlim_t(seconds), rlim_max: rlim_t(seconds + 5))
    _ = setrlimit(Int32(RLIMIT_CPU.rawValue), &limit)
    if czoo_sanitized() == 0 {
        let bytes = rlim_t(workerMemoryLimit(sourceBytes: sourceBytes))
        var space = rlimit(rlim_cur: bytes, rlim_max: bytes)
        _ = setrlimit(Int32(RLIMIT_AS.rawValue), &space)
    }
}

/// CPU seconds a worker may use for a source of `sourceBytes` (unknown: 10 minutes).
func workerCPULimit(sourceBytes: Int?) -> Int {
    guard let b = sourceBytes else { return 600 }
    return 10 + b / 10_000_000
}

/// Address space a worker may map for a source of `sourceBytes`: 4 GiB for
/// the runtime, thread arenas and libraries, plus four times the source (its
/// weights read once, transposed once, written through a mapped output), and
/// never less than 8 GiB nor more than physical memory plus that 4 GiB. An
/// unknown size (a download) gets physical memory.
func workerMemoryLimit(sourceBytes: Int?) -> Int {
    let gib = 1 << 30
    let physical = Int(clamping: ProcessInfo.processInfo.physicalMemory)
    guard let b = sourceBytes else { return max(8 * gib, physical) }
    let (scaled, overflow) = b.multipliedReportingOverflow(by: 4)
    let wanted = overflow ? Int.max : 4 * gib + scaled
    return max(8 * gib, min(wanted, physical + 4 * gib))
}

/// The size of a local file, for the worker's CPU limit.
func fileBytes(_ path: String) -> Int? {
    var st = stat()
    return stat(path, &st) == 0 ? Int(st.st_size) : nil
}
