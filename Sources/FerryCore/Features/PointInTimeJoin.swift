/// The point-in-time join of one feature view onto entity rows, with Feast's SQL semantics:
///
/// - a feature row is a candidate for an entity row when their keys are equal and
///   `entity time - ttl <= event time <= entity time` (both bounds inclusive; no lower bound when ttl is 0);
/// - the winner has the latest event time, then the latest created time, then comes last in the source;
/// - an entity row without a candidate gets no values (it is kept: the join is a left join).
///
/// The entity rows are held (sorted by key and time); the source is offered one row at a time and never held: each
/// row updates, in O(log n), the range of entity rows it is a candidate for, through a segment tree whose nodes keep
/// the best candidate seen for their whole range. Memory is bounded by the entity rows, whatever the source's size.
public struct PointInTimeJoin: Sendable {
    struct Candidate: Sendable {
        var event: Int64
        var created: Int64
        var sequence: Int
        var values: [FeatureDatum]

        func beats(_ other: Candidate) -> Bool {
            if event != other.event { return event > other.event }
            if created != other.created { return created > other.created }
            return sequence > other.sequence
        }
    }

    private let ttl: Int64
    /// Entity row indices sorted by (key, time); rows without a key are left out.
    private let order: [Int]
    /// Each key's run in the sorted order: a source row finds its key by one hash lookup, then its window by a
    /// binary search over that run's times alone.
    private let runs: [String: Range<Int>]
    private let times: [Int64]
    private let rowCount: Int
    private var tree: [Candidate?]
    private var offered = 0
    /// Added to the running count of offered rows to order ties: a join fed one part of a source starts where the
    /// parts before it could end, so rows of later parts count as later in the source.
    public var sequenceBase = 0

    /// `keys[i]` and `times[i]` (microseconds) are entity row i's key for this view (nil when it has none) and time.
    public init(keys: [String?], times: [Int64], ttlSeconds: Int64) {
        precondition(keys.count == times.count, "one key and one time per entity row")
        rowCount = keys.count
        ttl = ttlSeconds > 0 ? ttlSeconds * 1_000_000 : 0
        let order = keys.indices.filter { keys[$0] != nil }.sorted { a, b in
            let ka = keys[a]!, kb = keys[b]!
            return ka != kb ? ka < kb : (times[a] != times[b] ? times[a] < times[b] : a < b)
        }
        self.order = order
        var runs: [String: Range<Int>] = [:]
        var start = 0
        for position in order.indices where position == order.count - 1 || keys[order[position + 1]] != keys[order[position]] {
            runs[keys[order[position]]!] = start..<(position + 1)
            start = position + 1
        }
        self.runs = runs
        self.times = order.map { times[$0] }
        tree = Array(repeating: nil, count: 2 * max(order.count, 1))
    }

    /// Offers one source row: its key, event and created times (microseconds) and its values.
    public mutating func offer(key: String, event: Int64, created: Int64?, values: [FeatureDatum]) {
        offered += 1
        // Entity rows with this key and event <= t (<= event + ttl) form one stretch of the key's run.
        guard let run = runs[key] else { return }
        var l = firstIndex(in: run) { $0 >= event }
        var r = ttl > 0 ? firstIndex(in: l..<run.upperBound) { $0 > event &+ ttl } : run.upperBound
        guard l < r else { return }
        let candidate = Candidate(event: event, created: created ?? Int64.min, sequence: sequenceBase + offered, values: values)
        let n = order.count
        l += n
        r += n
        while l < r {
            if l & 1 == 1 {
                apply(candidate, at: l)
                l += 1
            }
            if r & 1 == 1 {
                r -= 1
                apply(candidate, at: r)
            }
            l >>= 1
            r >>= 1
        }
    }

    /// Takes in what another join over the same entity rows was offered (another part of the source): each
    /// node keeps the better candidate, so the results are those of one join offered both parts.
    public mutating func merge(_ other: PointInTimeJoin) {
        precondition(other.tree.count == tree.count, "joins over the same entity rows")
        for node in tree.indices {
            if let theirs = other.tree[node], tree[node].map({ theirs.beats($0) }) ?? true { tree[node] = theirs }
        }
    }

    /// Each entity row's winning values (nil when no source row qualified), in input order.
    public func results() -> [[FeatureDatum]?] {
        var out = [[FeatureDatum]?](repeating: nil, count: rowCount)
        let n = order.count
        for (position, row) in order.enumerated() {
            var node = position + n
            var best: Candidate?
            while node >= 1 {
                if let c = tree[node], best.map({ c.beats($0) }) ?? true { best = c }
                node >>= 1
            }
            out[row] = best?.values
        }
        return out
    }

    private mutating func apply(_ candidate: Candidate, at node: Int) {
        if let current = tree[node], !candidate.beats(current) { return }
        tree[node] = candidate
    }

    /// The first position in `range` whose time satisfies `predicate` (false then true along the sorted times).
    private func firstIndex(in range: Range<Int>, where predicate: (Int64) -> Bool) -> Int {
        var lo = range.lowerBound, hi = range.upperBound
        while lo < hi {
            let mid = (lo + hi) / 2
            if predicate(times[mid]) { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }
}
