import Foundation

/// A token bucket: `rate` tokens per second refill up to `burst`; each request takes one.
///
/// A pure value: the caller passes the time, so the rules are tested without clocks or sleeps.
public struct TokenBucket: Sendable, Equatable {
    public var rate: Double
    public var burst: Double
    public private(set) var tokens: Double
    public private(set) var updated: Double

    /// A full bucket at time `now` (seconds on any monotonic scale).
    public init(rate: Double, burst: Double, now: Double) {
        precondition(rate > 0 && burst >= 1, "a token bucket needs a positive rate and a burst of at least 1")
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.updated = now
    }

    /// Takes one token. Returns nil when the request may proceed, otherwise the seconds until a token is available.
    public mutating func take(now: Double) -> Double? {
        if now > updated {
            tokens = min(burst, tokens + (now - updated) * rate)
            updated = now
        }
        if tokens >= 1 {
            tokens -= 1
            return nil
        }
        return (1 - tokens) / rate
    }
}
