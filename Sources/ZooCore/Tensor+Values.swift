/// Element conversions shared by the importers, the runtime and the parity
/// checks: one place for the 16-bit float formats' rounding and NaN rules.

/// bfloat16: the top half of an IEEE binary32.
public enum BFloat16 {
    /// Widening is exact.
    public static func float(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    /// binary32 → bfloat16, round to nearest even; NaN stays a (quiet) NaN
    /// rather than rounding into the infinities.
    public static func bits(_ f: Float) -> UInt16 {
        if f.isNaN { return 0x7FC0 }
        let b = f.bitPattern
        return UInt16((b &+ 0x7FFF &+ ((b >> 16) & 1)) >> 16)
    }
}

extension Tensor {
    /// Every element as Double (floating, integer and bool dtypes); nil for raw bytes.
    public var doubleValues: [Double]? {
        switch dtype {
        case .f32: return scalars(as: Float.self).map(Double.init)
        case .f64: return scalars(as: Double.self)
        case .f16: return scalars(as: UInt16.self).map { Double(Float(Float16(bitPattern: $0))) }
        case .bf16: return scalars(as: UInt16.self).map { Double(BFloat16.float($0)) }
        case .i64: return scalars(as: Int64.self).map(Double.init)
        case .i32: return scalars(as: Int32.self).map(Double.init)
        case .i8: return scalars(as: Int8.self).map(Double.init)
        case .u8, .bool: return scalars(as: UInt8.self).map(Double.init)
        case .i16: return scalars(as: Int16.self).map(Double.init)
        case .u16: return scalars(as: UInt16.self).map(Double.init)
        case .u32: return scalars(as: UInt32.self).map(Double.init)
        case .u64: return scalars(as: UInt64.self).map(Double.init)
        case .bytes: return nil
        }
    }
}
