import FerryCore
import FerryStoreRecords
import Foundation
import PostgresNIO

extension PostgresMetadataStore: FeatureStore {
    public func applyFeatures(
        _ definitions: FeatureDefinitions, by: String, at: Date, audit: AuditBuilder<FeatureApplication>?
    ) async throws -> FeatureDefinitions {
        let when = Self.date(Self.millis(at))
        return try await database.transaction { c in
            let logger = self.database.logger
            // Replicas applying at once take turns (the audit append takes the same lock at the end anyway), so each
            // decides versions from what the other committed.
            try await PostgresDatabase.execute(c, "SELECT pg_advisory_xact_lock(\(Self.auditLockKey))", logger)
            let application = try FeatureApplication(
                given: definitions, entities: try await Self.featureEntities(c, logger), views: try await Self.featureViews(c, logger),
                by: by, at: when)
            for entity in application.changed.entities {
                let spec = try Records.encode(FeatureEntityRecord(entity))
                try await PostgresDatabase.execute(
                    c, "INSERT INTO feature_entity (name, spec) VALUES (\(entity.name), \(spec)) ON CONFLICT (name) DO UPDATE SET spec = EXCLUDED.spec", logger)
            }
            for view in application.changed.views {
                let spec = try Records.encode(FeatureViewRecord(view))
                try await PostgresDatabase.execute(
                    c, "INSERT INTO feature_view (name, spec) VALUES (\(view.name), \(spec)) ON CONFLICT (name) DO UPDATE SET spec = EXCLUDED.spec", logger)
            }
            for name in application.reset {
                try await PostgresDatabase.execute(c, "DELETE FROM feature_online WHERE view = \(name)", logger)
                try await PostgresDatabase.execute(c, "UPDATE feature_view SET materialized_through = NULL WHERE name = \(name)", logger)
            }
            try await Self.audit(c, audit, application, logger)
            return application.result
        }
    }

    public func featureEntities() async throws -> [FeatureEntity] {
        try await database.read { c in try await Self.featureEntities(c, self.database.logger) }
    }

    public func featureViews() async throws -> [FeatureView] {
        try await database.read { c in try await Self.featureViews(c, self.database.logger) }
    }

    public func writeOnline(view: String, rows: [OnlineFeatureRow]) async throws -> OnlineWriteResult {
        // One statement per batch; a statement may touch a key only once, so only each key's newest row is sent.
        var newest: [String: OnlineFeatureRow] = [:]
        var order: [String] = []
        for row in rows {
            if let kept = newest[row.key] {
                if row.supersedes(kept) { newest[row.key] = row }
            } else {
                newest[row.key] = row
                order.append(row.key)
            }
        }
        let keys = order
        let events = order.map { newest[$0]!.eventTime }
        let created = order.map { newest[$0]!.createdTime ?? Int64.min }
        let values = order.map { OnlineValuesCodec.encode(newest[$0]!.values) }
        let written = try await database.transaction { c in
            try await PostgresDatabase.rows(
                c, """
                    INSERT INTO feature_online (view, entity_key, event_time, created_time, feature_values)
                    SELECT \(view), k, e, NULLIF(c, -9223372036854775808), v
                    FROM UNNEST(\(keys)::text[], \(events)::bigint[], \(created)::bigint[], \(values)::text[]) AS t(k, e, c, v)
                    ON CONFLICT (view, entity_key) DO UPDATE SET event_time = EXCLUDED.event_time,
                        created_time = EXCLUDED.created_time, feature_values = EXCLUDED.feature_values
                    WHERE EXCLUDED.event_time > feature_online.event_time
                       OR (EXCLUDED.event_time = feature_online.event_time
                           AND COALESCE(EXCLUDED.created_time, -9223372036854775808) >= COALESCE(feature_online.created_time, -9223372036854775808))
                    RETURNING 1
                    """, self.database.logger
            ).count
        }
        // A row superseded inside the batch counts as ignored, like one older than what was stored.
        return OnlineWriteResult(written: written, ignoredOlder: rows.count - written)
    }

    public func readOnline(view: String, keys: [String]) async throws -> [OnlineFeatureRow?] {
        let found = try await database.read { c in
            try await PostgresDatabase.rows(
                c, "SELECT entity_key, event_time, created_time, feature_values FROM feature_online WHERE view = \(view) AND entity_key = ANY(\(keys)::text[])",
                self.database.logger
            ).map { row -> OnlineFeatureRow in
                OnlineFeatureRow(
                    key: try row["entity_key"].decode(String.self), eventTime: try row["event_time"].decode(Int64.self),
                    createdTime: try row["created_time"].decode(Int64?.self),
                    values: try OnlineValuesCodec.decode(try row["feature_values"].decode(String.self)))
            }
        }
        let byKey: [String: OnlineFeatureRow] = Dictionary(found.map { ($0.key, $0) }, uniquingKeysWith: { $1 })
        return keys.map { byKey[$0] }
    }

    public func materializedThrough(view: String) async throws -> Int64? {
        try await database.read { c in
            try await PostgresDatabase.rows(c, "SELECT materialized_through FROM feature_view WHERE name = \(view)", self.database.logger)
                .first.flatMap { try $0["materialized_through"].decode(Int64?.self) }
        }
    }

    public func setMaterializedThrough(view: String, _ micros: Int64) async throws {
        try await database.transaction { c in
            let updated = try await PostgresDatabase.rows(c, "UPDATE feature_view SET materialized_through = GREATEST(materialized_through, \(micros)) WHERE name = \(view) RETURNING name", self.database.logger)
            if updated.isEmpty { throw FerryError.notFound("no feature view named '\(view)'") }
        }
    }

    private static func featureEntities(_ c: PostgresConnection, _ logger: Logger) async throws -> [FeatureEntity] {
        try await PostgresDatabase.rows(c, "SELECT spec FROM feature_entity ORDER BY name", logger)
            .map { try Records.decode(FeatureEntityRecord.self, try $0["spec"].decode(String.self)).domain() }
    }

    private static func featureViews(_ c: PostgresConnection, _ logger: Logger) async throws -> [FeatureView] {
        try await PostgresDatabase.rows(c, "SELECT spec FROM feature_view ORDER BY name", logger)
            .map { try Records.decode(FeatureViewRecord.self, try $0["spec"].decode(String.self)).domain() }
    }
}
