import Foundation

/// Errors raised by the core types (tensor construction, memory mapping, IR checks).
public enum ZooCoreError: Error, LocalizedError, Equatable {
    /// A tensor's byte count does not match what its dtype and shape require.
    case tensorSizeMismatch(name: String, dtype: DType, shape: [Int], expectedBytes: Int?, actualBytes: Int)
    /// A shape has a negative dimension or too many elements.
    case invalidShape(name: String, shape: [Int])
    /// A system call on a file failed.
    case io(path: String, operation: String, errno: Int32)
    /// A graph refers to a value that nothing produces.
    case danglingValue(node: String, value: String)
    /// Two nodes or initializers produce the same value name.
    case duplicateValue(name: String)
    /// A node's inputs do not fit its operator (shape inference failed).
    case shapeInference(node: String, op: String, detail: String)

    /// The message without the node prefix, for callers that name the node themselves.
    public var detail: String {
        if case .shapeInference(_, _, let d) = self { return d }
        return errorDescription ?? "\(self)"
    }

    public var errorDescription: String? {
        switch self {
        case let .tensorSizeMismatch(name, dtype, shape, expected, actual):
            let exp = expected.map(String.init) ?? "an overflowing number of"
            return "tensor '\(name)': \(dtype.rawValue) \(ShapeMath.describe(shape)) needs \(exp) bytes but \(actual) were given"
        case let .invalidShape(name, shape):
            return "tensor '\(name)': invalid shape \(shape) (negative dimension or too many elements)"
        case let .io(path, op, e):
            return "\(path): \(op) failed: \(String(cString: strerror(e)))"
        case let .danglingValue(node, value):
            return "node '\(node)' reads '\(value)', which no input, initializer or earlier node provides"
        case let .duplicateValue(name):
            return "value '\(name)' is produced more than once"
        case let .shapeInference(node, op, detail):
            return "node '\(node)' (\(op)): \(detail)"
        }
    }
}
