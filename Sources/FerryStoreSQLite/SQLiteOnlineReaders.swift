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
/// statement and, most of the time, nothing else.
///
/// A connection keeps its read transaction (its snapshot) from one read to the next until the store commits a
/// write: SQLite takes and drops its locks with `fcntl` system calls for every transaction, and keeping the snapshot
/// took the median in-process read of one entity's ten features from about 22 to 14 µs. The store's writer tells the readers of every commit (`databaseDidCommit`, on the writer's connection,
/// before the write returns); the commit moves a generation on and ends the snapshots of the connections not in
/// use, so that none holds up a checkpoint; a connection in use starts a new snapshot on its next read. A read
/// therefore sees every write that returned before it started, as with a transaction per read. The database is the
/// server's own: a write by another process is seen after the server's next commit.
final class SQLiteOnlineReaders: TransactionObserver, Sendable {
    private struct Idle {
        var connections: [Connection] = []
        /// Moves on with every commit of the store's writer.
        var generation: UInt64 = 0
    }

    private let path: String
    private let idle = Mutex(Idle())

    init(path: String) { self.path = path }

    func read(view: String, keys: [String]) throws -> [OnlineFeatureRow?] {
        // The generation is read before the snapshot starts, so a snapshot is never newer than its label says.
        let (taken, generation) = idle.withLock { ($0.connections.popLast(), $0.generation) }
        let connection = try taken ?? Connection(path: path)
        do {
            if connection.snapshot != generation {
                connection.end()
                try connection.run(connection.begin, "starting a read")
                connection.snapshot = generation
            }
            let rows = try keys.map { try connection.lookup(view: view, key: $0) }
            putBack(connection)
            return rows
        } catch {
            connection.end()
            putBack(connection)
            throw error
        }
    }

    /// Returns a connection to the list; one whose snapshot a commit made stale while it was in use ends it first
    /// (checked under the same lock as the commit's change of generation, so none slips past).
    private func putBack(_ connection: Connection) {
        let kept = idle.withLock { idle in
            guard connection.snapshot == nil || connection.snapshot == idle.generation else { return false }
            idle.connections.append(connection)
            return true
        }
        guard !kept else { return }
        connection.end()
        idle.withLock { $0.connections.append(connection) }
    }

    // MARK: TransactionObserver (the store's writer)

    func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool { false }
    func databaseDidChange(with event: DatabaseEvent) {}
    func databaseDidRollback(_ db: Database) {}

    func databaseDidCommit(_ db: Database) {
        let stale = idle.withLock { idle in
            idle.generation &+= 1
            let taken = idle.connections
            idle.connections = []
            return taken
        }
        guard !stale.isEmpty else { return }
        stale.forEach { $0.end() }
        idle.withLock { $0.connections += stale }
    }

    /// One connection and its prepared lookup; used by one thread at a time (it is off the list while in use).
    private final class Connection: @unchecked Sendable {
        let db: OpaquePointer
        let lookup: OpaquePointer
        let begin: OpaquePointer
        let commit: OpaquePointer
        /// The generation of the open read transaction; nil outside one.
        var snapshot: UInt64?

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
            var statements: [OpaquePointer] = []
            for sql in ["SELECT event_time, created_time, feature_values FROM feature_online WHERE view = ? AND entity_key = ?", "BEGIN", "COMMIT"]
            where rc == SQLITE_OK {
                var statement: OpaquePointer?
                rc = sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
                if let statement { statements.append(statement) }
            }
            guard rc == SQLITE_OK else {
                defer { statements.forEach { sqlite3_finalize($0) }; sqlite3_close_v2(db) }
                throw Self.failure(rc, db, "preparing the online feature lookup")
            }
            self.db = db
            (lookup, begin, commit) = (statements[0], statements[1], statements[2])
        }

        deinit {
            [lookup, begin, commit].forEach { sqlite3_finalize($0) }
            sqlite3_close_v2(db)
        }

        /// Runs a statement without results.
        func run(_ statement: OpaquePointer, _ doing: String) throws {
            defer { sqlite3_reset(statement) }
            let rc = sqlite3_step(statement)
            guard rc == SQLITE_DONE else { throw Self.failure(rc, db, doing) }
        }

        /// Ends the read transaction, so that the next read sees newer writes; a connection that stays in one
        /// (it cannot here, a read holds no changes) is rolled back.
        func end() {
            snapshot = nil
            guard sqlite3_get_autocommit(db) == 0 else { return }
            if (try? run(commit, "ending a read")) == nil, sqlite3_get_autocommit(db) == 0 {
                sqlite3_exec(db, "ROLLBACK", nil, nil, nil)
            }
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
