import FerryCore
import Foundation
import Testing

struct RolloutPolicyTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    static let gates = RolloutGates(minRequests: 100, maxErrorRateIncrease: 0.01, maxLatencyRatio: 1.5, latencySlackSeconds: 0.005, maxOutputPSI: 0.2, minOutputs: 200, maxAccuracyDrop: 0.05, minLabels: 50)

    static func rollout(step: Int = 0, status: Rollout.Status = .running) -> Rollout {
        var r = Rollout(
            endpoint: "fraud", stable: VersionRef(model: "fraud", version: 1), candidate: VersionRef(model: "fraud", version: 2),
            plan: RolloutPlan(steps: [5, 25, 50, 100], bakeSeconds: 60, gates: gates), by: "alice", at: t0)
        r.step = step
        r.status = status
        return r
    }

    static let healthy = VariantStats(requests: 1000, errors: 2, p99Seconds: 0.010, accuracy: 0.90, labelled: 200)

    /// (step, seconds since the step began, candidate stats, output PSI, expected decision)
    @Test(arguments: [
        // Healthy and baked: move on, and promote after the last step.
        (0, 60.0, healthy, 0.01 as Double?, Rollout.Decision.advance(to: 1)),
        (2, 61.0, healthy, 0.01, .advance(to: 3)),
        (3, 60.0, healthy, 0.01, .promote),
        // Healthy but not baked, or not enough traffic yet.
        (0, 30.0, healthy, 0.01, .wait("baking: 30 s left")),
        (0, 90.0, VariantStats(requests: 40, errors: 0, p99Seconds: 0.010), nil, .wait("waiting for 60 more candidate requests")),
        // A failed gate rolls back at once, even mid-bake.
        (0, 5.0, VariantStats(requests: 200, errors: 20, p99Seconds: 0.010), nil,
         .rollback("gate failed at 5%: error_rate 0.1 over the limit 0.012")),
        (1, 5.0, VariantStats(requests: 200, errors: 0, p99Seconds: 0.100), nil,
         .rollback("gate failed at 25%: latency_p99 0.1 over the limit 0.015")),
        (0, 5.0, healthy, 0.9, .rollback("gate failed at 5%: output_psi 0.9 over the limit 0.2")),
        (0, 5.0, VariantStats(requests: 500, errors: 0, p99Seconds: 0.010, accuracy: 0.70, labelled: 100), nil,
         .rollback("gate failed at 5%: accuracy_drop 0.2 over the limit 0.05")),
        // Failures on too few requests are not judged yet.
        (0, 5.0, VariantStats(requests: 10, errors: 5, p99Seconds: 0.010), nil, .wait("baking: 55 s left")),
        // Outputs that can be compared are compared before moving on.
        (0, 60.0, VariantStats(requests: 500, errors: 0, p99Seconds: 0.010, outputs: 150), nil,
         .wait("waiting for 200 outputs on each side to compare (candidate 150, stable 5000)")),
        // Few labels: accuracy is not judged, the other gates decide.
        (0, 60.0, VariantStats(requests: 500, errors: 0, p99Seconds: 0.010, accuracy: 0.10, labelled: 10), nil, .advance(to: 1)),
    ])
    func decisions(_ step: Int, _ elapsed: Double, _ candidate: VariantStats, _ psi: Double?, _ expected: Rollout.Decision) {
        let rollout = Self.rollout(step: step)
        let stable = VariantStats(requests: 5000, errors: 10, p99Seconds: 0.010, accuracy: 0.90, labelled: 500, outputs: 5000)
        let (decision, gates) = rollout.decide(
            RolloutObservation(stable: stable, candidate: candidate, outputPSI: psi), now: Self.t0.addingTimeInterval(elapsed))
        #expect(decision == expected, "\(gates)")
        #expect(gates.map(\.gate) == ["error_rate", "latency_p99", "output_psi", "accuracy_drop"])
    }

    /// The fairness gate: the candidate may widen the demographic parity gap of the named input by at most the limit.
    @Test func aCandidateThatWidensTheParityGapRollsBack() {
        var rollout = Self.rollout()
        rollout.plan.gates.fairnessAttribute = "is_night"
        rollout.plan.gates.maxParityIncrease = 0.05
        let stable = VariantStats(requests: 5000, errors: 10, p99Seconds: 0.010, accuracy: 0.90, labelled: 500, outputs: 5000, parityDifference: 0.10)
        func decide(_ parity: Double?, labelled: Int = 200) -> (Rollout.Decision, [GateResult]) {
            var candidate = Self.healthy
            candidate.parityDifference = parity
            candidate.labelled = labelled
            return rollout.decide(RolloutObservation(stable: stable, candidate: candidate, outputPSI: 0.01), now: Self.t0.addingTimeInterval(60))
        }
        #expect(decide(0.30).0 == .rollback("gate failed at 5%: parity_increase 0.2 over the limit 0.05"))
        #expect(decide(0.12).0 == .advance(to: 1), "a small widening passes")
        #expect(decide(0.00).0 == .advance(to: 1), "a narrower gap passes")
        let unjudged = decide(0.90, labelled: 10)
        #expect(unjudged.0 == .advance(to: 1), "too few labels: not judged")
        #expect(unjudged.1.last == GateResult(gate: "parity_increase", candidate: nil, limit: 0.05, passed: nil))
        #expect(decide(nil).1.map(\.gate) == ["error_rate", "latency_p99", "output_psi", "accuracy_drop", "parity_increase"])
        #expect(throws: FerryError.self) { try RolloutGates(fairnessAttribute: "").validate() }
    }

    @Test func pausedAndFinishedRolloutsNeverAct() {
        let bad = RolloutObservation(stable: Self.healthy, candidate: VariantStats(requests: 1000, errors: 1000))
        for status in [Rollout.Status.paused, .promoted, .rolledBack] {
            #expect(Self.rollout(status: status).decide(bad, now: Self.t0.addingTimeInterval(1e6)).decision == .wait("the rollout is \(status.rawValue)"))
        }
    }

    @Test func applyingDecisionsMovesStepsAndEnds() {
        var r = Self.rollout()
        r.apply(.advance(to: 1), at: Self.t0.addingTimeInterval(70))
        #expect(r.step == 1 && r.stepStartedAt == Self.t0.addingTimeInterval(70) && r.candidatePercent == 25)
        r.apply(.wait("x"), at: Self.t0.addingTimeInterval(80))
        #expect(r.step == 1 && r.status == .running)
        r.apply(.rollback("bad"), at: Self.t0.addingTimeInterval(90))
        #expect(r.status == .rolledBack && r.reason == "bad" && r.candidatePercent == 0)
    }

    /// (status before, command, status after or the error's start)
    @Test(arguments: [
        (Rollout.Status.running, Rollout.Command.pause, "paused"),
        (.running, .resume, "error: the rollout on 'fraud' is not paused"),
        (.paused, .pause, "error: the rollout on 'fraud' is already paused"),
        (.paused, .resume, "running"),
        (.running, .promote, "promoted"),
        (.paused, .rollback, "rolled_back"),
        (.promoted, .rollback, "error: the rollout on 'fraud' has already been promoted"),
        (.rolledBack, .resume, "error: the rollout on 'fraud' has already been rolled back"),
    ])
    func commands(_ before: Rollout.Status, _ command: Rollout.Command, _ expected: String) {
        var r = Self.rollout(status: before)
        do {
            try r.apply(command, by: "bob", at: Self.t0.addingTimeInterval(500))
            #expect(r.status.rawValue == expected)
            if command == .resume { #expect(r.stepStartedAt == Self.t0.addingTimeInterval(500), "a pause does not count as bake time") }
        } catch let error as FerryError {
            #expect("error: " + error.message == expected || ("error: " + error.message).hasPrefix(expected))
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test(arguments: [
        (RolloutPlan(steps: [5, 25, 50]), "must end at 100"),
        (RolloutPlan(steps: [50, 25, 100]), "increasing percentages"),
        (RolloutPlan(bakeSeconds: -1), "bake_seconds"),
        (RolloutPlan(gates: RolloutGates(minRequests: 0)), "gates.min_requests"),
    ])
    func badPlansNameTheField(_ plan: RolloutPlan, _ field: String) {
        #expect { try plan.validate() } throws: { ($0 as? FerryError)?.message.contains(field) == true }
    }
}

struct EndpointRoutingTests {
    static func endpoint(_ weights: [Double]) -> Endpoint {
        Endpoint(
            name: "fraud", variants: weights.enumerated().map { Endpoint.Variant(model: "fraud", version: $0.offset + 1, weight: $0.element) },
            createdBy: "t", updatedAt: Date(timeIntervalSince1970: 0))
    }

    @Test func variantsTakeSlicesByWeight() {
        let e = Self.endpoint([25, 75])
        #expect(e.variant(at: 0).version == 1 && e.variant(at: 0.2499).version == 1)
        #expect(e.variant(at: 0.25).version == 2 && e.variant(at: 0.999).version == 2)
        #expect(Self.endpoint([0, 5]).variant(at: 0).version == 2, "a zero weight takes no traffic")
    }

    @Test func stickyKeysSpreadEvenlyAndStayPutAsTheCandidateGrows() {
        let keys = (0..<20_000).map { "customer-\($0)" }
        let points = keys.map { Endpoint.point(forKey: $0) }
        #expect(points.allSatisfy { (0..<1).contains($0) })
        let share = Double(points.filter { $0 < 0.05 }.count) / Double(points.count)
        #expect(abs(share - 0.05) < 0.01, "\(share)")
        // Going from 5 % to 25 % only moves callers onto the candidate, never off it.
        let before = points.map { Self.endpoint([5, 95]).variant(at: $0).version }
        let after = points.map { Self.endpoint([25, 75]).variant(at: $0).version }
        #expect(!zip(before, after).contains { $0 == 1 && $1 != 1 })
        #expect(Endpoint.point(forKey: "customer-7") == Endpoint.point(forKey: "customer-7"))
    }

    @Test(arguments: [
        (#"{"variants": []}"#, "field 'variants' must name at least one model version"),
        (#"{"variants": [{"model": "m", "version": 0, "weight": 1}]}"#, "variants[0].version"),
        (#"{"variants": [{"model": "m", "version": 1, "weight": -1}]}"#, "variants[0].weight"),
        (#"{"variants": [{"model": "m", "version": 1, "weight": 0}]}"#, "a weight above 0"),
        (#"{"variants": [{"model": "m", "version": 1, "weight": 1}, {"model": "m", "version": 1, "weight": 1}]}"#, "same version twice"),
        (#"{"variants": [{"model": "m", "version": 1, "weight": 1}], "shadows": [{"model": "m", "version": 2, "share": 2}]}"#, "shadows[0].share"),
        (#"{"variants": [{"model": "m", "version": 1, "weight": 1}], "stickyHeader": "a b"}"#, "sticky_header"),
    ])
    func badEndpointsNameTheField(_ json: String, _ expected: String) throws {
        struct Body: Decodable {
            var variants: [Endpoint.Variant]
            var shadows: [Endpoint.Shadow]?
            var stickyHeader: String?
        }
        let body = try JSONDecoder().decode(Body.self, from: Data(json.utf8))
        let endpoint = Endpoint(name: "e", variants: body.variants, shadows: body.shadows ?? [], stickyHeader: body.stickyHeader, createdBy: "t", updatedAt: Date())
        #expect { try endpoint.validate() } throws: { ($0 as? FerryError)?.message.contains(expected) == true }
    }
}

struct CircuitBreakerTests {
    struct Script: Sendable, CustomTestStringConvertible {
        var calls: [(time: Double, success: Bool)]
        var allowed: [Bool]
        var final: CircuitBreaker.State
        var testDescription: String { "\(calls.count) calls ending \(final)" }
    }

    static let scripts: [Script] = [
        // Three failures in a row open it; it refuses until the cooldown passes.
        Script(calls: [(0, false), (1, false), (2, false), (3, true), (11.9, true)], allowed: [true, true, true, false, false], final: .open),
        // After the cooldown one trial goes through; success closes it.
        Script(calls: [(0, false), (1, false), (2, false), (12, true), (12.5, true)], allowed: [true, true, true, true, true], final: .closed),
        // A failed trial opens it again for a new cooldown.
        Script(calls: [(0, false), (1, false), (2, false), (12, false), (13, true), (22.1, true)], allowed: [true, true, true, true, false, true], final: .closed),
        // Successes in between reset the count.
        Script(calls: [(0, false), (1, false), (2, true), (3, false), (4, false), (5, true)], allowed: [true, true, true, true, true, true], final: .closed),
    ]

    @Test(arguments: scripts)
    func breakerStates(_ script: Script) {
        var breaker = CircuitBreaker(threshold: 3, cooldown: 10)
        var seen: [Bool] = []
        for call in script.calls {
            let ok = breaker.allow(now: call.time)
            seen.append(ok)
            if ok { breaker.record(success: call.success, now: call.time) }
        }
        #expect(seen == script.allowed)
        #expect(breaker.state == script.final)
    }

    @Test func halfOpenLetsOnlyOneTrialThrough() {
        var breaker = CircuitBreaker(threshold: 1, cooldown: 5)
        let first = breaker.allow(now: 0)
        #expect(first)
        breaker.record(success: false, now: 0)
        #expect(breaker.retryAfter(now: 2) == 3)
        let trial = breaker.allow(now: 6)
        #expect(trial && breaker.state == .halfOpen)
        let second = breaker.allow(now: 6.1)
        #expect(!second, "a second caller waits for the trial")
    }
}

/// Error rates over several replicas' running totals, for a window that starts at t = 10.
struct RequestCountTests {
    static func sample(_ replica: String, _ seconds: Double, _ requests: Int64, _ errors: Int64) -> RequestCountSample {
        RequestCountSample(replica: replica, model: "m", at: Date(timeIntervalSince1970: seconds), requests: requests, errors: errors)
    }

    static let windowStart = Date(timeIntervalSince1970: 10)

    @Test(arguments: [
        // Each replica's growth since its last sample before the window: (100-50 + 30-10) requests, (10-5 + 4-0) errors.
        ([sample("a", 0, 50, 5), sample("a", 30, 100, 10), sample("b", 5, 10, 0), sample("b", 35, 30, 4)], 9.0 / 70.0),
        // The baseline is the newest sample at or before the window's start, not the oldest one fetched.
        ([sample("a", 0, 10, 1), sample("a", 8, 50, 5), sample("a", 30, 100, 10)], 0.1),
        // No sample before the window: the replica started inside it, so its whole total counts.
        ([sample("a", 0, 50, 5), sample("a", 30, 100, 10), sample("b", 15, 10, 8), sample("b", 35, 20, 10)], 15.0 / 70.0),
        // A total that went down: the replica restarted, its new total counts from zero.
        ([sample("a", 0, 500, 50), sample("a", 30, 40, 4)], 0.1),
    ])
    func errorRateSumsEachReplicasGrowth(_ samples: [RequestCountSample], _ expected: Double) {
        #expect(abs((RequestCountSample.errorRate(samples, windowStart: Self.windowStart) ?? -1) - expected) < 1e-12)
    }

    @Test func noRequestsNoRate() {
        #expect(RequestCountSample.errorRate([], windowStart: Self.windowStart) == nil)
        #expect(RequestCountSample.errorRate([Self.sample("a", 0, 7, 1), Self.sample("a", 20, 7, 1)], windowStart: Self.windowStart) == nil)
        #expect(RequestCountSample.errorRate([Self.sample("a", 5, 7, 1)], windowStart: Self.windowStart) == nil, "nothing since the window began")
    }
}
