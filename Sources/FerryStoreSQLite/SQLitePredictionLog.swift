import FerryCore
import FerryStoreRecords
import Foundation
import GRDB
import GRDBSQLite

/// The prediction log on SQLite, in its own database file so logging never contends with registry writes.
public final class SQLitePredictionLog: PredictionLog, StoreCoding {
    private let writer: any DatabaseWriter

    public init(path: String) throws {
        var config = Configuration()
        config.busyMode = .timeout(5)
        // The log is best effort by design (a bounded queue that drops when full): commits need not wait for fsync.
        // WAL with synchronous=NORMAL survives a crash of the process; only a power loss can drop the last commits.
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        writer = try DatabasePool(path: path, configuration: config)
        try Self.migrator.migrate(writer)
    }

    /// An in-memory log, for tests.
    public init() throws {
        writer = try DatabaseQueue()
        try Self.migrator.migrate(writer)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-prediction-log") { db in
            try db.execute(sql: """
                CREATE TABLE prediction (
                    id TEXT PRIMARY KEY NOT NULL,
                    model TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    at INTEGER NOT NULL,
                    latency_us INTEGER NOT NULL,
                    inputs TEXT NOT NULL,
                    outputs TEXT NOT NULL
                );
                CREATE INDEX prediction_model_at ON prediction(model, at);
                CREATE INDEX prediction_at ON prediction(at);
                """)
        }
        migrator.registerMigration("v2-feedback") { db in
            try db.execute(sql: """
                CREATE TABLE feedback (
                    prediction_id TEXT NOT NULL,
                    row INTEGER NOT NULL CHECK (row >= 0),
                    label REAL NOT NULL,
                    received_at INTEGER NOT NULL,
                    PRIMARY KEY (prediction_id, row)
                );
                """)
        }
        migrator.registerMigration("v3-prediction-flags") { db in
            try db.execute(sql: "ALTER TABLE prediction ADD COLUMN flags TEXT")
        }
        return migrator
    }

    public func append(_ records: [PredictionRecord]) async throws { try await insert(records, unhurried: false) }

    /// Inserts in groups of `unhurriedGroup` rows with a short sleep after each. The log's inserts cost this
    /// process about 10 µs of CPU per record, and on a busy machine one flush's records written at once kept
    /// requests waiting for a core for milliseconds (p99 at one connection 1.5 ms; in groups, about 0.6 ms).
    /// Still one transaction: a commit per group measured far worse (each commit writes its pages again).
    public func appendUnhurried(_ records: [PredictionRecord]) async throws { try await insert(records, unhurried: true) }

    static let unhurriedGroup = 4
    /// Asked of the kernel; with its default timer slack the thread sleeps about 0.1 ms.
    static let unhurriedPause: UInt32 = 50

    /// One transaction. Values are bound straight from byte buffers reused across rows (GRDB's `StatementArguments`
    /// boxed every value and cost as much as SQLite's own insert).
    private func insert(_ records: [PredictionRecord], unhurried: Bool) async throws {
        guard !records.isEmpty else { return }
        try await writer.write { db in
            let statement = try db.cachedStatement(sql: """
                INSERT OR IGNORE INTO prediction (id, model, version, at, latency_us, inputs, outputs, flags) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """)
            let raw = statement.sqliteStatement
            defer { sqlite3_reset(raw); sqlite3_clear_bindings(raw) }
            var inputs: [UInt8] = [], outputs: [UInt8] = [], flags: [UInt8] = []
            for (i, r) in records.enumerated() {
                inputs.removeAll(keepingCapacity: true)
                outputs.removeAll(keepingCapacity: true)
                flags.removeAll(keepingCapacity: true)
                PredictionJSON.append(r.inputs, to: &inputs)
                PredictionJSON.append(r.outputs, to: &outputs)
                let hasFlags = PredictionJSON.appendFlags(r.flags, to: &flags)
                sqlite3_reset(raw)
                var rc = sqlite3_bind_text(raw, 1, r.id, -1, sqliteTransient)
                if rc == SQLITE_OK { rc = sqlite3_bind_text(raw, 2, r.model, -1, sqliteTransient) }
                if rc == SQLITE_OK { rc = sqlite3_bind_int64(raw, 3, Int64(r.version)) }
                if rc == SQLITE_OK { rc = sqlite3_bind_int64(raw, 4, Self.millis(r.at)) }
                if rc == SQLITE_OK { rc = sqlite3_bind_int64(raw, 5, Int64(r.latencyMicros)) }
                if rc == SQLITE_OK { rc = Self.bind(raw, 6, inputs) }
                if rc == SQLITE_OK { rc = Self.bind(raw, 7, outputs) }
                if rc == SQLITE_OK { rc = hasFlags ? Self.bind(raw, 8, flags) : sqlite3_bind_null(raw, 8) }
                if rc == SQLITE_OK { rc = sqlite3_step(raw) }
                guard rc == SQLITE_DONE else {
                    throw DatabaseError(
                        resultCode: ResultCode(rawValue: rc), message: String(cString: sqlite3_errmsg(db.sqliteConnection)),
                        sql: "INSERT INTO prediction")
                }
                if unhurried, i % Self.unhurriedGroup == Self.unhurriedGroup - 1, i < records.count - 1 { usleep(Self.unhurriedPause) }
            }
        }
    }

    private static func bind(_ statement: SQLiteStatement, _ index: Int32, _ bytes: [UInt8]) -> Int32 {
        bytes.withUnsafeBufferPointer { buffer in
            sqlite3_bind_text(
                statement, index, UnsafeRawPointer(buffer.baseAddress)?.assumingMemoryBound(to: CChar.self), Int32(buffer.count),
                sqliteTransient)
        }
    }

    public func record(id: String) async throws -> PredictionRecord? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM prediction WHERE id = ?", arguments: [id]).map(Self.record)
        }
    }

    public func records(model: String, version: Int?, since: Date?, until: Date?, limit: Int) async throws -> [PredictionRecord] {
        try await writer.read { db in
            var sql = "SELECT * FROM prediction WHERE model = ?"
            var arguments: StatementArguments = [model]
            if let version { sql += " AND version = ?"; arguments += [version] }
            if let since { sql += " AND at >= ?"; arguments += [Self.millis(since)] }
            if let until { sql += " AND at < ?"; arguments += [Self.millis(until)] }
            sql += " ORDER BY at DESC, id LIMIT ?"
            arguments += [max(0, limit)]
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.record)
        }
    }

    public func count(model: String?) async throws -> Int {
        try await writer.read { db in
            if let model { return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM prediction WHERE model = ?", arguments: [model]) ?? 0 }
            return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM prediction") ?? 0
        }
    }

    public func purge(olderThan date: Date) async throws -> Int {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM prediction WHERE at < ?", arguments: [Self.millis(date)])
            return db.changesCount
        }
    }

    public func trim(keepNewest count: Int) async throws -> Int {
        try await writer.write { db in
            // Rowids grow with every insert, so their span bounds the row count; reading it takes two index lookups.
            // Only a log that may hold more than `count` rows pays for the exact (sorting) delete.
            let span = try Int.fetchOne(
                db, sql: "SELECT COALESCE((SELECT MAX(rowid) FROM prediction) - (SELECT MIN(rowid) FROM prediction) + 1, 0)") ?? 0
            guard span > count else { return 0 }
            try db.execute(
                sql: "DELETE FROM prediction WHERE rowid NOT IN (SELECT rowid FROM prediction ORDER BY at DESC, rowid DESC LIMIT ?)",
                arguments: [max(0, count)])
            return db.changesCount
        }
    }

    public func addFeedback(_ items: [Feedback]) async throws -> Int {
        guard !items.isEmpty else { return 0 }
        return try await writer.write { db in
            let insert = try db.cachedStatement(sql: """
                INSERT INTO feedback (prediction_id, row, label, received_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (prediction_id, row) DO UPDATE SET label = excluded.label, received_at = excluded.received_at
                """)
            let rowsOf = try db.cachedStatement(sql: "SELECT json_array_length(outputs) FROM prediction WHERE id = ?")
            var rowCounts: [String: Int] = [:]
            var matched = 0
            for item in items {
                try insert.execute(arguments: [item.predictionID, item.row, item.label, Self.millis(item.receivedAt)])
                if rowCounts[item.predictionID] == nil {
                    rowCounts[item.predictionID] = try Int.fetchOne(rowsOf, arguments: [item.predictionID]) ?? 0
                }
                if item.row < rowCounts[item.predictionID]! { matched += 1 }
            }
            return matched
        }
    }

    public func labeled(model: String, version: Int?, since: Date?, until: Date?, limit: Int) async throws -> [LabeledPrediction] {
        try await writer.read { db in
            // SQLite picks the labelled row out of each record's JSON, so a large request is not decoded per label.
            var sql = """
                SELECT json_extract(p.inputs, '$[' || f.row || ']') AS input, json_extract(p.outputs, '$[' || f.row || ']') AS output,
                    f.label, p.id AS prediction_id, f.row AS row, p.at AS at FROM feedback f JOIN prediction p ON p.id = f.prediction_id
                WHERE p.model = ?
                """
            var arguments: StatementArguments = [model]
            if let version { sql += " AND p.version = ?"; arguments += [version] }
            if let since { sql += " AND p.at >= ?"; arguments += [Self.millis(since)] }
            if let until { sql += " AND p.at < ?"; arguments += [Self.millis(until)] }
            sql += " ORDER BY p.at DESC, p.id, f.row LIMIT ?"
            arguments += [max(0, limit)]
            let decoder = JSONDecoder()
            return try Row.fetchAll(db, sql: sql, arguments: arguments).compactMap { row in
                guard let input = row["input"] as String?, let output = row["output"] as String? else { return nil }   // row out of range
                return LabeledPrediction(
                    output: try decoder.decode([Double].self, from: Data(output.utf8)), label: row["label"],
                    inputs: try decoder.decode([JSONValue].self, from: Data(input.utf8)), predictionID: row["prediction_id"], row: row["row"],
                    at: Date(timeIntervalSince1970: Double(row["at"] as Int64) / 1000))
            }
        }
    }

    public func unmatchedFeedbackCount() async throws -> Int {
        try await writer.read { db in
            try Int.fetchOne(db, sql: """
                SELECT COUNT(*) FROM feedback f LEFT JOIN prediction p ON p.id = f.prediction_id WHERE p.id IS NULL
                """) ?? 0
        }
    }

    private static func record(_ row: Row) throws -> PredictionRecord {
        let decoder = JSONDecoder()
        return PredictionRecord(
            id: row["id"], model: row["model"], version: row["version"],
            at: Date(timeIntervalSince1970: Double(row["at"] as Int64) / 1000), latencyMicros: row["latency_us"],
            inputs: try decoder.decode([[JSONValue]].self, from: Data((row["inputs"] as String).utf8)),
            outputs: try decoder.decode([[Double]].self, from: Data((row["outputs"] as String).utf8)),
            flags: try (row["flags"] as String?).map { try decoder.decode([[String]].self, from: Data($0.utf8)) } ?? [])
    }

}
