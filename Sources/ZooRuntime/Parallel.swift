import ZooCore
import Dispatch

/// Splits `0..<count` into contiguous chunks over up to `threads` threads.
/// Work smaller than `grain` items per thread runs inline: threads cost more
/// than they save on small tensors.
func parallelFor(_ count: Int, threads: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
    parallelWorkers(count, threads: threads, grain: grain) { _, r in body(r) }
}

/// Like `parallelFor`, also passing the worker's index (0..<threads) so each
/// worker can use its own scratch memory.
func parallelWorkers(_ count: Int, threads: Int, grain: Int = 1, _ body: (Int, Range<Int>) -> Void) {
    guard count > 0 else { return }
    let workers = max(1, min(threads, count / max(grain, 1)))
    if workers <= 1 {
        body(0, 0..<count)
        return
    }
    withoutActuallyEscaping(body) { body in
        let box = UncheckedBox(body)
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            let lo = count * w / workers, hi = count * (w + 1) / workers
            if lo < hi { box.value(w, lo..<hi) }
        }
    }
}
