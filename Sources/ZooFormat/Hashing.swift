import Crypto
import Dispatch
import Foundation

/// SHA-256 helpers over raw memory (tensor data is mmap'd or owned, never `Data`).
enum Hashing {
    static func sha256Hex(_ bytes: UnsafeRawBufferPointer) -> String {
        var h = SHA256()
        h.update(bufferPointer: bytes)
        return Hex.encode(h.finalize())
    }

    /// Runs `work` for every index in `0..<count`, on up to `threads` threads,
    /// handing out the heaviest items first (longest-processing-time order) so a
    /// few big tensors do not leave one core idle at the end.
    static func parallelForEach(count: Int, threads: Int, weight: (Int) -> Int, _ work: @escaping @Sendable (Int) -> Void) {
        guard count > 0 else { return }
        let order = (0..<count).sorted { weight($0) > weight($1) }
        let workers = max(1, min(threads, count))
        if workers == 1 {
            order.forEach(work)
            return
        }
        let next = LockedCounter()
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while true {
                let i = next.increment()
                guard i < order.count else { return }
                work(order[i])
            }
        }
    }
}

/// A counter shared by worker threads.
final class LockedCounter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()

    func increment() -> Int {
        lock.lock()
        defer { lock.unlock() }
        let v = value
        value += 1
        return v
    }
}
