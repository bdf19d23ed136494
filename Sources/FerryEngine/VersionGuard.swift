import FerryCore
import Foundation
import Synchronization

/// Limits every loaded version gets: how many requests it takes at once, and its circuit breaker.
public struct ServingPolicy: Sendable {
    /// Requests one version may hold at once (running or waiting inside Ferry); more are shed with 429.
    public var maxConcurrent: Int
    /// Consecutive failures (errors or timeouts) that open a version's breaker.
    public var breakerThreshold: Int
    /// Seconds an open breaker refuses calls before letting one trial through.
    public var breakerCooldown: Double
    /// Dynamic batching: merge concurrent requests up to this many rows (0 turns batching off, the default) ...
    public var batchMaxRows: Int
    /// ... and 0 merges only requests that arrive while the version is busy (greedy, no added wait), or above 0
    /// waits up to this many seconds for a batch to fill (timed).
    public var batchMaxDelay: Double
    /// Seconds a request waits for a version that is not loaded (unloaded to keep within the memory budget, or
    /// never used) before it is answered 503 with Retry-After; the load goes on, so a retry finds it ready.
    public var coldLoadWait: Double

    public init(
        maxConcurrent: Int = 1024, breakerThreshold: Int = 5, breakerCooldown: Double = 10, batchMaxRows: Int = 0,
        batchMaxDelay: Double = 0, coldLoadWait: Double = 5
    ) {
        self.coldLoadWait = coldLoadWait
        self.batchMaxRows = batchMaxRows
        self.batchMaxDelay = batchMaxDelay
        self.maxConcurrent = maxConcurrent
        self.breakerThreshold = breakerThreshold
        self.breakerCooldown = breakerCooldown
    }
}

/// Admission for one version: sheds load over `maxConcurrent` and fails fast while the breaker is open.
public final class VersionGuard: Sendable {
    private struct State {
        var inFlight = 0
        var breaker: CircuitBreaker
    }

    private let label: String
    private let policy: ServingPolicy
    private let now: @Sendable () -> Double
    private let state: Mutex<State>

    init(label: String, policy: ServingPolicy, now: @escaping @Sendable () -> Double = RateLimiter.monotonicSeconds) {
        self.label = label
        self.policy = policy
        self.now = now
        state = Mutex(State(breaker: CircuitBreaker(threshold: policy.breakerThreshold, cooldown: policy.breakerCooldown)))
    }

    public var breakerState: CircuitBreaker.State { state.withLock { $0.breaker.state } }

    /// Runs `body` if the version takes the request; counts the outcome for the breaker (client errors such as
    /// invalid input do not count as the version failing).
    public func run<T>(_ body: () async throws -> T) async throws -> T {
        try enter()
        do {
            let result = try await body()
            exit(nil)
            return result
        } catch {
            exit(error)
            throw error
        }
    }

    /// Admits one request or throws the refusal (`.rateLimited` over the bound, `.unavailable` while the breaker
    /// is open). Every admitted request must be followed by exactly one `exit`.
    public func enter() throws {
        let t = now()
        let refusal: FerryError? = state.withLock { s in
            guard s.inFlight < policy.maxConcurrent else {
                return FerryError(.rateLimited, "\(label) already holds \(policy.maxConcurrent) requests; retry shortly")
            }
            guard s.breaker.allow(now: t) else {
                let wait = Int(s.breaker.retryAfter(now: t).rounded(.up))
                return FerryError(.unavailable, "\(label) is failing (circuit breaker open after \(policy.breakerThreshold) consecutive failures); it is retried in \(wait) s", retryAfter: max(1, wait))
            }
            s.inFlight += 1
            return nil
        }
        if let refusal { throw refusal }
    }

    /// Ends an admitted request with its error, if any.
    public func exit(_ error: (any Error)?) {
        let success = error.map { !Self.countsAsFailure($0) } ?? true
        let t = now()
        state.withLock { s in
            s.inFlight -= 1
            s.breaker.record(success: success, now: t)
        }
    }

    static func countsAsFailure(_ error: any Error) -> Bool {
        guard let error = error as? FerryError else { return true }
        return [.internal, .unavailable, .deadlineExceeded].contains(error.code)
    }
}
