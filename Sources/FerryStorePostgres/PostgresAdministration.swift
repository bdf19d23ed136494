import FerryCore
import Logging
import PostgresNIO

/// Server-level chores outside any Ferry database (the tests create a fresh database per case with it).
public enum PostgresAdministration {
    /// Creates database `name` (letters, digits and underscores) on the server `server` points at.
    public static func createDatabase(named name: String, template: String? = nil, server: String, logger: Logger) async throws {
        for given in [name] + (template.map { [$0] } ?? []) {
            guard !given.isEmpty, given.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                throw FerryError.invalid("database name '\(given)' must be letters, digits and underscores")
            }
        }
        var configuration = try PostgresDatabase.configuration(server)
        configuration.options.maximumConnections = 1
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            for try await _ in try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)" + (template.map { " TEMPLATE \($0)" } ?? "")), logger: logger) {}
        }
    }

    /// Runs SQL statements in order on one connection to `url` (test fixtures: tables a feature source reads).
    public static func run(_ statements: [String], url: String, logger: Logger) async throws {
        let connection = try await PostgresDatabase.connect(url, logger: logger)
        do {
            for statement in statements { try await PostgresDatabase.execute(connection, PostgresQuery(unsafeSQL: statement), logger) }
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
    }
}
