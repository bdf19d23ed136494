#if canImport(Glibc)
import Glibc
#endif

/// A set of 64-bit hashes (already well mixed, so used as they are): open addressing with linear probing in a
/// power-of-two table kept at most 70% full (12 to 23 bytes per member). What the data checker remembers of the
/// values, keys and lines it has seen, with no per-insert hashing or allocation. Not copyable: it owns its table.
struct HashSet64: ~Copyable {
    private var slots: Slots
    private var count = 0
    /// What a batch's early loads summed, kept so they are not optimized away.
    private var touched: UInt64 = 0
    /// Marks the empty slot; a hash equal to it is stored as `zeroStandIn` (they then count as one value).
    private static let zeroStandIn: UInt64 = 0x9E37_79B9_7F4A_7C15

    init(capacity: Int = 1 << 16) {
        var size = 16
        while size * 7 < capacity * 10 { size <<= 1 }
        slots = Slots(count: size)
    }

    /// The member a hash is stored as: never 0, which `insert` takes for no member.
    static func member(_ hash: UInt64) -> UInt64 { hash == 0 ? zeroStandIn : hash }

    /// A 64-bit hash of `bytes` under `seed`, sixteen bytes at a time: two words are folded in by one 64 x 64 ->
    /// 128-bit multiplication whose halves are xored (the step of wyhash-like hashes), after the length. The data
    /// checker hashes every line and key with it; SipHash (`Hasher`) took about 9% of the check. `seed` is random per
    /// check, so a file cannot be written to collide without knowing it; chaining (`seed:` a hash) hashes several
    /// fields.
    @inline(__always)
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>, seed: UInt64) -> UInt64 {
        @inline(__always) func fold(_ a: UInt64, _ b: UInt64) -> UInt64 {
            let product = a.multipliedFullWidth(by: b)
            return product.high ^ product.low
        }
        let step: UInt64 = 0x9E37_79B9_7F4A_7C15
        var h = fold(seed ^ UInt64(bytes.count), 0xE703_7ED1_A0B4_28DB)
        if let base = bytes.baseAddress {
            let raw = UnsafeRawPointer(base)
            let key = seed ^ 0x8EBC_6AF0_9C88_C6E3
            var i = 0
            while i + 16 <= bytes.count {
                h = fold(raw.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ key, raw.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self) ^ h)
                i += 16
            }
            if i + 8 <= bytes.count {
                h = fold(h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self), step)
                i += 8
            }
            if i < bytes.count {
                var tail: UInt64 = 0
                var shift: UInt64 = 0
                while i < bytes.count {
                    tail |= UInt64(base[i]) << shift
                    shift += 8
                    i += 1
                }
                h = fold(h ^ tail, step)
            }
        }
        return fold(h ^ (h >> 29), 0xA076_1D64_78BD_642F)
    }

    /// Adds `members` in order, skipping zeros, and calls `repeated(i)` for each one that was there already. The
    /// table outgrows the caches, so each slot looked up is a cache miss: a batch of 16 loads its first slots before
    /// it needs any, and their misses overlap instead of following one another.
    mutating func insert(_ members: UnsafeBufferPointer<UInt64>, repeated: (Int) -> Void) {
        // Room for all of them first: the table does not move under a batch.
        while (count + members.count) * 10 > slots.table.count * 7 { grow() }
        var added = 0
        var touched = self.touched
        let table = slots.table
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

    /// Makes room for `members` in all, so that the table does not grow (and move every member) while they arrive.
    mutating func reserve(_ members: Int) {
        var size = slots.table.count
        while size * 7 < members * 10 { size <<= 1 }
        if size > slots.table.count { resize(to: size) }
    }

    private mutating func grow() { resize(to: slots.table.count * 2) }

    private mutating func resize(to size: Int) {
        let bigger = Slots(count: size)
        for h in slots.table where h != 0 { _ = Self.place(h, in: bigger.table) }
        slots = bigger
    }

    /// A table of zeroed slots. One of 2 MiB or more is mapped on its own, aligned to 2 MiB and asked for in huge
    /// pages (`MADV_HUGEPAGE`; the kernel may decline): the checker's tables hold millions of members looked up at
    /// random, so with 4 KiB pages nearly every lookup also missed the TLB, and filling 128 MB took 32,768 page faults.
    final class Slots {
        let table: UnsafeMutableBufferPointer<UInt64>
        /// The mapping to unmap (nil: allocated).
        private let mapping: (UnsafeMutableRawPointer, Int)?
        private static let huge = 2 << 20

        init(count: Int) {
            let bytes = count * MemoryLayout<UInt64>.stride
            #if canImport(Glibc)
            if bytes >= Self.huge, let raw = mmap(nil, bytes + Self.huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), raw != MAP_FAILED {
                // Map one huge page more than needed, then give back what lies before the first 2 MiB boundary and after the table.
                let start = (Int(bitPattern: raw) + Self.huge - 1) & ~(Self.huge - 1)
                let head = start - Int(bitPattern: raw)
                if head > 0 { munmap(raw, head) }
                if Self.huge - head > 0 { munmap(raw + head + bytes, Self.huge - head) }
                let aligned = raw + head
                _ = madvise(aligned, bytes, MADV_HUGEPAGE)
                mapping = (aligned, bytes)
                table = UnsafeMutableBufferPointer(start: aligned.bindMemory(to: UInt64.self, capacity: count), count: count)
                return
            }
            #endif
            mapping = nil
            table = .allocate(capacity: count)
            table.initialize(repeating: 0)
        }

        deinit {
            #if canImport(Glibc)
            if let (raw, bytes) = mapping {
                munmap(raw, bytes)
                return
            }
            #endif
            table.deallocate()
        }
    }
}
