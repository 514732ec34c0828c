import Foundation

/// Small pieces for handing work to `DispatchQueue.concurrentPerform` and
/// collecting its results; shared by the writer, the runtime and the
/// embedding queries.

/// Carries a value that is not `Sendable` (a buffer pointer, a closure) into
/// worker threads; callers guarantee the workers touch disjoint memory.
public struct UncheckedBox<T>: @unchecked Sendable {
    public let value: T
    public init(_ v: T) { value = v }
}

/// Keeps the first error any worker thread reports.
public final class FirstError: @unchecked Sendable {
    private var first: Error?
    private let lock = NSLock()
    public init() {}
    public func record(_ e: Error) { lock.lock(); if first == nil { first = e }; lock.unlock() }
    public var error: Error? { lock.lock(); defer { lock.unlock() }; return first }
}

/// One result slot per index, written by worker threads.
public final class IndexedSlots<T>: @unchecked Sendable {
    private var values: [T]
    private let lock = NSLock()
    public init(count: Int, initial: T) { values = Array(repeating: initial, count: count) }
    public func set(_ i: Int, _ v: T) { lock.lock(); values[i] = v; lock.unlock() }
    public func value(_ i: Int) -> T { lock.lock(); defer { lock.unlock() }; return values[i] }
    public var all: [T] { lock.lock(); defer { lock.unlock() }; return values }
}
