import FerryCore
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What serving costs: CPU time per request measured on the serving path (per model version and per principal),
/// the memory each loaded version holds over time, and, priced with `Prices`, the cost per 1,000 predictions.
///
/// A request's CPU time is its thread's CPU clock from when its handler starts to when its answer is encoded (the
/// handler runs without suspending in the usual case; when it did suspend and resume on another thread, its wall
/// time stands in, as an upper bound). It leaves out reading the request off the socket and writing the answer,
/// which the event loop does before and after. Memory is each loaded version's estimated size, integrated over time
/// every `tick` (GiB-hours). Figures are this replica's since it started.
public final class CostMeter: Sendable {
    public struct Prices: Sendable, Equatable {
        public var cpuHour: Double?
        public var gibHour: Double?
        public init(cpuHour: Double? = nil, gibHour: Double? = nil) {
            self.cpuHour = cpuHour
            self.gibHour = gibHour
        }
    }

    public struct Totals: Sendable, Equatable {
        public var requests = 0
        public var predictions = 0
        public var cpuSeconds = 0.0
        public var gibHours = 0.0
        public init() {}

        /// The cost at `prices` (nil when no price is set), and per 1,000 predictions.
        public func cost(_ prices: Prices) -> Double? {
            guard prices.cpuHour != nil || prices.gibHour != nil else { return nil }
            return cpuSeconds / 3600 * (prices.cpuHour ?? 0) + gibHours * (prices.gibHour ?? 0)
        }

        public func costPer1000(_ prices: Prices) -> Double? {
            guard predictions > 0, let cost = cost(prices) else { return nil }
            return cost / Double(predictions) * 1000
        }
    }

    public struct VersionKey: Hashable, Sendable, Comparable {
        public var model: String
        public var version: Int
        public static func < (a: VersionKey, b: VersionKey) -> Bool { (a.model, a.version) < (b.model, b.version) }
    }

    struct State {
        var versions: [VersionKey: Totals] = [:]
        var principals: [String: Totals] = [:]
        var lastTick: ContinuousClock.Instant?
    }

    public let prices: Prices
    private let metrics: ServingMetrics
    private let state = Mutex(State())

    public init(prices: Prices, metrics: ServingMetrics) {
        self.prices = prices
        self.metrics = metrics
    }

    /// A point on the current thread's CPU clock, to hand back to `record`.
    public struct Start: Sendable {
        let cpu: Double
        let thread: UInt
        let wall: ContinuousClock.Instant
    }

    public static func start() -> Start {
        Start(cpu: threadCPU(), thread: UInt(bitPattern: Int(bitPattern: pthread_self())), wall: .now)
    }

    static func threadCPU() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    /// Counts one answered request of `predictions` rows, its CPU time since `start`.
    public func record(model: String, version: Int, principal: String, predictions: Int, since start: Start) {
        let sameThread = UInt(bitPattern: Int(bitPattern: pthread_self())) == start.thread
        let elapsed = ContinuousClock.now - start.wall
        let cpu = sameThread ? max(0, Self.threadCPU() - start.cpu) : Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        // Each total is found once and updated in place (three lookups each hashed the key again).
        func add(_ totals: inout Totals) {
            totals.requests += 1
            totals.predictions += predictions
            totals.cpuSeconds += cpu
        }
        state.withLock { s in
            add(&s.versions[VersionKey(model: model, version: version), default: Totals()])
            add(&s.principals[principal, default: Totals()])
        }
    }

    /// Adds each loaded version's memory over the time since the last tick.
    public func tick() {
        let now = ContinuousClock.now
        let loaded = metrics.snapshot().versions.filter { $0.loaded && $0.memoryBytes > 0 }
        state.withLock { s in
            if let last = s.lastTick {
                let hours = Double((now - last).components.seconds) / 3600 + Double((now - last).components.attoseconds) / 3.6e21
                for v in loaded {
                    s.versions[VersionKey(model: v.model, version: v.version), default: Totals()].gibHours += Double(v.memoryBytes) / Double(1 << 30) * hours
                }
            }
            s.lastTick = now
        }
    }

    public func versions() -> [(VersionKey, Totals)] { state.withLock { $0.versions.sorted { $0.key < $1.key } } }
    public func principals() -> [(String, Totals)] { state.withLock { $0.principals.sorted { $0.key < $1.key } } }
}
