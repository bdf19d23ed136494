import FerryCore
import Foundation
import GRDB

/// The registry's metadata on SQLite, through GRDB: WAL mode on disk, named migrations, foreign keys enforced.
///
/// Timestamps are stored as integer milliseconds since 1970, so they come back rounded to the millisecond.
public final class SQLiteMetadataStore: MetadataStore, AlertStore {
    let writer: any DatabaseWriter

    /// Opens (creating if needed) the database at `path` in WAL mode and migrates it.
    public init(path: String) throws {
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(5)
        writer = try DatabasePool(path: path, configuration: config)
        try Self.migrator.migrate(writer)
    }

    /// An in-memory database, for tests and throwaway runs.
    public init() throws {
        var config = Configuration()
        config.foreignKeysEnabled = true
        writer = try DatabaseQueue(configuration: config)
        try Self.migrator.migrate(writer)
    }

    /// Migrations are append-only: a released migration is never edited, a change is a new one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-registry") { db in
            try db.execute(sql: """
                CREATE TABLE model (
                    name TEXT PRIMARY KEY NOT NULL,
                    description TEXT NOT NULL,
                    tags TEXT NOT NULL,
                    created_by TEXT NOT NULL,
                    created_at INTEGER NOT NULL
                );
                CREATE TABLE model_version (
                    model TEXT NOT NULL REFERENCES model(name) ON DELETE RESTRICT,
                    version INTEGER NOT NULL CHECK (version > 0),
                    format TEXT NOT NULL,
                    artifact_sha256 TEXT NOT NULL,
                    artifact_size INTEGER NOT NULL,
                    input_schema TEXT NOT NULL,
                    output_schema TEXT NOT NULL,
                    description TEXT NOT NULL,
                    params TEXT NOT NULL,
                    metrics TEXT NOT NULL,
                    lineage TEXT NOT NULL,
                    details TEXT NOT NULL,
                    created_by TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    archived INTEGER NOT NULL DEFAULT 0,
                    PRIMARY KEY (model, version)
                );
                CREATE INDEX model_version_artifact ON model_version(artifact_sha256);
                CREATE TABLE alias (
                    model TEXT NOT NULL,
                    name TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    updated_by TEXT NOT NULL,
                    updated_at INTEGER NOT NULL,
                    PRIMARY KEY (model, name),
                    FOREIGN KEY (model, version) REFERENCES model_version(model, version) ON DELETE RESTRICT
                );
                CREATE TABLE alias_event (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    model TEXT NOT NULL REFERENCES model(name) ON DELETE RESTRICT,
                    alias TEXT NOT NULL,
                    from_version INTEGER,
                    to_version INTEGER,
                    actor TEXT NOT NULL,
                    at INTEGER NOT NULL,
                    reason TEXT NOT NULL
                );
                CREATE INDEX alias_event_model ON alias_event(model, alias, seq);
                """)
        }
        migrator.registerMigration("v2-runtime-options") { db in
            try db.execute(sql: "ALTER TABLE model_version ADD COLUMN runtime_options TEXT NOT NULL DEFAULT '{}'")
        }
        migrator.registerMigration("v3-reference-profiles") { db in
            try db.execute(sql: """
                CREATE TABLE reference_profile (
                    model TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    profile TEXT NOT NULL,
                    PRIMARY KEY (model, version),
                    FOREIGN KEY (model, version) REFERENCES model_version(model, version) ON DELETE CASCADE
                )
                """)
        }
        migrator.registerMigration("v4-alerts") { db in
            try db.execute(sql: """
                CREATE TABLE alert_rule (
                    model TEXT NOT NULL REFERENCES model(name) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    rule TEXT NOT NULL,
                    status TEXT NOT NULL,
                    PRIMARY KEY (model, name)
                );
                CREATE TABLE alert_event (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    model TEXT NOT NULL,
                    rule TEXT NOT NULL,
                    from_state TEXT NOT NULL,
                    to_state TEXT NOT NULL,
                    value REAL,
                    threshold REAL NOT NULL,
                    at INTEGER NOT NULL
                );
                CREATE INDEX alert_event_rule ON alert_event(model, rule, seq);
                """)
        }
        migrator.registerMigration("v5-security") { db in
            try db.execute(sql: """
                CREATE TABLE api_key (
                    id TEXT PRIMARY KEY NOT NULL,
                    name TEXT NOT NULL,
                    role TEXT NOT NULL,
                    models TEXT,
                    rate_limit REAL,
                    secret_sha256 TEXT NOT NULL UNIQUE,
                    created_by TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    expires_at INTEGER,
                    revoked_at INTEGER
                );
                CREATE TABLE audit_log (
                    seq INTEGER PRIMARY KEY NOT NULL,
                    at INTEGER NOT NULL,
                    actor TEXT NOT NULL,
                    action TEXT NOT NULL,
                    target TEXT NOT NULL,
                    before TEXT NOT NULL,
                    after TEXT NOT NULL,
                    previous_hash TEXT NOT NULL,
                    hash TEXT NOT NULL UNIQUE
                );
                """)
        }
        migrator.registerMigration("v6-signatures") { db in
            try db.execute(sql: "ALTER TABLE model_version ADD COLUMN signature TEXT")
        }
        migrator.registerMigration("v7-endpoints") { db in
            try db.execute(sql: """
                CREATE TABLE endpoint (
                    name TEXT PRIMARY KEY NOT NULL,
                    spec TEXT NOT NULL
                );
                CREATE TABLE rollout (
                    endpoint TEXT PRIMARY KEY NOT NULL REFERENCES endpoint(name) ON DELETE CASCADE,
                    state TEXT NOT NULL
                );
                CREATE TABLE rollout_event (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    endpoint TEXT NOT NULL REFERENCES endpoint(name) ON DELETE CASCADE,
                    at INTEGER NOT NULL,
                    event TEXT NOT NULL
                );
                CREATE INDEX rollout_event_endpoint ON rollout_event(endpoint, seq);
                """)
        }
        return migrator
    }

    // MARK: Models

    public func createModel(_ model: Model, audit: AuditBuilder<Model>?) async throws {
        try await writer.write { db in
            if try Self.modelExists(db, model.name) {
                throw FerryError(.alreadyExists, "model '\(model.name)' already exists")
            }
            try db.execute(
                sql: "INSERT INTO model (name, description, tags, created_by, created_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [model.name, model.description, try Self.json(model.tags), model.createdBy, Self.millis(model.createdAt)])
            var stored = model
            stored.createdAt = Self.date(Self.millis(model.createdAt))
            try Self.audit(db, audit, stored)
        }
    }

    public func updateModel(_ model: Model, audit: AuditBuilder<Model>?) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE model SET description = ?, tags = ? WHERE name = ?",
                arguments: [model.description, try Self.json(model.tags), model.name])
            if db.changesCount == 0 { throw FerryError.notFound("model '\(model.name)' does not exist") }
            try Self.audit(db, audit, model)
        }
    }

    public func model(named name: String) async throws -> Model? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM model WHERE name = ?", arguments: [name]).map(Self.model)
        }
    }

    public func models() async throws -> [Model] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM model ORDER BY name").map(Self.model)
        }
    }

    // MARK: Versions

    public func addVersion(
        _ version: ModelVersion, aliases: [String], reason: String, audit: AuditBuilder<ModelVersion>?
    ) async throws -> ModelVersion {
        try await writer.write { db in
            guard try Self.modelExists(db, version.model) else {
                throw FerryError.notFound("model '\(version.model)' does not exist; create it first")
            }
            let next = try Int.fetchOne(
                db, sql: "SELECT COALESCE(MAX(version), 0) + 1 FROM model_version WHERE model = ?",
                arguments: [version.model]) ?? 1
            var stored = version
            stored.version = next
            try db.execute(
                sql: """
                    INSERT INTO model_version (model, version, format, artifact_sha256, artifact_size, input_schema,
                        output_schema, description, params, metrics, lineage, details, created_by, created_at, archived,
                        runtime_options, signature)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    stored.model, stored.version, stored.format.rawValue, stored.artifact.sha256, stored.artifact.size,
                    try Records.encode(InputSchemaRecord(stored.inputSchema)), try Records.encode(OutputSchemaRecord(stored.outputSchema)),
                    stored.description, try Self.json(stored.params), try Self.json(stored.metrics),
                    try Records.encode(LineageRecord(stored.lineage)),
                    try Self.json(stored.details), stored.createdBy, Self.millis(stored.createdAt), stored.archived,
                    try Self.json(stored.runtimeOptions), try stored.signature.map { try Records.encode(ModelSignatureRecord($0)) },
                ])
            stored.createdAt = Self.date(Self.millis(stored.createdAt))
            for alias in aliases {
                _ = try Self.moveAlias(
                    db, model: stored.model, alias: alias, version: stored.version, by: stored.createdBy, at: stored.createdAt,
                    reason: reason)
            }
            try Self.audit(db, audit, stored)
            return stored
        }
    }

    public func version(model: String, number: Int) async throws -> ModelVersion? {
        try await writer.read { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM model_version WHERE model = ? AND version = ?", arguments: [model, number]
            ).map(Self.version)
        }
    }

    public func versions(model: String) async throws -> [ModelVersion] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM model_version WHERE model = ? ORDER BY version", arguments: [model])
                .map(Self.version)
        }
    }

    public func versions(artifactSHA256: String) async throws -> [ModelVersion] {
        try await writer.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM model_version WHERE artifact_sha256 = ? ORDER BY model, version",
                arguments: [artifactSHA256]
            ).map(Self.version)
        }
    }

    public func setArchived(model: String, number: Int, archived: Bool, audit: AuditBuilder<ModelVersion>?) async throws -> ModelVersion {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE model_version SET archived = ? WHERE model = ? AND version = ?",
                arguments: [archived, model, number])
            guard let row = try Row.fetchOne(
                db, sql: "SELECT * FROM model_version WHERE model = ? AND version = ?", arguments: [model, number])
            else { throw FerryError.notFound("model '\(model)' has no version \(number)") }
            let version = try Self.version(row)
            try Self.audit(db, audit, version)
            return version
        }
    }

    // MARK: Aliases

    public func setAlias(
        model: String, alias: String, version: Int?, by: String, at: Date, reason: String, audit: AuditBuilder<AliasEvent>?
    ) async throws -> AliasEvent {
        try await writer.write { db in
            guard try Self.modelExists(db, model) else { throw FerryError.notFound("model '\(model)' does not exist") }
            let event = try Self.moveAlias(db, model: model, alias: alias, version: version, by: by, at: at, reason: reason)
            try Self.audit(db, audit, event)
            return event
        }
    }

    /// Points (or removes) an alias and appends the move to its history, inside the caller's transaction.
    private static func moveAlias(
        _ db: Database, model: String, alias: String, version: Int?, by: String, at: Date, reason: String
    ) throws -> AliasEvent {
        let current = try Int.fetchOne(
            db, sql: "SELECT version FROM alias WHERE model = ? AND name = ?", arguments: [model, alias])
        let when = Self.millis(at)
        if let version {
            let exists = try Bool.fetchOne(
                db, sql: "SELECT EXISTS (SELECT 1 FROM model_version WHERE model = ? AND version = ?)",
                arguments: [model, version]) ?? false
            guard exists else { throw FerryError.notFound("model '\(model)' has no version \(version)") }
            try db.execute(
                sql: """
                    INSERT INTO alias (model, name, version, updated_by, updated_at) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (model, name) DO UPDATE SET version = excluded.version,
                        updated_by = excluded.updated_by, updated_at = excluded.updated_at
                    """,
                arguments: [model, alias, version, by, when])
        } else {
            guard current != nil else { throw FerryError.notFound("model '\(model)' has no alias '\(alias)'") }
            try db.execute(sql: "DELETE FROM alias WHERE model = ? AND name = ?", arguments: [model, alias])
        }
        try db.execute(
            sql: "INSERT INTO alias_event (model, alias, from_version, to_version, actor, at, reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
            arguments: [model, alias, current, version, by, when, reason])
        return AliasEvent(
            sequence: db.lastInsertedRowID, model: model, alias: alias, from: current, to: version, by: by,
            at: Self.date(when), reason: reason)
    }

    public func aliases(model: String) async throws -> [Alias] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM alias WHERE model = ? ORDER BY name", arguments: [model]).map { row in
                Alias(model: row["model"], name: row["name"], version: row["version"],
                      updatedBy: row["updated_by"], updatedAt: Self.date(row["updated_at"]))
            }
        }
    }

    public func aliasHistory(model: String, alias: String?) async throws -> [AliasEvent] {
        try await writer.read { db in
            let rows: [Row]
            if let alias {
                rows = try Row.fetchAll(
                    db, sql: "SELECT * FROM alias_event WHERE model = ? AND alias = ? ORDER BY seq", arguments: [model, alias])
            } else {
                rows = try Row.fetchAll(db, sql: "SELECT * FROM alias_event WHERE model = ? ORDER BY seq", arguments: [model])
            }
            return rows.map { row in
                AliasEvent(
                    sequence: row["seq"], model: row["model"], alias: row["alias"], from: row["from_version"],
                    to: row["to_version"], by: row["actor"], at: Self.date(row["at"]), reason: row["reason"])
            }
        }
    }

    // MARK: Reference profiles

    public func setReferenceProfile(model: String, version: Int, profile: ReferenceProfile, audit: AuditBuilder<ReferenceProfile>?) async throws {
        let text = try Records.encode(ReferenceProfileRecord(profile))
        try await writer.write { db in
            let exists = try Bool.fetchOne(
                db, sql: "SELECT EXISTS (SELECT 1 FROM model_version WHERE model = ? AND version = ?)", arguments: [model, version]) ?? false
            guard exists else { throw FerryError.notFound("model '\(model)' has no version \(version)") }
            try db.execute(
                sql: "INSERT INTO reference_profile (model, version, profile) VALUES (?, ?, ?) ON CONFLICT (model, version) DO UPDATE SET profile = excluded.profile",
                arguments: [model, version, text])
            try Self.audit(db, audit, profile)
        }
    }

    public func referenceProfile(model: String, version: Int) async throws -> ReferenceProfile? {
        try await writer.read { db in
            try String.fetchOne(db, sql: "SELECT profile FROM reference_profile WHERE model = ? AND version = ?", arguments: [model, version])
                .map { try Records.decode(ReferenceProfileRecord.self, $0).domain() }
        }
    }

    // MARK: Alerts

    public func putRule(_ rule: AlertRule, audit: AuditBuilder<AlertRule>?) async throws {
        let text = try Records.encode(AlertRuleRecord(rule))
        let initial = try Records.encode(AlertStatusRecord(AlertStatus()))
        try await writer.write { db in
            guard try Self.modelExists(db, rule.model) else { throw FerryError.notFound("model '\(rule.model)' is not registered") }
            try db.execute(
                sql: """
                    INSERT INTO alert_rule (model, name, rule, status) VALUES (?, ?, ?, ?)
                    ON CONFLICT (model, name) DO UPDATE SET rule = excluded.rule
                    """,
                arguments: [rule.model, rule.name, text, initial])
            try Self.audit(db, audit, rule)
        }
    }

    public func rules(model: String?) async throws -> [AlertRule] {
        try await writer.read { db in
            let rows = try model.map { try Row.fetchAll(db, sql: "SELECT rule FROM alert_rule WHERE model = ? ORDER BY name", arguments: [$0]) }
                ?? Row.fetchAll(db, sql: "SELECT rule FROM alert_rule ORDER BY model, name")
            return try rows.map { try Records.decode(AlertRuleRecord.self, $0["rule"]).domain() }
        }
    }

    public func deleteRule(model: String, name: String, audit: AuditBuilder<AlertRule>?) async throws {
        try await writer.write { db in
            guard let text = try String.fetchOne(
                db, sql: "SELECT rule FROM alert_rule WHERE model = ? AND name = ?", arguments: [model, name]) else {
                throw FerryError.notFound("model '\(model)' has no alert '\(name)'")
            }
            try db.execute(sql: "DELETE FROM alert_rule WHERE model = ? AND name = ?", arguments: [model, name])
            try Self.audit(db, audit, try Records.decode(AlertRuleRecord.self, text).domain())
        }
    }

    public func status(model: String, name: String) async throws -> AlertStatus {
        try await writer.read { db in
            guard let text = try String.fetchOne(db, sql: "SELECT status FROM alert_rule WHERE model = ? AND name = ?", arguments: [model, name]) else {
                throw FerryError.notFound("model '\(model)' has no alert '\(name)'")
            }
            return try Records.decode(AlertStatusRecord.self, text).domain()
        }
    }

    public func record(model: String, name: String, status: AlertStatus, event: AlertEvent?) async throws -> AlertEvent? {
        let text = try Records.encode(AlertStatusRecord(status))
        return try await writer.write { db in
            try db.execute(sql: "UPDATE alert_rule SET status = ? WHERE model = ? AND name = ?", arguments: [text, model, name])
            if db.changesCount == 0 { throw FerryError.notFound("model '\(model)' has no alert '\(name)'") }
            guard var event else { return nil }
            try db.execute(
                sql: "INSERT INTO alert_event (model, rule, from_state, to_state, value, threshold, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                arguments: [model, name, event.from.rawValue, event.to.rawValue, event.value, event.threshold, Self.millis(event.at)])
            event.sequence = db.lastInsertedRowID
            event.at = Self.date(Self.millis(event.at))
            return event
        }
    }

    public func events(model: String?, rule: String?, limit: Int) async throws -> [AlertEvent] {
        try await writer.read { db in
            var sql = "SELECT * FROM alert_event WHERE 1 = 1"
            var arguments: StatementArguments = []
            if let model { sql += " AND model = ?"; arguments += [model] }
            if let rule { sql += " AND rule = ?"; arguments += [rule] }
            sql += " ORDER BY seq DESC LIMIT ?"
            arguments += [max(0, limit)]
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                AlertEvent(
                    sequence: row["seq"], rule: row["rule"], model: row["model"],
                    from: AlertStatus.State(rawValue: row["from_state"]) ?? .inactive, to: AlertStatus.State(rawValue: row["to_state"]) ?? .inactive,
                    value: row["value"], threshold: row["threshold"], at: Self.date(row["at"]))
            }.reversed()
        }
    }

    // MARK: Row mapping

    private static func modelExists(_ db: Database, _ name: String) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM model WHERE name = ?)", arguments: [name]) ?? false
    }

    private static func model(_ row: Row) throws -> Model {
        Model(name: row["name"], description: row["description"], tags: try decode(row["tags"]),
              createdBy: row["created_by"], createdAt: date(row["created_at"]))
    }

    private static func version(_ row: Row) throws -> ModelVersion {
        ModelVersion(
            model: row["model"], version: row["version"], format: ModelFormat(rawValue: row["format"]),
            artifact: ArtifactRef(sha256: row["artifact_sha256"], size: row["artifact_size"]),
            inputSchema: try Records.decode(InputSchemaRecord.self, row["input_schema"]).domain(),
            outputSchema: try Records.decode(OutputSchemaRecord.self, row["output_schema"]).domain(),
            description: row["description"], params: try decode(row["params"]), metrics: try decode(row["metrics"]),
            lineage: try Records.decode(LineageRecord.self, row["lineage"]).domain(), details: try decode(row["details"]),
            runtimeOptions: try decode(row["runtime_options"]), createdBy: row["created_by"],
            createdAt: date(row["created_at"]), archived: row["archived"],
            signature: try (row["signature"] as String?).map { try Records.decode(ModelSignatureRecord.self, $0).domain() })
    }

    static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ text: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(text.utf8))
    }

    static func millis(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
    static func date(_ millis: Int64) -> Date { Date(timeIntervalSince1970: Double(millis) / 1000) }
}
