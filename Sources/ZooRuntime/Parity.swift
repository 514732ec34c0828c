import Foundation
import ZooCore

/// How closely a converted model's output matches the source framework's.
public struct ParityReport: Codable, Sendable, Equatable {
    public var output: String
    public var elements: Int
    public var maxAbsError: Double
    public var maxRelError: Double
    /// Cosine similarity of the flattened outputs (1 for identical directions).
    public var cosine: Double
    /// Share of rows whose arg-max agrees (rows = all but the last axis); nil for rank < 1.
    public var top1Agreement: Double?
    /// Share of rows whose 5 largest entries are the same set; nil when the last axis has < 5 entries.
    public var top5Agreement: Double?
    public var rtol: Double
    public var atol: Double
    /// Every element satisfies |actual − expected| ≤ atol + rtol · |expected|.
    public var passed: Bool
    /// Flat index of the worst element relative to the tolerance.
    public var worstIndex: Int?
}

public enum Parity {
    /// Default fp32 tolerances (per model overrides live in the catalog).
    public static let defaultRtol = 1e-4
    public static let defaultAtol = 1e-5

    /// Compares `actual` with `expected` (same shape; any numeric dtypes).
    public static func compare(_ actual: Tensor, _ expected: Tensor, output: String, rtol: Double = defaultRtol, atol: Double = defaultAtol) throws -> ParityReport {
        guard actual.shape == expected.shape else {
            throw RuntimeError.referenceShape(output: output, actual: actual.shape, expected: expected.shape)
        }
        let a = doubles(actual), e = doubles(expected)
        var maxAbs = 0.0, maxRel = 0.0, dot = 0.0, na = 0.0, ne = 0.0
        var passed = true
        var worst: Int?
        var worstRatio = 0.0
        for i in a.indices {
            let d = abs(a[i] - e[i])
            let nanMismatch = a[i].isNaN != e[i].isNaN
            maxAbs = max(maxAbs, d.isNaN ? (nanMismatch ? .infinity : 0) : d)
            if e[i] != 0 { maxRel = max(maxRel, d / abs(e[i])) }
            let bound = atol + rtol * abs(e[i])
            let ratio = nanMismatch ? .infinity : (d.isNaN ? 0 : d / bound)
            if ratio > 1 { passed = false }
            if ratio > worstRatio { worstRatio = ratio; worst = i }
            if a[i].isFinite && e[i].isFinite {
                dot += a[i] * e[i]
                na += a[i] * a[i]
                ne += e[i] * e[i]
            }
        }
        let cosine = na == 0 && ne == 0 ? 1 : dot / max((na * ne).squareRoot(), .leastNormalMagnitude)
        var top1: Double?, top5: Double?
        if let classes = actual.shape.last, classes > 0, !actual.shape.isEmpty {
            let rows = a.count / classes
            var agree1 = 0, agree5 = 0
            for r in 0..<rows {
                let ra = Array(a[(r * classes)..<((r + 1) * classes)]), re = Array(e[(r * classes)..<((r + 1) * classes)])
                if topK(ra, 1) == topK(re, 1) { agree1 += 1 }
                if Set(topK(ra, 5)) == Set(topK(re, 5)) { agree5 += 1 }
            }
            if rows > 0 {
                top1 = Double(agree1) / Double(rows)
                if classes >= 5 { top5 = Double(agree5) / Double(rows) }
            }
        }
        return ParityReport(output: output, elements: a.count, maxAbsError: maxAbs, maxRelError: maxRel, cosine: cosine,
                            top1Agreement: top1, top5Agreement: top5, rtol: rtol, atol: atol, passed: passed, worstIndex: passed ? nil : worst)
    }

    /// Indices of the k largest values, largest first (ties by lower index).
    public static func topK(_ v: [Double], _ k: Int) -> [Int] {
        Array(v.indices.sorted { v[$0] != v[$1] ? v[$0] > v[$1] : $0 < $1 }.prefix(k))
    }

    /// Any numeric tensor's elements as Double (for comparisons and summaries).
    public static func doubles(_ t: Tensor) -> [Double] {
        t.doubleValues ?? t.scalars(as: UInt8.self).map(Double.init)
    }
}
