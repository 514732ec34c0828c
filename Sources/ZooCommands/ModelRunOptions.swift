import ArgumentParser
import Foundation
import ZooCore
import ZooFormat
import ZooRuntime

/// Options shared by `zoo run` and `zoo parity`: which model, which inputs,
/// which values to return and how many threads.
struct ModelRunOptions: ParsableArguments {
    @Argument(help: "A .zoo file or a registered model name.")
    var model: String

    @Option(name: .long, help: ArgumentHelp("Input tensor: FILE.npy (single-input models), NAME=FILE.npy, or FILE.npz with arrays named after the inputs. Repeatable.", valueName: "input"))
    var input: [String] = []

    @Option(name: .customLong("output"), help: ArgumentHelp("Return this value instead of the graph outputs (any intermediate, e.g. features for transfer learning). Repeatable.", valueName: "name"))
    var outputs: [String] = []

    @Option(name: .customLong("threads"), help: "Threads (default: all cores).")
    var threadsOption: Int?
    var threads: Int { threadsOption ?? ProcessInfo.processInfo.activeProcessorCount }

    func validate() throws {
        guard !input.isEmpty else { throw ValidationError("give the model's input with --input FILE.npy (or NAME=FILE.npy, or FILE.npz)") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
    }

    /// Opens the model (weights verified as they load) and builds a session.
    func session() throws -> InferenceSession {
        let file = try ZooFile(path: try resolveModelPath(model))
        do {
            return try InferenceSession(file: file, threads: threads, outputs: outputs.isEmpty ? nil : outputs)
        } catch let e as RuntimeError {
            throw CLIError(message: "\(model): \(e.localizedDescription)", code: .inputError)
        }
    }

    /// Reads the --input files and matches them to the model's inputs.
    func inputs(for session: InferenceSession) throws -> [String: Tensor] {
        let names = session.graph.inputs.map(\.name)
        if names.isEmpty {
            let what = session.card.task == "embedding" || session.card.family == "word-vectors" ? " (word vectors: use zoo similar, analogy or vector)" : ""
            throw CLIError(message: "\(model): this model has no inputs to run\(what)", code: .inputError)
        }
        var result: [String: Tensor] = [:]
        for spec in input {
            if let eq = spec.firstIndex(of: "="), !FileManager.default.fileExists(atPath: spec) {
                let name = String(spec[..<eq]), path = String(spec[spec.index(after: eq)...])
                result[name] = try TensorFiles.readNPY(path)
                continue
            }
            for (key, t) in try TensorFiles.read(spec) {
                if key.isEmpty {
                    guard names.count == 1 else {
                        throw CLIError(message: "the model has inputs \(names.joined(separator: ", ")); name them with --input NAME=FILE.npy", code: .usage)
                    }
                    result[names[0]] = t
                } else {
                    result[key] = t
                }
            }
        }
        return result
    }

    func run(_ session: InferenceSession, _ inputs: [String: Tensor]) throws -> [String: Tensor] {
        do { return try session.run(inputs) } catch let e as RuntimeError {
            throw CLIError(message: "\(model): \(e.localizedDescription)", code: .inputError)
        }
    }
}
