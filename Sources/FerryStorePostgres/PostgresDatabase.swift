import FerryCore
import Foundation
import Logging
import PostgresNIO

/// A PostgreSQL database reached through a PostgresNIO connection pool: parameterized queries, transactions, and the
/// numbered migrations applied under an advisory lock so replicas that start together do not race.
final class PostgresDatabase: Sendable {
    let client: PostgresClient
    let logger: Logger
    private let runner: Task<Void, Never>

    /// Connects to `url` (`postgres://user[:password]@host[:port]/database[?sslmode=disable|require]`) and
    /// migrates the schema. Throws naming the problem when the URL is malformed, the server cannot be reached, or
    /// the schema is newer than this build.
    /// The pool retries connections for ever, so reaching the server at start is bounded by `connectTimeout`: a
    /// wrong host, port, password or sslmode fails the start with a message instead of a silent wait. The
    /// migrations that follow are not bounded: a replica waits for another that holds the migration lock (the test
    /// suite's databases, migrated dozens at a time on two cores, took 14 to 18 s each, and a bound of 20 s failed
    /// starts with a message that blamed the server's address).
    init(url: String, logger: Logger, connectTimeout: Duration = .seconds(20)) async throws {
        let configuration = try Self.configuration(url)
        client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.logger = logger
        let client = client
        runner = Task { await client.run() }
        // Let the pool start before the first lease (else PostgresNIO warns that run() was not called yet).
        for _ in 0..<3 { await Task.yield() }
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.read { try await Self.execute($0, "SELECT 1", logger) } }
                group.addTask {
                    try await Task.sleep(for: connectTimeout)
                    throw FerryError(
                        .unavailable,
                        "PostgreSQL at \(url.maskingPassword) did not answer within \(connectTimeout): check the host, port, user, password and sslmode (the server log of the pool has the cause)")
                }
                try await group.next()
                group.cancelAll()
            }
            try await migrate()
        } catch {
            runner.cancel()
            throw error
        }
    }

    /// Closes the pool's connections.
    func shutdown() { runner.cancel() }

    deinit { runner.cancel() }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws (its error is rethrown
    /// as it is).
    func transaction<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await client.withConnection { connection in
            try await Self.execute(connection, "BEGIN", self.logger)
            do {
                let result = try await body(connection)
                try await Self.execute(connection, "COMMIT", self.logger)
                return result
            } catch {
                try? await Self.execute(connection, "ROLLBACK", self.logger)
                throw Self.translate(error)
            }
        }
    }

    /// Runs a read on a pooled connection.
    func read<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await client.withConnection { connection in try await body(connection) }
        } catch {
            throw Self.translate(error)
        }
    }

    /// Runs a statement and reads its answer to the end (an unread answer would keep the connection busy).
    static func execute(_ connection: PostgresConnection, _ query: PostgresQuery, _ logger: Logger) async throws {
        for try await _ in try await connection.query(query, logger: logger) {}
    }

    /// Every row of a query, random-access.
    static func rows(_ connection: PostgresConnection, _ query: PostgresQuery, _ logger: Logger) async throws -> [PostgresRandomAccessRow] {
        var out: [PostgresRandomAccessRow] = []
        for try await row in try await connection.query(query, logger: logger) { out.append(row.makeRandomAccess()) }
        return out
    }

    /// A unique violation as `.alreadyExists`; other errors as they are.
    static func translate(_ error: any Error) -> any Error {
        if let error = error as? PSQLError, error.serverInfo?[.sqlState] == "23505" {
            return FerryError(.alreadyExists, "already exists: \(error.serverInfo?[.detail] ?? "a unique value is taken")")
        }
        return error
    }

    // MARK: Connection URL

    /// What a `postgres://` URL says, checked.
    struct Settings {
        var host: String
        var port: Int
        var username: String
        var password: String?
        var database: String
        /// The sslmode: disable, prefer or require.
        var sslMode: String
    }

    static func settings(_ url: String) throws -> Settings {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
              let host = components.host, !host.isEmpty else {
            throw FerryError.invalid("database URL '\(url.maskingPassword)' is not postgres://user[:password]@host[:port]/database")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty else { throw FerryError.invalid("database URL '\(url.maskingPassword)' names no database") }
        let mode = components.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "prefer"
        let sslMode: String
        switch mode {
        case "disable": sslMode = "disable"
        case "prefer", "allow": sslMode = "prefer"
        case "require", "verify-ca", "verify-full": sslMode = "require"
        default: throw FerryError.invalid("database URL: sslmode '\(mode)' is not one of disable, prefer, require")
        }
        return Settings(
            host: host, port: components.port ?? 5432, username: components.user ?? "postgres", password: components.password,
            database: database, sslMode: sslMode)
    }

    static func configuration(_ url: String) throws -> PostgresClient.Configuration {
        let s = try settings(url)
        let tls: PostgresClient.Configuration.TLS
        switch s.sslMode {
        case "disable": tls = .disable
        case "require": tls = .require(.makeClientConfiguration())
        default: tls = .prefer(.makeClientConfiguration())
        }
        var configuration = PostgresClient.Configuration(
            host: s.host, port: s.port, username: s.username, password: s.password, database: s.database, tls: tls)
        configuration.options.maximumConnections = 10
        return configuration
    }

    /// A connection of its own, outside the pool (for session state: advisory locks, LISTEN).
    static func connect(_ url: String, logger: Logger) async throws -> PostgresConnection {
        let s = try settings(url)
        let tls: PostgresConnection.Configuration.TLS
        switch s.sslMode {
        case "disable": tls = .disable
        case "require": tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        default: tls = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
        let configuration = PostgresConnection.Configuration(
            host: s.host, port: s.port, username: s.username, password: s.password, database: s.database, tls: tls)
        return try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
    }


    // MARK: Migrations

    /// Applies the migrations this build knows and the database lacks, in order, each in its own transaction, while
    /// holding an advisory lock: replicas starting together wait for each other instead of racing. A database
    /// migrated by a newer Ferry is refused, naming both versions.
    func migrate() async throws {
        let lockKey: Int64 = 0x4665_7272_7900   // "Ferry"
        try await client.withConnection { connection in
            try await Self.execute(connection, "SELECT pg_advisory_lock(\(lockKey))", self.logger)
            do {
                try await Self.execute(
                    connection,
                    "CREATE TABLE IF NOT EXISTS ferry_migration (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
                    self.logger)
                var applied = 0
                for row in try await Self.rows(connection, "SELECT COALESCE(MAX(version), 0) AS v FROM ferry_migration", self.logger) {
                    applied = try row["v"].decode(Int.self)
                }
                let known = PostgresMigrations.all.count
                guard applied <= known else {
                    throw FerryError(
                        .failedPrecondition,
                        "the database schema is at version \(applied), newer than this Ferry build knows (\(known)): upgrade Ferry before starting it against this database")
                }
                for (index, migration) in PostgresMigrations.all.enumerated() where index + 1 > applied {
                    try await Self.execute(connection, "BEGIN", self.logger)
                    do {
                        for statement in migration.statements {
                            try await Self.execute(connection, PostgresQuery(unsafeSQL: statement), self.logger)
                        }
                        let version = index + 1
                        let now = Int64(Date().timeIntervalSince1970 * 1000)
                        try await Self.execute(
                            connection, "INSERT INTO ferry_migration (version, name, applied_at) VALUES (\(version), \(migration.name), \(now))",
                            self.logger)
                        try await Self.execute(connection, "COMMIT", self.logger)
                    } catch {
                        try? await Self.execute(connection, "ROLLBACK", self.logger)
                        throw error
                    }
                }
            } catch {
                try? await Self.execute(connection, "SELECT pg_advisory_unlock(\(lockKey))", self.logger)
                throw error
            }
            try await Self.execute(connection, "SELECT pg_advisory_unlock(\(lockKey))", self.logger)
        }
    }
}
