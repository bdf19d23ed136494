/// The point-in-time join of one feature view onto entity rows, with Feast's SQL semantics:
///
/// - a feature row is a candidate for an entity row when their keys are equal and
///   `entity time - ttl <= event time <= entity time` (both bounds inclusive; no lower bound when ttl is 0);
/// - the winner has the latest event time, then the latest created time, then comes last in the source;
/// - an entity row without a candidate gets no values (it is kept: the join is a left join).
///
/// The entity rows are held (sorted by key, an integer key by its mix, then time); the source is offered one row at a
/// time and never held: each row updates the range of entity rows it is a candidate for, each row of a short range
/// in place, a long one in O(log n) through a segment tree whose nodes keep the best candidate seen for their whole
/// range. A candidate is three integers, its
/// times and its sequence (its place in the source), so the tree holds no values: the caller keeps the values of the
/// sequences that won, or reads them again. Memory is bounded by the entity rows, whatever the source's size.
public struct PointInTimeJoin: Sendable {
    /// A source row's claim: its event and created times (microseconds; no created time is `Int64.min`) and its
    /// sequence, which orders rows of the source (greater is later) and names the row to the caller.
    public struct Candidate: Sendable, Equatable {
        public var event: Int64
        public var created: Int64
        public var sequence: Int64

        public init(event: Int64, created: Int64, sequence: Int64) {
            self.event = event
            self.created = created
            self.sequence = sequence
        }

        /// No candidate: every source row beats it.
        public static let none = Candidate(event: .min, created: .min, sequence: -1)
        public var isNone: Bool { sequence < 0 }

        @inline(__always) func beats(_ other: Candidate) -> Bool {
            if event != other.event { return event > other.event }
            if created != other.created { return created > other.created }
            return sequence > other.sequence
        }
    }

    private let ttl: Int64
    /// Entity row indices sorted by key (an integer key by its mix, the order of its slot in the table), then time;
    /// rows without a key are left out.
    private let order: [Int32]
    /// The sorted rows' times (a key's few rows share a cache line or two).
    private let times: [Int64]
    /// The best candidate offered for each sorted row alone: the leaves of the segment tree, and all that a source
    /// row whose window holds a few entity rows updates.
    private var leaves: [Candidate]
    /// The tree's inner nodes (1..<n): a candidate for a long stretch of rows is kept in the few nodes that cover it.
    /// Empty until a source row's window first holds more than 64 rows (in most joins none does, and the nodes were
    /// as much memory as the leaves).
    private var inner: [Candidate] = []
    /// Each key's stretch of the sorted rows, found by one lookup; by integer when every key is one (the usual
    /// single integer join key: no text is built or hashed per source row), else by text.
    private let integerKeys: IntegerTable
    private let textKeys: [String: Range<Int>]
    private let byInteger: Bool
    private let rowCount: Int
    /// What a batch's early loads read, kept so they are not optimized away.
    private var touched: Int64 = 0

    /// Entity row `i`'s key for this view is `keys[i]` (nil when it has none) and its time `times[i]` (microseconds).
    public init(keys: [String?], times: [Int64], ttlSeconds: Int64) {
        var integers: [Int64?] = []
        integers.reserveCapacity(keys.count)
        for key in keys {
            guard let key else {
                integers.append(nil)
                continue
            }
            guard let n = Int64(key), String(n) == key else {
                integers = []
                break
            }
            integers.append(n)
        }
        if integers.count == keys.count {
            self.init(integerKeys: integers, times: times, ttlSeconds: ttlSeconds)
            return
        }
        precondition(keys.count == times.count, "one key and one time per entity row")
        let order = keys.indices.filter { keys[$0] != nil }.sorted { a, b in
            let ka = keys[a]!, kb = keys[b]!
            return ka != kb ? ka < kb : (times[a] != times[b] ? times[a] < times[b] : a < b)
        }.map { Int32($0) }
        var table: [String: Range<Int>] = [:]
        var start = 0
        for position in order.indices where position == order.count - 1 || keys[Int(order[position + 1])] != keys[Int(order[position])] {
            table[keys[Int(order[position])]!] = start..<(position + 1)
            start = position + 1
        }
        self.init(order: order, sortedTimes: order.map { times[Int($0)] }, rowCount: keys.count, ttlSeconds: ttlSeconds, integerKeys: IntegerTable(capacity: 0), textKeys: table, byInteger: false)
    }

    /// The same for a single integer join key.
    public init(integerKeys keys: [Int64?], times: [Int64], ttlSeconds: Int64) {
        precondition(keys.count == times.count, "one key and one time per entity row")
        // In the order of the keys' slots in the table (the mix is one to one, so a key's rows stay together), then
        // time, then row: a batch of source rows offered in that order sweeps the table, the times and the leaves from
        // start to end.
        var order: [Int32]
        var sortedKeys: [Int64]
        var sortedTimes: [Int64]
        let rowBits = 20
        if keys.count <= 1 << rowBits {
            // Radix-sorted by the mix's top 20 bits with the row below them (two passes). Each row's key and time are
            // then gathered once, in that order, and each stretch of rows whose keys share those bits (one key's, or a
            // few) is sorted on the gathered values: compared where they lay, every comparison was two cache misses.
            var packed: [UInt64] = []
            packed.reserveCapacity(keys.count)
            for (i, key) in keys.enumerated() {
                if let key { packed.append((IntegerTable.mix(key) >> UInt64(64 - rowBits)) << UInt64(rowBits) | UInt64(i)) }
            }
            RadixSort.sort(&packed, fromBit: rowBits)
            order = packed.map { Int32(truncatingIfNeeded: $0 & (1 << UInt64(rowBits) - 1)) }
            sortedKeys = order.map { keys[Int($0)]! }
            sortedTimes = order.map { times[Int($0)] }
            var start = 0
            for position in packed.indices where position == packed.count - 1 || packed[position + 1] >> UInt64(rowBits) != packed[position] >> UInt64(rowBits) {
                if position > start { Self.sortStretch(start...position, &order, &sortedKeys, &sortedTimes) }
                start = position + 1
            }
        } else {
            order = keys.indices.filter { keys[$0] != nil }.map { Int32($0) }
            sortedKeys = order.map { keys[Int($0)]! }
            sortedTimes = order.map { times[Int($0)] }
            Self.sortStretch(0...max(0, order.count - 1), &order, &sortedKeys, &sortedTimes)
        }
        // Sized by the distinct keys, not the rows: every source row looks one up at random, and a table a tenth
        // the size stays in the cache (10 entity rows per key made it 32 MiB for 1M rows, against 4 MiB).
        var distinct = 0
        for position in sortedKeys.indices where position == 0 || sortedKeys[position - 1] != sortedKeys[position] { distinct += 1 }
        var table = IntegerTable(capacity: distinct)
        var start = 0
        for position in sortedKeys.indices where position == sortedKeys.count - 1 || sortedKeys[position + 1] != sortedKeys[position] {
            table.insert(sortedKeys[position], start..<(position + 1))
            start = position + 1
        }
        self.init(order: order, sortedTimes: sortedTimes, rowCount: keys.count, ttlSeconds: ttlSeconds, integerKeys: table, textKeys: [:], byInteger: true)
    }

    /// Sorts the sorted rows `stretch` by key mix, then time, then row, moving their keys and times with them: by
    /// insertion for the few rows of a key, else as tuples.
    private static func sortStretch(_ stretch: ClosedRange<Int>, _ order: inout [Int32], _ keys: inout [Int64], _ times: inout [Int64]) {
        guard stretch.count > 1, !order.isEmpty else { return }
        @inline(__always) func before(_ a: (UInt64, Int64, Int32), _ b: (UInt64, Int64, Int32)) -> Bool {
            a.0 != b.0 ? a.0 < b.0 : (a.1 != b.1 ? a.1 < b.1 : a.2 < b.2)
        }
        if stretch.count <= 32 {
            for i in (stretch.lowerBound + 1)...stretch.upperBound {
                let row = (order[i], keys[i], times[i])
                let mix = IntegerTable.mix(row.1)
                var j = i
                while j > stretch.lowerBound, before((mix, row.2, row.0), (IntegerTable.mix(keys[j - 1]), times[j - 1], order[j - 1])) {
                    (order[j], keys[j], times[j]) = (order[j - 1], keys[j - 1], times[j - 1])
                    j -= 1
                }
                (order[j], keys[j], times[j]) = row
            }
            return
        }
        let rows = stretch.map { (IntegerTable.mix(keys[$0]), times[$0], order[$0], keys[$0]) }.sorted { before(($0.0, $0.1, $0.2), ($1.0, $1.1, $1.2)) }
        for (i, row) in zip(stretch, rows) { (order[i], keys[i], times[i]) = (row.2, row.3, row.1) }
    }

    private init(order: [Int32], sortedTimes: [Int64], rowCount: Int, ttlSeconds: Int64, integerKeys: IntegerTable, textKeys: [String: Range<Int>], byInteger: Bool) {
        self.order = order
        self.rowCount = rowCount
        ttl = ttlSeconds > 0 ? ttlSeconds * 1_000_000 : 0
        self.times = sortedTimes
        leaves = Array(repeating: .none, count: order.count)
        self.integerKeys = integerKeys
        self.textKeys = textKeys
        self.byInteger = byInteger
    }

    /// Offers one source row whose key text (as `EntityKey.make` builds it) is `key`, with its event and created
    /// times (microseconds) and its sequence; returns whether it is, for now, the best candidate of some entity row
    /// (a caller that keeps values keeps this row's).
    @discardableResult
    public mutating func offer(key: String, event: Int64, created: Int64?, sequence: Int64) -> Bool {
        let run: Range<Int>?
        if byInteger {
            guard let n = Int64(key), String(n) == key else { return false }
            run = integerKeys.find(n)
        } else {
            run = textKeys[key]
        }
        guard let run else { return false }
        return offer(run, Candidate(event: event, created: created ?? .min, sequence: sequence))
    }

    /// The same for the value of a single integer join key.
    @discardableResult
    public mutating func offer(integerKey key: Int64, event: Int64, created: Int64?, sequence: Int64) -> Bool {
        let run = byInteger ? integerKeys.find(key) : textKeys[String(key)]
        guard let run else { return false }
        return offer(run, Candidate(event: event, created: created ?? .min, sequence: sequence))
    }

    /// A source row of a single integer join key: its key's value and its claim.
    public struct KeyedRow: Sendable {
        public var key: Int64
        public var candidate: Candidate
        public init(key: Int64, candidate: Candidate) {
            self.key = key
            self.candidate = candidate
        }
    }

    /// Offers source rows of a single integer join key a batch at a time (at most `largestBatch`). Random lookups
    /// into the key table, the times and the leaves miss the cache. A large batch is offered in the order of its
    /// keys' slots, which is the order of the entity rows too, so the three are swept from start to end, each load
    /// close after the last (the processor fetches ahead of such a sweep); within that, 32 rows at a time issue each
    /// step's loads before any is needed, so the misses left overlap instead of waiting one after another.
    public mutating func offer(integerKeyRows rows: UnsafeBufferPointer<KeyedRow>) {
        guard byInteger else {
            for row in rows { offer(integerKey: row.key, event: row.candidate.event, created: row.candidate.created, sequence: row.candidate.sequence) }
            return
        }
        precondition(rows.count <= Self.largestBatch, "at most \(Self.largestBatch) rows a batch")
        let chunk = 32
        guard rows.count > 16 * chunk else {
            var at = 0
            while at < rows.count {
                offerChunk(UnsafeBufferPointer(rebasing: rows[at..<min(at + chunk, rows.count)]))
                at += chunk
            }
            return
        }
        // Each row's place in the batch under the top bits of its key's mix, sorted by those bits only.
        let indexBits = 20
        var order = [UInt64](unsafeUninitializedCapacity: rows.count) { out, count in
            for i in rows.indices { out[i] = (IntegerTable.mix(rows[i].key) >> UInt64(indexBits)) << UInt64(indexBits) | UInt64(i) }
            count = rows.count
        }
        RadixSort.sort(&order, fromBit: 64 - indexBits)
        withUnsafeTemporaryAllocation(of: KeyedRow.self, capacity: chunk) { gathered in
            var at = 0
            while at < order.count {
                let n = min(chunk, order.count - at)
                for j in 0..<n { gathered[j] = rows[Int(order[at + j] & (1 << UInt64(indexBits) - 1))] }
                offerChunk(UnsafeBufferPointer(rebasing: gathered[..<n]))
                at += n
            }
        }
    }

    /// The most rows `offer(integerKeyRows:)` takes at once.
    public static let largestBatch = 1 << 20

    /// Up to 32 rows of an integer key, each step's loads issued for every row before any is needed.
    private mutating func offerChunk(_ rows: UnsafeBufferPointer<KeyedRow>) {
        withUnsafeTemporaryAllocation(of: Range<Int>.self, capacity: rows.count) { runs in
            for i in rows.indices { runs[i] = integerKeys.find(rows[i].key) ?? 0..<0 }
            var touched: Int64 = 0
            for run in runs where !run.isEmpty { touched &+= times[run.lowerBound] &+ times[run.upperBound - 1] }
            // Each row's window, then a touch of the leaves it updates, then the updates. The touches are a loop of
            // their own: a few instructions per row, so the processor has every row's loads in flight at once (after
            // a window's search, whose branches it cannot predict, it had only a few).
            for i in rows.indices where !runs[i].isEmpty { runs[i] = window(runs[i], rows[i].candidate.event) }
            for run in runs where !run.isEmpty { touched &+= leaves[run.lowerBound].event &+ leaves[run.upperBound - 1].event }
            self.touched = touched
            for i in rows.indices where !runs[i].isEmpty { _ = update(runs[i], rows[i].candidate) }
        }
    }

    private mutating func offer(_ run: Range<Int>, _ candidate: Candidate) -> Bool {
        update(window(run, candidate.event), candidate)
    }

    /// The sorted rows of a key's `run` that a source row of time `event` is a candidate for: event <= t
    /// (<= event + ttl), one stretch of the run.
    @inline(__always) private func window(_ run: Range<Int>, _ event: Int64) -> Range<Int> {
        let l = firstIndex(in: run) { $0 >= event }
        let r = ttl > 0 ? firstIndex(in: l..<run.upperBound) { $0 > event &+ ttl } : run.upperBound
        return l..<max(l, r)
    }

    /// Offers a candidate to the sorted rows `rows`.
    @inline(__always) private mutating func update(_ rows: Range<Int>, _ candidate: Candidate) -> Bool {
        guard !rows.isEmpty else { return false }
        var applied = false
        // A window of a few dozen rows is a few cache lines of leaves, updated in place; a longer one goes to the
        // tree's nodes.
        if rows.count <= 64 {
            for i in rows where candidate.beats(leaves[i]) {
                leaves[i] = candidate
                applied = true
            }
            return applied
        }
        var l = rows.lowerBound, r = rows.upperBound
        let n = order.count
        if inner.isEmpty { inner = Array(repeating: .none, count: max(n, 1)) }
        l += n
        r += n
        while l < r {
            if l & 1 == 1 {
                applied = apply(candidate, l, n) || applied
                l += 1
            }
            if r & 1 == 1 {
                r -= 1
                applied = apply(candidate, r, n) || applied
            }
            l >>= 1
            r >>= 1
        }
        return applied
    }

    @inline(__always) private mutating func apply(_ candidate: Candidate, _ node: Int, _ n: Int) -> Bool {
        if node >= n {
            guard candidate.beats(leaves[node - n]) else { return false }
            leaves[node - n] = candidate
        } else {
            guard candidate.beats(inner[node]) else { return false }
            inner[node] = candidate
        }
        return true
    }

    /// Takes in what another join over the same entity rows was offered (another part of the source): each
    /// node keeps the better candidate, so the results are those of one join offered both parts.
    public mutating func merge(_ other: PointInTimeJoin) {
        precondition(other.leaves.count == leaves.count, "joins over the same entity rows")
        for i in leaves.indices where other.leaves[i].beats(leaves[i]) { leaves[i] = other.leaves[i] }
        if inner.isEmpty {
            inner = other.inner
        } else if !other.inner.isEmpty {
            for i in inner.indices where other.inner[i].beats(inner[i]) { inner[i] = other.inner[i] }
        }
    }

    /// The same join over the same entity rows, offered nothing yet: it shares the rows' order, times and keys, and
    /// has nodes of its own (for another part of a source, merged afterwards).
    public func offeredNothing() -> PointInTimeJoin {
        var fresh = self
        fresh.leaves = Array(repeating: .none, count: leaves.count)
        fresh.inner = []
        return fresh
    }

    /// Each entity row's winner (`Candidate.none` when no source row qualified), in input order. Each inner node's
    /// best is pushed down to its children in place (the join stays the same join: a leaf only gains the best of
    /// its path), so its nodes are not copied.
    public mutating func winners() -> [Candidate] {
        // Parents first: a leaf ends with the best of its path.
        let n = order.count
        if n > 1 && !inner.isEmpty {
            for node in 1..<n {
                let best = inner[node]
                guard !best.isNone else { continue }
                for child in (2 * node)...(2 * node + 1) {
                    if child >= n {
                        if best.beats(leaves[child - n]) { leaves[child - n] = best }
                    } else if best.beats(inner[child]) {
                        inner[child] = best
                    }
                }
            }
        }
        var out = [Candidate](repeating: .none, count: rowCount)
        for (position, row) in order.enumerated() { out[Int(row)] = leaves[position] }
        return out
    }

    /// The sequences some node holds: the rows that may still win.
    public func liveSequences() -> Set<Int64> {
        Set(leaves.lazy.map(\.sequence).filter { $0 >= 0 }).union(inner.lazy.map(\.sequence).filter { $0 >= 0 })
    }

    /// The first position in `range` whose time satisfies `predicate` (false then true along the sorted times).
    @inline(__always) private func firstIndex(in range: Range<Int>, where predicate: (Int64) -> Bool) -> Int {
        var lo = range.lowerBound, hi = range.upperBound
        while hi - lo > 4 {
            let mid = (lo + hi) / 2
            if predicate(times[mid]) { hi = mid } else { lo = mid + 1 }
        }
        while lo < hi, !predicate(times[lo]) { lo += 1 }
        return lo
    }
}

/// Integers to stretches of rows, by open addressing: a lookup is a multiply and, nearly always, one cache line.
struct IntegerTable: Sendable {
    struct Entry: Sendable {
        var key: Int64
        var start: Int32
        var end: Int32
    }

    private var entries: [Entry]
    private let shift: UInt64

    init(capacity: Int) {
        var bits: UInt64 = 4
        while (1 << bits) < 2 * max(capacity, 1) { bits += 1 }
        entries = Array(repeating: Entry(key: 0, start: -1, end: -1), count: 1 << bits)
        shift = 64 - bits
    }

    /// A key's slot is the top bits of its mix. The mix is one to one: sorted by it, equal keys stay together.
    @inline(__always) static func mix(_ key: Int64) -> UInt64 { UInt64(bitPattern: key) &* 0x9E37_79B9_7F4A_7C15 }

    @inline(__always) private func slot(_ key: Int64) -> Int { Int(Self.mix(key) >> shift) }

    mutating func insert(_ key: Int64, _ rows: Range<Int>) {
        var i = slot(key)
        while entries[i].start >= 0 && entries[i].key != key { i = (i + 1) & (entries.count - 1) }
        entries[i] = Entry(key: key, start: Int32(rows.lowerBound), end: Int32(rows.upperBound))
    }

    @inline(__always) func find(_ key: Int64) -> Range<Int>? {
        var i = slot(key)
        while true {
            let entry = entries[i]
            if entry.start < 0 { return nil }
            if entry.key == key { return Int(entry.start)..<Int(entry.end) }
            i = (i + 1) & (entries.count - 1)
        }
    }
}
