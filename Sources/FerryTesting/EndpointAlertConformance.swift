import FerryCore
import Foundation

/// The behaviour every store of endpoints and rollouts must show.
public enum EndpointStoreConformance {
    public typealias Store = any MetadataStore & EndpointStore & ObservationStore

    static func endpoint(_ name: String, version: Int = 1, weight: Double = 100) -> Endpoint {
        Endpoint(
            name: name, variants: [.init(model: "m", version: version, weight: weight)], shadows: [.init(model: "m", version: 2, share: 0.5)],
            stickyHeader: "X-Id", timeoutMs: 50, fallback: .init(value: 0), cache: .init(maxEntries: 9, ttlSeconds: 2, maxBytes: 1024),
            createdBy: "test", updatedAt: Fixtures.time)
    }

    static func event(_ endpoint: String, _ action: String, to: Double) -> RolloutEvent {
        RolloutEvent(
            endpoint: endpoint, at: Fixtures.time, action: action, stable: VersionRef(model: "m", version: 1),
            candidate: VersionRef(model: "m", version: 2), fromPercent: 0, toPercent: to,
            gates: [GateResult(gate: "error_rate", candidate: 0.01, limit: 0.02, passed: true)],
            observation: RolloutObservation(stable: VariantStats(requests: 10, errors: 1), candidate: VariantStats(requests: 5, p99Seconds: 0.01)),
            by: "test", reason: action == "rolled_back" ? "gate failed" : nil)
    }

    public static let cases: [ConformanceCase<Store>] = [
        .init("endpoints are created, replaced, listed by name and deleted") { store in
            try await store.putEndpoint(endpoint("b"), audit: nil)
            try await store.putEndpoint(endpoint("a"), audit: nil)
            try await store.putEndpoint(endpoint("b", version: 3, weight: 7), audit: nil)
            let all = try await store.endpoints()
            try expect(all.map(\.name) == ["a", "b"], "by name: \(all.map(\.name))")
            try expect(all[1] == endpoint("b", version: 3, weight: 7), "replaced and round-tripped: \(all[1])")
            try await store.deleteEndpoint(name: "a", audit: nil)
            try expect(try await store.endpoints().map(\.name) == ["b"], "deleted")
            try await expectError(.notFound) { try await store.deleteEndpoint(name: "a", audit: nil) }
        },
        .init("a rollout step saves state, traffic and event together; events are numbered per endpoint") { store in
            try await store.putEndpoint(endpoint("a"), audit: nil)
            try await store.putEndpoint(endpoint("b"), audit: nil)
            var rollout = Rollout(endpoint: "a", stable: VersionRef(model: "m", version: 1), candidate: VersionRef(model: "m", version: 2),
                                  plan: RolloutPlan(), by: "test", at: Fixtures.time)
            let first = try await store.saveRollout(rollout, endpoint: endpoint("a", version: 2, weight: 5), event: event("a", "started", to: 5), audit: nil)
            _ = try await store.saveRollout(
                Rollout(endpoint: "b", stable: VersionRef(model: "m", version: 1), candidate: VersionRef(model: "m", version: 2),
                        plan: RolloutPlan(), by: "test", at: Fixtures.time),
                endpoint: endpoint("b"), event: event("b", "started", to: 5), audit: nil)
            rollout.step = 1
            rollout.status = .rolledBack
            rollout.reason = "gate failed"
            let second = try await store.saveRollout(rollout, endpoint: endpoint("a"), event: event("a", "rolled_back", to: 0), audit: nil)
            try expect(first.sequence == 1 && second.sequence == 2, "per-endpoint numbers: \(first.sequence), \(second.sequence)")
            let events = try await store.rolloutEvents(endpoint: "a", limit: 10)
            var expected = event("a", "rolled_back", to: 0)
            expected.sequence = 2
            try expect(events.map(\.action) == ["started", "rolled_back"] && events.last == expected, "events: \(events)")
            try expect(try await store.rolloutEvents(endpoint: "a", limit: 1).map(\.action) == ["rolled_back"], "the newest, oldest first")
            let rollouts = try await store.rollouts()
            try expect(rollouts.count == 2 && rollouts.first { $0.endpoint == "a" } == rollout, "latest state: \(rollouts)")
            try expect(try await store.endpoints().first { $0.name == "a" } == endpoint("a"), "traffic saved with the step")
            try await expectError(.notFound) {
                _ = try await store.saveRollout(rollout, endpoint: endpoint("zz"), event: event("zz", "started", to: 5), audit: nil)
            }
            try await store.deleteEndpoint(name: "a", audit: nil)
            try expect(try await store.rolloutEvents(endpoint: "a", limit: 10).isEmpty, "events go with their endpoint")
            try expect(try await store.rollouts().map(\.endpoint) == ["b"], "the rollout goes with its endpoint")
        },
        .init("each replica's rollout figures are kept per version and epoch, replaced by the replica's next ones") { store in
            let v1 = VersionRef(model: "m", version: 1)
            let v2 = VersionRef(model: "m", version: 2)
            let step = Fixtures.time.addingTimeInterval(60)
            func tally(_ replica: String, _ version: VersionRef, _ epoch: Date, requests: Int) -> VariantTally {
                VariantTally(
                    endpoint: "ep", version: version, epoch: epoch, replica: replica, requests: requests, errors: requests / 10,
                    outputCount: requests, latencies: [0.001 * Double(requests), 0.5], outputs: [Double(requests), -1.25])
            }
            try await store.putTallies([tally("a", v1, Fixtures.time, requests: 10), tally("a", v2, step, requests: 20)])
            try await store.putTallies([tally("b", v2, step, requests: 30), tally("b", v2, Fixtures.time, requests: 99)])
            try await store.putTallies([tally("a", v2, step, requests: 25)])
            let candidate = try await store.tallies(endpoint: "ep", version: v2, epoch: step)
            try expect(candidate == [tally("a", v2, step, requests: 25), tally("b", v2, step, requests: 30)], "replaced, by replica: \(candidate)")
            let summed = VariantTally.sum(candidate)
            try expect(summed.stats.requests == 55 && summed.stats.errors == 5 && summed.stats.outputs == 55, "summed: \(summed.stats)")
            try expect(summed.outputs.count == 4 && summed.stats.p99Seconds != nil, "samples pooled: \(summed)")
            try expect(try await store.tallies(endpoint: "ep", version: v1, epoch: Fixtures.time) == [tally("a", v1, Fixtures.time, requests: 10)], "per version")
            try expect(try await store.tallies(endpoint: "other", version: v2, epoch: step).isEmpty, "per endpoint")
            let purged = try await store.purgeTallies(before: step)
            try expect(purged == 2, "epochs before the date purged: \(purged)")
            try expect(try await store.tallies(endpoint: "ep", version: v2, epoch: step).count == 2, "later epochs kept")
        },
        .init("each replica's shadow comparison is kept per endpoint and shadow, replaced by its next one") { store in
            func tally(_ replica: String, _ version: Int, compared: Int, endpoint: String = "ep") -> ShadowTally {
                var t = ShadowTally(endpoint: endpoint, shadow: VersionRef(model: "m", version: version), replica: replica)
                t.compared = compared
                t.rows = compared * 2
                t.agreeing = compared
                t.sumAbsDifference = 0.5 * Double(compared)
                t.maxAbsDifference = 0.25
                t.differences = [0.25, 0.125]
                t.primaryLatencies = [0.001]
                t.shadowLatencies = [0.002, 0.003]
                return t
            }
            try await store.putShadowTallies([tally("a", 2, compared: 3), tally("b", 2, compared: 4), tally("a", 3, compared: 1)])
            try await store.putShadowTallies([tally("a", 2, compared: 9), tally("a", 2, compared: 5, endpoint: "other")])
            let all = try await store.shadowTallies(endpoint: "ep")
            try expect(all == [tally("a", 2, compared: 9), tally("b", 2, compared: 4), tally("a", 3, compared: 1)], "replaced, round-tripped: \(all)")
            let merged = ShadowTally.merge(all.filter { $0.shadow.version == 2 })
            try expect(merged?.compared == 13 && merged?.rows == 26 && merged?.differences.count == 4, "merged: \(String(describing: merged))")
            try expect(try await store.shadowTallies(endpoint: "none").isEmpty, "per endpoint")
        },
        .init("request counts are kept per model, replica and time, read since a time and purged") { store in
            func sample(_ replica: String, _ model: String, _ seconds: Double, _ requests: Int64) -> RequestCountSample {
                RequestCountSample(
                    replica: replica, model: model, at: Fixtures.time.addingTimeInterval(seconds), requests: requests, errors: requests / 4,
                    predictions: requests * 3, cpuSeconds: Double(requests) * 0.001, gibHours: Double(requests) / 64,
                    latencyCounts: replica == "b" ? [] : [requests, 0, requests / 2, 1 << 40])
            }
            try await store.putRequestCounts([sample("a", "m", 0, 10), sample("b", "m", 5, 40), sample("a", "other", 0, 7)])
            try await store.putRequestCounts([sample("a", "m", 30, 30), sample("a", "m", 30, 32)])
            let all = try await store.requestCounts(model: "m", since: Fixtures.time)
            try expect(all == [sample("a", "m", 0, 10), sample("a", "m", 30, 32), sample("b", "m", 5, 40)], "by replica and time, replaced: \(all)")
            try expect(try await store.requestCounts(model: "m", since: Fixtures.time.addingTimeInterval(1)).count == 2, "since a time")
            try expect(try await store.purgeRequestCounts(before: Fixtures.time.addingTimeInterval(1)) == 2, "older ones purged")
            try expect(try await store.requestCounts(model: "other", since: Fixtures.time).isEmpty, "purged for every model")
        },
    ]
}

/// The behaviour every store of alert rules, their status and their history must show.
public enum AlertStoreConformance {
    public typealias Store = any MetadataStore & AlertStore

    static func rule(_ model: String, _ name: String, threshold: Double = 0.25) -> AlertRule {
        AlertRule(
            name: name, model: model, metric: .driftPSI, feature: "amount", comparison: .greater, threshold: threshold,
            windowSeconds: 600, forSeconds: 30, webhook: "https://hooks.example/x", webhookSecret: "s")
    }

    public static let cases: [ConformanceCase<Store>] = [
        .init("rules are stored per model, replaced without losing their status, listed and deleted") { store in
            try await store.createModel(Fixtures.model("a"))
            try await store.createModel(Fixtures.model("b"))
            try await store.putRule(rule("b", "x"))
            try await store.putRule(rule("a", "y"))
            try await store.putRule(rule("a", "x"))
            try expect(try await store.rules(model: "a").map(\.name) == ["x", "y"], "by name")
            try expect(try await store.rules(model: nil).map { "\($0.model)/\($0.name)" } == ["a/x", "a/y", "b/x"], "by model, name")
            try expect(try await store.status(model: "a", name: "x") == AlertStatus(), "a new rule is inactive")
            let firing = AlertStatus(state: .firing, since: Fixtures.time, value: 0.4, evaluatedAt: Fixtures.time)
            _ = try await store.record(model: "a", name: "x", status: firing, event: nil)
            try await store.putRule(rule("a", "x", threshold: 0.5))
            try expect(try await store.rules(model: "a").first == rule("a", "x", threshold: 0.5), "replaced")
            try expect(try await store.status(model: "a", name: "x") == firing, "replacing keeps the status")
            try await store.deleteRule(model: "a", name: "y")
            try expect(try await store.rules(model: "a").map(\.name) == ["x"], "deleted")
            try await expectError(.notFound) { try await store.deleteRule(model: "a", name: "y") }
            try await expectError(.notFound) { try await store.putRule(rule("nope", "x")) }
            try await expectError(.notFound) { _ = try await store.status(model: "a", name: "y") }
        },
        .init("state changes are numbered and read back by model and rule, newest limit oldest first") { store in
            try await store.createModel(Fixtures.model("a"))
            try await store.putRule(rule("a", "x"))
            try await store.putRule(rule("a", "y"))
            var sequences: [Int64] = []
            for (i, (name, to)) in [("x", AlertStatus.State.pending), ("y", .firing), ("x", .firing), ("x", .resolved)].enumerated() {
                let event = AlertEvent(rule: name, model: "a", from: .inactive, to: to, value: Double(i), threshold: 0.25, at: Fixtures.time)
                let stored = try await store.record(model: "a", name: name, status: AlertStatus(state: to), event: event)
                sequences.append(stored?.sequence ?? -1)
            }
            try expect(sequences == sequences.sorted() && Set(sequences).count == 4 && sequences[0] > 0, "numbered: \(sequences)")
            let x = try await store.events(model: "a", rule: "x", limit: 2)
            try expect(x.map(\.to) == [.firing, .resolved] && x.last?.value == 3, "newest two of x, oldest first: \(x)")
            try expect(try await store.events(model: nil, rule: nil, limit: 100).count == 4, "all")
            try expect(try await store.status(model: "a", name: "x").state == .resolved, "status saved with the event")
            try expect(try await store.record(model: "a", name: "y", status: AlertStatus(state: .firing), event: nil) == nil, "no event, no number")
            try await expectError(.notFound) { _ = try await store.record(model: "a", name: "zz", status: AlertStatus(), event: nil) }
        },
        .init("notifications wait in the outbox, oldest first, until marked done") { store in
            try await store.createModel(Fixtures.model("a"))
            try await store.putRule(rule("a", "x"))
            func record(_ to: AlertStatus.State, notify: Bool) async throws -> Int64 {
                let event = AlertEvent(rule: "x", model: "a", from: .inactive, to: to, value: 1, threshold: 0.25, at: Fixtures.time)
                return try await store.record(model: "a", name: "x", status: AlertStatus(state: to), event: event, notify: notify)?.sequence ?? -1
            }
            let firing = try await record(.firing, notify: true)
            _ = try await record(.pending, notify: false)
            let resolved = try await record(.resolved, notify: true)
            try expect(try await store.pendingNotifications(limit: 10).map(\.sequence) == [firing, resolved], "pending, oldest first")
            try expect(try await store.pendingNotifications(limit: 1).map(\.sequence) == [firing], "at most the limit")
            try await store.markNotified(sequence: firing, at: Fixtures.time)
            try await store.markNotified(sequence: firing, at: Fixtures.time.addingTimeInterval(5))
            let pending = try await store.pendingNotifications(limit: 10)
            try expect(pending.map(\.sequence) == [resolved] && pending.first?.to == .resolved, "done ones leave the outbox: \(pending)")
        },
    ]
}
