import Foundation

// Data validation: what a model version expects of the data it is trained on or scores, derived from its schema
// and reference profile and editable, and what checking a file against it found.

/// A version's expectations of a data file: per column a type, a range, allowed categories, a null rate, a drift
/// limit and uniqueness; per file a row count, a unique key and no duplicate rows.
public struct Expectations: Sendable, Equatable, Codable {
    public struct Column: Sendable, Equatable, Codable {
        public enum Kind: String, Sendable, Codable { case numeric, categorical }

        public var name: String
        public var kind: Kind
        /// Values outside [min, max] break the `range` rule (numeric columns).
        public var min: Double?
        public var max: Double?
        /// Values not among these break the `categories` rule (categorical columns).
        public var categories: [String]?
        /// The largest share of missing values the file may have; 0 makes every missing value break `not_null`.
        public var maxNullRate: Double?
        /// No value may appear twice in the column.
        public var unique: Bool
        /// The largest population stability index against the reference's bins (numeric columns with a reference).
        public var maxPSI: Double?

        public init(
            name: String, kind: Kind, min: Double? = nil, max: Double? = nil, categories: [String]? = nil, maxNullRate: Double? = nil,
            unique: Bool = false, maxPSI: Double? = nil
        ) {
            self.name = name
            self.kind = kind
            self.min = min
            self.max = max
            self.categories = categories
            self.maxNullRate = maxNullRate
            self.unique = unique
            self.maxPSI = maxPSI
        }

        enum CodingKeys: String, CodingKey {
            case name, kind, min, max, categories, unique, maxNullRate = "max_null_rate", maxPSI = "max_psi"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            kind = try c.decodeIfPresent(Kind.self, forKey: .kind) ?? .numeric
            min = try c.decodeIfPresent(Double.self, forKey: .min)
            max = try c.decodeIfPresent(Double.self, forKey: .max)
            categories = try c.decodeIfPresent([String].self, forKey: .categories)
            maxNullRate = try c.decodeIfPresent(Double.self, forKey: .maxNullRate)
            unique = try c.decodeIfPresent(Bool.self, forKey: .unique) ?? false
            maxPSI = try c.decodeIfPresent(Double.self, forKey: .maxPSI)
        }
    }

    public var model: String
    public var version: Int
    public var columns: [Column]
    public var minRows: Int?
    public var maxRows: Int?
    /// Columns whose values together identify a row: a repeated key breaks `unique_key`.
    public var uniqueKey: [String]?
    /// A line equal to an earlier one breaks `duplicate_row`.
    public var noDuplicateRows: Bool
    /// `derived` (from the schema and reference) or `edited`.
    public var origin: String
    public var updatedBy: String
    public var updatedAt: Date

    public init(
        model: String, version: Int, columns: [Column], minRows: Int? = nil, maxRows: Int? = nil, uniqueKey: [String]? = nil,
        noDuplicateRows: Bool = true, origin: String = "edited", updatedBy: String, updatedAt: Date
    ) {
        self.model = model
        self.version = version
        self.columns = columns
        self.minRows = minRows
        self.maxRows = maxRows
        self.uniqueKey = uniqueKey
        self.noDuplicateRows = noDuplicateRows
        self.origin = origin
        self.updatedBy = updatedBy
        self.updatedAt = updatedAt
    }

    /// Range limits widen the reference's [min, max] by this share of its span on each side.
    public static let defaultTolerance = 0.05
    /// Null rates may exceed the reference's by this much.
    public static let nullRateSlack = 0.05
    /// Drift above this PSI fails (the usual "significant shift" threshold).
    public static let defaultMaxPSI = 0.25
    /// Drift is judged from at least this many present values of a column; a file with fewer passes it unjudged.
    public static let minDriftValues = 100

    /// What a version's schema and reference profile imply: each input's type; its reference range widened by
    /// `tolerance`; its categories (the schema's, else the reference's); its null rate (0 when the schema forbids
    /// missing values, else the reference's plus `nullRateSlack`); a PSI limit where a reference has bins; no
    /// duplicate rows.
    public static func derive(
        model: String, version: Int, schema: InputSchema, reference: ReferenceProfile?, tolerance: Double = defaultTolerance, by: String, at: Date
    ) -> Expectations {
        let profiles = Dictionary((reference?.features ?? []).map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let columns = schema.features.map { feature -> Column in
            let profile = profiles[feature.name]
            let categorical = feature.categories != nil || profile?.kind == .categorical
            var column = Column(name: feature.name, kind: categorical ? .categorical : .numeric)
            if categorical {
                column.categories = feature.categories ?? profile?.categories.map { $0.keys.sorted() }
            } else if let lo = profile?.min, let hi = profile?.max {
                let pad = (hi - lo) * tolerance
                (column.min, column.max) = (lo - pad, hi + pad)
                if profile?.edges != nil { column.maxPSI = defaultMaxPSI }
            }
            if !feature.nullable {
                column.maxNullRate = 0
            } else if let profile {
                column.maxNullRate = Swift.min(1, profile.missingRate + nullRateSlack)
            }
            return column
        }
        return Expectations(model: model, version: version, columns: columns, origin: "derived", updatedBy: by, updatedAt: at)
    }

    /// Checks limits and names, naming the field at fault.
    public func validate() throws {
        guard !columns.isEmpty else { throw FerryError.invalid("field 'columns' must name at least one column") }
        var seen: Set<String> = []
        for (i, c) in columns.enumerated() {
            guard !c.name.isEmpty else { throw FerryError.invalid("field 'columns[\(i)].name' is empty") }
            guard seen.insert(c.name).inserted else { throw FerryError.invalid("field 'columns[\(i)].name': column '\(c.name)' is named twice") }
            if let min = c.min, let max = c.max, min > max {
                throw FerryError.invalid("column '\(c.name)': field 'min' (\(min)) is above 'max' (\(max))")
            }
            for (field, value) in [("min", c.min), ("max", c.max), ("max_psi", c.maxPSI)] where value.map({ !$0.isFinite }) == true {
                throw FerryError.invalid("column '\(c.name)': field '\(field)' must be a finite number")
            }
            if let rate = c.maxNullRate, !(0...1).contains(rate) {
                throw FerryError.invalid("column '\(c.name)': field 'max_null_rate' must be between 0 and 1, got \(rate)")
            }
            if let psi = c.maxPSI, psi < 0 { throw FerryError.invalid("column '\(c.name)': field 'max_psi' must be >= 0") }
            if c.kind == .numeric, c.categories != nil {
                throw FerryError.invalid("column '\(c.name)': field 'categories' applies to categorical columns; set 'kind' to 'categorical'")
            }
            if c.kind == .categorical, c.min != nil || c.max != nil {
                throw FerryError.invalid("column '\(c.name)': fields 'min' and 'max' apply to numeric columns")
            }
        }
        if let minRows, minRows < 0 { throw FerryError.invalid("field 'min_rows' must be >= 0") }
        if let minRows, let maxRows, minRows > maxRows { throw FerryError.invalid("field 'min_rows' (\(minRows)) is above 'max_rows' (\(maxRows))") }
        for (i, key) in (uniqueKey ?? []).enumerated() where !seen.contains(key) {
            throw FerryError.invalid("field 'unique_key[\(i)]' names '\(key)', which is not among the columns (\(columns.map(\.name).joined(separator: ", ")))")
        }
    }
}

/// What checking one file against a version's expectations found.
public struct ValidationReport: Sendable, Equatable, Codable {
    /// One expectation's verdict.
    public struct Result: Sendable, Equatable, Codable {
        /// `type`, `range`, `categories`, `not_null`, `null_rate`, `unique`, `drift`, `row_count`, `unique_key`,
        /// `duplicate_row`, `parse`.
        public var rule: String
        /// The column it is about (nil for file-wide rules).
        public var column: String?
        /// What was expected, in words ("between 0 and 5000").
        public var expected: String
        public var passed: Bool
        /// Rows that broke it (row rules), or 0.
        public var failures: Int
        /// The figure a file-wide rule compares (a null rate, a PSI, a row count).
        public var observed: Double?
        /// Up to five rows that broke it: the row number and the value.
        public var examples: [Example]

        public init(rule: String, column: String?, expected: String, passed: Bool, failures: Int = 0, observed: Double? = nil, examples: [Example] = []) {
            self.rule = rule
            self.column = column
            self.expected = expected
            self.passed = passed
            self.failures = failures
            self.observed = observed
            self.examples = examples
        }
    }

    public struct Example: Sendable, Equatable, Codable {
        public var row: Int
        public var value: String
        public init(row: Int, value: String) {
            self.row = row
            self.value = value
        }
    }

    public var rows: Int
    /// Rows that broke at least one row rule: each is in the quarantine with the rules it broke.
    public var quarantinedRows: Int
    public var results: [Result]

    public var passed: Bool { results.allSatisfy(\.passed) }

    public init(rows: Int, quarantinedRows: Int, results: [Result]) {
        self.rows = rows
        self.quarantinedRows = quarantinedRows
        self.results = results
    }

    enum CodingKeys: String, CodingKey { case rows, results, quarantinedRows = "quarantined_rows" }
}

/// One check of a file: against which expectations, what it found, and where its quarantine is kept.
public struct ValidationRun: Sendable, Equatable {
    public var id: String
    public var model: String
    public var version: Int
    /// The file as its submitter named it.
    public var source: String
    public var format: BatchJob.Format
    public var report: ValidationReport
    /// The quarantined rows (`row`, `rules`, then the row's own fields), in input order, in pieces.
    public var quarantine: [ArtifactRef]
    /// The quarantine's header line (CSV input) or nil (JSON Lines: one object per line).
    public var quarantineHeader: String?
    public var createdBy: String
    public var createdAt: Date

    public init(
        id: String, model: String, version: Int, source: String, format: BatchJob.Format, report: ValidationReport, quarantine: [ArtifactRef],
        quarantineHeader: String?, createdBy: String, createdAt: Date
    ) {
        self.id = id
        self.model = model
        self.version = version
        self.source = source
        self.format = format
        self.report = report
        self.quarantine = quarantine
        self.quarantineHeader = quarantineHeader
        self.createdBy = createdBy
        self.createdAt = createdAt
    }
}

/// Expectations and validation runs. Every implementation must pass `ValidationStoreConformance` in `FerryTesting`.
public protocol ValidationStore: Sendable {
    /// Creates or replaces a version's edited expectations.
    func putExpectations(_ expectations: Expectations, audit: AuditBuilder<Expectations>?) async throws
    /// The version's stored expectations (nil: none were edited; they are derived).
    func expectations(model: String, version: Int) async throws -> Expectations?
    /// Removes a version's edited expectations (so they are derived again); false when it had none. The audit entry
    /// is built from the removed expectations.
    func removeExpectations(model: String, version: Int, audit: AuditBuilder<Expectations>?) async throws -> Bool
    func createValidationRun(_ run: ValidationRun, audit: AuditBuilder<ValidationRun>?) async throws
    func validationRun(id: String) async throws -> ValidationRun?
    /// A model's runs, newest first.
    func validationRuns(model: String, limit: Int) async throws -> [ValidationRun]
}
