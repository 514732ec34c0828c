import ArgumentParser
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
            66 integrity failure, 67 parity failure, 68 network failure, 74 I/O error.
            """,
        version: ZooVersion.string,
        subcommands: [Pull.self, Convert.self, Inspect.self, Verify.self, Run.self, ParityCommand.self,
                      List.self, Info.self, PathCommand.self, Remove.self, GC.self, CatalogCommand.self,
                      Similar.self, Analogy.self, VectorCommand.self]
    )

    public init() {}
}
