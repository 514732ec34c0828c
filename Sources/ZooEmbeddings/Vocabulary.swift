import CZooSupport
import Foundation

/// The vocabulary as the `.zoo` stores it (UTF-8 bytes back to back, plus
/// offsets), with an open-addressing table over those bytes that keeps only
/// the first occurrence of each word.
///
/// Words are compared by their decoded UTF-8 bytes, as Python compares `str`
/// (code points), so two spellings that Swift's `String ==` would call
/// canonically equal stay two words, as they do in gensim. The table hashes
/// with Swift's per-process seeded hasher, so a hostile file cannot force
/// collisions.
struct VocabularyBuilder {
    private(set) var bytes: [UInt8] = []
    private(set) var offsets: [Int64] = [0]
    /// Per slot: the word's hash in the high 32 bits, its row + 1 in the low
    /// 32 (0: empty). Comparing hashes first means a probe only reads the
    /// vocabulary bytes for a real duplicate, not for every occupied slot.
    private var slots: [UInt64]
    private var mask: Int

    /// Sized for `expected` words; grows past that if needed.
    init(expected: Int) {
        var capacity = 16
        while capacity < expected * 2 { capacity <<= 1 }
        slots = Array(repeating: 0, count: capacity)
        mask = capacity - 1
        bytes.reserveCapacity(expected * 8)
        offsets.reserveCapacity(expected + 1)
    }

    var count: Int { offsets.count - 1 }

    /// Appends `word` (already decoded UTF-8) unless it is present; returns
    /// whether it was new.
    mutating func add(_ word: UnsafeRawBufferPointer) -> Bool {
        add(word, hash: Self.hash(word))
    }

    /// Starts loading the table slot `hash` lands on, ahead of ``add(_:hash:)``.
    func prefetch(_ hash: Int) {
        slots.withUnsafeBufferPointer { czoo_prefetch($0.baseAddress! + (hash & mask)) }
    }

    /// ``add(_:)`` with the word's ``hash(_:)`` already computed.
    mutating func add(_ word: UnsafeRawBufferPointer, hash h: Int) -> Bool {
        if (count + 1) * 2 > slots.count { grow() }
        let tag = UInt64(truncatingIfNeeded: h) & 0xFFFF_FFFF_0000_0000
        var slot = h & mask
        while true {
            let entry = slots[slot]
            if entry == 0 { break }
            if entry & 0xFFFF_FFFF_0000_0000 == tag && equals(Int(entry & 0xFFFF_FFFF) - 1, word) { return false }
            slot = (slot + 1) & mask
        }
        precondition(count < Int(UInt32.max) - 1, "vocabulary above 2^32 words")
        bytes.append(contentsOf: word)
        offsets.append(Int64(bytes.count))
        slots[slot] = tag | UInt64(count)
        return true
    }

    private func equals(_ row: Int, _ word: UnsafeRawBufferPointer) -> Bool {
        let lo = Int(offsets[row]), hi = Int(offsets[row + 1])
        guard hi - lo == word.count else { return false }
        return bytes.withUnsafeBytes { all in
            word.isEmpty || memcmp(all.baseAddress! + lo, word.baseAddress!, word.count) == 0
        }
    }

    static func hash(_ word: UnsafeRawBufferPointer) -> Int {
        var h = Hasher()
        h.combine(bytes: word)
        return h.finalize()
    }

    private mutating func grow() {
        let capacity = slots.count * 2
        var fresh = [UInt64](repeating: 0, count: capacity)
        let m = capacity - 1
        for entry in slots where entry != 0 {
            // The stored tag is the hash's high half; the slot needs its low bits,
            // so the word is hashed again.
            let row = Int(entry & 0xFFFF_FFFF) - 1
            let lo = Int(offsets[row]), hi = Int(offsets[row + 1])
            let h = bytes.withUnsafeBytes { Self.hash(UnsafeRawBufferPointer(rebasing: $0[lo..<hi])) }
            var slot = h & m
            while fresh[slot] != 0 { slot = (slot + 1) & m }
            fresh[slot] = entry
        }
        slots = fresh
        mask = m
    }
}
