import CONNXProto
import CProtobufC
import Foundation
import ZooCore

/// Owns a ModelProto unpacked by protobuf-c and frees it on deinit.
///
/// Tensor data (`raw_data`) stays in protobuf-c's memory: tensors built from
/// it are views that keep this object alive, so weights are never copied a
/// second time on their way to the `.zoo` writer.
final class ProtoModel: @unchecked Sendable {
    let message: UnsafeMutablePointer<Onnx__ModelProto>

    init(bytes: UnsafeRawBufferPointer, path: String) throws {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self),
              let m = onnx__model_proto__unpack(nil, bytes.count, base) else {
            throw ONNXError.malformedProtobuf(path: path, size: bytes.count)
        }
        message = m
    }

    deinit { onnx__model_proto__free_unpacked(message, nil) }
}

/// A C string field; protobuf-c leaves absent strings NULL.
func cstr(_ p: UnsafeMutablePointer<CChar>?) -> String {
    p.map { String(cString: $0) } ?? ""
}

func strings(_ p: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ n: Int) -> [String] {
    guard let p else { return [] }
    return (0..<n).map { cstr(p[$0]) }
}

func messages<T>(_ p: UnsafeMutablePointer<UnsafeMutablePointer<T>?>?, _ n: Int) -> [UnsafeMutablePointer<T>] {
    guard let p else { return [] }
    return (0..<n).compactMap { p[$0] }
}

func binaryString(_ b: ProtobufCBinaryData) -> String {
    guard let d = b.data, b.len > 0 else { return "" }
    return String(decoding: UnsafeRawBufferPointer(start: d, count: b.len), as: UTF8.self)
}

/// An ONNX attribute as read from the file, before canonicalisation.
enum ONNXAttribute {
    case float(Float)
    case int(Int)
    case string(String)
    case tensor(UnsafeMutablePointer<Onnx__TensorProto>)
    case floats([Float])
    case ints([Int])
    case strings([String])
    /// Kinds zoo does not read (graphs, sparse tensors, type protos).
    case unsupported(Int)

    init(_ a: UnsafeMutablePointer<Onnx__AttributeProto>) {
        let m = a.pointee
        let type = m.has_type != 0 ? Int(m.type.rawValue) : Self.guessType(m)
        switch type {
        case 1: self = .float(m.f)
        case 2: self = .int(Int(m.i))
        case 3: self = .string(binaryString(m.s))
        case 4:
            if let t = m.t { self = .tensor(t) } else { self = .unsupported(4) }
        case 6: self = .floats(m.floats.map { Array(UnsafeBufferPointer(start: $0, count: m.n_floats)) } ?? [])
        case 7: self = .ints(m.ints.map { Array(UnsafeBufferPointer(start: $0, count: m.n_ints)).map { Int($0) } } ?? [])
        case 8: self = .strings(m.strings.map { p in (0..<m.n_strings).map { binaryString(p[$0]) } } ?? [])
        default: self = .unsupported(type)
        }
    }

    /// IR version 1 files may omit `type`; infer it from the field that is set.
    private static func guessType(_ m: Onnx__AttributeProto) -> Int {
        if m.has_f != 0 { return 1 }
        if m.has_i != 0 { return 2 }
        if m.has_s != 0 { return 3 }
        if m.t != nil { return 4 }
        if m.n_floats > 0 { return 6 }
        if m.n_ints > 0 { return 7 }
        if m.n_strings > 0 { return 8 }
        return 0
    }
}

/// A NodeProto copied into Swift values (attributes keep tensor pointers).
struct ONNXNode {
    var name: String
    var op: String
    var domain: String
    var inputs: [String]
    var outputs: [String]
    var attributes: [String: ONNXAttribute]

    init(_ n: UnsafeMutablePointer<Onnx__NodeProto>, index: Int) {
        let m = n.pointee
        op = cstr(m.op_type)
        let given = cstr(m.name)
        name = given.isEmpty ? "\(op)_\(index)" : given
        domain = cstr(m.domain)
        inputs = strings(m.input, m.n_input)
        outputs = strings(m.output, m.n_output)
        var attrs: [String: ONNXAttribute] = [:]
        for a in messages(m.attribute, m.n_attribute) {
            attrs[cstr(a.pointee.name)] = ONNXAttribute(a)
        }
        attributes = attrs
    }

    /// Inputs with trailing omitted ("") entries dropped.
    var presentInputCount: Int {
        var n = inputs.count
        while n > 0 && inputs[n - 1].isEmpty { n -= 1 }
        return n
    }

    func input(_ i: Int) -> String? {
        i < inputs.count && !inputs[i].isEmpty ? inputs[i] : nil
    }
}

/// A graph input or output declaration.
struct ONNXValueInfo {
    var name: String
    var elemType: Int?
    /// nil when the rank is unknown.
    var dims: [Dim]?

    init(_ v: UnsafeMutablePointer<Onnx__ValueInfoProto>) {
        name = cstr(v.pointee.name)
        elemType = nil
        dims = nil
        guard let type = v.pointee.type, type.pointee.value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE,
              let tt = type.pointee.tensor_type else { return }
        if tt.pointee.has_elem_type != 0 { elemType = Int(tt.pointee.elem_type) }
        guard let shape = tt.pointee.shape else { return }
        var out: [Dim] = []
        for d in messages(shape.pointee.dim, shape.pointee.n_dim) {
            switch d.pointee.value_case {
            case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE: out.append(.fixed(Int(d.pointee.dim_value)))
            case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM: out.append(.symbolic(cstr(d.pointee.dim_param)))
            // An unnamed dimension: the importer gives it a fresh name of its own.
            default: out.append(.symbolic(""))
            }
        }
        dims = out
    }
}
