import FerryCore
import Foundation
import Synchronization

/// Per-principal token buckets. A principal's rate is its own (`Principal.rateLimit`) or its role's default;
/// the burst is one second's worth (at least one request).
public final class RateLimiter: Sendable {
    private let defaults: [Role: Double]
    private let now: @Sendable () -> Double
    private let state = Mutex<(buckets: [String: TokenBucket], rejected: [String: UInt64])>(([:], [:]))

    /// `defaults` are requests per second per role; a role that is absent has no limit.
    public init(defaults: [Role: Double], now: @escaping @Sendable () -> Double = RateLimiter.monotonicSeconds) {
        self.defaults = defaults
        self.now = now
    }

    /// Whether limits exist at all (so the hot path can skip the lock when none are configured).
    public func limits(_ principal: Principal) -> Bool { (principal.rateLimit ?? defaults[principal.role]) != nil }

    /// Takes a token for `principal`. Returns nil when the request may proceed, else the seconds to wait.
    public func admit(_ principal: Principal) -> Double? {
        guard let rate = principal.rateLimit ?? defaults[principal.role] else { return nil }
        // Sources check limits (positive, finite); one that slipped through refuses rather than traps.
        guard rate.isFinite, rate > 0 else { return 86_400 }
        let t = now()
        return state.withLock { state in
            var bucket = state.buckets[principal.id].flatMap { $0.rate == rate ? $0 : nil }
                ?? TokenBucket(rate: rate, burst: max(1, rate), now: t)
            let wait = bucket.take(now: t)
            state.buckets[principal.id] = bucket
            if wait != nil { state.rejected[principal.id, default: 0] += 1 }
            return wait
        }
    }

    /// Rejected requests per principal id since start.
    public var rejections: [String: UInt64] { state.withLock { $0.rejected } }

    public static let monotonicSeconds: @Sendable () -> Double = {
        let t = ContinuousClock.now - start
        return Double(t.components.seconds) + Double(t.components.attoseconds) / 1e18
    }
    private static let start = ContinuousClock.now
}
