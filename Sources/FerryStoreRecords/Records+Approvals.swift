import FerryCore
import Foundation

// Protections and approval requests (protection.spec, approval_request.spec)

/// `protection.spec`: a `Protection`.
package struct ProtectionRecord: Codable, Sendable, Equatable {
    static let currentSchemaVersion = 1

    var schemaVersion: Int
    /// `ProtectedTarget.key`: `model@alias` or `endpoint:name`.
    var target: String
    var expiresAfterSeconds: Double
    var preapproved: [String]
    var createdBy: String
    var createdAt: Double

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version", expiresAfterSeconds = "expires_after_seconds", createdBy = "created_by", createdAt = "created_at"
        case target, preapproved
    }

    package init(_ p: Protection) {
        schemaVersion = Self.currentSchemaVersion
        target = p.target.key
        expiresAfterSeconds = p.expiresAfterSeconds
        preapproved = p.preapproved
        createdBy = p.createdBy
        createdAt = Records.seconds(p.createdAt)
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schemaVersion = try Records.schemaVersion(in: c, forKey: .schemaVersion, record: "ProtectionRecord", current: Self.currentSchemaVersion)
        target = try c.decode(String.self, forKey: .target)
        expiresAfterSeconds = try c.decode(Double.self, forKey: .expiresAfterSeconds)
        preapproved = try c.decode([String].self, forKey: .preapproved)
        createdBy = try c.decode(String.self, forKey: .createdBy)
        createdAt = try c.decode(Double.self, forKey: .createdAt)
    }

    package func domain() throws -> Protection {
        Protection(
            target: try ProtectedTarget.parse(key: target), expiresAfterSeconds: expiresAfterSeconds, preapproved: preapproved,
            createdBy: createdBy, createdAt: Records.date(createdAt))
    }
}

/// `approval_request.spec`: an `ApprovalRequest` with its change.
package struct ApprovalRequestRecord: Codable, Sendable, Equatable {
    static let currentSchemaVersion = 1

    /// One `ApprovalRequest.Change`: `kind` says which, the other fields are the ones that kind uses.
    struct Change: Codable, Sendable, Equatable {
        /// `set_alias`, `remove_alias`, `rollout`, `put_endpoint`, `delete_endpoint`.
        var kind: String
        var version: Int?
        var from: Int?
        var candidate: VersionRefRecord?
        var plan: RolloutPlanRecord?
        var endpoint: EndpointRecord?
    }

    var schemaVersion: Int
    var id: String
    var target: String
    var change: Change
    var reason: String
    var requesterID: String
    var requestedBy: String
    var requestedAt: Double
    var expiresAt: Double
    var state: String
    var deciderID: String?
    var decidedBy: String?
    var decidedAt: Double?
    var comment: String
    var outcome: String

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version", requesterID = "requester_id", requestedBy = "requested_by", requestedAt = "requested_at"
        case expiresAt = "expires_at", deciderID = "decider_id", decidedBy = "decided_by", decidedAt = "decided_at"
        case id, target, change, reason, state, comment, outcome
    }

    package init(_ r: ApprovalRequest) {
        schemaVersion = Self.currentSchemaVersion
        id = r.id
        target = r.target.key
        change = switch r.change {
        case .setAlias(let version, let from): Change(kind: "set_alias", version: version, from: from)
        case .removeAlias(let from): Change(kind: "remove_alias", from: from)
        case .rollout(let candidate, let plan): Change(kind: "rollout", candidate: VersionRefRecord(candidate), plan: RolloutPlanRecord(plan))
        case .putEndpoint(let endpoint): Change(kind: "put_endpoint", endpoint: EndpointRecord(endpoint))
        case .deleteEndpoint: Change(kind: "delete_endpoint")
        }
        reason = r.reason
        requesterID = r.requesterID
        requestedBy = r.requestedBy
        requestedAt = Records.seconds(r.requestedAt)
        expiresAt = Records.seconds(r.expiresAt)
        state = r.state.rawValue
        deciderID = r.deciderID
        decidedBy = r.decidedBy
        decidedAt = r.decidedAt.map(Records.seconds)
        comment = r.comment
        outcome = r.outcome
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schemaVersion = try Records.schemaVersion(in: c, forKey: .schemaVersion, record: "ApprovalRequestRecord", current: Self.currentSchemaVersion)
        id = try c.decode(String.self, forKey: .id)
        target = try c.decode(String.self, forKey: .target)
        change = try c.decode(Change.self, forKey: .change)
        reason = try c.decode(String.self, forKey: .reason)
        requesterID = try c.decode(String.self, forKey: .requesterID)
        requestedBy = try c.decode(String.self, forKey: .requestedBy)
        requestedAt = try c.decode(Double.self, forKey: .requestedAt)
        expiresAt = try c.decode(Double.self, forKey: .expiresAt)
        state = try c.decode(String.self, forKey: .state)
        deciderID = try c.decodeIfPresent(String.self, forKey: .deciderID)
        decidedBy = try c.decodeIfPresent(String.self, forKey: .decidedBy)
        decidedAt = try c.decodeIfPresent(Double.self, forKey: .decidedAt)
        comment = try c.decode(String.self, forKey: .comment)
        outcome = try c.decode(String.self, forKey: .outcome)
    }

    package func domain() throws -> ApprovalRequest {
        func missing(_ field: String) -> FerryError {
            FerryError(.internal, "a stored ApprovalRequestRecord '\(id)' of kind '\(change.kind)' has no \(field)")
        }
        let domainChange: ApprovalRequest.Change
        switch change.kind {
        case "set_alias":
            guard let version = change.version else { throw missing("version") }
            domainChange = .setAlias(version: version, from: change.from)
        case "remove_alias": domainChange = .removeAlias(from: change.from)
        case "rollout":
            guard let candidate = change.candidate else { throw missing("candidate") }
            guard let plan = change.plan else { throw missing("plan") }
            domainChange = .rollout(candidate: candidate.domain(), plan: plan.domain())
        case "put_endpoint":
            guard let endpoint = change.endpoint else { throw missing("endpoint") }
            domainChange = .putEndpoint(try endpoint.domain())
        case "delete_endpoint": domainChange = .deleteEndpoint
        case let other: throw FerryError(.internal, "a stored ApprovalRequestRecord '\(id)' has an unknown change kind '\(other)' (written by a newer Ferry, or damaged)")
        }
        return ApprovalRequest(
            id: id, target: try ProtectedTarget.parse(key: target), change: domainChange, reason: reason, requesterID: requesterID,
            requestedBy: requestedBy, requestedAt: Records.date(requestedAt), expiresAt: Records.date(expiresAt),
            state: try Records.parse(state, as: ApprovalRequest.State.self, field: "state", in: "ApprovalRequestRecord"),
            deciderID: deciderID, decidedBy: decidedBy, decidedAt: decidedAt.map(Records.date), comment: comment, outcome: outcome)
    }
}

/// What both stores say when a target already has a pending request.
package enum ApprovalRecords {
    package static func alreadyPending(_ other: ApprovalRequest) -> FerryError {
        FerryError(
            .failedPrecondition,
            "\(other.target) already has a pending approval request \(other.id) (\(other.change.summary), by \(other.requestedBy)); approve, reject or cancel it first")
    }
}
