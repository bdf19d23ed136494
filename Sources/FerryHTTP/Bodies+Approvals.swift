import FerryCore
import FerryEngine
import Foundation

// Protections and approval requests as shown, and the bodies that set and decide them.
extension API {
    /// A protected target: `{"kind": "alias", "model", "alias"}` or `{"kind": "endpoint", "endpoint"}`.
    struct TargetBody: Encodable, Sendable {
        var kind: String
        var model: String?
        var alias: String?
        var endpoint: String?
        /// `model@alias` or `endpoint:name`.
        var key: String

        init(_ t: ProtectedTarget) {
            key = t.key
            switch t {
            case .alias(let model, let alias): (kind, self.model, self.alias) = ("alias", model, alias)
            case .endpoint(let name): (kind, endpoint) = ("endpoint", name)
            }
        }
    }

    struct ProtectionBody: Encodable, Sendable {
        var target: TargetBody
        var expiresAfterSeconds: Double
        var preapproved: [String]
        var createdBy: String
        var createdAt: Date

        enum CodingKeys: String, CodingKey {
            case target, preapproved, expiresAfterSeconds = "expires_after_seconds", createdBy = "created_by", createdAt = "created_at"
        }

        init(_ p: Protection) {
            target = TargetBody(p.target)
            expiresAfterSeconds = p.expiresAfterSeconds
            preapproved = p.preapproved
            createdBy = p.createdBy
            createdAt = p.createdAt
        }
    }

    /// `PUT .../protection`: how long requests wait, and which sources go through without one.
    struct ProtectionRequest: Decodable, Sendable {
        var expiresAfterSeconds: Double?
        var preapproved: [String]?
        enum CodingKeys: String, CodingKey { case preapproved, expiresAfterSeconds = "expires_after_seconds" }
    }

    struct ApprovalBody: Encodable, Sendable {
        struct Change: Encodable, Sendable {
            /// `set_alias`, `remove_alias`, `rollout`, `put_endpoint`, `delete_endpoint`.
            var kind: String
            var summary: String
            var version: Int?
            var from: Int?
            var candidate: VersionRef?
            var plan: RolloutPlan?
            var variants: [Endpoint.Variant]?
        }

        var id: String
        var target: TargetBody
        var change: Change
        var reason: String
        var requestedBy: String
        var requestedAt: Date
        var expiresAt: Date
        var state: String
        var decidedBy: String?
        var decidedAt: Date?
        var comment: String
        var outcome: String

        enum CodingKeys: String, CodingKey {
            case id, target, change, reason, state, comment, outcome
            case requestedBy = "requested_by", requestedAt = "requested_at", expiresAt = "expires_at", decidedBy = "decided_by", decidedAt = "decided_at"
        }

        init(_ r: ApprovalRequest) {
            id = r.id
            target = TargetBody(r.target)
            let summary = r.change.summary
            change = switch r.change {
            case .setAlias(let version, let from): Change(kind: "set_alias", summary: summary, version: version, from: from)
            case .removeAlias(let from): Change(kind: "remove_alias", summary: summary, from: from)
            case .rollout(let candidate, let plan): Change(kind: "rollout", summary: summary, candidate: candidate, plan: plan)
            case .putEndpoint(let endpoint): Change(kind: "put_endpoint", summary: summary, variants: endpoint.variants)
            case .deleteEndpoint: Change(kind: "delete_endpoint", summary: summary)
            }
            reason = r.reason
            requestedBy = r.requestedBy
            requestedAt = r.requestedAt
            expiresAt = r.expiresAt
            state = r.state.rawValue
            decidedBy = r.decidedBy
            decidedAt = r.decidedAt
            comment = r.comment
            outcome = r.outcome
        }
    }

    /// What a change to a protected target answers (HTTP 202): the request that waits for approval.
    struct PendingApprovalBody: Encodable, Sendable {
        var approval: ApprovalBody
        var message: String

        init(_ r: ApprovalRequest) {
            approval = ApprovalBody(r)
            message = "\(r.target) is protected: approval request \(r.id) (\(r.change.summary)) waits for a second principal with the deployer role or above, until \(r.expiresAt.formatted(.iso8601))"
        }
    }

    /// `POST /api/v1/approvals/{id}/approve|reject`.
    struct DecisionRequest: Decodable, Sendable {
        var comment: String?
    }
}
