import Foundation
import ZooCore

/// Kernels of the Math family (ZooCore `MathOps`): simple loops over floats
/// (Float) or integers (Int64), numpy broadcasting through strides.
enum MathKernels {
    /// Flat source offsets of every output element for a broadcast input.
    static func offsets(_ shape: [Int], to out: [Int]) -> [Int] {
        let n = out.reduce(1, *)
        if shape == out { return Array(0..<n) }
        let st = broadcastStrides(shape, to: out), os = StridedCopy.contiguousStrides(out)
        return (0..<n).map { i in
            var rem = i, off = 0
            for d in out.indices {
                let q = rem / max(os[d], 1)
                rem -= q * os[d]
                off += q * st[d]
            }
            return off
        }
    }

    /// Values of an input as floats (read in place: the input outlives the kernel) or ints.
    enum Values {
        case f(UnsafeMutablePointer<Float>), i([Int64])
        init(_ v: RValue) {
            switch v {
            case .floats(let p, _, _): self = .f(p)
            case .ints(let x, _): self = .i(x)
            }
        }
        var isInt: Bool { if case .i = self { return true }; return false }
        func float(_ k: Int) -> Float { switch self { case .f(let a): return a[k]; case .i(let a): return Float(a[k]) } }
        /// A float read as an integer truncates toward zero, saturating; NaN reads as 0 (never a trap).
        func int(_ k: Int) -> Int64 {
            switch self {
            case .f(let a):
                let v = a[k]
                return v.isNaN ? 0 : Int64(Swift.max(Swift.min(v, 9.2e18), -9.2e18))
            case .i(let a): return a[k]
            }
        }
    }

    static func floats(_ c: KernelCall, _ n: Int, _ f: (Int) -> Float) -> RValue {
        let (y, b) = c.allocate(n)
        for k in 0..<n { y[k] = f(k) }
        return c.result(y, b)
    }

    static func unary(_ name: String) -> Kernel {
        Kernel(run: { c in
            let x = Values(try c.input(0))
            let n = c.count
            if case .i(let a) = x {
                switch name {
                case "Neg": return [.ints(a.map { 0 &- $0 }, shape: c.out)]
                case "Abs": return [.ints(a.map { $0 == .min ? $0 : abs($0) }, shape: c.out)]
                case "Sign": return [.ints(a.map { $0 > 0 ? 1 : $0 < 0 ? -1 : 0 }, shape: c.out)]
                case "Not": return [.ints(a.map { $0 == 0 ? 1 : 0 }, shape: c.out)]
                default: throw c.unsupported("\(name) of an integer tensor")
                }
            }
            let f: (Float) -> Float
            switch name {
            case "Sqrt": f = { $0.squareRoot() }
            case "Exp": f = { expf($0) }
            case "Log": f = { logf($0) }
            case "Reciprocal": f = { 1 / $0 }
            case "Neg": f = { -$0 }
            case "Abs": f = { abs($0) }
            case "Floor": f = { $0.rounded(.down) }
            case "Ceil": f = { $0.rounded(.up) }
            case "Round": f = { $0.rounded(.toNearestOrEven) }
            case "Erf": f = { erff($0) }
            case "Sin": f = { sinf($0) }
            case "Cos": f = { cosf($0) }
            case "Tan": f = { tanf($0) }
            case "Atan": f = { atanf($0) }
            case "Asin": f = { asinf($0) }
            case "Acos": f = { acosf($0) }
            case "Sinh": f = { sinhf($0) }
            case "Cosh": f = { coshf($0) }
            case "Asinh": f = { asinhf($0) }
            case "Acosh": f = { acoshf($0) }
            case "Atanh": f = { atanhf($0) }
            case "Sign": f = { $0 > 0 ? 1 : $0 < 0 ? -1 : ($0.isNaN ? $0 : 0) }
            default: throw c.unsupported("\(name) of a float tensor")
            }
            return [floats(c, n) { f(x.float($0)) }]
        })
    }

    /// Elementwise over broadcast inputs: `float` for float data, `int` for integer data.
    static func broadcast(_ c: KernelCall, float: ((Float, Float) -> Float)?, int: ((Int64, Int64) throws -> Int64)?, predicate: Bool = false,
                          floatPredicate: ((Float, Float) -> Bool)? = nil) throws -> RValue {
        let a = try c.input(0), b = try c.input(1)
        let va = Values(a), vb = Values(b)
        let oa = offsets(a.shape, to: c.out), ob = offsets(b.shape, to: c.out)
        let n = c.count
        if let fp = floatPredicate, !(va.isInt && vb.isInt) {
            return .ints((0..<n).map { fp(va.float(oa[$0]), vb.float(ob[$0])) ? 1 : 0 }, shape: c.out)
        }
        if va.isInt && vb.isInt {
            guard let int else { throw c.unsupported("integer inputs") }
            return .ints(try (0..<n).map { try int(va.int(oa[$0]), vb.int(ob[$0])) }, shape: c.out)
        }
        guard let float else { throw c.unsupported("float inputs") }
        if predicate { throw c.unsupported("float inputs") }
        return floats(c, n) { float(va.float(oa[$0]), vb.float(ob[$0])) }
    }

    static func binary(_ name: String) -> Kernel {
        Kernel(run: { c in
            switch name {
            case "Pow": return [try broadcast(c, float: { powf($0, $1) }, int: { a, b in
                var r: Int64 = 1; var e = b; var base = a
                guard e >= 0 else { return 0 }
                while e > 0 { if e & 1 == 1 { r = r &* base }; base = base &* base; e >>= 1 }
                return r
            })]
            case "Mod":
                let fmod = try c.attrs.int("fmod") != 0
                // fmod=0 is Python's modulo (the sign of the divisor), for floats too.
                return [try broadcast(c, float: { a, b in
                    let r = fmodf(a, b)
                    return fmod || r == 0 || (r < 0) == (b < 0) ? r : r + b
                }, int: { a, b in
                    guard b != 0 else { throw c.fail("integer modulo by zero") }
                    let r = a % b
                    return fmod || r == 0 || (r < 0) == (b < 0) ? r : r + b
                })]
            case "BitShift":
                let left = try c.attrs.string("direction") == "LEFT"
                // Signed types shift right arithmetically (a shift past the width gives 0 or −1).
                let signed = try c.attrs.int("signed") != 0
                return [try broadcast(c, float: nil, int: { a, b in
                    let u = UInt64(bitPattern: a), s = UInt64(bitPattern: b)
                    if signed && !left { return s >= 64 ? (a < 0 ? -1 : 0) : a >> Int64(s) }
                    return s >= 64 ? 0 : Int64(bitPattern: left ? u << s : u >> s)
                })]
            default: // PRelu
                return [try broadcast(c, float: { x, slope in x < 0 ? slope * x : x }, int: { x, slope in x < 0 ? slope &* x : x })]
            }
        })
    }

    static func variadic(_ name: String) -> Kernel {
        Kernel(run: { c in
            let ins = try c.ins.indices.map { try c.input($0) }
            let vals = ins.map(Values.init), offs = ins.map { offsets($0.shape, to: c.out) }
            let n = c.count
            if vals.allSatisfy(\.isInt) && name != "Mean" {
                return [.ints((0..<n).map { k in
                    let xs = vals.indices.map { vals[$0].int(offs[$0][k]) }
                    return name == "Max" ? xs.max()! : xs.min()!
                }, shape: c.out)]
            }
            return [floats(c, n) { k in
                let xs = vals.indices.map { vals[$0].float(offs[$0][k]) }
                if xs.contains(where: \.isNaN) { return .nan }
                switch name {
                case "Max": return xs.max()!
                case "Min": return xs.min()!
                default: return xs.reduce(0, +) / Float(xs.count)
                }
            }]
        })
    }

    static func predicate(_ name: String) -> Kernel {
        Kernel(run: { c in
            let cmp: ((Float, Float) -> Bool)?, icmp: (Int64, Int64) -> Bool
            switch name {
            case "Equal": cmp = { $0 == $1 }; icmp = { $0 == $1 }
            case "Less": cmp = { $0 < $1 }; icmp = { $0 < $1 }
            case "Greater": cmp = { $0 > $1 }; icmp = { $0 > $1 }
            case "LessOrEqual": cmp = { $0 <= $1 }; icmp = { $0 <= $1 }
            case "GreaterOrEqual": cmp = { $0 >= $1 }; icmp = { $0 >= $1 }
            case "And": cmp = nil; icmp = { $0 != 0 && $1 != 0 }
            case "Or": cmp = nil; icmp = { $0 != 0 || $1 != 0 }
            default: cmp = nil; icmp = { ($0 != 0) != ($1 != 0) }
            }
            return [try broadcast(c, float: nil, int: { icmp($0, $1) ? 1 : 0 }, predicate: true, floatPredicate: cmp)]
        })
    }

    static let table: [String: Kernel] = {
        var t: [String: Kernel] = [:]
        for n in MathOps.unaryNames { t[n] = unary(n) }
        for n in MathOps.binaryNames { t[n] = binary(n) }
        for n in MathOps.variadicNames { t[n] = variadic(n) }
        for n in MathOps.predicateNames { t[n] = predicate(n) }
        for n in MathOps.bitwiseNames {
            t[n] = Kernel(run: { c in
                [try broadcast(c, float: nil, int: { a, b in n == "BitwiseAnd" ? a & b : n == "BitwiseOr" ? a | b : a ^ b })]
            })
        }
        // Integers are held in Int64; the output cast truncates to the tensor's width.
        t["BitwiseNot"] = Kernel(run: { c in [.ints(try c.ints(0).map { ~$0 }, shape: c.out)] })
        t["IsNaN"] = Kernel(run: { c in
            let x = Values(try c.input(0))
            return [.ints((0..<c.count).map { x.isInt ? 0 : (x.float($0).isNaN ? 1 : 0) }, shape: c.out)]
        })
        t["IsInf"] = Kernel(run: { c in
            let x = Values(try c.input(0))
            let neg = try c.attrs.int("detect_negative") != 0, pos = try c.attrs.int("detect_positive") != 0
            return [.ints((0..<c.count).map { k in
                guard !x.isInt else { return 0 }
                let v = x.float(k)
                return v.isInfinite && (v > 0 ? pos : neg) ? 1 : 0
            }, shape: c.out)]
        })
        t["Where"] = Kernel(run: { c in
            let cond = Values(try c.input(0)), x = try c.input(1), y = try c.input(2)
            let vx = Values(x), vy = Values(y)
            let oc = offsets(try c.shape(0), to: c.out), ox = offsets(x.shape, to: c.out), oy = offsets(y.shape, to: c.out)
            let n = c.count
            if vx.isInt && vy.isInt {
                return [.ints((0..<n).map { cond.int(oc[$0]) != 0 ? vx.int(ox[$0]) : vy.int(oy[$0]) }, shape: c.out)]
            }
            return [floats(c, n) { cond.int(oc[$0]) != 0 ? vx.float(ox[$0]) : vy.float(oy[$0]) }]
        })
        return t
    }()
}
