import Foundation

// Four-eyes changes: an alias or endpoint under protection moves only when a second principal approves the request
// for it. Requests, approvals and rejections are audited; a request nobody decides expires.

/// What a protection guards: an alias of a model, or an endpoint (its variants and rollouts).
public enum ProtectedTarget: Sendable, Hashable, CustomStringConvertible {
    case alias(model: String, alias: String)
    case endpoint(String)

    /// How stores and audit entries name it: `fraud@production`, `endpoint:fraud-api`.
    public var key: String {
        switch self {
        case .alias(let model, let alias): "\(model)@\(alias)"
        case .endpoint(let name): "endpoint:\(name)"
        }
    }

    public static func parse(key: String) throws -> ProtectedTarget {
        if key.hasPrefix("endpoint:") { return .endpoint(String(key.dropFirst("endpoint:".count))) }
        let parts = key.split(separator: "@", maxSplits: 1)
        guard parts.count == 2 else { throw FerryError.invalid("target '\(key)' is neither 'model@alias' nor 'endpoint:name'") }
        return .alias(model: String(parts[0]), alias: String(parts[1]))
    }

    /// The model or endpoint name a principal's model restriction is checked against.
    public var scope: String {
        switch self {
        case .alias(let model, _): model
        case .endpoint(let name): name
        }
    }

    public var description: String {
        switch self {
        case .alias(let model, let alias): "alias '\(alias)' of model '\(model)'"
        case .endpoint(let name): "endpoint '\(name)'"
        }
    }
}

/// An alias or endpoint whose changes need a second principal's approval.
public struct Protection: Sendable, Equatable {
    public static let defaultExpiry: Double = 86_400
    /// Sources of change that may go through without a request when a protection names them: `retrain`, a
    /// retraining job whose candidate beat the champion on its gate.
    public static let preapprovableSources = ["retrain"]

    public var target: ProtectedTarget
    /// How long a request waits for a decision before it expires, in seconds.
    public var expiresAfterSeconds: Double
    public var preapproved: [String]
    public var createdBy: String
    public var createdAt: Date

    public init(target: ProtectedTarget, expiresAfterSeconds: Double = Protection.defaultExpiry, preapproved: [String] = [], createdBy: String, createdAt: Date) {
        self.target = target
        self.expiresAfterSeconds = expiresAfterSeconds
        self.preapproved = preapproved
        self.createdBy = createdBy
        self.createdAt = createdAt
    }

    public func validate() throws {
        guard expiresAfterSeconds.isFinite, expiresAfterSeconds >= 60, expiresAfterSeconds <= 30 * 86_400 else {
            throw FerryError.invalid("field 'expires_after_seconds' must be from 60 to 2592000 (30 days), got \(expiresAfterSeconds)")
        }
        for source in preapproved where !Self.preapprovableSources.contains(source) {
            throw FerryError.invalid("field 'preapproved' names '\(source)'; the sources that may be pre-approved are \(Self.preapprovableSources.joined(separator: ", "))")
        }
    }
}

/// A change to a protected target, waiting for (or past) a second principal's decision.
public struct ApprovalRequest: Sendable, Equatable {
    public enum State: String, Sendable, CaseIterable {
        /// Waiting for a decision.
        case pending
        /// Approved and carried out.
        case approved
        case rejected
        /// Nobody decided in time.
        case expired
        /// Withdrawn by the requester.
        case cancelled
        /// Approved, but the change could not be carried out (the reason says why).
        case failed

        public var isFinal: Bool { self != .pending }
    }

    /// What is asked for.
    public enum Change: Sendable, Equatable {
        /// Point the alias at `version`; `from` is where it pointed when asked (nil: nowhere).
        case setAlias(version: Int, from: Int?)
        case removeAlias(from: Int?)
        /// Start a rollout of the endpoint to `candidate` along `plan`.
        case rollout(candidate: VersionRef, plan: RolloutPlan)
        /// Create or replace the endpoint with this one.
        case putEndpoint(Endpoint)
        case deleteEndpoint

        public var summary: String {
            switch self {
            case .setAlias(let version, let from): "move the alias from \(from.map { "version \($0)" } ?? "nowhere") to version \(version)"
            case .removeAlias(let from): "remove the alias (at \(from.map { "version \($0)" } ?? "nowhere"))"
            case .rollout(let candidate, let plan):
                "roll out \(candidate) (steps \(plan.steps.map { Rollout.format($0) }.joined(separator: "→"))%, bake \(Rollout.format(plan.bakeSeconds)) s)"
            case .putEndpoint(let endpoint): "set the endpoint's variants to \(endpoint.variants.map { "\($0.ref) ×\(Rollout.format($0.weight))" }.joined(separator: ", "))"
            case .deleteEndpoint: "delete the endpoint"
            }
        }
    }

    public var id: String
    public var target: ProtectedTarget
    public var change: Change
    public var reason: String
    /// Who asked: the principal's id (to tell the approver apart) and the name recorded as the actor.
    public var requesterID: String
    public var requestedBy: String
    public var requestedAt: Date
    public var expiresAt: Date
    public var state: State
    public var deciderID: String?
    public var decidedBy: String?
    public var decidedAt: Date?
    /// The decider's comment.
    public var comment: String
    /// What carrying out the change did, or why it could not.
    public var outcome: String

    public init(
        id: String, target: ProtectedTarget, change: Change, reason: String, requesterID: String, requestedBy: String, requestedAt: Date,
        expiresAt: Date, state: State = .pending, deciderID: String? = nil, decidedBy: String? = nil, decidedAt: Date? = nil,
        comment: String = "", outcome: String = ""
    ) {
        self.id = id
        self.target = target
        self.change = change
        self.reason = reason
        self.requesterID = requesterID
        self.requestedBy = requestedBy
        self.requestedAt = requestedAt
        self.expiresAt = expiresAt
        self.state = state
        self.deciderID = deciderID
        self.decidedBy = decidedBy
        self.decidedAt = decidedAt
        self.comment = comment
        self.outcome = outcome
    }

    /// The state at `now`: a pending request past its expiry is expired, whether or not that was stored yet.
    public func state(at now: Date) -> State {
        state == .pending && now >= expiresAt ? .expired : state
    }
}

/// Protections and approval requests. Every implementation must pass `ApprovalStoreConformance` in `FerryTesting`.
public protocol ApprovalStore: Sendable {
    /// Creates or replaces the protection of its target.
    func putProtection(_ protection: Protection, audit: AuditBuilder<Protection>?) async throws
    /// `.notFound` when the target is not protected.
    func deleteProtection(target: ProtectedTarget, audit: AuditBuilder<Protection>?) async throws
    func protections() async throws -> [Protection]
    func protection(target: ProtectedTarget) async throws -> Protection?
    /// Stores a new pending request; `.failedPrecondition` naming the other request when one for the same target is still
    /// pending at `request.requestedAt` (across replicas).
    func createApprovalRequest(_ request: ApprovalRequest, audit: AuditBuilder<ApprovalRequest>?) async throws
    func approvalRequest(id: String) async throws -> ApprovalRequest?
    /// Requests newest first, optionally only those stored in `states` or for `target`.
    func approvalRequests(states: [ApprovalRequest.State]?, target: ProtectedTarget?, limit: Int) async throws -> [ApprovalRequest]
    /// Replaces a request if its stored state is still `expected`; false when it is not (another replica decided
    /// first); `.notFound` for an unknown id.
    @discardableResult
    func updateApprovalRequest(_ request: ApprovalRequest, expected: ApprovalRequest.State, audit: AuditBuilder<ApprovalRequest>?) async throws -> Bool
}
