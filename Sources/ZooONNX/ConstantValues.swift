import Foundation
import ZooCore

/// Element access for small constant tensors during import-time folding.
extension Tensor {
    /// Elements as integers (integer and bool dtypes), or nil for other dtypes.
    var intValues: [Int]? {
        switch dtype {
        case .i64: return scalars(as: Int64.self).map { Int($0) }
        case .i32: return scalars(as: Int32.self).map { Int($0) }
        case .i8: return scalars(as: Int8.self).map { Int($0) }
        case .u8, .bool: return scalars(as: UInt8.self).map { Int($0) }
        case .i16: return scalars(as: Int16.self).map { Int($0) }
        case .u16: return scalars(as: UInt16.self).map { Int($0) }
        case .u32: return scalars(as: UInt32.self).map { Int($0) }
        case .u64: return scalars(as: UInt64.self).map { Int(truncatingIfNeeded: $0) }
        default: return nil
        }
    }

    /// A tensor of `dtype` holding `values` (converted, with C-style truncation for integers).
    static func make(_ dtype: DType, shape: [Int], values: [Double]) throws -> Tensor {
        let n = values.count
        let storage = TensorStorage(count: n * dtype.itemSize) { out in
            switch dtype {
            case .f32: let d = out.bindMemory(to: Float.self); for i in 0..<n { d[i] = Float(values[i]) }
            case .f64: let d = out.bindMemory(to: Double.self); for i in 0..<n { d[i] = values[i] }
            case .f16: let d = out.bindMemory(to: UInt16.self); for i in 0..<n { d[i] = floatToHalf(Float(values[i])) }
            case .bf16: let d = out.bindMemory(to: UInt16.self); for i in 0..<n { d[i] = BFloat16.bits(Float(values[i])) }
            case .i64: let d = out.bindMemory(to: Int64.self); for i in 0..<n { d[i] = clampedInt(values[i]) }
            case .i32: let d = out.bindMemory(to: Int32.self); for i in 0..<n { d[i] = Int32(truncatingIfNeeded: clampedInt(values[i])) }
            case .i8: let d = out.bindMemory(to: Int8.self); for i in 0..<n { d[i] = Int8(truncatingIfNeeded: clampedInt(values[i])) }
            case .u8, .bytes: let d = out.bindMemory(to: UInt8.self); for i in 0..<n { d[i] = UInt8(truncatingIfNeeded: clampedInt(values[i])) }
            case .bool: let d = out.bindMemory(to: UInt8.self); for i in 0..<n { d[i] = values[i] != 0 ? 1 : 0 }
            case .i16: let d = out.bindMemory(to: Int16.self); for i in 0..<n { d[i] = Int16(truncatingIfNeeded: clampedInt(values[i])) }
            case .u16: let d = out.bindMemory(to: UInt16.self); for i in 0..<n { d[i] = UInt16(truncatingIfNeeded: clampedInt(values[i])) }
            case .u32: let d = out.bindMemory(to: UInt32.self); for i in 0..<n { d[i] = UInt32(truncatingIfNeeded: clampedInt(values[i])) }
            case .u64: let d = out.bindMemory(to: UInt64.self); for i in 0..<n { d[i] = values[i] >= 0x1p63 ? UInt64(min(values[i], 0x1p64.nextDown)) : UInt64(bitPattern: clampedInt(values[i])) }
            }
        }
        return try Tensor(dtype: dtype, shape: shape, storage: storage)
    }

    static func int64(_ values: [Int], shape: [Int]? = nil) throws -> Tensor {
        let v = values.map { Int64($0) }
        return try Tensor(dtype: .i64, shape: shape ?? [values.count], storage: v.withUnsafeBytes { TensorStorage(copying: $0) })
    }
}

private func clampedInt(_ v: Double) -> Int64 {
    if v.isNaN { return 0 }
    if v >= 9.2e18 { return Int64.max }
    if v <= -9.2e18 { return Int64.min }
    return Int64(v.rounded(.towardZero))
}

/// IEEE binary16 → binary32.
func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h >> 15) << 31
    let exp = Int((h >> 10) & 0x1F)
    let frac = UInt32(h & 0x3FF)
    if exp == 0 {
        if frac == 0 { return Float(bitPattern: sign) }
        return (sign != 0 ? -1 : 1) * Float(frac) * 0x1p-24
    }
    if exp == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (frac << 13)) }
    return Float(bitPattern: sign | UInt32(exp - 15 + 127) << 23 | (frac << 13))
}

/// binary32 → binary16, round to nearest even.
func floatToHalf(_ f: Float) -> UInt16 {
    #if arch(x86_64) || arch(arm64)
    return Float16(f).bitPattern
    #else
    return 0
    #endif
}

