import FerryCore
import Foundation

// Data validation (expectations.spec, validation_run.spec)

/// `expectations.spec`: a version's edited `Expectations`.
package struct ExpectationsRecord: Codable, Sendable, Equatable {
    static let currentSchemaVersion = 1

    var schemaVersion: Int
    var model: String
    var version: Int
    var columns: [ExpectationColumnRecord]
    var minRows: Int?
    var maxRows: Int?
    var uniqueKey: [String]?
    var noDuplicateRows: Bool
    var origin: String
    var updatedBy: String
    var updatedAt: Double

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version", minRows = "min_rows", maxRows = "max_rows", uniqueKey = "unique_key"
        case noDuplicateRows = "no_duplicate_rows", updatedBy = "updated_by", updatedAt = "updated_at"
        case model, version, columns, origin
    }

    package init(_ e: Expectations) {
        schemaVersion = Self.currentSchemaVersion
        model = e.model
        version = e.version
        columns = e.columns.map(ExpectationColumnRecord.init)
        minRows = e.minRows
        maxRows = e.maxRows
        uniqueKey = e.uniqueKey
        noDuplicateRows = e.noDuplicateRows
        origin = e.origin
        updatedBy = e.updatedBy
        updatedAt = Records.seconds(e.updatedAt)
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schemaVersion = try Records.schemaVersion(in: c, forKey: .schemaVersion, record: "ExpectationsRecord", current: Self.currentSchemaVersion)
        model = try c.decode(String.self, forKey: .model)
        version = try c.decode(Int.self, forKey: .version)
        columns = try c.decode([ExpectationColumnRecord].self, forKey: .columns)
        minRows = try c.decodeIfPresent(Int.self, forKey: .minRows)
        maxRows = try c.decodeIfPresent(Int.self, forKey: .maxRows)
        uniqueKey = try c.decodeIfPresent([String].self, forKey: .uniqueKey)
        noDuplicateRows = try c.decode(Bool.self, forKey: .noDuplicateRows)
        origin = try c.decode(String.self, forKey: .origin)
        updatedBy = try c.decode(String.self, forKey: .updatedBy)
        updatedAt = try c.decode(Double.self, forKey: .updatedAt)
    }

    package func domain() throws -> Expectations {
        Expectations(
            model: model, version: version, columns: try columns.map { try $0.domain() }, minRows: minRows, maxRows: maxRows, uniqueKey: uniqueKey,
            noDuplicateRows: noDuplicateRows, origin: origin, updatedBy: updatedBy, updatedAt: Records.date(updatedAt))
    }
}

/// `validation_run.spec`: a `ValidationRun` with its report.
package struct ValidationRunRecord: Codable, Sendable, Equatable {
    static let currentSchemaVersion = 1

    struct Ref: Codable, Sendable, Equatable {
        var sha256: String
        var size: Int
    }

    var schemaVersion: Int
    var id: String
    var model: String
    var version: Int
    var source: String
    var format: String
    var report: ValidationReportRecord
    var quarantine: [Ref]
    var quarantineHeader: String?
    var createdBy: String
    var createdAt: Double

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version", quarantineHeader = "quarantine_header", createdBy = "created_by", createdAt = "created_at"
        case id, model, version, source, format, report, quarantine
    }

    package init(_ r: ValidationRun) {
        schemaVersion = Self.currentSchemaVersion
        id = r.id
        model = r.model
        version = r.version
        source = r.source
        format = r.format.rawValue
        report = ValidationReportRecord(r.report)
        quarantine = r.quarantine.map { Ref(sha256: $0.sha256, size: $0.size) }
        quarantineHeader = r.quarantineHeader
        createdBy = r.createdBy
        createdAt = Records.seconds(r.createdAt)
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schemaVersion = try Records.schemaVersion(in: c, forKey: .schemaVersion, record: "ValidationRunRecord", current: Self.currentSchemaVersion)
        id = try c.decode(String.self, forKey: .id)
        model = try c.decode(String.self, forKey: .model)
        version = try c.decode(Int.self, forKey: .version)
        source = try c.decode(String.self, forKey: .source)
        format = try c.decode(String.self, forKey: .format)
        report = try c.decode(ValidationReportRecord.self, forKey: .report)
        quarantine = try c.decode([Ref].self, forKey: .quarantine)
        quarantineHeader = try c.decodeIfPresent(String.self, forKey: .quarantineHeader)
        createdBy = try c.decode(String.self, forKey: .createdBy)
        createdAt = try c.decode(Double.self, forKey: .createdAt)
    }

    package func domain() throws -> ValidationRun {
        ValidationRun(
            id: id, model: model, version: version, source: source,
            format: try Records.parse(format, as: BatchJob.Format.self, field: "format", in: "ValidationRunRecord"), report: report.domain(),
            quarantine: quarantine.map { ArtifactRef(sha256: $0.sha256, size: $0.size) }, quarantineHeader: quarantineHeader,
            createdBy: createdBy, createdAt: Records.date(createdAt))
    }
}

/// One `Expectations.Column` in `expectations.spec`.
package struct ExpectationColumnRecord: Codable, Sendable, Equatable {
    var name: String
    /// An `Expectations.Column.Kind` raw value: "numeric" or "categorical".
    var kind: String
    var min: Double?
    var max: Double?
    var categories: [String]?
    var maxNullRate: Double?
    var unique: Bool
    var maxPSI: Double?

    enum CodingKeys: String, CodingKey {
        case name, kind, min, max, categories, unique, maxNullRate = "max_null_rate", maxPSI = "max_psi"
    }

    package init(_ c: Expectations.Column) {
        (name, kind, min, max, categories) = (c.name, c.kind.rawValue, c.min, c.max, c.categories)
        (maxNullRate, unique, maxPSI) = (c.maxNullRate, c.unique, c.maxPSI)
    }

    package func domain() throws -> Expectations.Column {
        Expectations.Column(
            name: name, kind: try Records.parse(kind, as: Expectations.Column.Kind.self, field: "kind", in: "ExpectationColumnRecord"),
            min: min, max: max, categories: categories, maxNullRate: maxNullRate, unique: unique, maxPSI: maxPSI)
    }
}

/// A `ValidationReport` in `validation_run.spec`.
package struct ValidationReportRecord: Codable, Sendable, Equatable {
    struct Result: Codable, Sendable, Equatable {
        var rule: String
        var column: String?
        var expected: String
        var passed: Bool
        var failures: Int
        var observed: Double?
        var examples: [Example]
    }

    struct Example: Codable, Sendable, Equatable {
        var row: Int
        var value: String
    }

    var rows: Int
    var quarantinedRows: Int
    var results: [Result]

    enum CodingKeys: String, CodingKey { case rows, results, quarantinedRows = "quarantined_rows" }

    package init(_ r: ValidationReport) {
        rows = r.rows
        quarantinedRows = r.quarantinedRows
        results = r.results.map {
            Result(
                rule: $0.rule, column: $0.column, expected: $0.expected, passed: $0.passed, failures: $0.failures, observed: $0.observed,
                examples: $0.examples.map { Example(row: $0.row, value: $0.value) })
        }
    }

    package func domain() -> ValidationReport {
        ValidationReport(rows: rows, quarantinedRows: quarantinedRows, results: results.map {
            .init(
                rule: $0.rule, column: $0.column, expected: $0.expected, passed: $0.passed, failures: $0.failures, observed: $0.observed,
                examples: $0.examples.map { .init(row: $0.row, value: $0.value) })
        })
    }
}
