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
        migrator.registerMigration("v4-prediction-blocks") { db in
            // Blocks of records (`PredictionBlock`), their bodies apart so that scans of the blocks read no bodies,
            // and each record's id with its block and its number of rows (feedback is matched on those).
            try db.execute(sql: """
                CREATE TABLE prediction_block (
                    id INTEGER PRIMARY KEY,
                    model TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    first_at INTEGER NOT NULL,
                    last_at INTEGER NOT NULL,
                    records INTEGER NOT NULL
                );
                CREATE INDEX prediction_block_model_at ON prediction_block(model, last_at);
                CREATE INDEX prediction_block_first_at ON prediction_block(first_at);
                CREATE TABLE prediction_body (block INTEGER PRIMARY KEY, body BLOB NOT NULL);
                CREATE TABLE prediction_id (id TEXT PRIMARY KEY NOT NULL, block INTEGER NOT NULL, rows INTEGER NOT NULL) WITHOUT ROWID;
                """)
            // Records stored one per row before are moved into blocks, in the order they were written.
            let rows = try Row.fetchCursor(db, sql: "SELECT * FROM prediction ORDER BY rowid")
            var moving: [PredictionRecord] = []
            while let row = try rows.next() {
                moving.append(try legacyRecord(row))
                if moving.count == 4096 {
                    try insert(moving, into: db, unhurried: false)
                    moving.removeAll(keepingCapacity: true)
                }
            }
            try insert(moving, into: db, unhurried: false)
            try db.execute(sql: "DROP TABLE prediction")
        }
        migrator.registerMigration("v5-log-secret") { db in
            try db.execute(sql: "CREATE TABLE log_secret (name TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)")
        }
        return migrator
    }

    public func append(_ records: [PredictionRecord]) async throws {
        try await writer.write { db in try Self.insert(records, into: db, unhurried: false) }
    }

    /// Pauses briefly after every `unhurriedGroup` records. On a busy machine, one flush's records written at once
    /// kept requests waiting for a core for milliseconds (p99 at one connection 1.5 ms; in groups, about 0.6 ms).
    /// Still one transaction: a commit per group measured far worse (each commit writes its pages again).
    public func appendUnhurried(_ records: [PredictionRecord]) async throws {
        try await writer.write { db in try Self.insert(records, into: db, unhurried: true) }
    }

    static let unhurriedGroup = 4
    /// Asked of the kernel; with its default timer slack the thread sleeps about 0.1 ms.
    static let unhurriedPause: UInt32 = 50
    /// Most records in one block.
    static let blockRecords = 64

    /// Stores records in blocks: those of one model version, in the order given, up to `blockRecords` a block. A
    /// record whose id is already stored is left out (the first write wins). Values are bound straight from Swift
    /// strings and byte buffers (GRDB's `StatementArguments` boxed every value).
    static func insert(_ records: [PredictionRecord], into db: Database, unhurried: Bool) throws {
        guard !records.isEmpty else { return }
        let ids = try db.cachedStatement(sql: "INSERT OR IGNORE INTO prediction_id (id, block, rows) VALUES (?, ?, ?)").sqliteStatement
        let blocks = try db.cachedStatement(sql: """
            INSERT INTO prediction_block (id, model, version, first_at, last_at, records) VALUES (?, ?, ?, ?, ?, ?)
            """).sqliteStatement
        let bodies = try db.cachedStatement(sql: "INSERT INTO prediction_body (block, body) VALUES (?, ?)").sqliteStatement
        var block = try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(id), 0) FROM prediction_block")! + 1
        var body: [UInt8] = []
        var written = 0
        for group in grouped(records) {
            var next = group.startIndex
            while next < group.endIndex {
                let chunk = group[next..<min(next + blockRecords, group.endIndex)]
                next = chunk.endIndex
                PredictionBlock.start(&body)
                var kept = 0, first = Int64.max, last = Int64.min
                for i in chunk {
                    let r = records[i]
                    sqlite3_reset(ids)
                    var rc = sqlite3_bind_text(ids, 1, r.id, -1, sqliteTransient)
                    if rc == SQLITE_OK { rc = sqlite3_bind_int64(ids, 2, block) }
                    if rc == SQLITE_OK { rc = sqlite3_bind_int64(ids, 3, Int64(r.outputs.count)) }
                    if rc == SQLITE_OK { rc = sqlite3_step(ids) }
                    try check(rc, db, "INSERT INTO prediction_id")
                    written += 1
                    if unhurried, written % unhurriedGroup == 0, written < records.count { usleep(unhurriedPause) }
                    guard sqlite3_changes(db.sqliteConnection) == 1 else { continue }   // the id is stored already
                    let at = millis(r.at)
                    PredictionBlock.append(r, atMillis: at, to: &body)
                    kept += 1
                    first = min(first, at)
                    last = max(last, at)
                }
                guard kept > 0 else { continue }
                let r = records[chunk.first!]
                sqlite3_reset(blocks)
                var rc = sqlite3_bind_int64(blocks, 1, block)
                if rc == SQLITE_OK { rc = sqlite3_bind_text(blocks, 2, r.model, -1, sqliteTransient) }
                if rc == SQLITE_OK { rc = sqlite3_bind_int64(blocks, 3, Int64(r.version)) }
                if rc == SQLITE_OK { rc = sqlite3_bind_int64(blocks, 4, first) }
                if rc == SQLITE_OK { rc = sqlite3_bind_int64(blocks, 5, last) }
                if rc == SQLITE_OK { rc = sqlite3_bind_int64(blocks, 6, Int64(kept)) }
                if rc == SQLITE_OK { rc = sqlite3_step(blocks) }
                try check(rc, db, "INSERT INTO prediction_block")
                try writeBody(bodies, block, body, db, "INSERT INTO prediction_body")
                block += 1
            }
        }
    }

    /// The records' indexes grouped by model version, groups in order of first appearance.
    private static func grouped(_ records: [PredictionRecord]) -> [[Int]] {
        var groups: [[Int]] = []
        var index: [VersionRef: Int] = [:]
        for (i, r) in records.enumerated() {
            let key = VersionRef(model: r.model, version: r.version)
            if let g = index[key] { groups[g].append(i) } else {
                index[key] = groups.count
                groups.append([i])
            }
        }
        return groups
    }

    /// Runs a statement whose first parameter is a block's id and whose second is its body.
    private static func writeBody(_ statement: SQLiteStatement, _ block: Int64, _ body: [UInt8], _ db: Database, _ sql: String) throws {
        sqlite3_reset(statement)
        var rc = sqlite3_bind_int64(statement, 1, block)
        if rc == SQLITE_OK {
            rc = body.withUnsafeBytes { sqlite3_bind_blob(statement, 2, $0.baseAddress, Int32($0.count), sqliteTransient) }
        }
        if rc == SQLITE_OK { rc = sqlite3_step(statement) }
        try check(rc, db, sql)
    }

    private static func check(_ rc: Int32, _ db: Database, _ sql: String) throws {
        guard rc != SQLITE_DONE else { return }
        throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: String(cString: sqlite3_errmsg(db.sqliteConnection)), sql: sql)
    }

    /// A block as read back: which version its records are of, and its body.
    private struct StoredBlock {
        var id: Int64
        var model: String
        var version: Int
        var body: Data
        var entries: [PredictionBlock.Entry]

        init(_ row: Row) throws {
            id = row["id"]
            model = row["model"]
            version = row["version"]
            body = row["body"]
            entries = try PredictionBlock.entries(body)
        }

        func record(_ entry: PredictionBlock.Entry) throws -> PredictionRecord {
            try PredictionBlock.record(body, entry, model: model, version: version)
        }
    }

    private static let blockColumns = "b.id, b.model, b.version, b.last_at, d.body FROM prediction_block b JOIN prediction_body d ON d.block = b.id"

    public func record(id: String) async throws -> PredictionRecord? {
        try await writer.read { db in
            guard let row = try Row.fetchOne(
                db, sql: "SELECT \(Self.blockColumns) JOIN prediction_id i ON i.block = b.id WHERE i.id = ?", arguments: [id])
            else { return nil }
            let block = try StoredBlock(row)
            return try block.entries.first { $0.id == id }.map(block.record)
        }
    }

    public func records(model: String, version: Int?, since: Date?, until: Date?, limit: Int) async throws -> [PredictionRecord] {
        guard limit > 0 else { return [] }
        return try await writer.read { db in
            var sql = "SELECT \(Self.blockColumns) WHERE b.model = ?"
            var arguments: StatementArguments = [model]
            if let version { sql += " AND b.version = ?"; arguments += [version] }
            if let since { sql += " AND b.last_at >= ?"; arguments += [Self.millis(since)] }
            if let until { sql += " AND b.first_at < ?"; arguments += [Self.millis(until)] }
            sql += " ORDER BY b.last_at DESC"
            let low = since.map(Self.millis) ?? .min, high = until.map(Self.millis) ?? .max
            // Blocks come newest last record first; once `limit` records are found, a block whose newest record is
            // older than all of them cannot add any.
            var found: [(at: Int64, id: String, block: Int, entry: PredictionBlock.Entry)] = []
            var blocks: [StoredBlock] = []
            var oldestKept = Int64.min
            let rows = try Row.fetchCursor(db, sql: sql, arguments: arguments)
            while let row = try rows.next() {
                if found.count >= limit, (row["last_at"] as Int64) < oldestKept { break }
                let block = try StoredBlock(row)
                for entry in block.entries where entry.atMillis >= low && entry.atMillis < high {
                    found.append((entry.atMillis, entry.id, blocks.count, entry))
                }
                blocks.append(block)
                if found.count >= limit {
                    found.sort { ($0.at, $1.id) > ($1.at, $0.id) }
                    found.removeLast(found.count - limit)
                    oldestKept = found[limit - 1].at
                }
            }
            found.sort { ($0.at, $1.id) > ($1.at, $0.id) }
            return try found.prefix(limit).map { try blocks[$0.block].record($0.entry) }
        }
    }

    public func count(model: String?) async throws -> Int {
        try await writer.read { db in
            if let model {
                return try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(records), 0) FROM prediction_block WHERE model = ?", arguments: [model]) ?? 0
            }
            return try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(records), 0) FROM prediction_block") ?? 0
        }
    }

    public func purge(olderThan date: Date) async throws -> Int {
        let cutoff = Self.millis(date)
        return try await writer.write { db in
            let blocks = try Int64.fetchAll(db, sql: "SELECT id FROM prediction_block WHERE first_at < ?", arguments: [cutoff])
            var removed = 0
            for id in blocks {
                removed += try Self.remove(from: id, in: db) { $0.atMillis < cutoff }
            }
            return removed
        }
    }

    public func trim(keepNewest count: Int) async throws -> Int {
        try await writer.write { db in
            let total = try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(records), 0) FROM prediction_block") ?? 0
            let excess = total - max(0, count)
            guard excess > 0 else { return 0 }
            // The oldest `excess` records, by time and then by the order they were written (blocks are numbered in
            // that order). Blocks come oldest first record first; once `excess` candidates are found, a block whose
            // oldest record is newer than all of them cannot add any.
            var candidates: [(at: Int64, block: Int64, index: Int)] = []
            var newestDoomed = Int64.max
            let rows = try Row.fetchCursor(db, sql: "SELECT id, first_at FROM prediction_block ORDER BY first_at, id")
            var bodies: [Int64: [PredictionBlock.Entry]] = [:]
            while let row = try rows.next() {
                let id: Int64 = row["id"]
                if candidates.count >= excess, (row["first_at"] as Int64) > newestDoomed { break }
                let body = try Data.fetchOne(db, sql: "SELECT body FROM prediction_body WHERE block = ?", arguments: [id]) ?? Data()
                let entries = try PredictionBlock.entries(body)
                bodies[id] = entries
                for (i, entry) in entries.enumerated() { candidates.append((entry.atMillis, id, i)) }
                if candidates.count >= excess {
                    candidates.sort { ($0.at, $0.block, $0.index) < ($1.at, $1.block, $1.index) }
                    candidates.removeLast(candidates.count - excess)
                    newestDoomed = candidates[excess - 1].at
                }
            }
            candidates.sort { ($0.at, $0.block, $0.index) < ($1.at, $1.block, $1.index) }
            var doomed: [Int64: Set<String>] = [:]
            for c in candidates.prefix(excess) { doomed[c.block, default: []].insert(bodies[c.block]![c.index].id) }
            var removed = 0
            for (block, ids) in doomed {
                removed += try Self.remove(from: block, in: db) { ids.contains($0.id) }
            }
            return removed
        }
    }

    /// Deletes the records of a block that `doomed` picks, and their ids (their feedback stays, unmatched); the block goes when
    /// none is left, else its body is rewritten from the others' bytes. Returns how many were deleted.
    private static func remove(from block: Int64, in db: Database, _ doomed: (PredictionBlock.Entry) -> Bool) throws -> Int {
        guard let body = try Data.fetchOne(db, sql: "SELECT body FROM prediction_body WHERE block = ?", arguments: [block]) else { return 0 }
        let entries = try PredictionBlock.entries(body)
        let kept = entries.filter { !doomed($0) }
        guard kept.count < entries.count else { return 0 }
        let deleteID = try db.cachedStatement(sql: "DELETE FROM prediction_id WHERE id = ?")
        for entry in entries where doomed(entry) { try deleteID.execute(arguments: [entry.id]) }
        if kept.isEmpty {
            try db.execute(sql: "DELETE FROM prediction_body WHERE block = ?", arguments: [block])
            try db.execute(sql: "DELETE FROM prediction_block WHERE id = ?", arguments: [block])
        } else {
            let rewrite = try db.cachedStatement(sql: "UPDATE prediction_body SET body = ?2 WHERE block = ?1").sqliteStatement
            try writeBody(rewrite, block, PredictionBlock.subset(body, kept), db, "UPDATE prediction_body")
            try db.execute(
                sql: "UPDATE prediction_block SET first_at = ?, last_at = ?, records = ? WHERE id = ?",
                arguments: [kept.map(\.atMillis).min()!, kept.map(\.atMillis).max()!, kept.count, block])
        }
        return entries.count - kept.count
    }

    public func addFeedback(_ items: [Feedback]) async throws -> Int {
        guard !items.isEmpty else { return 0 }
        return try await writer.write { db in
            let insert = try db.cachedStatement(sql: """
                INSERT INTO feedback (prediction_id, row, label, received_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (prediction_id, row) DO UPDATE SET label = excluded.label, received_at = excluded.received_at
                """)
            let rowsOf = try db.cachedStatement(sql: "SELECT rows FROM prediction_id WHERE id = ?")
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
        guard limit > 0 else { return [] }
        return try await writer.read { db in
            var sql = """
                SELECT f.prediction_id, f.row, f.label, i.block FROM feedback f JOIN prediction_id i ON i.id = f.prediction_id
                JOIN prediction_block b ON b.id = i.block WHERE f.row < i.rows AND b.model = ?
                """
            var arguments: StatementArguments = [model]
            if let version { sql += " AND b.version = ?"; arguments += [version] }
            if let since { sql += " AND b.last_at >= ?"; arguments += [Self.millis(since)] }
            if let until { sql += " AND b.first_at < ?"; arguments += [Self.millis(until)] }
            let low = since.map(Self.millis) ?? .min, high = until.map(Self.millis) ?? .max
            // Each block is read once, however many of its rows are labelled.
            var blocks: [Int64: (block: StoredBlock, byID: [String: PredictionBlock.Entry])] = [:]
            var found: [(at: Int64, id: String, row: Int, label: Double, block: Int64)] = []
            for row in try Row.fetchAll(db, sql: sql, arguments: arguments) {
                let id: String = row["prediction_id"], blockID: Int64 = row["block"]
                if blocks[blockID] == nil {
                    guard let stored = try Row.fetchOne(db, sql: "SELECT \(Self.blockColumns) WHERE b.id = ?", arguments: [blockID]) else { continue }
                    let block = try StoredBlock(stored)
                    blocks[blockID] = (block, Dictionary(block.entries.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a }))
                }
                guard let entry = blocks[blockID]!.byID[id], entry.atMillis >= low, entry.atMillis < high else { continue }
                found.append((entry.atMillis, id, row["row"], row["label"], blockID))
            }
            found.sort { ($0.at, $1.id, $1.row) > ($1.at, $0.id, $0.row) }
            var decoded: [String: PredictionRecord] = [:]
            return try found.prefix(limit).compactMap { f in
                let record: PredictionRecord
                if let known = decoded[f.id] { record = known } else {
                    let (block, byID) = blocks[f.block]!
                    record = try block.record(byID[f.id]!)
                    decoded[f.id] = record
                }
                guard f.row < record.inputs.count else { return nil }
                return LabeledPrediction(
                    output: record.outputs[f.row], label: f.label, inputs: record.inputs[f.row], predictionID: f.id, row: f.row, at: record.at)
            }
        }
    }

    public func unmatchedFeedbackCount() async throws -> Int {
        try await writer.read { db in
            try Int.fetchOne(db, sql: """
                SELECT COUNT(*) FROM feedback f LEFT JOIN prediction_id i ON i.id = f.prediction_id WHERE i.id IS NULL
                """) ?? 0
        }
    }

    public func hashKey() async throws -> String {
        let fresh = Self.freshKey()
        return try await writer.write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO log_secret (name, value) VALUES ('hash', ?)", arguments: [fresh])
            return try String.fetchOne(db, sql: "SELECT value FROM log_secret WHERE name = 'hash'")!
        }
    }

    /// A record as the log stored it before blocks (one row each, values as JSON text).
    private static func legacyRecord(_ row: Row) throws -> PredictionRecord {
        let decoder = JSONDecoder()
        return PredictionRecord(
            id: row["id"], model: row["model"], version: row["version"],
            at: Date(timeIntervalSince1970: Double(row["at"] as Int64) / 1000), latencyMicros: row["latency_us"],
            inputs: try decoder.decode([[JSONValue]].self, from: Data((row["inputs"] as String).utf8)),
            outputs: try decoder.decode([[Double]].self, from: Data((row["outputs"] as String).utf8)),
            flags: try (row["flags"] as String?).map { try decoder.decode([[String]].self, from: Data($0.utf8)) } ?? [])
    }

}
