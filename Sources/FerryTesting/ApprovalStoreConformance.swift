import FerryCore
import Foundation

/// The behaviour every store of protections and approval requests must show.
public enum ApprovalStoreConformance {
    public typealias Store = any ApprovalStore & AuditStore

    static func request(_ id: String, _ target: ProtectedTarget = .alias(model: "fraud", alias: "production"), at offset: Double = 0) -> ApprovalRequest {
        let time = Fixtures.time.addingTimeInterval(offset)
        return ApprovalRequest(
            id: id, target: target, change: .setAlias(version: 3, from: 2), reason: "better recall", requesterID: "key:fry_ann",
            requestedBy: "ann (key:fry_ann)", requestedAt: time, expiresAt: time.addingTimeInterval(3600))
    }

    public static let cases: [ConformanceCase<Store>] = [
        .init("protections round-trip, are replaced by target, listed by target and deleted with an audit entry") { store in
            let alias = Protection(target: .alias(model: "fraud", alias: "production"), expiresAfterSeconds: 7200, preapproved: ["retrain"], createdBy: "root", createdAt: Fixtures.time)
            let endpoint = Protection(target: .endpoint("fraud-api"), createdBy: "root", createdAt: Fixtures.time)
            try await store.putProtection(alias) { p in AuditDraft(at: Fixtures.time, actor: "root", action: "protection.set", target: p.target.key) }
            try await store.putProtection(endpoint, audit: nil)
            var longer = alias
            longer.expiresAfterSeconds = 86_400
            try await store.putProtection(longer, audit: nil)
            try expect(try await store.protection(target: alias.target) == longer, "replaced, every field round-trips")
            try expect(try await store.protections().map(\.target) == [.endpoint("fraud-api"), .alias(model: "fraud", alias: "production")], "ordered by key")
            try expect(try await store.protection(target: .alias(model: "fraud", alias: "staging")) == nil, "unprotected is nil")
            try await store.deleteProtection(target: endpoint.target) { p in AuditDraft(at: Fixtures.time, actor: "root", action: "protection.delete", target: p.target.key) }
            try await expectError(.notFound) { try await store.deleteProtection(target: endpoint.target, audit: nil) }
            try expect(try await store.protections().count == 1, "deleted")
            let actions = try await store.auditEntries(after: 0, limit: 10).map(\.action)
            try expect(actions == ["protection.set", "protection.delete"], "audited: \(actions)")
        },
        .init("requests round-trip with every kind of change, list newest first by state and target, and one per target is pending") { store in
            try await store.createApprovalRequest(request("a1")) { r in AuditDraft(at: r.requestedAt, actor: r.requestedBy, action: "approval.request", target: r.target.key) }
            try await expectError(.failedPrecondition) { try await store.createApprovalRequest(request("a2", at: 10), audit: nil) }
            var rollout = request("a3", .endpoint("fraud-api"), at: 20)
            rollout.change = .rollout(candidate: VersionRef(model: "fraud", version: 4), plan: RolloutPlan(steps: [10, 100], bakeSeconds: 60))
            try await store.createApprovalRequest(rollout, audit: nil)
            try expect(try await store.approvalRequest(id: "a3") == rollout, "a rollout request round-trips")
            var decided = request("a1")
            (decided.state, decided.deciderID, decided.decidedBy, decided.decidedAt) = (.approved, "key:fry_bob", "bob", Fixtures.time.addingTimeInterval(30))
            (decided.comment, decided.outcome) = ("ok", "alias 'production' now points at version 3")
            try expect(try await store.updateApprovalRequest(decided, expected: .pending, audit: nil), "decided")
            try expect(try await store.approvalRequest(id: "a1") == decided, "every field round-trips")
            try expect(try await store.updateApprovalRequest(decided, expected: .pending, audit: nil) == false, "decided once only")
            // The alias is free again: a new request may wait.
            var put = request("a4", at: 40)
            put.change = .putEndpoint(Endpoint(name: "fraud-api", variants: [.init(model: "fraud", version: 3, weight: 1)], createdBy: "ann", updatedAt: Fixtures.time))
            try await store.createApprovalRequest(put, audit: nil)
            try expect(try await store.approvalRequest(id: "a4") == put, "an endpoint request round-trips")
            var removal = request("a5", .alias(model: "fraud", alias: "staging"), at: 50)
            removal.change = .removeAlias(from: nil)
            try await store.createApprovalRequest(removal, audit: nil)
            try expect(try await store.approvalRequest(id: "a5") == removal, "a removal round-trips")
            try expect(try await store.approvalRequests(states: nil, target: nil, limit: 10).map(\.id) == ["a5", "a4", "a3", "a1"], "newest first")
            try expect(try await store.approvalRequests(states: [.pending], target: nil, limit: 10).map(\.id) == ["a5", "a4", "a3"], "by state")
            try expect(try await store.approvalRequests(states: nil, target: .alias(model: "fraud", alias: "production"), limit: 10).map(\.id) == ["a4", "a1"], "by target")
            try expect(try await store.approvalRequests(states: nil, target: nil, limit: 1).map(\.id) == ["a5"], "limited")
            try expect(try await store.approvalRequest(id: "nope") == nil, "unknown is nil")
            try await expectError(.notFound) { try await store.updateApprovalRequest(request("nope"), expected: .pending, audit: nil) }
            let actions = try await store.auditEntries(after: 0, limit: 10).map(\.action)
            try expect(actions == ["approval.request"], "audited: \(actions)")
        },
        .init("a pending request past its expiry does not hold its target") { store in
            try await store.createApprovalRequest(request("a1"), audit: nil)
            try await store.createApprovalRequest(request("a2", at: 3600), audit: nil)
            try expect(try await store.approvalRequest(id: "a1")?.state(at: Fixtures.time.addingTimeInterval(3600)) == .expired, "reads as expired")
        },
    ]
}
