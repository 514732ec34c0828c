import CZooSupport
import Testing
import ZooTestSupport

/// The embedding scoring kernel (one dot product per matrix row) against a
/// double-precision dot computed here, for row lengths that exercise every
/// tail of the vector loops.
@Suite struct ScoreKernelTests {
    static let lengths = [1, 3, 7, 8, 9, 31, 32, 33, 50, 100, 300, 301]

    func check(_ d: Int, _ kernel: (UnsafePointer<Float>, Int, Int, UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
        var rng = SplitMix64(seed: UInt64(d))
        let rows = 17
        let m = (0..<(rows * d)).map { _ in Float.random(in: -1...1, using: &rng) }
        let x = (0..<d).map { _ in Float.random(in: -1...1, using: &rng) }
        var y = [Float](repeating: .nan, count: rows)
        kernel(m, rows, d, x, &y)
        for r in 0..<rows {
            var exact = 0.0
            for k in 0..<d { exact += Double(m[r * d + k]) * Double(x[k]) }
            #expect(abs(Double(y[r]) - exact) <= 1e-5 * Double(d).squareRoot() + 1e-6, "row \(r), d \(d): \(y[r]) vs \(exact)")
        }
    }

    @Test(arguments: lengths)
    func dispatchedKernelMatchesDoublePrecisionDot(d: Int) {
        check(d) { czoo_score_rows($0, $1, $2, $3, $4) }
    }

    @Test(arguments: lengths)
    func portableKernelMatchesDoublePrecisionDot(d: Int) {
        check(d) { czoo_score_rows_portable($0, $1, $2, $3, $4) }
    }
}
