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

/// Runs the bookkeeping of shadow traffic: a bound on mirrors in flight, and per shadow the comparison figures.
final class ShadowRecorder: Sendable {
    struct Key: Hashable, Sendable {
        var endpoint: String
        var shadow: VersionRef
    }

    struct Stats: Sendable {
        var compared = 0
        var errors = 0
        var skipped = 0
        var rows = 0
        var agreeing = 0
        var probabilities = true
        var sumAbs = 0.0
        var maxAbs = 0.0
        var differences = Ring(capacity: 4096)
        var primaryLatency = Ring(capacity: 4096)
        var shadowLatency = Ring(capacity: 4096)
    }

    static let maxInFlight = 32
    private let state = Mutex<(inFlight: Int, stats: [Key: Stats])>((0, [:]))

    /// Reserves a slot for one mirror; false (and counted as skipped) when `maxInFlight` are running.
    func begin(_ key: Key) -> Bool {
        state.withLock { s in
            guard s.inFlight < Self.maxInFlight else {
                s.stats[key, default: Stats()].skipped += 1
                return false
            }
            s.inFlight += 1
            return true
        }
    }

    func end() { state.withLock { $0.inFlight -= 1 } }

    func recordError(_ key: Key) { state.withLock { $0.stats[key, default: Stats()].errors += 1 } }

    func record(_ key: Key, primary: [Double], shadow: [Double], primarySeconds: Double, shadowSeconds: Double) {
        state.withLock { s in
            var stats = s.stats[key, default: Stats()]
            stats.compared += 1
            stats.primaryLatency.append(primarySeconds)
            stats.shadowLatency.append(shadowSeconds)
            for (a, b) in zip(primary, shadow) {
                let difference = abs(a - b)
                stats.rows += 1
                stats.sumAbs += difference
                stats.maxAbs = max(stats.maxAbs, difference)
                stats.differences.append(difference)
                if !(0...1).contains(a) || !(0...1).contains(b) { stats.probabilities = false }
                if (a >= 0.5) == (b >= 0.5) { stats.agreeing += 1 }
            }
            s.stats[key] = stats
        }
    }

    func reports(endpoint: String) -> [ShadowReport] {
        let all = state.withLock { $0.stats.filter { $0.key.endpoint == endpoint } }
        func quantile(_ ring: Ring, _ q: Double) -> Double? {
            ring.values.isEmpty ? nil : Statistics.quantile(sorted: ring.values.sorted(), q)
        }
        return all.map { key, s in
            ShadowReport(
                endpoint: endpoint, shadow: key.shadow, compared: s.compared, shadowErrors: s.errors, skipped: s.skipped,
                agreement: s.rows > 0 && s.probabilities ? Double(s.agreeing) / Double(s.rows) : nil,
                meanAbsDifference: s.rows > 0 ? s.sumAbs / Double(s.rows) : nil, p99AbsDifference: quantile(s.differences, 0.99),
                maxAbsDifference: s.rows > 0 ? s.maxAbs : nil,
                primaryLatencyP50: quantile(s.primaryLatency, 0.5), primaryLatencyP99: quantile(s.primaryLatency, 0.99),
                shadowLatencyP50: quantile(s.shadowLatency, 0.5), shadowLatencyP99: quantile(s.shadowLatency, 0.99))
        }.sorted { $0.shadow.description < $1.shadow.description }
    }
}

extension Endpoints {
    /// The comparison report of each of an endpoint's shadows.
    public func shadowReports(endpoint name: String) throws -> [ShadowReport] {
        guard let endpoint = endpoint(named: name) else { throw FerryError.notFound("no endpoint named '\(name)'") }
        let reports = shadows.reports(endpoint: name)
        return endpoint.shadows.map { shadow in
            reports.first { $0.shadow == shadow.ref }
                ?? ShadowReport(endpoint: name, shadow: shadow.ref, compared: 0, shadowErrors: 0, skipped: 0)
        }
    }
}
