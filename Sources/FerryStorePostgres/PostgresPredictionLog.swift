import FerryCore
import FerryStoreRecords
import Foundation
import PostgresNIO

/// The prediction log and its feedback on PostgreSQL. Records arrive in batches from the `PredictionLogger` (off the
/// request path) and are written with one multi-row statement per batch; inputs and outputs are JSONB, so the row a
/// label is for is picked out by the server.
public final class PostgresPredictionLog: PredictionLog, StoreCoding {
    let database: PostgresDatabase

    /// Connects to `url` and migrates the schema.
    public init(url: String, logger: Logger) async throws {
        database = try await PostgresDatabase(url: url, logger: logger)
    }

    /// Shares the metadata store's connection pool.
    public init(sharing store: PostgresMetadataStore) {
        database = store.database
    }

    public func shutdown() { database.shutdown() }

    private var logger: Logger { database.logger }

    public func append(_ records: [PredictionRecord]) async throws {
        guard !records.isEmpty else { return }
        let ids = records.map(\.id), models = records.map(\.model), versions = records.map { Int64($0.version) }
        let ats = records.map { Self.millis($0.at) }, latencies = records.map { Int64($0.latencyMicros) }
        let inputs = records.map { PredictionJSON.text($0.inputs) }, outputs = records.map { PredictionJSON.text($0.outputs) }
        let flags = records.map { PredictionJSON.flags($0.flags) ?? "" }
        try await database.transaction { c in
            try await PostgresDatabase.execute(
                c,
                """
                INSERT INTO prediction (id, model, version, at, latency_us, inputs, outputs, flags)
                SELECT id, model, version, at, latency, inputs::jsonb, outputs::jsonb, NULLIF(flags, '')::jsonb
                FROM unnest(\(ids)::text[], \(models)::text[], \(versions)::int8[], \(ats)::int8[], \(latencies)::int8[], \(inputs)::text[], \(outputs)::text[], \(flags)::text[])
                    AS t(id, model, version, at, latency, inputs, outputs, flags)
                ON CONFLICT (id) DO NOTHING
                """,
                self.logger)
        }
    }

    public func record(id: String) async throws -> PredictionRecord? {
        try await database.read { c in
            try await PostgresDatabase.rows(c, "SELECT \(unescaped: Self.columns) FROM prediction WHERE id = \(id)", self.logger).first.map(Self.record)
        }
    }

    public func records(model: String, version: Int?, since: Date?, until: Date?, limit: Int) async throws -> [PredictionRecord] {
        let since = since.map(Self.millis) ?? Int64.min, until = until.map(Self.millis) ?? Int64.max
        let version = version.map(Int64.init)
        return try await database.read { c in
            try await PostgresDatabase.rows(
                c,
                """
                SELECT \(unescaped: Self.columns) FROM prediction
                WHERE model = \(model) AND (\(version)::int8 IS NULL OR version = \(version)::int8) AND at >= \(since) AND at < \(until)
                ORDER BY at DESC, id LIMIT \(max(0, limit))
                """,
                self.logger
            ).map(Self.record)
        }
    }

    public func count(model: String?) async throws -> Int {
        try await database.read { c in
            let rows = try await PostgresDatabase.rows(
                c, "SELECT COUNT(*) AS n FROM prediction WHERE \(model)::text IS NULL OR model = \(model)::text", self.logger)
            return try rows.first.map { try $0["n"].decode(Int.self) } ?? 0
        }
    }

    public func purge(olderThan date: Date) async throws -> Int {
        try await database.transaction { c in
            let rows = try await PostgresDatabase.rows(
                c, "WITH gone AS (DELETE FROM prediction WHERE at < \(Self.millis(date)) RETURNING 1) SELECT COUNT(*) AS n FROM gone", self.logger)
            return try rows.first.map { try $0["n"].decode(Int.self) } ?? 0
        }
    }

    public func trim(keepNewest count: Int) async throws -> Int {
        try await database.transaction { c in
            let rows = try await PostgresDatabase.rows(
                c,
                """
                WITH cutoff AS (SELECT at, id FROM prediction ORDER BY at DESC, id DESC OFFSET \(max(0, count)) LIMIT 1),
                gone AS (DELETE FROM prediction p USING cutoff c WHERE (p.at, p.id) <= (c.at, c.id) RETURNING 1)
                SELECT COUNT(*) AS n FROM gone
                """,
                self.logger)
            return try rows.first.map { try $0["n"].decode(Int.self) } ?? 0
        }
    }

    public func addFeedback(_ items: [Feedback]) async throws -> Int {
        guard !items.isEmpty else { return 0 }
        // One statement may not update a row twice: the last label for a (prediction, row) wins, as it would in order.
        var latest: [String: Feedback] = [:]
        for item in items { latest["\(item.predictionID)\u{0}\(item.row)"] = item }
        let unique = Array(latest.values)
        let ids = unique.map(\.predictionID), rows = unique.map { Int64($0.row) }
        let labels = unique.map(\.label), received = unique.map { Self.millis($0.receivedAt) }
        let allIDs = items.map(\.predictionID), allRows = items.map { Int64($0.row) }
        return try await database.transaction { c in
            try await PostgresDatabase.execute(
                c,
                """
                INSERT INTO feedback (prediction_id, row, label, received_at)
                SELECT * FROM unnest(\(ids)::text[], \(rows)::int8[], \(labels)::float8[], \(received)::int8[])
                ON CONFLICT (prediction_id, row) DO UPDATE SET label = EXCLUDED.label, received_at = EXCLUDED.received_at
                """,
                self.logger)
            let matched = try await PostgresDatabase.rows(
                c,
                """
                SELECT COUNT(*) AS n FROM unnest(\(allIDs)::text[], \(allRows)::int8[]) AS v(id, row)
                JOIN prediction p ON p.id = v.id WHERE v.row < jsonb_array_length(p.outputs)
                """,
                self.logger)
            return try matched.first.map { try $0["n"].decode(Int.self) } ?? 0
        }
    }

    public func labeled(model: String, version: Int?, since: Date?, until: Date?, limit: Int) async throws -> [LabeledPrediction] {
        let since = since.map(Self.millis) ?? Int64.min, until = until.map(Self.millis) ?? Int64.max
        let version = version.map(Int64.init)
        return try await database.read { c in
            let rows = try await PostgresDatabase.rows(
                c,
                """
                SELECT (p.inputs -> f.row::int)::text AS input, (p.outputs -> f.row::int)::text AS output, f.label,
                    p.id AS prediction_id, f.row::int8 AS row, p.at AS at
                FROM feedback f JOIN prediction p ON p.id = f.prediction_id
                WHERE p.model = \(model) AND (\(version)::int8 IS NULL OR p.version = \(version)::int8) AND p.at >= \(since) AND p.at < \(until)
                ORDER BY p.at DESC, p.id, f.row LIMIT \(max(0, limit))
                """,
                self.logger)
            let decoder = JSONDecoder()
            return try rows.compactMap { row in
                guard let input = try row["input"].decode(String?.self), let output = try row["output"].decode(String?.self) else { return nil }
                return LabeledPrediction(
                    output: try decoder.decode([Double].self, from: Data(output.utf8)), label: try row["label"].decode(Double.self),
                    inputs: try decoder.decode([JSONValue].self, from: Data(input.utf8)),
                    predictionID: try row["prediction_id"].decode(String.self), row: Int(try row["row"].decode(Int64.self)),
                    at: Date(timeIntervalSince1970: Double(try row["at"].decode(Int64.self)) / 1000))
            }
        }
    }

    public func unmatchedFeedbackCount() async throws -> Int {
        try await database.read { c in
            let rows = try await PostgresDatabase.rows(
                c, "SELECT COUNT(*) AS n FROM feedback f LEFT JOIN prediction p ON p.id = f.prediction_id WHERE p.id IS NULL", self.logger)
            return try rows.first.map { try $0["n"].decode(Int.self) } ?? 0
        }
    }

    public func hashKey() async throws -> String {
        let fresh = Self.freshKey()
        return try await database.transaction { c in
            // Two replicas asking at once both insert; the first commits, the other's does nothing, and both read it.
            try await PostgresDatabase.execute(c, "INSERT INTO log_secret (name, value) VALUES ('hash', \(fresh)) ON CONFLICT (name) DO NOTHING", self.logger)
            let rows = try await PostgresDatabase.rows(c, "SELECT value FROM log_secret WHERE name = 'hash'", self.logger)
            return try rows.first!["value"].decode(String.self)
        }
    }

    static let columns = "id, model, version, at, latency_us, inputs::text AS inputs, outputs::text AS outputs, flags::text AS flags"

    private static func record(_ row: PostgresRandomAccessRow) throws -> PredictionRecord {
        let decoder = JSONDecoder()
        return PredictionRecord(
            id: try row["id"].decode(String.self), model: try row["model"].decode(String.self), version: try row["version"].decode(Int.self),
            at: Date(timeIntervalSince1970: Double(try row["at"].decode(Int64.self)) / 1000), latencyMicros: try row["latency_us"].decode(Int.self),
            inputs: try decoder.decode([[JSONValue]].self, from: Data(try row["inputs"].decode(String.self).utf8)),
            outputs: try decoder.decode([[Double]].self, from: Data(try row["outputs"].decode(String.self).utf8)),
            flags: try row["flags"].decode(String?.self).map { try decoder.decode([[String]].self, from: Data($0.utf8)) } ?? [])
    }

}
