import FerryCore
import FerryStoreRecords
import Foundation
import GRDB

extension SQLiteMetadataStore: FeatureStore {
    public func applyFeatures(
        _ definitions: FeatureDefinitions, by: String, at: Date, audit: AuditBuilder<FeatureApplication>?
    ) async throws -> FeatureDefinitions {
        let when = Self.date(Self.millis(at))
        return try await writer.write { db in
            let application = try FeatureApplication(
                given: definitions, entities: try Self.featureEntities(db), views: try Self.featureViews(db), by: by, at: when)
            for entity in application.changed.entities {
                try db.execute(
                    sql: "INSERT INTO feature_entity (name, spec) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET spec = excluded.spec",
                    arguments: [entity.name, try Records.encode(FeatureEntityRecord(entity))])
            }
            for view in application.changed.views {
                try db.execute(
                    sql: "INSERT INTO feature_view (name, spec) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET spec = excluded.spec",
                    arguments: [view.name, try Records.encode(FeatureViewRecord(view))])
            }
            for name in application.reset {
                try db.execute(sql: "DELETE FROM feature_online WHERE view = ?", arguments: [name])
                try db.execute(sql: "UPDATE feature_view SET materialized_through = NULL WHERE name = ?", arguments: [name])
            }
            try Self.audit(db, audit, application)
            return application.result
        }
    }

    public func featureEntities() async throws -> [FeatureEntity] {
        try await writer.read { db in try Self.featureEntities(db) }
    }

    public func featureViews() async throws -> [FeatureView] {
        try await writer.read { db in try Self.featureViews(db) }
    }

    public func writeOnline(view: String, rows: [OnlineFeatureRow]) async throws -> OnlineWriteResult {
        try await writer.write { db in
            var result = OnlineWriteResult()
            let statement = try db.cachedStatement(sql: """
                INSERT INTO feature_online (view, entity_key, event_time, created_time, feature_values) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (view, entity_key) DO UPDATE SET event_time = excluded.event_time,
                    created_time = excluded.created_time, feature_values = excluded.feature_values
                WHERE excluded.event_time > feature_online.event_time
                   OR (excluded.event_time = feature_online.event_time
                       AND COALESCE(excluded.created_time, -9223372036854775808) >= COALESCE(feature_online.created_time, -9223372036854775808))
                """)
            for row in rows {
                try statement.execute(arguments: [view, row.key, row.eventTime, row.createdTime, OnlineValuesCodec.encode(row.values)])
                if db.changesCount > 0 { result.written += 1 } else { result.ignoredOlder += 1 }
            }
            return result
        }
    }

    public func readOnline(view: String, keys: [String]) async throws -> [OnlineFeatureRow?] {
        try readOnlineNow(view: view, keys: keys)
    }

    /// The hot path of online reads (also `SynchronousOnlineReads`, for reads answered on the I/O thread): synchronous
    /// (an async read costs several thread hops) and without a transaction (a few primary-key lookups need no
    /// snapshot), on a connection of `SQLiteOnlineReaders` for a database file.
    public func readOnlineNow(view: String, keys: [String]) throws -> [OnlineFeatureRow?] {
        if let onlineReaders { return try onlineReaders.read(view: view, keys: keys) }
        return try writer.unsafeRead { db in
            let statement = try db.cachedStatement(
                sql: "SELECT event_time, created_time, feature_values FROM feature_online WHERE view = ? AND entity_key = ?")
            return try keys.map { key in
                guard let row = try Row.fetchOne(statement, arguments: [view, key]) else { return nil }
                return OnlineFeatureRow(
                    key: key, eventTime: row[0], createdTime: row[1], values: try OnlineValuesCodec.decode(row[2]))
            }
        }
    }

    public func materializedThrough(view: String) async throws -> Int64? {
        try await writer.read { db in
            try Int64.fetchOne(db, sql: "SELECT materialized_through FROM feature_view WHERE name = ?", arguments: [view])
        }
    }

    public func setMaterializedThrough(view: String, _ micros: Int64) async throws {
        try await writer.write { db in
            try db.execute(sql: "UPDATE feature_view SET materialized_through = max(coalesce(materialized_through, ?1), ?1) WHERE name = ?2", arguments: [micros, view])
            if db.changesCount == 0 { throw FerryError.notFound("no feature view named '\(view)'") }
        }
    }

    private static func featureEntities(_ db: Database) throws -> [FeatureEntity] {
        try String.fetchAll(db, sql: "SELECT spec FROM feature_entity ORDER BY name").map { try Records.decode(FeatureEntityRecord.self, $0).domain() }
    }

    private static func featureViews(_ db: Database) throws -> [FeatureView] {
        try String.fetchAll(db, sql: "SELECT spec FROM feature_view ORDER BY name").map { try Records.decode(FeatureViewRecord.self, $0).domain() }
    }
}

extension SQLiteMetadataStore: SynchronousOnlineReads {}
