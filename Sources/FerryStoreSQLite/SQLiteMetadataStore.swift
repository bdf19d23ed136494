import FerryCore
import FerryStoreRecords
import Foundation
import GRDB

/// The registry's metadata on SQLite, through GRDB: WAL mode on disk, named migrations, foreign keys enforced.
///
/// Timestamps are stored as integer milliseconds since 1970, so they come back rounded to the millisecond.
public final class SQLiteMetadataStore: MetadataStore, StoreCoding {
    let writer: any DatabaseWriter
    /// Online feature reads on a database file (an in-memory database has only GRDB's own connection).
    let onlineReaders: SQLiteOnlineReaders?

    /// Opens (creating if needed) the database at `path` in WAL mode and migrates it.
    public init(path: String) throws {
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(5)
        // Pages are read through a shared memory map instead of a read() per page: the online feature store's
        // lookups are point reads all over a large table.
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA mmap_size = 1073741824") }
        writer = try DatabasePool(path: path, configuration: config)
        try Self.migrator.migrate(writer)
        let readers = SQLiteOnlineReaders(path: path)
        // Held weakly by the writer, for as long as the store holds the readers.
        try writer.writeWithoutTransaction { db in db.add(transactionObserver: readers) }
        onlineReaders = readers
    }

    /// An in-memory database, for tests and throwaway runs.
    public init() throws {
        var config = Configuration()
        config.foreignKeysEnabled = true
        writer = try DatabaseQueue(configuration: config)
        try Self.migrator.migrate(writer)
        onlineReaders = nil
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

    public func modelSummaries(after: String?, limit: Int) async throws -> [ModelSummary] {
        try await writer.read { db in
            let page = "SELECT name FROM model WHERE name > ? ORDER BY name LIMIT ?"
            var aliases: [String: [Alias]] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT * FROM alias WHERE model IN (\(page)) ORDER BY model, name", arguments: [after ?? "", limit]) {
                aliases[row["model"], default: []].append(Self.alias(row))
            }
            return try Row.fetchAll(db, sql: """
                SELECT m.*, (SELECT MAX(v.version) FROM model_version v WHERE v.model = m.name) AS latest_version
                FROM model m WHERE m.name > ? ORDER BY m.name LIMIT ?
                """, arguments: [after ?? "", limit]
            ).map { row in
                let model = try Self.model(row)
                return ModelSummary(model: model, latestVersion: row["latest_version"], aliases: aliases[model.name] ?? [])
            }
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
                        runtime_options, signature, feature_refs)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    stored.model, stored.version, stored.format.rawValue, stored.artifact.sha256, stored.artifact.size,
                    try Records.encode(InputSchemaRecord(stored.inputSchema)), try Records.encode(OutputSchemaRecord(stored.outputSchema)),
                    stored.description, try Self.json(stored.params), try Self.json(stored.metrics),
                    try Records.encode(LineageRecord(stored.lineage)),
                    try Self.json(stored.details), stored.createdBy, Self.millis(stored.createdAt), stored.archived,
                    try Self.json(stored.runtimeOptions), try stored.signature.map { try Records.encode(ModelSignatureRecord($0)) },
                    try Self.json(stored.features.map(\.description)),
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
            guard let archived = try Bool.fetchOne(
                db, sql: "SELECT archived FROM model_version WHERE model = ? AND version = ?", arguments: [model, version])
            else { throw FerryError.notFound("model '\(model)' has no version \(version)") }
            // In the transaction: a version archived since the caller looked is refused, not given the alias.
            guard !archived else { throw FerryError.archivedTakesNoAlias(model: model, version: version, alias: alias) }
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
            try Row.fetchAll(db, sql: "SELECT * FROM alias WHERE model = ? ORDER BY name", arguments: [model]).map(Self.alias)
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

    // MARK: Row mapping

    static func modelExists(_ db: Database, _ name: String) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM model WHERE name = ?)", arguments: [name]) ?? false
    }

    private static func alias(_ row: Row) -> Alias {
        Alias(model: row["model"], name: row["name"], version: row["version"], updatedBy: row["updated_by"], updatedAt: date(row["updated_at"]))
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
            signature: try (row["signature"] as String?).map { try Records.decode(ModelSignatureRecord.self, $0).domain() },
            features: try featureRefs(row["feature_refs"]))
    }
}
