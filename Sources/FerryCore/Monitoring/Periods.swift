import Foundation

/// Periods of prediction time for figures over time: `every` seconds long, aligned to multiples of `every` since
/// the Unix epoch, so two calls with the same `every` cut time at the same places.
public enum Periods {
    /// The longest period: a leap year.
    public static let maxSeconds: TimeInterval = 366 * 86_400

    /// `every` checked: a number of seconds from 1 to a leap year.
    public static func check(_ every: TimeInterval) throws {
        guard every >= 1, every <= maxSeconds else {
            throw FerryError.invalid("every must be a number of seconds between 1 and \(Int(maxSeconds))")
        }
    }

    /// The start of the period holding `date`.
    public static func start(of date: Date, every: TimeInterval) -> Date {
        Date(timeIntervalSince1970: (date.timeIntervalSince1970 / every).rounded(.down) * every)
    }

    /// `items` grouped by the period their time falls in, oldest period first; periods without items are left out.
    /// Items keep their order within a period.
    public static func group<T>(_ items: [T], every: TimeInterval, at time: (T) -> Date) -> [(start: Date, end: Date, items: [T])] {
        var byStart: [Double: [T]] = [:]
        for item in items { byStart[start(of: time(item), every: every).timeIntervalSince1970, default: []].append(item) }
        return byStart.keys.sorted().map { s in
            (Date(timeIntervalSince1970: s), Date(timeIntervalSince1970: s + every), byStart[s]!)
        }
    }
}

/// A model's traffic in one period, over every replica: requests answered and failed, the latency percentiles of
/// the period (estimated from the serving latency histogram, as Prometheus' `histogram_quantile` does), and
/// predictions with their serving CPU time.
public struct TrafficPeriod: Sendable, Equatable {
    public var start: Date
    public var end: Date
    public var requests: Int64
    public var errors: Int64
    public var predictions: Int64
    public var cpuSeconds: Double
    /// Requests per latency bucket (`bounds` of `RequestCountSample.traffic`, then one past the last bound).
    public var latencyCounts: [Int64]
    public var p50Seconds: Double?
    public var p90Seconds: Double?
    public var p99Seconds: Double?

    /// Failed requests over requests; nil without requests.
    public var errorRate: Double? { requests == 0 ? nil : Double(errors) / Double(requests) }
}

extension RequestCountSample {
    /// Per period from `since` to `until`, every replica's requests, errors, latency buckets, predictions and CPU
    /// seconds that its samples counted in the period: a replica's running totals at its newest sample in the
    /// period, minus those at its newest sample before the period (zero when it has none: it started within the
    /// window, or has no older sample). A total that went down (a restarted replica) counts from zero. `bounds` are
    /// the upper bounds of the latency buckets. Periods are aligned as `Periods` aligns them and every period of the
    /// window is present, empty ones with zero requests.
    public static func traffic(
        _ samples: [RequestCountSample], since: Date, until: Date, every: TimeInterval, bounds: [Double]
    ) -> [TrafficPeriod] {
        let first = Periods.start(of: since, every: every)
        var periods: [TrafficPeriod] = []
        var s = first
        while s < until {
            periods.append(TrafficPeriod(
                start: s, end: s.addingTimeInterval(every), requests: 0, errors: 0, predictions: 0, cpuSeconds: 0,
                latencyCounts: [Int64](repeating: 0, count: bounds.count + 1)))
            s = s.addingTimeInterval(every)
        }
        guard !periods.isEmpty else { return [] }
        for (_, mine) in Dictionary(grouping: samples, by: \.replica) {
            var previous: RequestCountSample?
            for sample in mine.sorted(by: { $0.at < $1.at }) {
                defer { previous = sample }
                guard sample.at >= first, sample.at < until else { continue }
                let p = Int(((sample.at.timeIntervalSince(first)) / every).rounded(.down))
                guard p >= 0, p < periods.count else { continue }
                let base = previous.flatMap { $0.requests <= sample.requests && $0.errors <= sample.errors ? $0 : nil }
                periods[p].requests += sample.requests - (base?.requests ?? 0)
                periods[p].errors += sample.errors - (base?.errors ?? 0)
                periods[p].predictions += max(0, sample.predictions - (base?.predictions ?? 0))
                periods[p].cpuSeconds += max(0, sample.cpuSeconds - (base?.cpuSeconds ?? 0))
                for (b, count) in sample.latencyCounts.prefix(bounds.count + 1).enumerated() {
                    let before = base.flatMap { b < $0.latencyCounts.count ? $0.latencyCounts[b] : nil } ?? 0
                    periods[p].latencyCounts[b] += max(0, count - before)
                }
            }
        }
        for i in periods.indices {
            periods[i].p50Seconds = histogramQuantile(0.5, periods[i].latencyCounts, bounds: bounds)
            periods[i].p90Seconds = histogramQuantile(0.9, periods[i].latencyCounts, bounds: bounds)
            periods[i].p99Seconds = histogramQuantile(0.99, periods[i].latencyCounts, bounds: bounds)
        }
        return periods
    }

    /// The `q` quantile of per-bucket counts (`bounds` are upper bounds; a last count past them may follow),
    /// interpolated linearly within its bucket from the previous bound (0 for the first), as Prometheus does; a
    /// quantile past the last bound is that bound. Nil without observations.
    public static func histogramQuantile(_ q: Double, _ counts: [Int64], bounds: [Double]) -> Double? {
        let total = counts.reduce(0, +)
        guard total > 0 else { return nil }
        let rank = q * Double(total)
        var cumulative: Int64 = 0
        for (b, count) in counts.enumerated() {
            let below = cumulative
            cumulative += count
            guard Double(cumulative) >= rank, count > 0 else { continue }
            guard b < bounds.count else { return bounds.last }
            let lower = b == 0 ? 0 : bounds[b - 1]
            return lower + (bounds[b] - lower) * (rank - Double(below)) / Double(count)
        }
        return bounds.last
    }
}
