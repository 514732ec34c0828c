import Foundation
import ZooCore

/// Kernels of the statistics-based normalisations (Layer, RMS, Instance,
/// Group, Lp, MeanVariance); statistics accumulate in Double.
enum StatisticsKernels {
    /// Mean and variance of `n` elements `x(0..<n)`.
    static func moments(_ n: Int, _ x: (Int) -> Float) -> (mean: Double, variance: Double) {
        var s = 0.0
        for j in 0..<n { s += Double(x(j)) }
        let m = s / Double(max(n, 1))
        var v = 0.0
        for j in 0..<n { let d = Double(x(j)) - m; v += d * d }
        return (m, v / Double(max(n, 1)))
    }

    /// Layer/RMSNormalization: rows are the leading axes, the rest is normalised and scaled.
    static func trailing(rms: Bool) -> Kernel {
        Kernel(run: { c in
            let shape = try c.shape(0)
            let a = try c.axis(try c.attrs.int("axis"), rank: shape.count)
            let eps = Double(try c.attrs.float("epsilon"))
            let inner = shape[a...].reduce(1, *), rows = shape[..<a].reduce(1, *)
            let x = try c.floats(0), scale = try c.floats(1)
            let sOff = MathKernels.offsets(try c.shape(1), to: Array(shape[a...]))
            let bias = c.has(2) ? try c.floats(2) : nil
            let bOff = c.has(2) ? MathKernels.offsets(try c.shape(2), to: Array(shape[a...])) : []
            let (y, b) = c.allocate(c.count)
            var means = [Float](repeating: 0, count: rows), invs = [Float](repeating: 0, count: rows)
            for r in 0..<rows {
                let row = x + r * inner, out = y + r * inner
                let mean: Double, inv: Double
                if rms {
                    var s = 0.0
                    for j in 0..<inner { s += Double(row[j]) * Double(row[j]) }
                    mean = 0
                    inv = 1 / (s / Double(max(inner, 1)) + eps).squareRoot()
                } else {
                    let m = moments(inner) { row[$0] }
                    mean = m.mean
                    inv = 1 / (m.variance + eps).squareRoot()
                }
                means[r] = Float(mean); invs[r] = Float(inv)
                for j in 0..<inner {
                    var v = Float((Double(row[j]) - mean) * inv) * scale[sOff[j]]
                    if let bias { v += bias[bOff[j]] }
                    out[j] = v
                }
            }
            var results = [c.result(y, b)]
            for (k, stat) in [means, invs].enumerated() where c.outShapes.count > k + 1 {
                let (p, pb) = c.allocate(rows)
                for r in 0..<rows { p[r] = stat[r] }
                results.append(c.result(p, pb, output: k + 1))
            }
            return results
        })
    }

    /// Instance/GroupNormalization: `groups` per sample, per-channel scale and bias.
    static func grouped(_ groups: @escaping @Sendable (KernelCall, Int) throws -> Int) -> Kernel {
        Kernel(run: { c in
            let shape = try c.shape(0)
            let ch = shape[1], spatial = shape[2...].reduce(1, *)
            let g = try groups(c, ch)
            let eps = Double(try c.attrs.float("epsilon"))
            let x = try c.floats(0), scale = try c.floats(1), bias = try c.floats(2)
            let inner = ch / g * spatial
            let perGroup = try c.shape(1) != [ch]
            let (y, b) = c.allocate(c.count)
            for r in 0..<(shape[0] * g) {
                let row = x + r * inner, out = y + r * inner
                let m = moments(inner) { row[$0] }
                let inv = 1 / (m.variance + eps).squareRoot()
                for j in 0..<inner {
                    let k = perGroup ? r % g : (r % g) * (ch / g) + j / max(spatial, 1)
                    out[j] = Float((Double(row[j]) - m.mean) * inv) * scale[k] + bias[k]
                }
            }
            return [c.result(y, b)]
        })
    }

    static let table: [String: Kernel] = [
        "LayerNormalization": trailing(rms: false),
        "RMSNormalization": trailing(rms: true),
        "InstanceNormalization": grouped { _, ch in ch },
        "GroupNormalization": grouped { c, _ in try c.attrs.int("num_groups") },
        "LpNormalization": Kernel(run: { c in
            let shape = try c.shape(0)
            let a = try c.axis(try c.attrs.int("axis"), rank: shape.count)
            let p = try c.attrs.int("p")
            let (outer, n, inner) = IndexKernels.split(shape, a)
            let x = try c.floats(0)
            let (y, b) = c.allocate(c.count)
            for o in 0..<outer {
                for i in 0..<inner {
                    let base = o * n * inner + i
                    var s = 0.0
                    for k in 0..<n { let v = Double(x[base + k * inner]); s += p == 1 ? abs(v) : v * v }
                    // A zero vector stays zero (as onnx's reference has it), not NaN.
                    let norm = p == 1 ? s : s.squareRoot()
                    for k in 0..<n { y[base + k * inner] = norm == 0 ? 0 : Float(Double(x[base + k * inner]) / norm) }
                }
            }
            return [c.result(y, b)]
        }),
        // (x − mean) / (sqrt(variance) + 1e-9) over `axes`, as the ONNX function body defines it.
        "MeanVarianceNormalization": Kernel(run: { c in
            let shape = try c.shape(0)
            let axes = Set(try c.attrs.ints("axes").map { try c.axis($0, rank: shape.count) })
            let statShape = shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
            let offs = MathKernels.offsets(statShape, to: shape)
            let groups = statShape.reduce(1, *), n = c.count
            let x = try c.floats(0)
            var sum = [Double](repeating: 0, count: groups), sq = sum
            for i in 0..<n { let v = Double(x[i]); sum[offs[i]] += v; sq[offs[i]] += v * v }
            let per = Double(max(1, n / max(groups, 1)))
            let (y, b) = c.allocate(n)
            for i in 0..<n {
                let m = sum[offs[i]] / per
                let variance = sq[offs[i]] / per - m * m
                y[i] = Float((Double(x[i]) - m) / (max(variance, 0).squareRoot() + 1e-9))
            }
            return [c.result(y, b)]
        }),
    ]
}
