import FerryCore
import FerryStoreRecords
import Foundation
import Logging
import PostgresNIO

/// The registry's metadata, API keys and audit trail on PostgreSQL: the shared store of replicas.
///
/// Same rules as the SQLite store (and the same conformance suites): version numbers assigned atomically per model,
/// a version and its aliases in one transaction, every change's audit entry chained in the change's transaction.
/// Timestamps are integer milliseconds since 1970; JSON columns hold the versioned store records.
public final class PostgresMetadataStore: MetadataStore, KeyStore, AuditStore, StoreCoding {
    let database: PostgresDatabase
    private var logger: Logger { database.logger }

    /// Connects to `url` and migrates the schema (see `PostgresDatabase`).
    /// Fails with `.unavailable` when the server does not answer within `connectTimeout`.
    public init(url: String, logger: Logger, connectTimeout: Duration = .seconds(20)) async throws {
        database = try await PostgresDatabase(url: url, logger: logger, connectTimeout: connectTimeout)
    }

    /// Closes the connection pool.
    public func shutdown() { database.shutdown() }

    // MARK: Models

    public func createModel(_ model: Model, audit: AuditBuilder<Model>?) async throws {
        let tags = try Self.json(model.tags)
        let at = Self.millis(model.createdAt)
        try await database.transaction { c in
            guard try await !Self.modelExists(c, model.name, self.logger) else {
                throw FerryError(.alreadyExists, "model '\(model.name)' already exists")
            }
            try await Self.execute(
                c,
                "INSERT INTO model (name, description, tags, created_by, created_at) VALUES (\(model.name), \(model.description), \(tags), \(model.createdBy), \(at))", self.logger)
            var stored = model
            stored.createdAt = Self.date(at)
            try await Self.audit(c, audit, stored, self.logger)
        }
    }

    public func updateModel(_ model: Model, audit: AuditBuilder<Model>?) async throws {
        let tags = try Self.json(model.tags)
        try await database.transaction { c in
            let updated = try await Self.rows(c, "UPDATE model SET description = \(model.description), tags = \(tags) WHERE name = \(model.name) RETURNING name", self.logger)
            if updated.isEmpty { throw FerryError.notFound("model '\(model.name)' does not exist") }
            try await Self.audit(c, audit, model, self.logger)
        }
    }

    public func model(named name: String) async throws -> Model? {
        try await database.read { c in try await Self.rows(c, "SELECT * FROM model WHERE name = \(name)", self.logger).first.map(Self.model) }
    }

    public func models() async throws -> [Model] {
        try await database.read { c in try await Self.rows(c, "SELECT * FROM model ORDER BY name", self.logger).map(Self.model) }
    }

    public func modelSummaries(after: String?, limit: Int) async throws -> [ModelSummary] {
        let after = after ?? ""
        return try await database.read { c in
            var aliases: [String: [Alias]] = [:]
            for row in try await Self.rows(
                c, "SELECT * FROM alias WHERE model IN (SELECT name FROM model WHERE name > \(after) ORDER BY name LIMIT \(limit)) ORDER BY model, name",
                self.logger) {
                let alias = try Self.alias(row)
                aliases[alias.model, default: []].append(alias)
            }
            return try await Self.rows(c, """
                SELECT m.*, (SELECT MAX(v.version) FROM model_version v WHERE v.model = m.name) AS latest_version
                FROM model m WHERE m.name > \(after) ORDER BY m.name LIMIT \(limit)
                """, self.logger
            ).map { row in
                let model = try Self.model(row)
                return ModelSummary(model: model, latestVersion: try row["latest_version"].decode(Int?.self), aliases: aliases[model.name] ?? [])
            }
        }
    }

    // MARK: Versions

    public func addVersion(
        _ version: ModelVersion, aliases: [String], reason: String, audit: AuditBuilder<ModelVersion>?
    ) async throws -> ModelVersion {
        let columns = try VersionColumns(version)
        return try await database.transaction { c in
            // Locking the model's row serializes numbering per model.
            guard try await !Self.rows(c, "SELECT name FROM model WHERE name = \(version.model) FOR UPDATE", self.logger).isEmpty else {
                throw FerryError.notFound("model '\(version.model)' does not exist; create it first")
            }
            var next = 1
            for row in try await Self.rows(c, "SELECT COALESCE(MAX(version), 0) + 1 AS next FROM model_version WHERE model = \(version.model)", self.logger) {
                next = try row["next"].decode(Int.self)
            }
            var stored = version
            stored.version = next
            stored.createdAt = Self.date(columns.createdAt)
            try await Self.execute(
                c,
                """
                INSERT INTO model_version (model, version, format, artifact_sha256, artifact_size, input_schema, output_schema,
                    description, params, metrics, lineage, details, runtime_options, signature, created_by, created_at, archived, feature_refs)
                VALUES (\(stored.model), \(next), \(stored.format.rawValue), \(stored.artifact.sha256), \(stored.artifact.size),
                    \(columns.inputSchema), \(columns.outputSchema), \(stored.description), \(columns.params), \(columns.metrics),
                    \(columns.lineage), \(columns.details), \(columns.runtimeOptions), \(columns.signature), \(stored.createdBy),
                    \(columns.createdAt), \(stored.archived), \(columns.features))
                """, self.logger)
            for alias in aliases {
                _ = try await Self.moveAlias(
                    c, model: stored.model, alias: alias, version: next, by: stored.createdBy, at: stored.createdAt, reason: reason, self.logger)
            }
            try await Self.audit(c, audit, stored, self.logger)
            return stored
        }
    }

    public func version(model: String, number: Int) async throws -> ModelVersion? {
        try await database.read { c in
            try await Self.rows(c, "SELECT * FROM model_version WHERE model = \(model) AND version = \(number)", self.logger).first.map(Self.version)
        }
    }

    public func versions(model: String) async throws -> [ModelVersion] {
        try await database.read { c in
            try await Self.rows(c, "SELECT * FROM model_version WHERE model = \(model) ORDER BY version", self.logger).map(Self.version)
        }
    }

    public func versions(artifactSHA256: String) async throws -> [ModelVersion] {
        try await database.read { c in
            try await Self.rows(c, "SELECT * FROM model_version WHERE artifact_sha256 = \(artifactSHA256) ORDER BY model, version", self.logger)
                .map(Self.version)
        }
    }

    public func setArchived(model: String, number: Int, archived: Bool, audit: AuditBuilder<ModelVersion>?) async throws -> ModelVersion {
        try await database.transaction { c in
            // The model's row lock, as moving an alias takes it: an alias is set before this or refused after.
            _ = try await Self.rows(c, "SELECT name FROM model WHERE name = \(model) FOR UPDATE", self.logger)
            guard let row = try await Self.rows(
                c, "UPDATE model_version SET archived = \(archived) WHERE model = \(model) AND version = \(number) RETURNING *", self.logger).first
            else { throw FerryError.notFound("model '\(model)' has no version \(number)") }
            let version = try Self.version(row)
            try await Self.audit(c, audit, version, self.logger)
            return version
        }
    }

    // MARK: Aliases

    public func setAlias(
        model: String, alias: String, version: Int?, by: String, at: Date, reason: String, audit: AuditBuilder<AliasEvent>?
    ) async throws -> AliasEvent {
        try await database.transaction { c in
            guard try await !Self.rows(c, "SELECT name FROM model WHERE name = \(model) FOR UPDATE", self.logger).isEmpty else {
                throw FerryError.notFound("model '\(model)' does not exist")
            }
            let event = try await Self.moveAlias(c, model: model, alias: alias, version: version, by: by, at: at, reason: reason, self.logger)
            try await Self.audit(c, audit, event, self.logger)
            return event
        }
    }

    /// Points (or removes) an alias and appends the move to its history, inside the caller's transaction (which
    /// holds the model's row lock).
    private static func moveAlias(
        _ c: PostgresConnection, model: String, alias: String, version: Int?, by: String, at: Date, reason: String, _ logger: Logger
    ) async throws -> AliasEvent {
        let current = try await rows(c, "SELECT version FROM alias WHERE model = \(model) AND name = \(alias)", logger)
            .first.map { try $0["version"].decode(Int.self) }
        let when = millis(at)
        if let version {
            guard let found = try await rows(c, "SELECT archived FROM model_version WHERE model = \(model) AND version = \(version)", logger).first else {
                throw FerryError.notFound("model '\(model)' has no version \(version)")
            }
            // Under the model's row lock, which archiving takes too: a version archived since the caller looked is
            // refused, not given the alias.
            guard try !found["archived"].decode(Bool.self) else { throw FerryError.archivedTakesNoAlias(model: model, version: version, alias: alias) }
            try await Self.execute(
                c,
                """
                INSERT INTO alias (model, name, version, updated_by, updated_at) VALUES (\(model), \(alias), \(version), \(by), \(when))
                ON CONFLICT (model, name) DO UPDATE SET version = EXCLUDED.version, updated_by = EXCLUDED.updated_by,
                    updated_at = EXCLUDED.updated_at
                """,
                logger)
        } else {
            guard current != nil else { throw FerryError.notFound("model '\(model)' has no alias '\(alias)'") }
            try await Self.execute(c, "DELETE FROM alias WHERE model = \(model) AND name = \(alias)", logger)
        }
        let inserted = try await rows(
            c,
            """
            INSERT INTO alias_event (model, alias, from_version, to_version, actor, at, reason)
            VALUES (\(model), \(alias), \(current), \(version), \(by), \(when), \(reason)) RETURNING seq
            """,
            logger)
        let sequence = try inserted.first.map { try $0["seq"].decode(Int64.self) } ?? 0
        return AliasEvent(sequence: sequence, model: model, alias: alias, from: current, to: version, by: by, at: date(when), reason: reason)
    }

    public func aliases(model: String) async throws -> [Alias] {
        try await database.read { c in
            try await Self.rows(c, "SELECT * FROM alias WHERE model = \(model) ORDER BY name", self.logger).map(Self.alias)
        }
    }

    public func aliasHistory(model: String, alias: String?) async throws -> [AliasEvent] {
        try await database.read { c in
            let rows = if let alias {
                try await Self.rows(c, "SELECT * FROM alias_event WHERE model = \(model) AND alias = \(alias) ORDER BY seq", self.logger)
            } else {
                try await Self.rows(c, "SELECT * FROM alias_event WHERE model = \(model) ORDER BY seq", self.logger)
            }
            return try rows.map { row in
                AliasEvent(
                    sequence: try row["seq"].decode(Int64.self), model: try row["model"].decode(String.self),
                    alias: try row["alias"].decode(String.self), from: try row["from_version"].decode(Int?.self),
                    to: try row["to_version"].decode(Int?.self), by: try row["actor"].decode(String.self),
                    at: Self.date(try row["at"].decode(Int64.self)), reason: try row["reason"].decode(String.self))
            }
        }
    }

    // MARK: Reference profiles

    public func setReferenceProfile(model: String, version: Int, profile: ReferenceProfile, audit: AuditBuilder<ReferenceProfile>?) async throws {
        let text = try Records.encode(ReferenceProfileRecord(profile))
        try await database.transaction { c in
            guard try await !Self.rows(c, "SELECT 1 FROM model_version WHERE model = \(model) AND version = \(version)", self.logger).isEmpty else {
                throw FerryError.notFound("model '\(model)' has no version \(version)")
            }
            try await Self.execute(
                c,
                """
                INSERT INTO reference_profile (model, version, profile) VALUES (\(model), \(version), \(text))
                ON CONFLICT (model, version) DO UPDATE SET profile = EXCLUDED.profile
                """, self.logger)
            try await Self.audit(c, audit, profile, self.logger)
        }
    }

    public func referenceProfile(model: String, version: Int) async throws -> ReferenceProfile? {
        try await database.read { c in
            try await Self.rows(c, "SELECT profile FROM reference_profile WHERE model = \(model) AND version = \(version)", self.logger)
                .first.map { try Records.decode(ReferenceProfileRecord.self, try $0["profile"].decode(String.self)).domain() }
        }
    }

    // MARK: API keys

    public func createKey(_ key: APIKey, audit: AuditBuilder<APIKey>?) async throws {
        let models = try key.models.map { try Self.json($0) }
        try await database.transaction { c in
            guard try await Self.rows(
                c, "SELECT 1 FROM api_key WHERE id = \(key.id) OR secret_sha256 = \(key.secretSHA256)", self.logger).isEmpty else {
                throw FerryError(.alreadyExists, "API key '\(key.id)' (or its secret) exists already")
            }
            try await Self.execute(
                c,
                """
                INSERT INTO api_key (id, name, role, models, rate_limit, secret_sha256, created_by, created_at, expires_at, revoked_at)
                VALUES (\(key.id), \(key.name), \(key.role.rawValue), \(models), \(key.rateLimit), \(key.secretSHA256), \(key.createdBy),
                    \(Self.millis(key.createdAt)), \(key.expiresAt.map(Self.millis)), \(key.revokedAt.map(Self.millis)))
                """, self.logger)
            try await Self.audit(c, audit, key, self.logger)
        }
    }

    public func keys() async throws -> [APIKey] {
        try await database.read { c in try await Self.rows(c, "SELECT * FROM api_key ORDER BY created_at, id", self.logger).map(Self.key) }
    }

    public func revokeKey(id: String, at: Date, audit: AuditBuilder<APIKey>?) async throws -> APIKey {
        try await database.transaction { c in
            guard let row = try await Self.rows(
                c, "UPDATE api_key SET revoked_at = COALESCE(revoked_at, \(Self.millis(at))) WHERE id = \(id) RETURNING *", self.logger).first
            else { throw FerryError.notFound("no API key with id '\(id)'") }
            let key = try Self.key(row)
            try await Self.audit(c, audit, key, self.logger)
            return key
        }
    }

    // MARK: Audit trail

    public func appendAudit(_ draft: AuditDraft) async throws -> AuditEntry {
        try await database.transaction { c in try await Self.append(c, draft, self.logger) }
    }

    public func latestAuditSeq() async throws -> Int64 {
        try await database.read { c in
            try await Self.rows(c, "SELECT COALESCE(MAX(seq), 0) AS seq FROM audit_log", self.logger).first?["seq"].decode(Int64.self) ?? 0
        }
    }

    public func auditEntries(after: Int64, limit: Int) async throws -> [AuditEntry] {
        try await database.read { c in
            try await Self.rows(c, "SELECT * FROM audit_log WHERE seq > \(after) ORDER BY seq LIMIT \(max(0, limit))", self.logger).map { row in
                let before = try row["before"].decode(String.self)
                let after = try row["after"].decode(String.self)
                var entry = AuditEntry(
                    seq: try row["seq"].decode(Int64.self), at: Self.date(try row["at"].decode(Int64.self)),
                    actor: try row["actor"].decode(String.self), action: try row["action"].decode(String.self),
                    target: try row["target"].decode(String.self),
                    before: before.isEmpty ? nil : try Self.decode(before), after: after.isEmpty ? nil : try Self.decode(after),
                    previousHash: try row["previous_hash"].decode(String.self), hash: try row["hash"].decode(String.self))
                entry.rewritten = !entry.isCanonical(before: before, after: after)
                return entry
            }
        }
    }

    /// Appends the entry `builder` makes of a change's result, inside the change's transaction.
    static func audit<Result>(_ c: PostgresConnection, _ builder: AuditBuilder<Result>?, _ result: Result, _ logger: Logger) async throws {
        if let builder { _ = try await append(c, try builder(result), logger) }
    }

    /// Chains `draft` after the last entry. A transaction-scoped advisory lock serializes appends across replicas,
    /// so the chain has one order; it is released at commit or rollback.
    static func append(_ c: PostgresConnection, _ draft: AuditDraft, _ logger: Logger) async throws -> AuditEntry {
        try await Self.execute(c, "SELECT pg_advisory_xact_lock(\(Self.auditLockKey))", logger)
        let last = try await rows(c, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", logger).first
        let entry = AuditEntry(
            seq: (try last.map { try $0["seq"].decode(Int64.self) } ?? 0) + 1, draft: draft,
            previousHash: try last.map { try $0["hash"].decode(String.self) } ?? AuditEntry.genesis)
        try await Self.execute(
                c,
            """
            INSERT INTO audit_log (seq, at, actor, action, target, before, after, previous_hash, hash)
            VALUES (\(entry.seq), \(millis(entry.at)), \(entry.actor), \(entry.action), \(entry.target),
                \(AuditEntry.canonical(entry.before)), \(AuditEntry.canonical(entry.after)), \(entry.previousHash), \(entry.hash))
            """, logger)
        // Delivered at commit to every replica listening: a hint to read the trail now rather than at its next poll.
        try await Self.execute(c, "SELECT pg_notify(\(PostgresMetadataStore.changeChannel), \(String(entry.seq)))", logger)
        return entry
    }

    static let auditLockKey: Int64 = 0x4665_7272_7901
    /// The channel every committed change is announced on (its payload is the audit entry's number).
    static let changeChannel = "ferry_changes"

    // MARK: Rows

    private static func alias(_ row: PostgresRandomAccessRow) throws -> Alias {
        Alias(
            model: try row["model"].decode(String.self), name: try row["name"].decode(String.self),
            version: try row["version"].decode(Int.self), updatedBy: try row["updated_by"].decode(String.self),
            updatedAt: date(try row["updated_at"].decode(Int64.self)))
    }

    private static func rows(_ c: PostgresConnection, _ query: PostgresQuery, _ logger: Logger) async throws -> [PostgresRandomAccessRow] {
        try await PostgresDatabase.rows(c, query, logger)
    }

    private static func execute(_ c: PostgresConnection, _ query: PostgresQuery, _ logger: Logger) async throws {
        try await PostgresDatabase.execute(c, query, logger)
    }

    private static func modelExists(_ c: PostgresConnection, _ name: String, _ logger: Logger) async throws -> Bool {
        try await !rows(c, "SELECT 1 FROM model WHERE name = \(name)", logger).isEmpty
    }

    /// The JSON columns of a version, encoded before its transaction starts.
    private struct VersionColumns: Sendable {
        var inputSchema, outputSchema, params, metrics, lineage, details, runtimeOptions: String
        var signature: String?
        var features: String
        var createdAt: Int64

        init(_ v: ModelVersion) throws {
            inputSchema = try Records.encode(InputSchemaRecord(v.inputSchema))
            outputSchema = try Records.encode(OutputSchemaRecord(v.outputSchema))
            params = try PostgresMetadataStore.json(v.params)
            metrics = try PostgresMetadataStore.json(v.metrics)
            lineage = try Records.encode(LineageRecord(v.lineage))
            details = try PostgresMetadataStore.json(v.details)
            runtimeOptions = try PostgresMetadataStore.json(v.runtimeOptions)
            signature = try v.signature.map { try Records.encode(ModelSignatureRecord($0)) }
            features = try PostgresMetadataStore.json(v.features.map(\.description))
            createdAt = PostgresMetadataStore.millis(v.createdAt)
        }
    }

    private static func model(_ row: PostgresRandomAccessRow) throws -> Model {
        Model(
            name: try row["name"].decode(String.self), description: try row["description"].decode(String.self),
            tags: try decode(try row["tags"].decode(String.self)), createdBy: try row["created_by"].decode(String.self),
            createdAt: date(try row["created_at"].decode(Int64.self)))
    }

    private static func version(_ row: PostgresRandomAccessRow) throws -> ModelVersion {
        ModelVersion(
            model: try row["model"].decode(String.self), version: try row["version"].decode(Int.self),
            format: ModelFormat(rawValue: try row["format"].decode(String.self)),
            artifact: ArtifactRef(sha256: try row["artifact_sha256"].decode(String.self), size: try row["artifact_size"].decode(Int.self)),
            inputSchema: try Records.decode(InputSchemaRecord.self, try row["input_schema"].decode(String.self)).domain(),
            outputSchema: try Records.decode(OutputSchemaRecord.self, try row["output_schema"].decode(String.self)).domain(),
            description: try row["description"].decode(String.self), params: try decode(try row["params"].decode(String.self)),
            metrics: try decode(try row["metrics"].decode(String.self)),
            lineage: try Records.decode(LineageRecord.self, try row["lineage"].decode(String.self)).domain(),
            details: try decode(try row["details"].decode(String.self)),
            runtimeOptions: try decode(try row["runtime_options"].decode(String.self)), createdBy: try row["created_by"].decode(String.self),
            createdAt: date(try row["created_at"].decode(Int64.self)), archived: try row["archived"].decode(Bool.self),
            signature: try row["signature"].decode(String?.self).map { try Records.decode(ModelSignatureRecord.self, $0).domain() },
            features: try featureRefs(try row["feature_refs"].decode(String.self)))
    }

    private static func key(_ row: PostgresRandomAccessRow) throws -> APIKey {
        APIKey(
            id: try row["id"].decode(String.self), name: try row["name"].decode(String.self),
            role: try Role.parse(try row["role"].decode(String.self)),
            models: try row["models"].decode(String?.self).map { try decode($0) },
            rateLimit: try row["rate_limit"].decode(Double?.self), secretSHA256: try row["secret_sha256"].decode(String.self),
            createdBy: try row["created_by"].decode(String.self), createdAt: date(try row["created_at"].decode(Int64.self)),
            expiresAt: try row["expires_at"].decode(Int64?.self).map(date), revokedAt: try row["revoked_at"].decode(Int64?.self).map(date))
    }
}
