import Foundation
import ZooCore

/// Why an ONNX file could not be imported. Every case names the file and the
/// node, tensor or field at fault, and the message says what to do.
public enum ONNXError: Error, LocalizedError, Equatable {
    case io(path: String, operation: String, errno: Int32)
    case tooLarge(path: String, size: Int, limit: Int)
    case tooManyNodes(path: String, count: Int, limit: Int)
    case malformedProtobuf(path: String, size: Int)
    case missingGraph(path: String)
    case missingOpset(path: String)
    case unsupportedOpset(path: String, opset: Int, supported: ClosedRange<Int>)
    /// Every op outside the supported set, with its count, most frequent first.
    /// Ops zoo does not read, with their counts, the opset and the first node using each.
    case unsupportedOps(path: String, ops: [String: Int], opset: Int, firstNodes: [String: String])
    case unsupportedForm(path: String, node: String, op: String, detail: String)
    case unsupportedDataType(path: String, tensor: String, dataType: Int)
    case invalidTensor(path: String, tensor: String, detail: String)
    case externalData(path: String, tensor: String, location: String, detail: String)
    case invalidNode(path: String, node: String, op: String, detail: String)
    case undefinedValue(path: String, node: String, value: String)
    case duplicateValue(path: String, value: String)
    case notStatic(path: String, node: String, value: String)

    public var errorDescription: String? {
        switch self {
        case let .io(p, op, e):
            return "\(p): \(op) failed: \(String(cString: strerror(e)))"
        case let .tooLarge(p, s, l):
            return "\(p): \(s) bytes is above the \(l)-byte protobuf limit; models this large must keep weights in external data files"
        case let .tooManyNodes(p, n, l):
            return "\(p): the graph has \(n) nodes, more than the \(l) zoo imports (a .zoo header describes at most about that many); the file is hostile or not a model"
        case let .malformedProtobuf(p, s):
            return "\(p): not a valid ONNX protobuf (\(s) bytes could not be parsed as a ModelProto); the file is truncated or not an .onnx model — re-download it"
        case let .missingGraph(p):
            return "\(p): the ModelProto has no graph"
        case let .missingOpset(p):
            return "\(p): no opset_import for the default ONNX domain; re-export the model with a current exporter"
        case let .unsupportedOpset(p, o, r):
            return "\(p): opset \(o) is outside the supported range \(r.lowerBound)–\(r.upperBound); re-export the model with an opset in that range"
        case let .unsupportedOps(p, ops, opset, first):
            let sorted = ops.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            // At most 8 ops named (a hostile file may use thousands), then a count.
            let list = MessageText.list(sorted.map { "\(MessageText.clip($0.key, 80)) ×\($0.value)\(first[$0.key].map { " (node '\(MessageText.clip($0, 80))')" } ?? "")" }, itemLength: 200)
            return "\(p): unsupported ops at opset \(opset): \(list)"
        case let .unsupportedForm(p, n, op, d):
            return "\(p): node '\(n)' (\(op)): unsupported form: \(d)"
        case let .unsupportedDataType(p, t, d):
            return "\(p): tensor '\(t)' has ONNX data type \(d) (\(ONNXDataType.name(d))), which zoo does not support"
        case let .invalidTensor(p, t, d):
            return "\(p): tensor '\(t)': \(d); the file is damaged or was written by a broken exporter"
        case let .externalData(p, t, l, d):
            return "\(p): tensor '\(t)': external data '\(l)' refused: \(d)"
        case let .invalidNode(p, n, op, d):
            return "\(p): node '\(n)' (\(op)): \(d)"
        case let .undefinedValue(p, n, v):
            return "\(p): node '\(n)' reads '\(v)', which no input, initializer or earlier node defines"
        case let .duplicateValue(p, v):
            return "\(p): value '\(v)' is defined more than once"
        case let .notStatic(p, n, v):
            return "\(p): node '\(n)' needs '\(v)' to be a constant known at import, but it depends on the input data"
        }
    }
}
