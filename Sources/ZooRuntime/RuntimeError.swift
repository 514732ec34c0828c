import Foundation
import ZooCore

/// Why a model cannot be planned or run.
public enum RuntimeError: Error, LocalizedError, Equatable {
    /// The runtime lacks kernels for these ops (reported at load, not at run time).
    case unsupportedOps([String: Int])
    case unsupportedForm(node: String, op: String, detail: String)
    case missingInput(name: String, expected: [Dim])
    case unknownInput(name: String, known: [String])
    case inputShape(name: String, expected: [Dim], actual: [Int])
    /// One dimension of an input contradicts the model (a fixed size, or a symbol another input already bound).
    case inputDimension(name: String, axis: Int, actual: Int, expected: Int, reason: String, declared: [Dim])
    case inputDType(name: String, expected: DType, actual: DType)
    case unknownOutput(name: String)
    case shape(node: String, op: String, detail: String)
    case invalidModel(detail: String)
    /// One node's inputs and outputs at these sizes need more memory than the machine has (checked before allocating).
    case insufficientMemory(node: String, op: String, bytes: Int, available: Int)
    /// A reference output has a different shape from the model's output.
    case referenceShape(output: String, actual: [Int], expected: [Int])

    public var errorDescription: String? {
        switch self {
        case let .unsupportedOps(ops):
            let list = ops.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }
            return "the runtime has no kernel for: \(MessageText.list(list))"
        case let .unsupportedForm(node, op, detail):
            return "node '\(node)' (\(op)): not supported by the runtime: \(detail)"
        case let .missingInput(name, expected):
            return "input '\(name)' \(ShapeMath.describe(expected)) was not given"
        case let .unknownInput(name, known):
            return "the model has no input '\(MessageText.clip(name))'; its inputs are \(MessageText.list(known))"
        case let .inputShape(name, expected, actual):
            return "input '\(name)' has shape \(ShapeMath.describe(actual)), the model expects \(ShapeMath.describe(expected))"
        case let .inputDimension(name, axis, actual, expected, reason, declared):
            return "input '\(name)' \(ShapeMath.describe(declared)): dimension \(axis) is \(actual), the model expects \(expected) (\(reason))"
        case let .inputDType(name, expected, actual):
            return "input '\(name)' is \(actual.rawValue), the model expects \(expected.rawValue)"
        case let .unknownOutput(name):
            return "the model has no value named '\(name)'; 'zoo inspect' lists its nodes and outputs"
        case let .shape(node, op, detail):
            return "node '\(node)' (\(op)): \(detail)"
        case let .insufficientMemory(node, op, bytes, available):
            let gib = { (b: Int) in String(format: "%.1f GiB", Double(b) / Double(1 << 30)) }
            return "node '\(node)' (\(op)) needs \(gib(bytes)) for its inputs and outputs at this input size, more than the \(gib(available)) of memory here: use a smaller batch or input size"
        case let .invalidModel(detail):
            return "invalid model: \(detail)"
        case let .referenceShape(output, actual, expected):
            return "output '\(output)' has shape \(ShapeMath.describe(actual)) but the reference has \(ShapeMath.describe(expected)); check that the reference was computed from the same input"
        }
    }
}
