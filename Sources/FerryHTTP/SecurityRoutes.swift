import FerryCore
import FerryEngine
import Foundation
import HTTPTypes
import Hummingbird

/// API keys, the caller's identity and the audit trail under `/api/v1`.
struct SecurityRoutes {
    typealias Context = FerryRequestContext
    let authenticator: Authenticator?
    let audit: AuditTrail?

    func add(to router: Router<Context>) {
        let api = router.group("/api/v1")
        api.get("/whoami") { _, context in
            try API.response(API.PrincipalBody(context.principal ?? .anonymous))
        }
        api.get("/keys") { _, _ in
            try API.response(API.List(items: try await requireKeys().keys().map(API.KeyBody.init)))
        }
        api.post("/keys") { request, context in
            let body = try API.decode(API.CreateKeyRequest.self, from: Data(buffer: try await request.body.collect(upTo: 1 << 20)))
            let created = try await requireKeys().createKey(
                name: body.name, role: try Role.parse(body.role), models: body.models, rateLimit: body.rateLimit,
                expiresAt: body.expiresAt, by: context.actor)
            return try API.response(API.CreatedKey(key: API.KeyBody(created.key), secret: created.secret), status: .created)
        }
        api.delete("/keys/{id}") { _, context in
            try API.response(API.KeyBody(try await requireKeys().revokeKey(id: try context.parameters.require("id"), by: context.actor)))
        }
        api.get("/audit") { request, _ in
            let q = request.uri.queryParameters
            let after = try q["after"].map { text -> Int64 in
                guard let n = Int64(text), n >= 0 else { throw FerryError.invalid("query 'after' must be a sequence number (0 or more)") }
                return n
            } ?? 0
            let limit = try q["limit"].map { text -> Int in
                guard let n = Int(text), (1...10_000).contains(n) else { throw FerryError.invalid("query 'limit' must be a number from 1 to 10000") }
                return n
            } ?? 1000
            return try API.response(API.List(items: try await requireAudit().entries(after: after, limit: limit).map(API.AuditEntryBody.init)))
        }
        api.get("/audit/verify") { _, _ in
            let check = AuditVerification.check(try await requireAudit().all())
            return try API.response(API.VerificationBody(check))
        }
    }

    private func requireKeys() throws -> Authenticator {
        guard let authenticator else {
            throw FerryError(.failedPrecondition, "authentication is off on this server (--auth none), so it has no API keys")
        }
        return authenticator
    }

    private func requireAudit() throws -> AuditTrail {
        guard let audit else { throw FerryError(.failedPrecondition, "this server keeps no audit trail") }
        return audit
    }
}

extension API {
    struct PrincipalBody: Encodable {
        var id, name, role: String
        var models: [String]?
        var rateLimit: Double?
        init(_ p: Principal) {
            (id, name, role, models, rateLimit) = (p.id, p.name, p.role.rawValue, p.models, p.rateLimit)
        }
        enum CodingKeys: String, CodingKey { case id, name, role, models, rateLimit = "rate_limit" }
    }

    struct KeyBody: Encodable, Sendable {
        var id, name, role, createdBy: String
        var models: [String]?
        var rateLimit: Double?
        var createdAt: Date
        var expiresAt, revokedAt: Date?
        init(_ k: APIKey) {
            (id, name, role, createdBy, models, rateLimit) = (k.id, k.name, k.role.rawValue, k.createdBy, k.models, k.rateLimit)
            (createdAt, expiresAt, revokedAt) = (k.createdAt, k.expiresAt, k.revokedAt)
        }
        enum CodingKeys: String, CodingKey {
            case id, name, role, models, rateLimit = "rate_limit", createdBy = "created_by", createdAt = "created_at"
            case expiresAt = "expires_at", revokedAt = "revoked_at"
        }
    }

    struct CreateKeyRequest: Decodable {
        var name: String
        var role: String
        var models: [String]?
        var rateLimit: Double?
        var expiresAt: Date?
        enum CodingKeys: String, CodingKey { case name, role, models, rateLimit = "rate_limit", expiresAt = "expires_at" }
    }

    struct CreatedKey: Encodable {
        var key: KeyBody
        var secret: String
    }

    /// An audit entry on the wire; `at` keeps milliseconds so clients can recompute the hash chain.
    struct AuditEntryBody: Codable, Sendable {
        var seq: Int64
        var at: String
        var actor, action, target: String
        var before, after: JSONValue?
        var previousHash, hash: String
        init(_ e: AuditEntry) {
            (seq, actor, action, target, before, after, previousHash, hash) =
                (e.seq, e.actor, e.action, e.target, e.before, e.after, e.previousHash, e.hash)
            at = API.millisecondTime.string(from: e.at)
        }
        enum CodingKeys: String, CodingKey {
            case seq, at, actor, action, target, before, after, previousHash = "previous_hash", hash
        }
    }

    struct VerificationBody: Encodable {
        var intact: Bool
        var entries: Int
        var head: String
        var problems: [String]
        init(_ v: AuditVerification) { (intact, entries, head, problems) = (v.intact, v.entries, v.head, v.problems) }
    }

    /// ISO 8601 with milliseconds (a new formatter each time: they are not documented as thread-safe).
    static var millisecondTime: ISO8601DateFormatter {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }
}
