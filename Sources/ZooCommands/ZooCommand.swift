import ArgumentParser
import Dispatch
import Foundation
import ZooFormat
import Glibc
import ZooCore

/// The `zoo` command line: a thin layer over the Zoo libraries.
public struct ZooCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "zoo",
        abstract: "Pretrained-model zoo and weight converter: import, verify, inspect and run models.",
        discussion: """
            Models live in the native .zoo format: one memory-mappable file with a JSON \
            header (model card, graph, tensor table) and SHA-256 digests for every tensor.

            Exit codes: 0 success, 1 internal error, 64 usage, 65 input error, \
            66 integrity failure, 67 parity failure, 68 network failure, 74 I/O error, \
            77 registry authentication failure.
            """,
        version: ZooVersion.string,
        subcommands: [Pull.self, Convert.self, Inspect.self, Verify.self, Run.self, ParityCommand.self,
                      List.self, Info.self, PathCommand.self, Remove.self, GC.self, CatalogCommand.self,
                      Similar.self, Analogy.self, VectorCommand.self, Classify.self, Features.self, Fit.self,
                      Push.self, Login.self, Logout.self, Export.self, Import.self]
    )

    public init() {}
}

extension ZooCommand {
    /// The process entry point: signal handling, then the command line.
    ///
    /// SIGINT and SIGTERM remove the temporary files being written (so an
    /// interrupted conversion leaves nothing behind), then end the process
    /// with the signal as before. A full disk or a file-size limit surfaces as
    /// a write error with a message instead of killing the process (SIGXFSZ).
    public static func start() -> Never {
        signal(SIGXFSZ, SIG_IGN)
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                TemporaryFiles.removeAll()
                signal(sig, SIG_DFL)
                kill(getpid(), sig)
            }
            source.resume()
            sources.append(source)
        }
        withExtendedLifetime(sources) { main() }
        Glibc.exit(0)
    }
}
