import FerryCore
import Foundation
import GRDB

extension SQLiteMetadataStore: KeyStore, AuditStore {
    // MARK: API keys

    public func createKey(_ key: APIKey, audit: AuditBuilder<APIKey>?) async throws {
        let models = try key.models.map { try Self.json($0) }
        try await writer.write { db in
            let taken = try Bool.fetchOne(
                db, sql: "SELECT EXISTS (SELECT 1 FROM api_key WHERE id = ? OR secret_sha256 = ?)",
                arguments: [key.id, key.secretSHA256]) ?? false
            if taken { throw FerryError(.alreadyExists, "API key '\(key.id)' (or its secret) exists already") }
            try db.execute(
                sql: """
                    INSERT INTO api_key (id, name, role, models, rate_limit, secret_sha256, created_by, created_at, expires_at, revoked_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    key.id, key.name, key.role.rawValue, models, key.rateLimit, key.secretSHA256, key.createdBy,
                    Self.millis(key.createdAt), key.expiresAt.map(Self.millis), key.revokedAt.map(Self.millis),
                ])
            try Self.audit(db, audit, key)
        }
    }

    public func keys() async throws -> [APIKey] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM api_key ORDER BY created_at, id").map(Self.key)
        }
    }

    public func revokeKey(id: String, at: Date, audit: AuditBuilder<APIKey>?) async throws -> APIKey {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE api_key SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?", arguments: [Self.millis(at), id])
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM api_key WHERE id = ?", arguments: [id]) else {
                throw FerryError.notFound("no API key with id '\(id)'")
            }
            let key = try Self.key(row)
            try Self.audit(db, audit, key)
            return key
        }
    }

    private static func key(_ row: Row) throws -> APIKey {
        let models: String? = row["models"]
        return APIKey(
            id: row["id"], name: row["name"], role: try Role.parse(row["role"]), models: try models.map { try decode($0) },
            rateLimit: row["rate_limit"], secretSHA256: row["secret_sha256"], createdBy: row["created_by"],
            createdAt: date(row["created_at"]), expiresAt: (row["expires_at"] as Int64?).map(date),
            revokedAt: (row["revoked_at"] as Int64?).map(date))
    }

    // MARK: Audit trail

    public func appendAudit(_ draft: AuditDraft) async throws -> AuditEntry {
        try await writer.write { db in try Self.append(db, draft) }
    }

    /// Appends the entry `builder` makes of a change's result, inside the change's transaction.
    static func audit<Result>(_ db: Database, _ builder: AuditBuilder<Result>?, _ result: Result) throws {
        if let builder { _ = try append(db, try builder(result)) }
    }

    /// Chains `draft` after the last entry; runs inside the caller's write transaction.
    static func append(_ db: Database, _ draft: AuditDraft) throws -> AuditEntry {
        let last = try Row.fetchOne(db, sql: "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        let entry = AuditEntry(
            seq: (last?["seq"] as Int64? ?? 0) + 1, draft: draft, previousHash: last?["hash"] ?? AuditEntry.genesis)
        try db.execute(
            sql: """
                INSERT INTO audit_log (seq, at, actor, action, target, before, after, previous_hash, hash)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                entry.seq, Self.millis(entry.at), entry.actor, entry.action, entry.target,
                AuditEntry.canonical(entry.before), AuditEntry.canonical(entry.after), entry.previousHash, entry.hash,
            ])
        return entry
    }

    public func latestAuditSeq() async throws -> Int64 {
        try await writer.read { db in try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM audit_log") ?? 0 }
    }

    public func auditEntries(after: Int64, limit: Int) async throws -> [AuditEntry] {
        try await writer.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?", arguments: [after, max(0, limit)]
            ).map { row in
                let before: String = row["before"]
                let after: String = row["after"]
                var entry = AuditEntry(
                    seq: row["seq"], at: Self.date(row["at"]), actor: row["actor"], action: row["action"], target: row["target"],
                    before: before.isEmpty ? nil : try Self.decode(before), after: after.isEmpty ? nil : try Self.decode(after),
                    previousHash: row["previous_hash"], hash: row["hash"])
                entry.rewritten = !entry.isCanonical(before: before, after: after)
                return entry
            }
        }
    }
}
