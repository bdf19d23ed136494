/// A set of 64-bit hashes (already well mixed, so used as they are): open addressing with linear probing in a
/// power-of-two table kept at most 70% full (12 to 23 bytes per member). What the data checker remembers of the
/// values, keys and lines it has seen, with no per-insert hashing or allocation.
struct HashSet64 {
    private var slots: [UInt64]
    private var count = 0
    /// Marks the empty slot; a hash equal to it is stored as `zeroStandIn` (they then count as one value).
    private static let zeroStandIn: UInt64 = 0x9E37_79B9_7F4A_7C15

    init(capacity: Int = 1 << 16) {
        var size = 16
        while size * 7 < capacity * 10 { size <<= 1 }
        slots = [UInt64](repeating: 0, count: size)
    }

    /// Adds `hash`; false when it was there already.
    mutating func insert(_ hash: Int) -> Bool {
        if (count + 1) * 10 > slots.count * 7 { grow() }
        let h = hash == 0 ? Self.zeroStandIn : UInt64(bitPattern: Int64(hash))
        let inserted = slots.withUnsafeMutableBufferPointer { Self.place(h, in: $0) }
        if inserted { count += 1 }
        return inserted
    }

    private static func place(_ h: UInt64, in table: UnsafeMutableBufferPointer<UInt64>) -> Bool {
        let mask = table.count - 1
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let slot = table[i]
            if slot == 0 {
                table[i] = h
                return true
            }
            if slot == h { return false }
            i = (i + 1) & mask
        }
    }

    private mutating func grow() {
        var bigger = [UInt64](repeating: 0, count: slots.count * 2)
        bigger.withUnsafeMutableBufferPointer { table in
            for h in slots where h != 0 { _ = Self.place(h, in: table) }
        }
        slots = bigger
    }
}
