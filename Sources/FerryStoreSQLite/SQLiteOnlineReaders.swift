import FerryCore
import FerryStoreRecords
import GRDB
import GRDBSQLite
import Synchronization

/// Read-only connections of their own for online feature reads, each with its lookup prepared once, taken from a
/// list for one read and put back.
///
/// A read through GRDB's pool cost more than SQLite's lookup itself: the pool's lock and bookkeeping (which builds a
/// key path at run time on every read), a `DispatchQueue.sync` onto the connection's queue and a schema check; `perf`
/// put them at about a fifth of an in-process read of one entity's ten features. Here a read is a mutex, the prepared
/// statement and SQLite's own locks. Every statement runs on its own (autocommit), so each key sees the newest
/// committed write, as the pooled read without a transaction did.
final class SQLiteOnlineReaders: Sendable {
    private let path: String
    private let idle = Mutex<[Connection]>([])

    init(path: String) { self.path = path }

    func read(view: String, keys: [String]) throws -> [OnlineFeatureRow?] {
        let connection = try idle.withLock { $0.popLast() } ?? Connection(path: path)
        defer { idle.withLock { $0.append(connection) } }
        return try keys.map { try connection.lookup(view: view, key: $0) }
    }

    /// One connection and its prepared lookup; used by one thread at a time (it is off the list while in use).
    private final class Connection: @unchecked Sendable {
        let db: OpaquePointer
        let lookup: OpaquePointer

        init(path: String) throws {
            var handle: OpaquePointer?
            var rc = sqlite3_open_v2(path, &handle, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nil)
            guard rc == SQLITE_OK, let db = handle else {
                defer { sqlite3_close_v2(handle) }
                throw Self.failure(rc, handle, "opening \(path) to read online features")
            }
            // As the store's own connections: pages through a memory map, and a busy database waited for.
            sqlite3_busy_timeout(db, 5_000)
            rc = sqlite3_exec(db, "PRAGMA mmap_size = 1073741824", nil, nil, nil)
            var statement: OpaquePointer?
            if rc == SQLITE_OK {
                rc = sqlite3_prepare_v3(
                    db, "SELECT event_time, created_time, feature_values FROM feature_online WHERE view = ? AND entity_key = ?", -1,
                    UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
            }
            guard rc == SQLITE_OK, let statement else {
                defer { sqlite3_close_v2(db) }
                throw Self.failure(rc, db, "preparing the online feature lookup")
            }
            self.db = db
            lookup = statement
        }

        deinit {
            sqlite3_finalize(lookup)
            sqlite3_close_v2(db)
        }

        func lookup(view: String, key: String) throws -> OnlineFeatureRow? {
            defer { sqlite3_reset(lookup) }
            var rc = sqlite3_bind_text(lookup, 1, view, -1, sqliteTransient)
            if rc == SQLITE_OK { rc = sqlite3_bind_text(lookup, 2, key, -1, sqliteTransient) }
            if rc == SQLITE_OK { rc = sqlite3_step(lookup) }
            switch rc {
            case SQLITE_DONE: return nil
            case SQLITE_ROW:
                let created = sqlite3_column_type(lookup, 1) == SQLITE_NULL ? nil : sqlite3_column_int64(lookup, 1)
                let text = UnsafeRawBufferPointer(
                    start: sqlite3_column_blob(lookup, 2), count: Int(sqlite3_column_bytes(lookup, 2)))
                return OnlineFeatureRow(
                    key: key, eventTime: sqlite3_column_int64(lookup, 0), createdTime: created,
                    values: try OnlineValuesCodec.decode(utf8: text))
            default: throw Self.failure(rc, db, "reading online features")
            }
        }

        static func failure(_ rc: Int32, _ db: OpaquePointer?, _ doing: String) -> DatabaseError {
            DatabaseError(
                resultCode: ResultCode(rawValue: rc), message: db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory",
                sql: doing)
        }
    }
}

/// SQLITE_TRANSIENT: SQLite copies a bound value before the bind returns.
let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
