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

/// Where replicas keep their rollout figures.
///
/// Every implementation must pass `EndpointStoreConformance`'s tally checks in `FerryTesting`.
public protocol ObservationStore: Sendable {
    /// Stores each tally, replacing the one with the same endpoint, version, epoch and replica.
    func putTallies(_ tallies: [VariantTally]) async throws
    /// Every replica's tally of a version of an endpoint for one epoch.
    func tallies(endpoint: String, version: VersionRef, epoch: Date) async throws -> [VariantTally]
    /// Deletes tallies whose epoch is before `date`; returns how many.
    @discardableResult
    func purgeTallies(before date: Date) async throws -> Int
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
