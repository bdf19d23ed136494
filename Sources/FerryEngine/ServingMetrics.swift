import FerryCore
import Foundation
import Synchronization

/// Counters and histograms of the inference path, per model version, kept cheap: a version's counters live in
/// an object the resolved version carries, so recording is one uncontended lock and a few additions.
public final class ServingMetrics: Sendable {
    /// Upper bounds of the latency histogram, in seconds.
    public static let latencyBuckets: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    /// Upper bounds of the model load histogram, in seconds.
    public static let loadBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
    /// Upper bounds of the rows-per-request histogram.
    public static let batchBuckets: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384]

    public struct Histogram: Sendable {
        public var counts: [UInt64]
        public var sum: Double = 0
        public var count: UInt64 = 0

        public init(buckets: Int) { counts = .init(repeating: 0, count: buckets) }

        mutating func observe(_ value: Double, bounds: [Double]) {
            var i = 0
            while i < bounds.count && value > bounds[i] { i += 1 }
            if i < bounds.count { counts[i] += 1 }
            sum += value
            count += 1
        }
    }

    /// One version's figures.
    public struct Snapshot: Sendable {
        public var model: String
        public var version: Int
        public var requests: UInt64 = 0
        public var rows: UInt64 = 0
        public var errors: [String: UInt64] = [:]
        public var latency = Histogram(buckets: ServingMetrics.latencyBuckets.count)
        public var batchRows = Histogram(buckets: ServingMetrics.batchBuckets.count)
        public var loadSeconds: Double?
        public var loaded = false
        public var loadFailures: UInt64 = 0
        public var memoryBytes = 0
        public var loads: UInt64 = 0
        public var unloads: UInt64 = 0
        /// Input values outside their expected range, and category names the model does not know, per feature.
        public var outOfRange: [String: UInt64] = [:]
        public var unseenCategories: [String: UInt64] = [:]
    }

    /// The counters of one version; recording takes its own lock, so versions never contend with each other.
    public final class Version: Sendable {
        let state: Mutex<Snapshot>
        let enabled: Bool

        init(model: String, version: Int, enabled: Bool) {
            state = Mutex(Snapshot(model: model, version: version))
            self.enabled = enabled
        }

        public func recordSuccess(rows: Int, seconds: Double) {
            guard enabled else { return }
            state.withLock { s in
                s.requests += 1
                s.rows += UInt64(rows)
                s.latency.observe(seconds, bounds: ServingMetrics.latencyBuckets)
                s.batchRows.observe(Double(rows), bounds: ServingMetrics.batchBuckets)
            }
        }

        public func recordError(_ code: FerryError.Code, seconds: Double) {
            guard enabled else { return }
            state.withLock { s in
                s.requests += 1
                s.errors[code.rawValue, default: 0] += 1
                s.latency.observe(seconds, bounds: ServingMetrics.latencyBuckets)
            }
        }

        public func recordInputs(_ findings: InputChecks.Findings) {
            guard enabled, !findings.isEmpty else { return }
            state.withLock { s in
                for (feature, n) in findings.outOfRange { s.outOfRange[feature, default: 0] += UInt64(n) }
                for (feature, n) in findings.unseenCategories { s.unseenCategories[feature, default: 0] += UInt64(n) }
            }
        }

        func recordLoad(seconds: Double, memoryBytes: Int) {
            state.withLock { s in
                s.loadSeconds = seconds
                s.loaded = true
                s.memoryBytes = memoryBytes
                s.loads += 1
            }
        }

        func recordLoadFailure() { state.withLock { $0.loadFailures += 1 } }
        func recordUnload() {
            state.withLock { s in
                if s.loaded { s.unloads += 1 }
                s.loaded = false
            }
        }
    }

    /// How model versions come into memory, over every version: each load's duration, and the requests that found
    /// their version not loaded (they waited for a load, or gave up after the cold-load wait).
    public struct Loading: Sendable {
        public var durations = Histogram(buckets: ServingMetrics.loadBuckets.count)
        public var coldRequests: UInt64 = 0
    }

    private let loading = Mutex(Loading())
    /// The versions loaded now and the bytes they hold, exactly as the model manager counts them against the
    /// budget (a sum over the per-version figures, read one version at a time, can count a swap twice).
    private let resident = Mutex((versions: 0, bytes: 0))

    func setResident(versions: Int, bytes: Int) { resident.withLock { $0 = (versions, bytes) } }

    public func residentSnapshot() -> (versions: Int, bytes: Int) { resident.withLock { $0 } }

    func recordLoadDuration(_ seconds: Double) {
        loading.withLock { $0.durations.observe(seconds, bounds: ServingMetrics.loadBuckets) }
    }

    func recordColdRequest() { loading.withLock { $0.coldRequests += 1 } }

    public func loadingSnapshot() -> Loading { loading.withLock { $0 } }

    private struct Key: Hashable { var model: String; var version: Int }
    private let versions = Mutex<[Key: Version]>([:])
    /// Requests that failed before a version was resolved (unknown model, malformed path), by error code.
    private let unresolved = Mutex<[String: UInt64]>([:])

    /// Whether per-request figures are recorded (model load figures always are).
    public let requestMetricsEnabled: Bool

    public init(requestMetrics: Bool = true) {
        requestMetricsEnabled = requestMetrics
    }

    public func version(model: String, version: Int) -> Version {
        versions.withLock { all in
            let key = Key(model: model, version: version)
            if let existing = all[key] { return existing }
            let created = Version(model: model, version: version, enabled: requestMetricsEnabled)
            all[key] = created
            return created
        }
    }

    public func recordUnresolved(_ code: FerryError.Code) {
        unresolved.withLock { $0[code.rawValue, default: 0] += 1 }
    }

    /// Every version's figures, ordered by model and version, and the unresolved errors by code.
    public func snapshot() -> (versions: [Snapshot], unresolvedErrors: [String: UInt64]) {
        let all = versions.withLock { Array($0.values) }.map { $0.state.withLock { $0 } }
        return (all.sorted { ($0.model, $0.version) < ($1.model, $1.version) }, unresolved.withLock { $0 })
    }
}
