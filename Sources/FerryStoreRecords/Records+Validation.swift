import FerryCore
import Foundation

// Data validation (expectations.spec, validation_run.spec)

/// `expectations.spec`: a version's edited `Expectations` (columns in `Expectations.Column`'s JSON shape).
package struct ExpectationsRecord: Codable, Sendable, Equatable {
    static let currentSchemaVersion = 1

    var schemaVersion: Int
    var model: String
    var version: Int
    var columns: [Expectations.Column]
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
        columns = e.columns
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
        columns = try c.decode([Expectations.Column].self, forKey: .columns)
        minRows = try c.decodeIfPresent(Int.self, forKey: .minRows)
        maxRows = try c.decodeIfPresent(Int.self, forKey: .maxRows)
        uniqueKey = try c.decodeIfPresent([String].self, forKey: .uniqueKey)
        noDuplicateRows = try c.decode(Bool.self, forKey: .noDuplicateRows)
        origin = try c.decode(String.self, forKey: .origin)
        updatedBy = try c.decode(String.self, forKey: .updatedBy)
        updatedAt = try c.decode(Double.self, forKey: .updatedAt)
    }

    package func domain() -> Expectations {
        Expectations(
            model: model, version: version, columns: columns, minRows: minRows, maxRows: maxRows, uniqueKey: uniqueKey,
            noDuplicateRows: noDuplicateRows, origin: origin, updatedBy: updatedBy, updatedAt: Records.date(updatedAt))
    }
}

/// `validation_run.spec`: a `ValidationRun` (its report in `ValidationReport`'s JSON shape).
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
    var report: ValidationReport
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
        report = r.report
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
        report = try c.decode(ValidationReport.self, forKey: .report)
        quarantine = try c.decode([Ref].self, forKey: .quarantine)
        quarantineHeader = try c.decodeIfPresent(String.self, forKey: .quarantineHeader)
        createdBy = try c.decode(String.self, forKey: .createdBy)
        createdAt = try c.decode(Double.self, forKey: .createdAt)
    }

    package func domain() throws -> ValidationRun {
        ValidationRun(
            id: id, model: model, version: version, source: source,
            format: try Records.parse(format, as: BatchJob.Format.self, field: "format", in: "ValidationRunRecord"), report: report,
            quarantine: quarantine.map { ArtifactRef(sha256: $0.sha256, size: $0.size) }, quarantineHeader: quarantineHeader,
            createdBy: createdBy, createdAt: Records.date(createdAt))
    }
}
