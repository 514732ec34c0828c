import ArgumentParser
import Foundation
import ZooCore
import ZooFormat
import ZooRuntime

/// `zoo parity MODEL --input x.npy --expect y.npy`: does the converted model
/// compute what the source framework computed?
struct ParityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parity",
        abstract: "Compare a model's outputs with reference outputs from the source framework.",
        discussion: """
            Passes when every element satisfies |actual − expected| ≤ atol + rtol·|expected|. \
            Reports max absolute and relative error, cosine similarity and top-1/top-5 agreement. \
            Exits 67 (parity failure) when any output is outside the tolerance.
            """)

    @OptionGroup var options: ModelRunOptions

    @Option(help: ArgumentHelp("Reference outputs: FILE.npy (one output) or FILE.npz with arrays named after the outputs.", valueName: "file"))
    var expect: String

    @Option(help: "Relative tolerance.")
    var rtol: Double = Parity.defaultRtol

    @Option(help: "Absolute tolerance.")
    var atol: Double = Parity.defaultAtol

    @Flag(help: "Print machine-readable JSON on stdout.")
    var json = false

    func validate() throws {
        guard rtol >= 0, atol >= 0 else { throw ValidationError("tolerances must be non-negative") }
    }

    func run() throws {
        try runReportingErrors {
            let session = try options.session()
            let outputs = try options.run(session, try options.inputs(for: session))
            let references = try TensorFiles.read(expect)
            var reports: [ParityReport] = []
            for name in session.outputNames {
                let ref: Tensor
                if let r = references[name] {
                    ref = r
                } else if let r = references[""], session.outputNames.count == 1 {
                    ref = r
                } else {
                    throw CLIError(message: "\(expect) has no reference for output '\(name)'; use an .npz with an array named '\(name)'", code: .inputError)
                }
                do {
                    reports.append(try Parity.compare(outputs[name]!, ref, output: name, rtol: rtol, atol: atol))
                } catch let e as RuntimeError {
                    throw CLIError(message: e.localizedDescription, code: .parityFailure)
                }
            }
            if json {
                try printJSON(reports)
            } else {
                var rows = [["output", "result", "max abs", "max rel", "cosine", "top-1", "top-5"]]
                for r in reports {
                    rows.append([r.output, r.passed ? "pass" : "FAIL", String(format: "%.3g", r.maxAbsError), String(format: "%.3g", r.maxRelError),
                                 String(format: "%.8f", r.cosine), r.top1Agreement.map { String(format: "%.0f%%", $0 * 100) } ?? "-",
                                 r.top5Agreement.map { String(format: "%.0f%%", $0 * 100) } ?? "-"])
                }
                print(renderTable(rows, indent: ""))
                print("tolerance: |actual − expected| ≤ \(atol) + \(rtol)·|expected|")
            }
            if let bad = reports.first(where: { !$0.passed }) {
                printError("\(options.model): output '\(bad.output)' differs from \(expect) beyond tolerance (max abs error \(String(format: "%.3g", bad.maxAbsError)))")
                throw ExitCode(ZooExitCode.parityFailure.rawValue)
            }
        }
    }
}
