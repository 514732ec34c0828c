import ZooCore

/// ONNX TensorProto.DataType codes and their mapping to zoo dtypes.
enum ONNXDataType {
    static func dtype(_ code: Int) -> DType? {
        switch code {
        case 1: return .f32
        case 2: return .u8
        case 3: return .i8
        case 4: return .u16
        case 5: return .i16
        case 12: return .u32
        case 13: return .u64
        case 6: return .i32
        case 7: return .i64
        case 9: return .bool
        case 10: return .f16
        case 11: return .f64
        case 16: return .bf16
        default: return nil
        }
    }

    /// The code of a type name as Cast-1…5 spells it ("FLOAT", "INT64", …).
    static func code(named name: String) -> Int? {
        (0...22).first { self.name($0) == name.uppercased() }
    }

    static func name(_ code: Int) -> String {
        let names = [0: "UNDEFINED", 1: "FLOAT", 2: "UINT8", 3: "INT8", 4: "UINT16", 5: "INT16", 6: "INT32", 7: "INT64",
                     8: "STRING", 9: "BOOL", 10: "FLOAT16", 11: "DOUBLE", 12: "UINT32", 13: "UINT64", 14: "COMPLEX64",
                     15: "COMPLEX128", 16: "BFLOAT16", 17: "FLOAT8E4M3FN", 18: "FLOAT8E4M3FNUZ", 19: "FLOAT8E5M2",
                     20: "FLOAT8E5M2FNUZ", 21: "UINT4", 22: "INT4"]
        return names[code] ?? "unknown"
    }
}
