import Foundation

/// A circuit breaker for one model version: it opens after `threshold` consecutive failures (errors or
/// timeouts), refuses calls for `cooldown` seconds, then lets one trial call through (half-open): success closes
/// it, failure opens it again. A pure value; the caller passes the time.
public struct CircuitBreaker: Sendable, Equatable {
    public enum State: String, Sendable, Equatable, Codable {
        case closed
        case open
        case halfOpen = "half_open"
    }

    public var threshold: Int
    public var cooldown: Double
    public private(set) var state: State = .closed
    public private(set) var consecutiveFailures = 0
    public private(set) var openedAt: Double = 0
    /// Whether the half-open trial call is out.
    public private(set) var trialInFlight = false

    public init(threshold: Int = 5, cooldown: Double = 10) {
        precondition(threshold >= 1 && cooldown >= 0, "a breaker needs a threshold of at least 1 and a cooldown >= 0")
        self.threshold = threshold
        self.cooldown = cooldown
    }

    /// Whether a call may go ahead now; a call that is let through must be reported with `record`.
    public mutating func allow(now: Double) -> Bool {
        switch state {
        case .closed:
            return true
        case .open:
            guard now - openedAt >= cooldown else { return false }
            state = .halfOpen
            trialInFlight = true
            return true
        case .halfOpen:
            guard !trialInFlight else { return false }
            trialInFlight = true
            return true
        }
    }

    public mutating func record(success: Bool, now: Double) {
        if success {
            state = .closed
            consecutiveFailures = 0
            trialInFlight = false
            return
        }
        consecutiveFailures += 1
        if state == .halfOpen || consecutiveFailures >= threshold {
            state = .open
            openedAt = now
            trialInFlight = false
        }
    }

    /// Seconds until an open breaker lets a trial call through.
    public func retryAfter(now: Double) -> Double {
        state == .open ? max(0, cooldown - (now - openedAt)) : 0
    }
}
