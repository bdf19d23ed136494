import FerryCore
import Foundation
import Synchronization

/// How a shadow version compares with the version that answered, over the mirrored requests so far.
public struct ShadowReport: Sendable, Equatable, Codable {
    public var endpoint: String
    public var shadow: VersionRef
    public var compared: Int
    public var shadowErrors: Int
    /// Mirrors not sent because too many were already in flight (the caller's path never waits for them).
    public var skipped: Int
    /// Share of rows whose class (output ≥ 0.5) agrees, when the outputs are probabilities.
    public var agreement: Double?
    public var meanAbsDifference: Double?
    public var p99AbsDifference: Double?
    public var maxAbsDifference: Double?
    public var primaryLatencyP50: Double?
    public var primaryLatencyP99: Double?
    public var shadowLatencyP50: Double?
    public var shadowLatencyP99: Double?

    enum CodingKeys: String, CodingKey {
        case endpoint, shadow, compared, skipped, agreement
        case shadowErrors = "shadow_errors", meanAbsDifference = "mean_abs_difference"
        case p99AbsDifference = "p99_abs_difference", maxAbsDifference = "max_abs_difference"
        case primaryLatencyP50 = "primary_latency_p50_seconds", primaryLatencyP99 = "primary_latency_p99_seconds"
        case shadowLatencyP50 = "shadow_latency_p50_seconds", shadowLatencyP99 = "shadow_latency_p99_seconds"
    }
}

/// Runs the bookkeeping of shadow traffic: a bound on mirrors in flight, and per shadow this replica's comparison
/// figures (stored by `Endpoints.publish`, so a report covers every replica).
final class ShadowRecorder: Sendable {
    struct Key: Hashable, Sendable {
        var endpoint: String
        var shadow: VersionRef
    }

    struct Stats: Sendable {
        var tally: ShadowTally
        var differences = Ring(capacity: 1024)
        var primaryLatency = Ring(capacity: 1024)
        var shadowLatency = Ring(capacity: 1024)

        init(_ key: Key, replica: String) { tally = ShadowTally(endpoint: key.endpoint, shadow: key.shadow, replica: replica) }

        var snapshot: ShadowTally {
            var t = tally
            t.differences = differences.values
            t.primaryLatencies = primaryLatency.values
            t.shadowLatencies = shadowLatency.values
            return t
        }
    }

    static let maxInFlight = 32
    let replica: String
    private let state = Mutex<(inFlight: Int, stats: [Key: Stats])>((0, [:]))

    init(replica: String) { self.replica = replica }

    private func update(_ s: inout (inFlight: Int, stats: [Key: Stats]), _ key: Key, _ change: (inout Stats) -> Void) {
        var stats = s.stats[key] ?? Stats(key, replica: replica)
        change(&stats)
        s.stats[key] = stats
    }

    /// Reserves a slot for one mirror; false (and counted as skipped) when `maxInFlight` are running.
    func begin(_ key: Key) -> Bool {
        state.withLock { s in
            guard s.inFlight < Self.maxInFlight else {
                update(&s, key) { $0.tally.skipped += 1 }
                return false
            }
            s.inFlight += 1
            return true
        }
    }

    func end() { state.withLock { $0.inFlight -= 1 } }

    func recordError(_ key: Key) { state.withLock { update(&$0, key) { $0.tally.errors += 1 } } }

    func record(_ key: Key, primary: [Double], shadow: [Double], primarySeconds: Double, shadowSeconds: Double) {
        state.withLock { s in
            update(&s, key) { stats in
                stats.tally.compared += 1
                stats.primaryLatency.append(primarySeconds)
                stats.shadowLatency.append(shadowSeconds)
                for (a, b) in zip(primary, shadow) {
                    let difference = abs(a - b)
                    stats.tally.rows += 1
                    stats.tally.sumAbsDifference += difference
                    stats.tally.maxAbsDifference = max(stats.tally.maxAbsDifference, difference)
                    stats.differences.append(difference)
                    if !(0...1).contains(a) || !(0...1).contains(b) { stats.tally.probabilities = false }
                    if (a >= 0.5) == (b >= 0.5) { stats.tally.agreeing += 1 }
                }
            }
        }
    }

    /// This replica's figures of every shadow it mirrored to.
    func tallies() -> [ShadowTally] {
        state.withLock { s in s.stats.values.map(\.snapshot) }
    }

    /// The report of a shadow from the figures of every replica.
    static func report(_ tallies: [ShadowTally], endpoint: String, shadow: VersionRef) -> ShadowReport {
        guard let s = ShadowTally.merge(tallies) else {
            return ShadowReport(endpoint: endpoint, shadow: shadow, compared: 0, shadowErrors: 0, skipped: 0)
        }
        func quantile(_ values: [Double], _ q: Double) -> Double? {
            values.isEmpty ? nil : Statistics.quantile(sorted: values.sorted(), q)
        }
        return ShadowReport(
            endpoint: endpoint, shadow: shadow, compared: s.compared, shadowErrors: s.errors, skipped: s.skipped,
            agreement: s.rows > 0 && s.probabilities ? Double(s.agreeing) / Double(s.rows) : nil,
            meanAbsDifference: s.rows > 0 ? s.sumAbsDifference / Double(s.rows) : nil, p99AbsDifference: quantile(s.differences, 0.99),
            maxAbsDifference: s.rows > 0 ? s.maxAbsDifference : nil,
            primaryLatencyP50: quantile(s.primaryLatencies, 0.5), primaryLatencyP99: quantile(s.primaryLatencies, 0.99),
            shadowLatencyP50: quantile(s.shadowLatencies, 0.5), shadowLatencyP99: quantile(s.shadowLatencies, 0.99))
    }
}

extension Endpoints {
    /// The comparison report of each of an endpoint's shadows, over every replica's figures (this one's stored
    /// first).
    public func shadowReports(endpoint name: String) async throws -> [ShadowReport] {
        guard let endpoint = endpoint(named: name) else { throw FerryError.notFound("no endpoint named '\(name)'") }
        await publish()
        let tallies = try await observations.shadowTallies(endpoint: name)
        return endpoint.shadows.map { shadow in
            ShadowRecorder.report(tallies.filter { $0.shadow == shadow.ref }, endpoint: name, shadow: shadow.ref)
        }
    }
}
