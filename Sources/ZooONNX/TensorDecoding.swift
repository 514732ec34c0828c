import CONNXProto
import Foundation
import ZooCore

/// Turns TensorProto messages into zoo tensors: raw_data (viewed in place),
/// the typed repeated fields (converted), and external data (resolved safely).
struct TensorDecoder {
    let path: String
    let owner: ProtoModel
    let external: ExternalDataResolver
    /// The source file and where each initializer's raw_data lies in it (WireScanner).
    let file: MappedFile
    let rawData: [Int: Range<Int>]

    /// Decodes a TensorProto; `initializer` is its index in GraphProto.initializer,
    /// whose raw_data (if any) was lifted out by the wire scanner.
    func decode(_ p: UnsafeMutablePointer<Onnx__TensorProto>, name fallback: String, initializer: Int? = nil) throws -> (name: String, tensor: Tensor) {
        let t = p.pointee
        let given = cstr(t.name)
        let name = given.isEmpty ? fallback : given
        func invalid(_ d: String) -> ONNXError { .invalidTensor(path: path, tensor: name, detail: d) }

        let code = t.has_data_type != 0 ? Int(t.data_type) : 0
        guard let dtype = ONNXDataType.dtype(code) else { throw ONNXError.unsupportedDataType(path: path, tensor: name, dataType: code) }
        guard t.segment == nil else { throw invalid("segmented tensors are not supported") }
        let shape = (0..<t.n_dims).map { Int(t.dims[$0]) }
        guard let count = ShapeMath.elementCount(shape), let byteCount = ShapeMath.byteCount(dtype, shape) else {
            throw invalid("invalid dims \(shape)")
        }

        if t.has_data_location != 0 && t.data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL {
            var entries: [String: String] = [:]
            for e in messages(t.external_data, t.n_external_data) {
                entries[cstr(e.pointee.key)] = cstr(e.pointee.value)
            }
            let storage = try external.bytes(tensor: name, entries: entries, expectedLength: byteCount)
            return (name, try Tensor(dtype: dtype, shape: shape, storage: storage, name: name))
        }
        if let i = initializer, let range = rawData[i] {
            guard range.count == byteCount else {
                throw invalid("raw_data has \(range.count) bytes, but \(dtype.rawValue) \(ShapeMath.describe(shape)) needs \(byteCount)")
            }
            let view = UnsafeRawBufferPointer(rebasing: file.bytes[range])
            return (name, try Tensor(dtype: dtype, shape: shape, storage: TensorStorage(viewing: view, owner: file), name: name))
        }
        if t.has_raw_data != 0 {
            guard t.raw_data.len == byteCount else {
                throw invalid("raw_data has \(t.raw_data.len) bytes, but \(dtype.rawValue) \(ShapeMath.describe(shape)) needs \(byteCount)")
            }
            let view = UnsafeRawBufferPointer(start: t.raw_data.data, count: byteCount)
            return (name, try Tensor(dtype: dtype, shape: shape, storage: TensorStorage(viewing: view, owner: owner), name: name))
        }

        func typed<S, D>(_ ptr: UnsafeMutablePointer<S>?, _ n: Int, field: String, _ convert: (S) -> D) throws -> Tensor {
            guard n == count else { throw invalid("\(field) has \(n) values, but shape \(ShapeMath.describe(shape)) needs \(count)") }
            let storage = TensorStorage(count: byteCount) { out in
                guard let ptr else { return }
                let dst = out.bindMemory(to: D.self)
                for i in 0..<n { dst[i] = convert(ptr[i]) }
            }
            return try Tensor(dtype: dtype, shape: shape, storage: storage, name: name)
        }
        let tensor: Tensor
        switch dtype {
        case .f32: tensor = try typed(t.float_data, t.n_float_data, field: "float_data") { $0 }
        case .f64: tensor = try typed(t.double_data, t.n_double_data, field: "double_data") { $0 }
        case .i64: tensor = try typed(t.int64_data, t.n_int64_data, field: "int64_data") { $0 }
        case .i32: tensor = try typed(t.int32_data, t.n_int32_data, field: "int32_data") { $0 }
        case .i8: tensor = try typed(t.int32_data, t.n_int32_data, field: "int32_data") { Int8(truncatingIfNeeded: $0) }
        case .u8: tensor = try typed(t.int32_data, t.n_int32_data, field: "int32_data") { UInt8(truncatingIfNeeded: $0) }
        case .bool: tensor = try typed(t.int32_data, t.n_int32_data, field: "int32_data") { UInt8($0 != 0 ? 1 : 0) }
        // float16 and bfloat16 values travel as their bit patterns in int32_data.
        case .f16, .bf16: tensor = try typed(t.int32_data, t.n_int32_data, field: "int32_data") { UInt16(truncatingIfNeeded: $0) }
        case .i16: tensor = try typed(t.int32_data, t.n_int32_data, field: "int32_data") { Int16(truncatingIfNeeded: $0) }
        case .u16: tensor = try typed(t.int32_data, t.n_int32_data, field: "int32_data") { UInt16(truncatingIfNeeded: $0) }
        // uint32 and uint64 travel in uint64_data.
        case .u32: tensor = try typed(t.uint64_data, t.n_uint64_data, field: "uint64_data") { UInt32(truncatingIfNeeded: $0) }
        case .u64: tensor = try typed(t.uint64_data, t.n_uint64_data, field: "uint64_data") { $0 }
        case .bytes: throw ONNXError.unsupportedDataType(path: path, tensor: name, dataType: code)
        }
        return (name, tensor)
    }
}
