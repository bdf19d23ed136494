import FerryCore
import FerryEngine
import Foundation

// Data validation: expectations as shown and as edited, and validation runs with their reports.
extension API {
    struct ExpectationsBody: Encodable, Sendable {
        var model: String
        var version: Int
        var columns: [Expectations.Column]
        var minRows: Int?
        var maxRows: Int?
        var uniqueKey: [String]?
        var noDuplicateRows: Bool
        /// `derived` (from the schema and reference profile) or `edited`.
        var origin: String
        var updatedBy: String
        var updatedAt: Date

        enum CodingKeys: String, CodingKey {
            case model, version, columns, origin, minRows = "min_rows", maxRows = "max_rows", uniqueKey = "unique_key"
            case noDuplicateRows = "no_duplicate_rows", updatedBy = "updated_by", updatedAt = "updated_at"
        }

        init(_ e: Expectations) {
            (model, version, columns, minRows, maxRows, uniqueKey) = (e.model, e.version, e.columns, e.minRows, e.maxRows, e.uniqueKey)
            (noDuplicateRows, origin, updatedBy, updatedAt) = (e.noDuplicateRows, e.origin, e.updatedBy, e.updatedAt)
        }
    }

    /// `PUT .../expectations`: what `GET` shows, without the bookkeeping.
    struct ExpectationsRequest: Decodable, Sendable {
        /// Its fields, and `GET`'s bookkeeping (ignored), so a file read with `GET` and edited can be sent back.
        static let shape = Shape(
            what: "expectations", fields: ["columns", "min_rows", "max_rows", "unique_key", "no_duplicate_rows", "model", "version", "origin", "updated_by", "updated_at"],
            inner: ["columns": Shape(what: "a column's expectations", fields: ["name", "kind", "min", "max", "categories", "unique", "max_null_rate", "max_psi"])])

        var columns: [Expectations.Column]
        var minRows: Int?
        var maxRows: Int?
        var uniqueKey: [String]?
        var noDuplicateRows: Bool?

        enum CodingKeys: String, CodingKey {
            case columns, minRows = "min_rows", maxRows = "max_rows", uniqueKey = "unique_key", noDuplicateRows = "no_duplicate_rows"
        }
    }

    struct ValidationRunBody: Encodable, Sendable {
        var id: String
        var model: String
        var version: Int
        var source: String
        var format: String
        var passed: Bool
        var rows: Int
        var quarantinedRows: Int
        var results: [ValidationReport.Result]
        var createdBy: String
        var createdAt: Date

        enum CodingKeys: String, CodingKey {
            case id, model, version, source, format, passed, rows, results
            case quarantinedRows = "quarantined_rows", createdBy = "created_by", createdAt = "created_at"
        }

        init(_ r: ValidationRun) {
            (id, model, version, source, format) = (r.id, r.model, r.version, r.source, r.format.rawValue)
            (passed, rows, quarantinedRows, results) = (r.report.passed, r.report.rows, r.report.quarantinedRows, r.report.results)
            (createdBy, createdAt) = (r.createdBy, r.createdAt)
        }
    }
}
