import Foundation

/// One replica's figures for one version of an endpoint since `epoch`: the rollout's start for its stable version,
/// the current step's start for its candidate. Each replica stores its own tally (replacing the previous one), so
/// the rollout gates judge the sum of every replica's traffic.
public struct VariantTally: Sendable, Equatable {
    public var endpoint: String
    public var version: VersionRef
    public var epoch: Date
    public var replica: String
    public var requests: Int
    public var errors: Int
    /// Output values recorded (the first output of each row); `outputs` holds the most recent of them.
    public var outputCount: Int
    /// The most recent latencies, in seconds (a bounded sample).
    public var latencies: [Double]
    /// The most recent first outputs (a bounded sample).
    public var outputs: [Double]

    public init(
        endpoint: String, version: VersionRef, epoch: Date, replica: String, requests: Int = 0, errors: Int = 0,
        outputCount: Int = 0, latencies: [Double] = [], outputs: [Double] = []
    ) {
        self.endpoint = endpoint
        self.version = version
        self.epoch = epoch
        self.replica = replica
        self.requests = requests
        self.errors = errors
        self.outputCount = outputCount
        self.latencies = latencies
        self.outputs = outputs
    }

    /// The figures of several replicas' tallies together: counts add up, the p99 is taken over every sample.
    public static func sum(_ tallies: [VariantTally]) -> (stats: VariantStats, outputs: [Double]) {
        let latencies = tallies.flatMap(\.latencies).sorted()
        return (
            VariantStats(
                requests: tallies.reduce(0) { $0 + $1.requests }, errors: tallies.reduce(0) { $0 + $1.errors },
                p99Seconds: latencies.isEmpty ? nil : Statistics.quantile(sorted: latencies, 0.99),
                outputs: tallies.reduce(0) { $0 + $1.outputCount }),
            tallies.flatMap(\.outputs))
    }
}

/// One replica's running totals of requests to a model and of those that failed, at a time.
public struct RequestCountSample: Sendable, Equatable {
    public var replica: String
    public var model: String
    public var at: Date
    public var requests: Int64
    public var errors: Int64
    /// The replica's running cost figures of the model: predictions answered, their CPU seconds on the serving
    /// path, and model memory in GiB-hours (`CostMeter`).
    public var predictions: Int64
    public var cpuSeconds: Double
    public var gibHours: Double
    /// The replica's running count of the model's requests per serving latency bucket (`ServingMetrics`' bounds,
    /// then one count past the last bound); empty from a replica that did not report them.
    public var latencyCounts: [Int64]

    public init(
        replica: String, model: String, at: Date, requests: Int64, errors: Int64, predictions: Int64 = 0, cpuSeconds: Double = 0, gibHours: Double = 0,
        latencyCounts: [Int64] = []
    ) {
        self.latencyCounts = latencyCounts
        self.predictions = predictions
        self.cpuSeconds = cpuSeconds
        self.gibHours = gibHours
        self.replica = replica
        self.model = model
        self.at = at
        self.requests = requests
        self.errors = errors
    }

    /// The share of failed requests since `windowStart`, summed over replicas: per replica, its newest sample minus
    /// its newest one taken at or before `windowStart` (pass samples from well before it: twice the window), or
    /// minus nothing when it has none that old (it started inside the window). A total that went down (a
    /// restarted replica) counts from zero.
    public static func errorRate(_ samples: [RequestCountSample], windowStart: Date) -> Double? {
        var requests: Int64 = 0
        var errors: Int64 = 0
        for (_, mine) in Dictionary(grouping: samples, by: \.replica) {
            let sorted = mine.sorted { $0.at < $1.at }
            guard let latest = sorted.last, latest.at > windowStart else { continue }
            let start = sorted.last { $0.at <= windowStart }
            if let start, latest.requests >= start.requests, latest.errors >= start.errors {
                requests += latest.requests - start.requests
                errors += latest.errors - start.errors
            } else {
                requests += latest.requests
                errors += latest.errors
            }
        }
        return requests == 0 ? nil : Double(errors) / Double(requests)
    }

    /// Predictions, CPU seconds and GiB-hours since `windowStart`, summed over replicas the way `errorRate` sums
    /// requests.
    public static func costFigures(_ samples: [RequestCountSample], windowStart: Date) -> (predictions: Int64, cpuSeconds: Double, gibHours: Double) {
        var total: (predictions: Int64, cpuSeconds: Double, gibHours: Double) = (0, 0, 0)
        for (_, mine) in Dictionary(grouping: samples, by: \.replica) {
            let sorted = mine.sorted { $0.at < $1.at }
            guard let latest = sorted.last, latest.at > windowStart else { continue }
            let start = sorted.last { $0.at <= windowStart }
            if let start, latest.predictions >= start.predictions, latest.cpuSeconds >= start.cpuSeconds, latest.gibHours >= start.gibHours {
                total.predictions += latest.predictions - start.predictions
                total.cpuSeconds += latest.cpuSeconds - start.cpuSeconds
                total.gibHours += latest.gibHours - start.gibHours
            } else {
                total.predictions += latest.predictions
                total.cpuSeconds += latest.cpuSeconds
                total.gibHours += latest.gibHours
            }
        }
        return total
    }
}

/// Where replicas keep the figures that the leader judges for everyone: rollout tallies and request counts.
///
/// Every implementation must pass `EndpointStoreConformance`'s tally and count checks in `FerryTesting`.
public protocol ObservationStore: Sendable {
    /// Stores each tally, replacing the one with the same endpoint, version, epoch and replica.
    func putTallies(_ tallies: [VariantTally]) async throws
    /// Every replica's tally of a version of an endpoint for one epoch.
    func tallies(endpoint: String, version: VersionRef, epoch: Date) async throws -> [VariantTally]
    /// Deletes tallies whose epoch is before `date`; returns how many.
    @discardableResult
    func purgeTallies(before date: Date) async throws -> Int

    /// Stores each replica's shadow comparison, replacing its previous one.
    func putShadowTallies(_ tallies: [ShadowTally]) async throws
    /// Every replica's comparisons of an endpoint's shadows.
    func shadowTallies(endpoint: String) async throws -> [ShadowTally]

    func putRequestCounts(_ samples: [RequestCountSample]) async throws
    /// A model's samples from every replica taken at or after `since`.
    func requestCounts(model: String, since: Date) async throws -> [RequestCountSample]
    @discardableResult
    func purgeRequestCounts(before date: Date) async throws -> Int
}

/// Which replica runs the work that must run once: the rollout controller, alert evaluation, the prediction log's
/// retention and webhook delivery. One process alone always leads.
public protocol Leadership: Sendable {
    var isLeader: Bool { get }
}

/// The leadership of a server that runs alone.
public struct SoleLeader: Leadership {
    public init() {}
    public var isLeader: Bool { true }
}

extension Date {
    /// This time at the millisecond, as stores keep it: a value read back equals the one written.
    public var roundedToMilliseconds: Date {
        Date(timeIntervalSince1970: Double(Int64((timeIntervalSince1970 * 1000).rounded())) / 1000)
    }
}

/// One replica's comparison of a shadow version with the version that answered, since the replica started.
/// Replicas store theirs, and a shadow report sums them.
public struct ShadowTally: Sendable, Equatable, Codable {
    public var endpoint: String
    public var shadow: VersionRef
    public var replica: String
    public var compared = 0
    public var errors = 0
    public var skipped = 0
    /// Output rows compared, those whose class (≥ 0.5) agrees, and whether every output looked like a probability.
    public var rows = 0
    public var agreeing = 0
    public var probabilities = true
    public var sumAbsDifference = 0.0
    public var maxAbsDifference = 0.0
    /// Bounded samples of the most recent absolute differences and latencies (seconds).
    public var differences: [Double] = []
    public var primaryLatencies: [Double] = []
    public var shadowLatencies: [Double] = []

    enum CodingKeys: String, CodingKey {
        case endpoint, shadow, replica, compared, errors, skipped, rows, agreeing, probabilities, differences
        case sumAbsDifference = "sum_abs_difference", maxAbsDifference = "max_abs_difference"
        case primaryLatencies = "primary_latencies", shadowLatencies = "shadow_latencies"
    }

    public init(endpoint: String, shadow: VersionRef, replica: String) {
        self.endpoint = endpoint
        self.shadow = shadow
        self.replica = replica
    }

    /// Several replicas' tallies of one shadow as one (named after the first): counts add up, samples pool.
    public static func merge(_ tallies: [ShadowTally]) -> ShadowTally? {
        guard var total = tallies.first else { return nil }
        for t in tallies.dropFirst() {
            total.compared += t.compared
            total.errors += t.errors
            total.skipped += t.skipped
            total.rows += t.rows
            total.agreeing += t.agreeing
            total.probabilities = total.probabilities && t.probabilities
            total.sumAbsDifference += t.sumAbsDifference
            total.maxAbsDifference = max(total.maxAbsDifference, t.maxAbsDifference)
            total.differences += t.differences
            total.primaryLatencies += t.primaryLatencies
            total.shadowLatencies += t.shadowLatencies
        }
        return total
    }
}
