import CBLAS
import Foundation

/// Trains a softmax classifier (multinomial logistic regression) on frozen features.
///
/// The objective is scikit-learn's `LogisticRegression` objective scaled by
/// 1/N: mean cross-entropy + (l2/2)·‖W‖² (the bias unpenalised), so
/// `l2 = 1 / (C · N)` reproduces a given `C`. Two optimisers:
/// - **L-BFGS** (default): full batch, 10 correction pairs, backtracking
///   Armijo line search, so the objective decreases at every epoch (one
///   epoch = one iteration); it stops early when the gradient vanishes.
/// - **Adam**: mini-batches in an order drawn from `seed`, for large sets.
/// Both are deterministic: the same data, options and seed give the same head.
public enum HeadTrainer {
    public enum Optimizer: String, Sendable, CaseIterable { case lbfgs, adam }

    public struct Options: Sendable {
        public var epochs: Int
        public var l2: Double
        public var optimizer: Optimizer
        /// Adam's step size (L-BFGS chooses its own steps).
        public var learningRate: Double
        public var batchSize: Int
        public var seed: UInt64
        /// L-BFGS stops when the largest gradient component falls below this.
        public var gradientTolerance: Double

        public init(epochs: Int = 100, l2: Double = 1e-3, optimizer: Optimizer = .lbfgs, learningRate: Double = 1e-2,
                    batchSize: Int = 64, seed: UInt64 = 0, gradientTolerance: Double = 1e-6) {
            self.epochs = epochs
            self.l2 = l2
            self.optimizer = optimizer
            self.learningRate = learningRate
            self.batchSize = batchSize
            self.seed = seed
            self.gradientTolerance = gradientTolerance
        }
    }

    /// One epoch's figures. `objective` is what the optimiser minimises (train cross-entropy + L2 term).
    public struct Epoch: Sendable, Codable, Equatable {
        public var epoch: Int
        public var objective: Double
        public var trainLoss: Double
        public var trainAccuracy: Double
        public var valLoss: Double?
        public var valAccuracy: Double?
    }

    /// A trained head: logits = x · weights + bias.
    public struct Head: Sendable {
        /// `dim` × `classes`, row-major.
        public var weights: [Float]
        public var bias: [Float]
        public var dim: Int
        public var classes: Int
    }

    /// Labelled features: `count` rows of `dim` floats.
    public struct Examples: Sendable {
        public var features: [Float]
        public var labels: [Int]
        public var dim: Int
        public var count: Int { labels.count }

        public init(features: [Float], labels: [Int], dim: Int) {
            self.features = features
            self.labels = labels
            self.dim = dim
        }
    }

    public struct Result: Sendable {
        public var head: Head
        public var history: [Epoch]
    }

    public static func train(_ train: Examples, validation: Examples? = nil, classes: Int, options: Options = .init(),
                             onEpoch: ((Epoch) -> Void)? = nil) throws -> Result {
        guard train.count >= 1, train.dim >= 1, train.features.count == train.count * train.dim else {
            throw TransferError.invalidOptions(detail: "no training features (\(train.count) examples of \(train.dim))")
        }
        guard classes >= 2 else { throw TransferError.invalidOptions(detail: "a classifier needs at least two classes, got \(classes)") }
        guard options.epochs >= 1, options.epochs <= 1_000_000 else { throw TransferError.invalidOptions(detail: "--epochs must be between 1 and 1000000") }
        guard options.l2 >= 0, options.l2.isFinite else { throw TransferError.invalidOptions(detail: "--l2 must be a finite number ≥ 0") }
        guard options.learningRate > 0, options.learningRate.isFinite else { throw TransferError.invalidOptions(detail: "--lr must be a positive number") }
        guard options.batchSize >= 1 else { throw TransferError.invalidOptions(detail: "the batch size must be at least 1") }
        if let v = validation, v.dim != train.dim { throw TransferError.invalidOptions(detail: "validation features have \(v.dim) values, training \(train.dim)") }
        for l in train.labels + (validation?.labels ?? []) where l < 0 || l >= classes {
            throw TransferError.invalidOptions(detail: "label \(l) is outside 0..<\(classes)")
        }
        guard train.features.allSatisfy(\.isFinite), validation?.features.allSatisfy(\.isFinite) ?? true else {
            throw TransferError.invalidOptions(detail: "the features contain NaN or infinity (a broken backbone or input)")
        }
        let problem = Problem(train, classes: classes, l2: options.l2)
        var theta = [Double](repeating: 0, count: problem.parameterCount)
        var history: [Epoch] = []
        func record(_ epoch: Int, _ objective: Double, _ theta: [Double]) {
            let (loss, acc) = problem.evaluate(theta, on: train)
            var e = Epoch(epoch: epoch, objective: objective, trainLoss: loss, trainAccuracy: acc)
            if let v = validation, v.count > 0 { (e.valLoss, e.valAccuracy) = problem.evaluate(theta, on: v) }
            history.append(e)
            onEpoch?(e)
        }
        switch options.optimizer {
        case .lbfgs: lbfgs(problem, &theta, options, record)
        case .adam: adam(problem, &theta, options, record)
        }
        let d = train.dim, k = classes
        return Result(head: Head(weights: theta[0..<(d * k)].map(Float.init), bias: theta[(d * k)...].map(Float.init), dim: d, classes: k), history: history)
    }

    // MARK: the objective

    final class Problem {
        let x: [Float]
        let labels: [Int]
        let n: Int, d: Int, k: Int
        let l2: Double
        var parameterCount: Int { d * k + k }

        init(_ e: Examples, classes: Int, l2: Double) {
            x = e.features; labels = e.labels; n = e.count; d = e.dim; k = classes; self.l2 = l2
        }

        /// Softmax probabilities of rows `rows` of `x` (or of `other`).
        func probabilities(_ theta: [Double], features: [Float], count: Int) -> [Float] {
            let w = theta[0..<(d * k)].map(Float.init)
            var logits = [Float](repeating: 0, count: count * k)
            for i in 0..<count { for c in 0..<k { logits[i * k + c] = Float(theta[d * k + c]) } }
            features.withUnsafeBufferPointer { xp in
                w.withUnsafeBufferPointer { wp in
                    logits.withUnsafeMutableBufferPointer { lp in
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(count), Int32(k), Int32(d),
                                    1, xp.baseAddress, Int32(d), wp.baseAddress, Int32(k), 1, lp.baseAddress, Int32(k))
                    }
                }
            }
            for i in 0..<count {
                var m = -Float.infinity
                for c in 0..<k { m = max(m, logits[i * k + c]) }
                var s: Float = 0
                for c in 0..<k { let e = expf(logits[i * k + c] - m); logits[i * k + c] = e; s += e }
                for c in 0..<k { logits[i * k + c] /= s }
            }
            return logits
        }

        /// Mean cross-entropy and accuracy of `theta` on `e`.
        func evaluate(_ theta: [Double], on e: Examples) -> (Double, Double) {
            let p = probabilities(theta, features: e.features, count: e.count)
            var loss = 0.0, right = 0
            for i in 0..<e.count {
                loss -= log(max(Double(p[i * k + e.labels[i]]), 1e-30))
                var best = 0
                for c in 1..<k where p[i * k + c] > p[i * k + best] { best = c }
                if best == e.labels[i] { right += 1 }
            }
            return (loss / Double(max(e.count, 1)), Double(right) / Double(max(e.count, 1)))
        }

        /// Objective and gradient over the examples `rows` (all when nil).
        func objective(_ theta: [Double], rows: [Int]? = nil) -> (Double, [Double]) {
            let features: [Float], ys: [Int]
            if let rows {
                var f = [Float](repeating: 0, count: rows.count * d)
                for (j, i) in rows.enumerated() { for t in 0..<d { f[j * d + t] = x[i * d + t] } }
                features = f
                ys = rows.map { labels[$0] }
            } else {
                features = x
                ys = labels
            }
            let m = ys.count
            var p = probabilities(theta, features: features, count: m)
            var loss = 0.0
            for i in 0..<m {
                loss -= log(max(Double(p[i * k + ys[i]]), 1e-30))
                p[i * k + ys[i]] -= 1
            }
            let scale = 1 / Float(m)
            for i in 0..<p.count { p[i] *= scale }
            var gw = [Float](repeating: 0, count: d * k)
            features.withUnsafeBufferPointer { xp in
                p.withUnsafeBufferPointer { pp in
                    gw.withUnsafeMutableBufferPointer { gp in
                        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(d), Int32(k), Int32(m),
                                    1, xp.baseAddress, Int32(d), pp.baseAddress, Int32(k), 0, gp.baseAddress, Int32(k))
                    }
                }
            }
            var g = [Double](repeating: 0, count: parameterCount)
            var penalty = 0.0
            for i in 0..<(d * k) {
                g[i] = Double(gw[i]) + l2 * theta[i]
                penalty += theta[i] * theta[i]
            }
            for i in 0..<m { for c in 0..<k { g[d * k + c] += Double(p[i * k + c]) } }
            return (loss / Double(m) + 0.5 * l2 * penalty, g)
        }
    }

    static func dot(_ a: [Double], _ b: [Double]) -> Double {
        var s = 0.0
        for i in a.indices { s += a[i] * b[i] }
        return s
    }

    static func lbfgs(_ problem: Problem, _ theta: inout [Double], _ options: Options, _ record: (Int, Double, [Double]) -> Void) {
        let memory = 10
        var (f, g) = problem.objective(theta)
        var s: [[Double]] = [], y: [[Double]] = [], rho: [Double] = []
        for epoch in 1...options.epochs {
            if g.map(abs).max() ?? 0 < options.gradientTolerance { break }
            // Two-loop recursion: d = −H·g.
            var q = g
            var alpha = [Double](repeating: 0, count: s.count)
            for i in stride(from: s.count - 1, through: 0, by: -1) {
                alpha[i] = rho[i] * dot(s[i], q)
                for j in q.indices { q[j] -= alpha[i] * y[i][j] }
            }
            if let ls = s.last, let ly = y.last {
                let gamma = dot(ls, ly) / max(dot(ly, ly), 1e-300)
                for j in q.indices { q[j] *= gamma }
            } else {
                // First step: a unit-length move along −g.
                let norm = sqrt(dot(g, g))
                for j in q.indices { q[j] /= max(norm, 1) }
            }
            for i in 0..<s.count {
                let beta = rho[i] * dot(y[i], q)
                for j in q.indices { q[j] += s[i][j] * (alpha[i] - beta) }
            }
            var direction = q.map { -$0 }
            var slope = dot(g, direction)
            if slope >= 0 {
                // Not a descent direction (curvature lost): restart from steepest descent.
                s = []; y = []; rho = []
                direction = g.map { -$0 }
                slope = dot(g, direction)
            }
            var step = 1.0
            var accepted: (Double, [Double], [Double])?
            for _ in 0..<40 {
                let candidate = zip(theta, direction).map { $0 + step * $1 }
                let (fc, gc) = problem.objective(candidate)
                if fc.isFinite && fc <= f + 1e-4 * step * slope && fc < f {
                    accepted = (fc, gc, candidate)
                    break
                }
                step *= 0.5
            }
            guard let (fNew, gNew, thetaNew) = accepted else { break }
            let sk = zip(thetaNew, theta).map { $0 - $1 }
            let yk = zip(gNew, g).map { $0 - $1 }
            let sy = dot(sk, yk)
            if sy > 1e-12 {
                s.append(sk); y.append(yk); rho.append(1 / sy)
                if s.count > memory { s.removeFirst(); y.removeFirst(); rho.removeFirst() }
            }
            theta = thetaNew
            f = fNew
            g = gNew
            record(epoch, f, theta)
        }
    }

    static func adam(_ problem: Problem, _ theta: inout [Double], _ options: Options, _ record: (Int, Double, [Double]) -> Void) {
        var m = [Double](repeating: 0, count: theta.count), v = m
        let b1 = 0.9, b2 = 0.999, eps = 1e-8
        var t = 0
        var rng = SplitMix64(seed: options.seed)
        var order = Array(0..<problem.n)
        for epoch in 1...options.epochs {
            for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            for start in stride(from: 0, to: order.count, by: options.batchSize) {
                let rows = Array(order[start..<min(start + options.batchSize, order.count)])
                let (_, g) = problem.objective(theta, rows: rows)
                t += 1
                let c1 = 1 - pow(b1, Double(t)), c2 = 1 - pow(b2, Double(t))
                for j in theta.indices {
                    m[j] = b1 * m[j] + (1 - b1) * g[j]
                    v[j] = b2 * v[j] + (1 - b2) * g[j] * g[j]
                    theta[j] -= options.learningRate * (m[j] / c1) / (sqrt(v[j] / c2) + eps)
                }
            }
            record(epoch, problem.objective(theta).0, theta)
        }
    }
}
