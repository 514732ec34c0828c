import Foundation
import ZooCore

/// A reusable activation buffer (64-byte aligned floats).
final class Buffer {
    let pointer: UnsafeMutablePointer<Float>
    let capacity: Int
    /// Live values currently bound to this buffer (aliases share one buffer).
    var users = 0

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
        pointer = UnsafeMutableRawPointer.allocate(byteCount: self.capacity * 4, alignment: 64).bindMemory(to: Float.self, capacity: self.capacity)
    }

    deinit { pointer.deallocate() }
}

/// Activation buffers kept across runs; best-fit reuse keeps peak memory near
/// the largest live set instead of the sum of all activations.
final class BufferPool {
    private var free: [Buffer] = []
    private(set) var allocatedFloats = 0

    func take(_ count: Int) -> Buffer {
        var best: Int?
        for (i, b) in free.enumerated() where b.capacity >= count {
            if best == nil || b.capacity < free[best!].capacity { best = i }
        }
        if let i = best { return free.remove(at: i) }
        // No buffer is big enough: replace the largest free one rather than keep both.
        if let largest = free.indices.max(by: { free[$0].capacity < free[$1].capacity }) {
            allocatedFloats -= free[largest].capacity
            free.remove(at: largest)
        }
        allocatedFloats += max(count, 1)
        return Buffer(capacity: count)
    }

    func give(_ b: Buffer) { free.append(b) }
}

/// A value during execution: floats (activations, weights) or integers (shapes, indices).
enum RValue {
    /// `buffer` is nil for read-only memory (weights, caller inputs).
    case floats(UnsafeMutablePointer<Float>, shape: [Int], buffer: Buffer?)
    case ints([Int64], shape: [Int])

    var shape: [Int] {
        switch self {
        case .floats(_, let s, _): return s
        case .ints(_, let s): return s
        }
    }

    var isInt: Bool { if case .ints = self { return true }; return false }
}

/// A weight converted once at load: f32 tensors stay views of the mapped file.
enum Constant {
    case floats(UnsafeMutablePointer<Float>, shape: [Int], owner: AnyObject)
    case ints([Int64], shape: [Int])

    init(_ t: Tensor) {
        switch t.dtype {
        case .f32:
            self = .floats(UnsafeMutablePointer(mutating: t.bytes.bindMemory(to: Float.self).baseAddress ?? UnsafePointer(bitPattern: 64)!),
                           shape: t.shape, owner: t.storage)
        case .f16, .bf16, .f64:
            let values = Floats(t)
            self = .floats(values.pointer, shape: t.shape, owner: values)
        case .i64: self = .ints(t.scalars(as: Int64.self), shape: t.shape)
        case .i32: self = .ints(t.scalars(as: Int32.self).map(Int64.init), shape: t.shape)
        case .i8: self = .ints(t.scalars(as: Int8.self).map(Int64.init), shape: t.shape)
        case .u8, .bool, .bytes: self = .ints(t.scalars(as: UInt8.self).map(Int64.init), shape: t.shape)
        case .i16: self = .ints(t.scalars(as: Int16.self).map(Int64.init), shape: t.shape)
        case .u16: self = .ints(t.scalars(as: UInt16.self).map(Int64.init), shape: t.shape)
        case .u32: self = .ints(t.scalars(as: UInt32.self).map(Int64.init), shape: t.shape)
        // Held as the same 64 bits: arithmetic wraps like uint64; order comparisons above 2^63 do not hold.
        case .u64: self = .ints(t.scalars(as: UInt64.self).map { Int64(bitPattern: $0) }, shape: t.shape)
        }
    }

    var value: RValue {
        switch self {
        case .floats(let p, let s, _): return .floats(p, shape: s, buffer: nil)
        case .ints(let v, let s): return .ints(v, shape: s)
        }
    }
}

/// Owned float storage (converted or folded weights).
final class Floats {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(count: Int) {
        self.count = count
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64).bindMemory(to: Float.self, capacity: max(count, 1))
    }

    /// f16 / bf16 / f64 widened (or narrowed) to f32.
    convenience init(_ t: Tensor) {
        self.init(count: t.elementCount)
        switch t.dtype {
        case .f64: for (i, v) in t.scalars(as: Double.self).enumerated() { pointer[i] = Float(v) }
        case .f16: for (i, v) in t.scalars(as: UInt16.self).enumerated() { pointer[i] = Float(Float16(bitPattern: v)) }
        case .bf16: for (i, v) in t.scalars(as: UInt16.self).enumerated() { pointer[i] = BFloat16.float(v) }
        default: for (i, v) in t.scalars(as: Float.self).enumerated() { pointer[i] = v }
        }
    }

    deinit { pointer.deallocate() }
}
