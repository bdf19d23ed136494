/// A set of 64-bit hashes (already well mixed, so used as they are): open addressing with linear probing in a
/// power-of-two table kept at most 70% full (12 to 23 bytes per member). What the data checker remembers of the
/// values, keys and lines it has seen, with no per-insert hashing or allocation.
struct HashSet64 {
    private var slots: [UInt64]
    private var count = 0
    /// What a batch's early loads summed, kept so they are not optimized away.
    private var touched: UInt64 = 0
    /// Marks the empty slot; a hash equal to it is stored as `zeroStandIn` (they then count as one value).
    private static let zeroStandIn: UInt64 = 0x9E37_79B9_7F4A_7C15

    init(capacity: Int = 1 << 16) {
        var size = 16
        while size * 7 < capacity * 10 { size <<= 1 }
        slots = [UInt64](repeating: 0, count: size)
    }

    /// The member a hash is stored as: never 0, which `insert` takes for no member.
    static func member(_ hash: Int) -> UInt64 { hash == 0 ? zeroStandIn : UInt64(bitPattern: Int64(hash)) }

    /// Adds `members` in order, skipping zeros, and calls `repeated(i)` for each one that was there already. The
    /// table outgrows the caches, so each slot looked up is a cache miss: a batch of 16 loads its first slots before
    /// it needs any, and their misses overlap instead of following one another.
    mutating func insert(_ members: UnsafeBufferPointer<UInt64>, repeated: (Int) -> Void) {
        // Room for all of them first: the table does not move under a batch.
        while (count + members.count) * 10 > slots.count * 7 { grow() }
        var added = 0
        var touched = self.touched
        slots.withUnsafeMutableBufferPointer { table in
            let mask = table.count - 1
            var i = 0
            while i < members.count {
                let end = min(i + 16, members.count)
                for j in i..<end { touched &+= table[Int(truncatingIfNeeded: members[j]) & mask] }
                for j in i..<end where members[j] != 0 {
                    if Self.place(members[j], in: table) { added += 1 } else { repeated(j) }
                }
                i = end
            }
        }
        count += added
        self.touched = touched
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
