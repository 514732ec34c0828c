import Foundation
import ZooCore

/// Kernels of the Movement family (ZooCore `MovementOps`): floats and integers alike.
enum MovementKernels {
    static let viewKernel = Kernel(run: { c in [c.view(try c.input(0))] })

    static let table: [String: Kernel] = [
        "Reshape": viewKernel, "Flatten": viewKernel, "Squeeze": viewKernel, "Unsqueeze": viewKernel,
        "Transpose": Kernel(run: { c in
            let x = try c.input(0)
            let perm = try c.attrs.optionalInts("perm") ?? Array((0..<x.shape.count).reversed())
            return [c.move(x, .transpose(shape: x.shape, perm: perm))]
        }),
        "Slice": Kernel(run: { c in
            let x = try c.input(0)
            let shape = x.shape
            let starts = try c.parameter("starts", input: 1) ?? [], ends = try c.parameter("ends", input: 2) ?? []
            let axes = (try c.parameter("axes", input: 3) ?? Array(0..<starts.count)).map { $0 < 0 ? $0 + shape.count : $0 }
            let steps = try c.parameter("steps", input: 4) ?? Array(repeating: 1, count: starts.count)
            var st = Array(repeating: 0, count: shape.count), sp = Array(repeating: 1, count: shape.count)
            for (j, a) in axes.enumerated() {
                st[a] = MovementOps.clampSlice(start: starts[j], end: ends[j], step: steps[j], size: shape[a]).start
                sp[a] = steps[j]
            }
            if case .floats(let p, _, let b) = x, let offset = DataKernel.contiguousOffset(shape: shape, starts: st, steps: sp, outShape: c.out) {
                // A channel range at batch 1 (ShuffleNet's chunk) is one contiguous run: a view, no copy.
                b?.users += 1
                return [.floats(p + offset, shape: c.out, buffer: b)]
            }
            return [c.move(x, .slice(shape: shape, starts: st, steps: sp, outShape: c.out))]
        }),
        "Gather": Kernel(run: { c in
            let x = try c.input(0)
            let shape = x.shape
            let axis = try c.attrs.int("axis") < 0 ? try c.attrs.int("axis") + shape.count : try c.attrs.int("axis")
            let idx = try c.ints(1).map { Int($0) < 0 ? Int($0) + shape[axis] : Int($0) }
            guard idx.allSatisfy({ $0 >= 0 && $0 < shape[axis] }) else { throw c.fail("index out of range for axis size \(shape[axis])") }
            return [c.move(x, .gather(shape: shape, axis: axis, indices: idx))]
        }),
        "Concat": Kernel(run: { c in
            let shapes = try c.ins.indices.map { try c.shape($0) }
            let axis = try c.attrs.int("axis") < 0 ? try c.attrs.int("axis") + shapes[0].count : try c.attrs.int("axis")
            let count = c.count
            if try c.ins.indices.allSatisfy({ try c.input($0).isInt }) {
                let all = try c.ins.indices.map { try c.ints($0) }
                let flat = all.flatMap { $0 }
                let starts = all.reduce(into: [0]) { $0.append($0.last! + $1.count) }
                let y = [Int64](unsafeUninitializedCapacity: count) { buffer, initialized in
                    flat.withUnsafeBufferPointer { src in
                        if let base = src.baseAddress, let dst = buffer.baseAddress {
                            DataKernel.concat(all.indices.map { base + starts[$0] }, shapes: shapes, axis: axis, to: dst)
                        }
                    }
                    initialized = count
                }
                return [.ints(y, shape: c.out)]
            }
            // Producers placed by the plan already wrote into this buffer; copy only the inputs that are elsewhere.
            if let placed = c.session.concatBuffer(for: c.index), placed.capacity >= count, shapes[0][0..<axis].allSatisfy({ $0 == 1 }) {
                var at = 0
                for i in c.ins.indices {
                    let x = try c.floats(i), n = shapes[i].reduce(1, *)
                    if x != placed.pointer + at { (placed.pointer + at).update(from: x, count: n) }
                    at += n
                }
                placed.users += 1
                return [c.result(placed.pointer, placed)]
            }
            let ptrs = try c.ins.indices.map { UnsafePointer(try c.floats($0)) }
            let (y, b) = c.allocate(count)
            DataKernel.concat(ptrs, shapes: shapes, axis: axis, to: y)
            return [c.result(y, b)]
        }),
        "Split": Kernel(run: { c in
            let x = try c.input(0)
            let shape = x.shape
            let axis = try c.attrs.int("axis") < 0 ? try c.attrs.int("axis") + shape.count : try c.attrs.int("axis")
            var start = 0
            var results: [RValue] = []
            for k in c.outShapes.indices {
                let size = c.outShapes[k][axis]
                var starts = Array(repeating: 0, count: shape.count)
                starts[axis] = start
                if case .floats(let p, _, let b) = x,
                   let offset = DataKernel.contiguousOffset(shape: shape, starts: starts, steps: Array(repeating: 1, count: shape.count), outShape: c.outShapes[k]) {
                    b?.users += 1
                    results.append(.floats(p + offset, shape: c.outShapes[k], buffer: b))
                } else {
                    results.append(c.move(x, output: k, .split(shape: shape, axis: axis, start: start, size: size)))
                }
                start += size
            }
            return results
        }),
        "Pad": Kernel(run: { c in
            let x = try c.input(0), shape = x.shape
            var pads = try c.parameter("pads", input: 1) ?? []
            if c.has(3) { pads = try MovementOps.fullPads(pads, axes: try c.ints(3).map { Int($0) }, rank: shape.count, fail: c.fail) }
            let mode = try c.attrs.string("mode")
            if mode == "constant", case .floats(let p, _, _) = x, pads.count == 2 * shape.count, pads.allSatisfy({ $0 >= 0 }) {
                // The common case (Keras's ZeroPadding2D): fill, then copy each input row into place.
                let fill = c.has(2) ? MathKernels.Values(try c.input(2)) : nil
                let scalarFill = try fill == nil || c.input(2).shape.reduce(1, *) == 1
                if scalarFill {
                    let value = try fill?.float(0) ?? c.attrs.float("value")
                    let (y, b) = c.allocate(c.count)
                    DataKernel.constantPad(p, shape: shape, before: Array(pads[0..<shape.count]), outShape: c.out, value: value, to: y)
                    return [c.result(y, b)]
                }
            }
            let sources = DataKernel.padSources(shape: shape, pads: pads, mode: mode, outShape: c.out)
            let v = MathKernels.Values(x)
            let fill = c.has(2) ? MathKernels.Values(try c.input(2)) : nil
            let fv = try fill.map { f -> Float in guard try c.input(2).shape.reduce(1, *) == 1 else { throw c.fail("the pad value must be a scalar") }; return f.float(0) } ?? (try c.attrs.float("value"))
            // The integer fill, only read for integer data (a float NaN/inf value has no integer form).
            let iv: Int64 = v.isInt ? (fill?.isInt == true ? fill!.int(0) : (fv.isFinite ? Int64(Swift.max(Swift.min(fv, 9.2e18), -9.2e18)) : 0)) : 0
            if case .floats(let p, _, _) = x {
                // Floats straight from the source buffer (the common case, on the hot path).
                let (y, b) = c.allocate(sources.count)
                for (i, s) in sources.enumerated() { y[i] = s < 0 ? fv : p[s] }
                return [c.result(y, b)]
            }
            return [c.produce(int: true, float: { _ in 0 }, int: { sources[$0] < 0 ? iv : v.int(sources[$0]) })]
        }),
        "Expand": Kernel(run: { c in
            let x = try c.input(0)
            return [c.move(x, .broadcast(shape: x.shape, outShape: c.out))]
        }),
    ]
}

/// Kernels of the Shape family: shape values, filled tensors, ranges and casts.
enum ShapeKernels {
    static let table: [String: Kernel] = [
        "Shape": Kernel(run: { c in
            let s = try c.shape(0)
            let r = ShapeOps.shapeRange(start: try c.attrs.int("start"), end: try c.attrs.optionalInt("end"), rank: s.count)
            return [.ints(s[r].map(Int64.init), shape: c.out)]
        }),
        "Size": Kernel(run: { c in [.ints([Int64(try c.shape(0).reduce(1, *))], shape: [])] }),
        "ConstantOfShape": Kernel(run: { c in
            let v = try c.attrs.float("value")
            let dtype = DType(rawValue: try c.attrs.string("dtype")) ?? .f32
            let count = c.count
            if dtype.isFloatingPoint {
                let (y, b) = c.allocate(count)
                y.update(repeating: v, count: count)
                return [c.result(y, b)]
            }
            // An attribute from a hostile file may not fit an integer: saturate, NaN as 0.
            let iv: Int64 = v.isNaN ? 0 : Int64(Swift.max(Swift.min(v, 9.2e18), -9.2e18))
            return [.ints([Int64](repeating: iv, count: count), shape: c.out)]
        }),
        "Range": Kernel(run: { c in
            if try c.input(0).isInt {
                let n = c.count
                let s = try c.ints(0)[0], d = try c.ints(2)[0]
                return [.ints((0..<n).map { s &+ Int64($0) &* d }, shape: c.out)]
            }
            // Over floats the length is ⌈(limit − start) / delta⌉, decided here.
            let s = try c.floats(0)[0], l = try c.floats(1)[0], d = try c.floats(2)[0]
            guard d != 0, s.isFinite, l.isFinite, d.isFinite else { throw c.fail("start, limit and delta must be finite and delta non-zero") }
            let steps = ((Double(l) - Double(s)) / Double(d)).rounded(.up)
            guard steps <= Double(InferenceSession.maxElementsPerValue) else { throw c.fail("Range of \(steps) elements is too large") }
            let n = max(0, Int(steps))
            let (y, b) = c.allocate(n)
            for i in 0..<n { y[i] = s + Float(i) * d }
            return [.floats(y, shape: [n], buffer: b)]
        }),
        "Cast": Kernel(run: { c in
            let to = DType(rawValue: try c.attrs.string("to")) ?? .f32
            return [try CastKernel.cast(try c.input(0), to: to, count: c.count, out: c.out, session: c.session)]
        }),
    ]
}

enum CastKernel {
    static func cast(_ x: RValue, to: DType, count: Int, out: [Int], session: InferenceSession) throws -> RValue {
        switch (x, to.isFloatingPoint) {
        case (.floats(let p, _, _), true):
            let (y, b) = session.allocate(count)
            for i in 0..<count {
                switch to {
                case .f16: y[i] = Float(Float16(p[i]))
                case .bf16: y[i] = BFloat16.float(BFloat16.bits(p[i]))
                default: y[i] = p[i]
                }
            }
            return .floats(y, shape: out, buffer: b)
        case (.floats(let p, _, _), false):
            return .ints((0..<count).map { i -> Int64 in
                let v = p[i]
                if to == .bool { return v != 0 ? 1 : 0 }
                guard v.isFinite else { return 0 }
                if to == .u64 && v >= 0x1p63 { return Int64(bitPattern: UInt64(Swift.min(v, Float(0x1p64).nextDown))) }
                return wrap(Int64(Swift.max(Swift.min(v.rounded(.towardZero), 9.2e18), -9.2e18)), to: to)
            }, shape: out)
        case (.ints(let v, _), true):
            let (y, b) = session.allocate(count)
            for i in 0..<count { y[i] = Float(v[i]) }
            return .floats(y, shape: out, buffer: b)
        case (.ints(let v, _), false):
            return .ints(v.map { to == .bool ? ($0 != 0 ? 1 : 0) : wrap($0, to: to) }, shape: out)
        }
    }

    /// `v` truncated to the width of integer dtype `to` (C-style wrap-around), as Int64.
    static func wrap(_ v: Int64, to: DType) -> Int64 {
        switch to {
        case .i32: return Int64(Int32(truncatingIfNeeded: v))
        case .i16: return Int64(Int16(truncatingIfNeeded: v))
        case .i8: return Int64(Int8(truncatingIfNeeded: v))
        case .u32: return Int64(UInt32(truncatingIfNeeded: v))
        case .u16: return Int64(UInt16(truncatingIfNeeded: v))
        case .u8: return Int64(UInt8(truncatingIfNeeded: v))
        default: return v
        }
    }
}
