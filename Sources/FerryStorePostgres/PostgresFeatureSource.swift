import FerryCore
import Foundation
import Logging
import PostgresNIO

/// Feature view sources in PostgreSQL: a table or a query, read on one connection of its own (never the store's
/// pool, and never migrated), streamed row by row with every selected column cast to text.
public struct PostgresFeatureSource: FeatureSourceDatabase {
    let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    public func rows(url: String, table: String?, query: String?, columns: [String], _ body: ([String?]) throws -> Void) async throws {
        let from: String
        if let table {
            // A table name may be schema-qualified: quote each part.
            from = table.split(separator: ".").map { Self.quoted(String($0)) }.joined(separator: ".")
        } else if let query {
            from = "(\(query)) AS ferry_source"
        } else {
            throw FerryError.invalid("a PostgreSQL source needs a table or a query")
        }
        let select = "SELECT " + columns.map { "\(Self.quoted($0))::text" }.joined(separator: ", ") + " FROM " + from
        let connection: PostgresConnection
        do {
            connection = try await PostgresDatabase.connect(url, logger: logger)
        } catch {
            throw FerryError(.unavailable, "the PostgreSQL source at \(url.maskingPassword) cannot be reached: \(PostgresDatabase.translate(error))")
        }
        defer { Task { try? await connection.close() } }
        do {
            for try await row in try await connection.query(PostgresQuery(unsafeSQL: select), logger: logger) {
                var values: [String?] = []
                values.reserveCapacity(columns.count)
                for cell in row { values.append(try cell.decode(String?.self)) }
                try body(values)
            }
        } catch let error as PSQLError {
            throw FerryError.invalid("the PostgreSQL source could not be read (\(select.prefix(200))): \(error.serverInfo?[.message] ?? "\(error)")")
        }
    }

    static func quoted(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
}
