import FerryCore
import Foundation
import Logging

/// Four-eyes changes to protected aliases and endpoints.
///
/// A change to a protected target becomes a pending `ApprovalRequest`; a second principal (deploy permission, not
/// the requester) approves it, and the change is carried out then, in the requester's name with the approver in its
/// reason. `Registry` and `Endpoints` refuse a protected change that does not come through here, so no route or
/// caller can go around it. A protection may pre-approve a source of change (`retrain`).
public final class Approvals: Sendable {
    /// What a change to a target may do now.
    public enum Clearance: Sendable, Equatable {
        /// Not protected: go ahead.
        case unprotected
        /// Protected, but its protection pre-approves this source: go ahead as approved.
        case preapproved
        /// Protected: this request waits for a second principal.
        case pending(ApprovalRequest)

        /// Whether the change goes ahead as an approved one.
        public var approved: Bool { self == .preapproved }
    }

    let store: any ApprovalStore
    private let registry: Registry
    private let endpoints: Endpoints
    private let now: @Sendable () -> Date
    private let logger: Logger

    public init(store: any ApprovalStore, registry: Registry, endpoints: Endpoints, logger: Logger, now: @escaping @Sendable () -> Date = { Date() }) {
        self.store = store
        self.registry = registry
        self.endpoints = endpoints
        self.logger = logger
        self.now = { now().roundedToMilliseconds }
    }

    /// Throws unless `target` is unprotected or the change was `approved`; what `Registry` and `Endpoints` call
    /// before a change.
    static func refuseIfProtected(_ store: (any ApprovalStore)?, _ target: ProtectedTarget, approved: Bool) async throws {
        guard !approved, let store, try await store.protection(target: target) != nil else { return }
        throw FerryError(
            .failedPrecondition,
            "\(target) is protected: changing it needs a second principal's approval; ask for it through the API or CLI (e.g. `ferry alias set`, `ferry endpoints rollout`), which file an approval request")
    }

    // MARK: Protections

    public func protect(_ target: ProtectedTarget, expiresAfterSeconds: Double?, preapproved: [String], by actor: String) async throws -> Protection {
        switch target {
        case .alias(let model, let alias):
            _ = try await registry.model(named: model)
            try Model.validate(name: alias, field: "alias")
        case .endpoint(let name):
            try Model.validate(name: name, field: "endpoint name")
        }
        let time = now()
        let protection = Protection(
            target: target, expiresAfterSeconds: expiresAfterSeconds ?? Protection.defaultExpiry, preapproved: preapproved, createdBy: actor, createdAt: time)
        try protection.validate()
        let before = try await store.protection(target: target)
        try await store.putProtection(protection) { p in
            AuditDraft(
                at: time, actor: actor, action: "protection.set", target: p.target.key,
                before: before.map(Self.describe), after: Self.describe(p))
        }
        logger.info("protection set", metadata: ["target": "\(target.key)", "by": "\(actor)"])
        return protection
    }

    public func unprotect(_ target: ProtectedTarget, by actor: String) async throws {
        let time = now()
        try await store.deleteProtection(target: target) { p in
            AuditDraft(at: time, actor: actor, action: "protection.delete", target: p.target.key, before: Self.describe(p))
        }
    }

    public func protections() async throws -> [Protection] { try await store.protections() }

    static func describe(_ p: Protection) -> JSONValue {
        ["expires_after_seconds": .number(p.expiresAfterSeconds), "preapproved": .array(p.preapproved.map { .string($0) })]
    }

    // MARK: Asking

    /// Whether moving (or, with `version` nil, removing) an alias may go ahead; files a request when it is protected.
    public func clearAlias(
        model: String, alias: String, version: Int?, by principal: Principal, reason: String, source: String? = nil
    ) async throws -> Clearance {
        let target = ProtectedTarget.alias(model: model, alias: alias)
        guard let protection = try await store.protection(target: target) else { return .unprotected }
        if let source, protection.preapproved.contains(source) { return .preapproved }
        let current = try await registry.aliases(model: model).first { $0.name == alias }?.version
        let change: ApprovalRequest.Change
        if let version {
            let target = try await registry.version(model: model, number: version)
            guard !target.archived else {
                throw FerryError(.failedPrecondition, "version \(version) of model '\(model)' is archived and cannot take the alias '\(alias)'")
            }
            guard current != version else { throw FerryError(.failedPrecondition, "alias '\(alias)' of model '\(model)' already points at version \(version)") }
            change = .setAlias(version: version, from: current)
        } else {
            guard current != nil else { throw FerryError.notFound("model '\(model)' has no alias '\(alias)'") }
            change = .removeAlias(from: current)
        }
        return .pending(try await file(target, change, protection, principal, reason))
    }

    /// Whether a change to an endpoint (a rollout, a new definition, its deletion) may go ahead; files a request when
    /// it is protected.
    public func clearEndpoint(
        _ name: String, _ change: ApprovalRequest.Change, by principal: Principal, reason: String, source: String? = nil
    ) async throws -> Clearance {
        let target = ProtectedTarget.endpoint(name)
        guard let protection = try await store.protection(target: target) else { return .unprotected }
        if let source, protection.preapproved.contains(source) { return .preapproved }
        switch change {
        case .rollout(let candidate, let plan):
            try plan.validate()
            guard let endpoint = endpoints.endpoint(named: name) else { throw FerryError.notFound("no endpoint named '\(name)'") }
            guard candidate != endpoints.primary(of: endpoint).ref else {
                throw FerryError(.failedPrecondition, "\(candidate) already serves endpoint '\(name)'")
            }
            _ = try await registry.version(model: candidate.model, number: candidate.version)
        case .putEndpoint(let endpoint):
            try endpoint.validate()
        case .deleteEndpoint:
            guard endpoints.endpoint(named: name) != nil else { throw FerryError.notFound("no endpoint named '\(name)'") }
        case .setAlias, .removeAlias:
            throw FerryError(.internal, "an alias change was asked of endpoint '\(name)'")
        }
        return .pending(try await file(target, change, protection, principal, reason))
    }

    private func file(
        _ target: ProtectedTarget, _ change: ApprovalRequest.Change, _ protection: Protection, _ principal: Principal, _ reason: String
    ) async throws -> ApprovalRequest {
        let time = now()
        let request = ApprovalRequest(
            id: "apr_" + String(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)), target: target,
            change: change, reason: reason, requesterID: principal.id, requestedBy: principal.actor, requestedAt: time,
            expiresAt: time.addingTimeInterval(protection.expiresAfterSeconds))
        try await store.createApprovalRequest(request) { r in
            AuditDraft(at: time, actor: r.requestedBy, action: "approval.request", target: r.target.key, after: Self.describe(r))
        }
        logger.info("approval requested", metadata: ["request": "\(request.id)", "target": "\(target.key)", "by": "\(request.requestedBy)"])
        return request
    }

    static func describe(_ r: ApprovalRequest) -> JSONValue {
        var o: [String: JSONValue] = ["request": .string(r.id), "change": .string(r.change.summary), "state": .string(r.state.rawValue)]
        if !r.reason.isEmpty { o["reason"] = .string(r.reason) }
        if !r.comment.isEmpty { o["comment"] = .string(r.comment) }
        if !r.outcome.isEmpty { o["outcome"] = .string(r.outcome) }
        return .object(o)
    }

    // MARK: Reading

    /// A request in its state now (a pending one past its expiry reads as expired, as in `requests`).
    public func request(id: String) async throws -> ApprovalRequest {
        var request = try await stored(id)
        request.state = request.state(at: now())
        return request
    }

    private func stored(_ id: String) async throws -> ApprovalRequest {
        guard let request = try await store.approvalRequest(id: id) else { throw FerryError.notFound("no approval request '\(id)'") }
        return request
    }

    /// Records every pending request past its expiry as expired, audited (`approval.expire`) when it happens, not
    /// when someone next acts on it. Returns how many.
    @discardableResult
    public func expireDue() async throws -> Int {
        let time = now()
        var expired = 0
        for request in try await store.approvalRequests(states: [.pending], target: nil, limit: 1000) where request.state(at: time) == .expired {
            var request = request
            request.state = .expired
            // Expected pending: one decided meanwhile (here or on another replica) is left as it was decided.
            if try await store.updateApprovalRequest(request, expected: .pending, audit: { r in
                AuditDraft(at: time, actor: "ferry", action: "approval.expire", target: r.target.key, after: Self.describe(r))
            }) {
                expired += 1
                logger.info("approval request expired", metadata: ["request": "\(request.id)", "target": "\(request.target.key)"])
            }
        }
        return expired
    }

    /// While `when()` holds (this replica leads), records expiries every `interval`.
    public func run(interval: Duration, when: @escaping @Sendable () -> Bool) async {
        while !Task.isCancelled {
            if when() {
                do { try await expireDue() } catch { logger.error("approval expiry pass failed", metadata: ["error": "\(error)"]) }
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// Requests newest first, each in its state now (a pending one past its expiry reads as expired).
    public func requests(state: ApprovalRequest.State?, target: ProtectedTarget? = nil, limit: Int) async throws -> [ApprovalRequest] {
        let time = now()
        let stored: [ApprovalRequest.State]? = switch state {
        case nil: nil
        case .expired?: [.pending, .expired]
        case let other?: [other]
        }
        // Expired requests still stored as pending are skipped when pending ones are asked for, so ask for more.
        let found = try await store.approvalRequests(states: stored, target: target, limit: state == .pending ? limit * 4 + 16 : limit)
        return found.map { r in
            var r = r
            r.state = r.state(at: time)
            return r
        }.filter { state == nil || $0.state == state }.prefix(limit).map { $0 }
    }

    // MARK: Deciding

    /// Approves a pending request and carries its change out. The approver must not be the requester. Answers the
    /// request as it ends: `approved` with what was done, or `failed` with why it could not be (the target moved
    /// since the request, the version was archived, ...).
    public func approve(id: String, by principal: Principal, comment: String) async throws -> ApprovalRequest {
        var request = try await decide(try await decidable(id, by: principal, verb: "approve"), .approved, by: principal, comment: comment, action: "approval.approve")
        let time = request.decidedAt ?? now()
        let note = "approved by \(principal.actor) in \(request.id)"
        let reason = request.reason.isEmpty ? note : "\(request.reason) (\(note))"
        do {
            request.outcome = try await carryOut(request, reason: reason)
        } catch {
            request.state = .failed
            request.outcome = (error as? FerryError)?.message ?? "\(error)"
            try await store.updateApprovalRequest(request, expected: .approved) { r in
                AuditDraft(at: time, actor: "ferry", action: "approval.fail", target: r.target.key, after: Self.describe(r))
            }
            logger.warning("approved change failed", metadata: ["request": "\(id)", "error": "\(request.outcome)"])
            return request
        }
        try await store.updateApprovalRequest(request, expected: .approved, audit: nil)
        logger.info("approved change carried out", metadata: ["request": "\(id)", "by": "\(principal.actor)"])
        return request
    }

    public func reject(id: String, by principal: Principal, comment: String) async throws -> ApprovalRequest {
        try await decide(try await decidable(id, by: principal, verb: "reject"), .rejected, by: principal, comment: comment, action: "approval.reject")
    }

    /// The requester (or an admin) withdraws a pending request.
    public func cancel(id: String, by principal: Principal) async throws -> ApprovalRequest {
        let request = try await pending(id)
        guard Self.isRequester(principal, of: request) || principal.role == .admin else {
            throw FerryError(.permissionDenied, "only the requester (\(request.requestedBy)) or an admin may cancel approval request \(id); reject it instead")
        }
        return try await decide(request, .cancelled, by: principal, comment: "", action: "approval.cancel")
    }

    /// Records the decision on a request still pending in the store (else another principal or replica decided first).
    private func decide(
        _ pending: ApprovalRequest, _ state: ApprovalRequest.State, by principal: Principal, comment: String, action: String
    ) async throws -> ApprovalRequest {
        var request = pending
        let time = now()
        (request.state, request.deciderID, request.decidedBy, request.decidedAt, request.comment) = (state, principal.id, principal.actor, time, comment)
        guard try await store.updateApprovalRequest(request, expected: .pending, audit: { r in
            AuditDraft(at: time, actor: principal.actor, action: action, target: r.target.key, after: Self.describe(r))
        }) else {
            throw FerryError(.failedPrecondition, "approval request \(request.id) was decided meanwhile (by another principal or replica)")
        }
        return request
    }

    static func isRequester(_ principal: Principal, of request: ApprovalRequest) -> Bool {
        principal.id == request.requesterID || principal.actor == request.requestedBy
    }

    /// A pending request that has not expired; an expired one is recorded as such and refused.
    private func pending(_ id: String) async throws -> ApprovalRequest {
        var request = try await stored(id)
        let time = now()
        switch request.state(at: time) {
        case .pending:
            return request
        case .expired:
            if request.state == .pending {
                request.state = .expired
                try await store.updateApprovalRequest(request, expected: .pending) { r in
                    AuditDraft(at: time, actor: "ferry", action: "approval.expire", target: r.target.key, after: Self.describe(r))
                }
            }
            throw FerryError(.failedPrecondition, "approval request \(id) expired at \(Self.format(request.expiresAt)) without a decision; ask again")
        case let state:
            throw FerryError(.failedPrecondition, "approval request \(id) is already \(state.rawValue)\(request.decidedBy.map { " (by \($0))" } ?? "")")
        }
    }

    private func decidable(_ id: String, by principal: Principal, verb: String) async throws -> ApprovalRequest {
        let request = try await pending(id)
        guard !Self.isRequester(principal, of: request) else {
            let withdraw = verb == "reject" ? "; withdraw it with cancel" : ""
            throw FerryError(
                .permissionDenied,
                "\(request.requestedBy) asked for approval request \(id) and cannot \(verb) it: a second principal with the deployer role or above must\(withdraw)")
        }
        return request
    }

    private func carryOut(_ request: ApprovalRequest, reason: String) async throws -> String {
        switch (request.target, request.change) {
        case (.alias(let model, let alias), .setAlias(let version, let from)):
            try await requireAlias(model, alias, at: from)
            try await registry.setAlias(model: model, alias: alias, version: version, by: request.requestedBy, reason: reason, approved: true)
            return "alias '\(alias)' of model '\(model)' points at version \(version)"
        case (.alias(let model, let alias), .removeAlias(let from)):
            try await requireAlias(model, alias, at: from)
            try await registry.removeAlias(model: model, alias: alias, by: request.requestedBy, reason: reason, approved: true)
            return "alias '\(alias)' of model '\(model)' removed"
        case (.endpoint(let name), .rollout(let candidate, let plan)):
            let rollout = try await endpoints.startRollout(endpoint: name, to: candidate, plan: plan, by: request.requestedBy, approved: true)
            return "rollout of \(rollout.candidate) on endpoint '\(name)' started at \(Rollout.format(rollout.candidatePercent))%"
        case (.endpoint, .putEndpoint(let endpoint)):
            try await endpoints.put(endpoint, by: request.requestedBy, approved: true)
            return "endpoint '\(endpoint.name)' saved"
        case (.endpoint(let name), .deleteEndpoint):
            try await endpoints.delete(name: name, by: request.requestedBy, approved: true)
            return "endpoint '\(name)' deleted"
        default:
            throw FerryError(.internal, "approval request \(request.id) pairs \(request.target) with a change that does not apply to it")
        }
    }

    /// Refuses to move an alias that moved since the request was filed: the approver approved a move from `from`.
    private func requireAlias(_ model: String, _ alias: String, at from: Int?) async throws {
        let current = try await registry.aliases(model: model).first { $0.name == alias }?.version
        guard current == from else {
            throw FerryError(
                .failedPrecondition,
                "alias '\(alias)' of model '\(model)' moved from \(from.map { "version \($0)" } ?? "nowhere") to \(current.map { "version \($0)" } ?? "nowhere") since the request; ask again")
        }
    }

    static func format(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
