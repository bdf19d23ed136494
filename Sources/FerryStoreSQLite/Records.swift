import FerryCore
import Foundation

// The shapes the SQLite store writes into its JSON text columns.
//
// FerryCore's types are also HTTP bodies, so the store does not encode them directly: renaming one of their fields
// would silently change (and break) rows already stored. Each record below mirrors one domain type field by field,
// with explicit coding keys that are exactly the keys the domain type's own Codable wrote when the store used it,
// so rows written before records existed decode unchanged. Records never contain a FerryCore Codable type.
//
// Conventions:
// - Every top-level record (one JSON column) carries `schema_version`: always written as the record's
//   `currentSchemaVersion`, read as 1 when absent (rows written before records existed), and refused when newer than
//   this build knows. Nested records have no version of their own; they change with the record that holds them.
// - Enums are stored as their raw strings and converted in `domain()`, which throws on a value this build does not know.
// - Dates are stored as seconds since 2001-01-01 (Foundation's reference date): what `JSONEncoder`'s default date
//   strategy wrote, and an exact round trip of `Date`.
// - Optional fields are left out when nil, as the domain types' synthesized coding did.

/// Encoding, decoding and the shared conversions of the store's JSON records.
enum Records {
    /// A record as JSON text, keys sorted (plain `JSONEncoder` otherwise).
    static func encode<R: Encodable>(_ record: R) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(record), as: UTF8.self)
    }

    /// A record read from JSON text (plain `JSONDecoder`). A malformed row throws `.internal` naming the record.
    static func decode<R: Decodable>(_ type: R.Type, _ text: String) throws -> R {
        do {
            return try JSONDecoder().decode(R.self, from: Data(text.utf8))
        } catch let error as DecodingError {
            throw FerryError(.internal, "a stored \(R.self) could not be read: \(describe(error))", cause: error)
        }
    }

    /// The `schema_version` of a top-level record: 1 when absent; refused when newer than `current` (or not positive).
    static func schemaVersion<Key: CodingKey>(
        in container: KeyedDecodingContainer<Key>, forKey key: Key, record: String, current: Int
    ) throws -> Int {
        let version = try container.decodeIfPresent(Int.self, forKey: key) ?? 1
        guard version >= 1 else {
            throw FerryError(.internal, "a stored \(record) has schema_version \(version), which is not a valid version (1 or more)")
        }
        guard version <= current else {
            throw FerryError(
                .internal,
                "a stored \(record) has schema_version \(version), but this Ferry build reads \(record) only up to version \(current); it was written by a newer Ferry, upgrade to read it")
        }
        return version
    }

    /// The enum case a stored raw string names; throws `.internal` naming the record and field when it is unknown.
    static func parse<E: RawRepresentable>(_ raw: String, as type: E.Type, field: String, in record: String) throws -> E
    where E.RawValue == String {
        guard let value = E(rawValue: raw) else {
            throw FerryError(.internal, "a stored \(record) has an unknown \(field) '\(raw)' (written by a newer Ferry, or damaged)")
        }
        return value
    }

    /// A date as stored: seconds since 2001-01-01 00:00:00 UTC.
    static func seconds(_ date: Date) -> Double { date.timeIntervalSinceReferenceDate }

    /// The date of a stored number of seconds since 2001-01-01 00:00:00 UTC.
    static func date(_ seconds: Double) -> Date { Date(timeIntervalSinceReferenceDate: seconds) }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return keys.isEmpty ? "" : " at '\(keys.joined(separator: "."))'"
        }
        switch error {
        case .keyNotFound(let key, let context): return "field '\(key.stringValue)' is missing\(path(context))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return context.debugDescription + path(context)
        @unknown default: return "\(error)"
        }
    }
}

// MARK: - Version columns (model_version.input_schema, output_schema, lineage, signature)

/// `model_version.input_schema`: a version's `InputSchema`.
struct InputSchemaRecord: Codable, Sendable, Equatable {
    static let currentSchemaVersion = 1

    var schemaVersion: Int
    var features: [FeatureSpecRecord]

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case features
    }

    init(_ domain: InputSchema) {
        schemaVersion = Self.currentSchemaVersion
        features = domain.features.map(FeatureSpecRecord.init)
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schemaVersion = try Records.schemaVersion(
            in: c, forKey: .schemaVersion, record: "InputSchemaRecord", current: Self.currentSchemaVersion)
        features = try c.decode([FeatureSpecRecord].self, forKey: .features)
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.currentSchemaVersion, forKey: .schemaVersion)
        try c.encode(features, forKey: .features)
    }

    func domain() throws -> InputSchema {
        InputSchema(features: try features.map { try $0.domain() })
    }
}

/// One `FeatureSpec` of an input schema. `datatype` and `nullable` default to "FP32" and true when absent.
struct FeatureSpecRecord: Codable, Sendable, Equatable {
    var name: String
    /// A `DataType` raw value ("FP32", "INT64", ...).
    var datatype: String
    var nullable: Bool
    var description: String?
    var categories: [String]?
    /// A `Sensitivity` raw value ("redact", "hash").
    var sensitive: String?

    enum CodingKeys: String, CodingKey { case name, datatype, nullable, description, categories, sensitive }

    init(_ domain: FeatureSpec) {
        name = domain.name
        datatype = domain.datatype.rawValue
        nullable = domain.nullable
        description = domain.description
        categories = domain.categories
        sensitive = domain.sensitive?.rawValue
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        datatype = try c.decodeIfPresent(String.self, forKey: .datatype) ?? "FP32"
        nullable = try c.decodeIfPresent(Bool.self, forKey: .nullable) ?? true
        description = try c.decodeIfPresent(String.self, forKey: .description)
        categories = try c.decodeIfPresent([String].self, forKey: .categories)
        sensitive = try c.decodeIfPresent(String.self, forKey: .sensitive)
    }

    func domain() throws -> FeatureSpec {
        FeatureSpec(
            name: name,
            datatype: try Records.parse(datatype, as: DataType.self, field: "feature datatype", in: "InputSchemaRecord"),
            nullable: nullable, description: description, categories: categories,
            sensitive: try sensitive.map { try Records.parse($0, as: Sensitivity.self, field: "feature sensitivity", in: "InputSchemaRecord") })
    }
}

/// `model_version.output_schema`: a version's `OutputSchema`.
struct OutputSchemaRecord: Codable, Sendable, Equatable {
    static let currentSchemaVersion = 1

    var schemaVersion: Int
    var outputs: [OutputSpecRecord]

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case outputs
    }

    init(_ domain: OutputSchema) {
        schemaVersion = Self.currentSchemaVersion
        outputs = domain.outputs.map(OutputSpecRecord.init)
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schemaVersion = try Records.schemaVersion(
            in: c, forKey: .schemaVersion, record: "OutputSchemaRecord", current: Self.currentSchemaVersion)
        outputs = try c.decode([OutputSpecRecord].self, forKey: .outputs)
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.currentSchemaVersion, forKey: .schemaVersion)
        try c.encode(outputs, forKey: .outputs)
    }

    func domain() throws -> OutputSchema {
        OutputSchema(outputs: try outputs.map { try $0.domain() })
    }
}

/// One `OutputSpec` of an output schema.
struct OutputSpecRecord: Codable, Sendable, Equatable {
    var name: String
    /// A `DataType` raw value.
    var datatype: String
    var shape: [Int]
    var description: String?

    enum CodingKeys: String, CodingKey { case name, datatype, shape, description }

    init(_ domain: OutputSpec) {
        name = domain.name
        datatype = domain.datatype.rawValue
        shape = domain.shape
        description = domain.description
    }

    func domain() throws -> OutputSpec {
        OutputSpec(
            name: name, datatype: try Records.parse(datatype, as: DataType.self, field: "output datatype", in: "OutputSchemaRecord"),
            shape: shape, description: description)
    }
}

/// `model_version.lineage`: a version's `Lineage`. Its keys are camelCase: the domain type has no coding keys.
struct LineageRecord: Codable, Sendable, Equatable {
    static let currentSchemaVersion = 1

    var schemaVersion: Int
    var trainingData: String?
    var trainingDataDigest: String?
    var code: String?

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case trainingData = "trainingData", trainingDataDigest = "trainingDataDigest", code = "code"
    }

    init(_ domain: Lineage) {
        schemaVersion = Self.currentSchemaVersion
        trainingData = domain.trainingData
        trainingDataDigest = domain.trainingDataDigest
        code = domain.code
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schemaVersion = try Records.schemaVersion(
            in: c, forKey: .schemaVersion, record: "LineageRecord", current: Self.currentSchemaVersion)
        trainingData = try c.decodeIfPresent(String.self, forKey: .trainingData)
        trainingDataDigest = try c.decodeIfPresent(String.self, forKey: .trainingDataDigest)
        code = try c.decodeIfPresent(String.self, forKey: .code)
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.currentSchemaVersion, forKey: .schemaVersion)
        try c.encodeIfPresent(trainingData, forKey: .trainingData)
        try c.encodeIfPresent(trainingDataDigest, forKey: .trainingDataDigest)
        try c.encodeIfPresent(code, forKey: .code)
    }

    func domain() throws -> Lineage {
        Lineage(trainingData: trainingData, trainingDataDigest: trainingDataDigest, code: code)
    }
}

/// `model_version.signature`: the `ModelSignature` supplied at registration (the column is NULL when there is none).
struct ModelSignatureRecord: Codable, Sendable, Equatable {
    static let currentSchemaVersion = 1

    var schemaVersion: Int
    var keyID: String
    var sha256: String
    var format: String?
    var model: String?
    /// ISO 8601 text, exactly as signed (it is part of the signed message, so it is kept as text).
    var signedAt: String
    /// Base64 of the Ed25519 signature.
    var signature: String

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case keyID = "key_id", sha256, format, model, signedAt = "signed_at", signature
    }

    init(_ domain: ModelSignature) {
        schemaVersion = Self.currentSchemaVersion
        keyID = domain.keyID
        sha256 = domain.sha256
        format = domain.format
        model = domain.model
        signedAt = domain.signedAt
        signature = domain.signature
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schemaVersion = try Records.schemaVersion(
            in: c, forKey: .schemaVersion, record: "ModelSignatureRecord", current: Self.currentSchemaVersion)
        keyID = try c.decode(String.self, forKey: .keyID)
        sha256 = try c.decode(String.self, forKey: .sha256)
        format = try c.decodeIfPresent(String.self, forKey: .format)
        model = try c.decodeIfPresent(String.self, forKey: .model)
        signedAt = try c.decode(String.self, forKey: .signedAt)
        signature = try c.decode(String.self, forKey: .signature)
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.currentSchemaVersion, forKey: .schemaVersion)
        try c.encode(keyID, forKey: .keyID)
        try c.encode(sha256, forKey: .sha256)
        try c.encodeIfPresent(format, forKey: .format)
        try c.encodeIfPresent(model, forKey: .model)
        try c.encode(signedAt, forKey: .signedAt)
        try c.encode(signature, forKey: .signature)
    }

    func domain() throws -> ModelSignature {
        ModelSignature(keyID: keyID, sha256: sha256, format: format, model: model, signedAt: signedAt, signature: signature)
    }
}

// MARK: - Endpoint and rollout tables (endpoint.spec, rollout.state, rollout_event.event)

/// `endpoint.spec`: an `Endpoint` (its variants, shadows, fallback and cache).
struct EndpointRecord: Codable, Sendable, Equatable {
    static let currentSchemaVersion = 1

    var schemaVersion: Int
    var name: String
    var variants: [EndpointVariantRecord]
    var shadows: [EndpointShadowRecord]
    var stickyHeader: String?
    var timeoutMs: Int?
    var fallback: EndpointFallbackRecord?
    var cache: EndpointCacheRecord?
    var createdBy: String
    /// Seconds since 2001-01-01.
    var updatedAt: Double

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case name, variants, shadows, fallback, cache, stickyHeader = "sticky_header", timeoutMs = "timeout_ms"
        case createdBy = "created_by", updatedAt = "updated_at"
    }

    init(_ domain: Endpoint) {
        schemaVersion = Self.currentSchemaVersion
        name = domain.name
        variants = domain.variants.map(EndpointVariantRecord.init)
        shadows = domain.shadows.map(EndpointShadowRecord.init)
        stickyHeader = domain.stickyHeader
        timeoutMs = domain.timeoutMs
        fallback = domain.fallback.map(EndpointFallbackRecord.init)
        cache = domain.cache.map(EndpointCacheRecord.init)
        createdBy = domain.createdBy
        updatedAt = Records.seconds(domain.updatedAt)
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schemaVersion = try Records.schemaVersion(
            in: c, forKey: .schemaVersion, record: "EndpointRecord", current: Self.currentSchemaVersion)
        name = try c.decode(String.self, forKey: .name)
        variants = try c.decode([EndpointVariantRecord].self, forKey: .variants)
        shadows = try c.decode([EndpointShadowRecord].self, forKey: .shadows)
        stickyHeader = try c.decodeIfPresent(String.self, forKey: .stickyHeader)
        timeoutMs = try c.decodeIfPresent(Int.self, forKey: .timeoutMs)
        fallback = try c.decodeIfPresent(EndpointFallbackRecord.self, forKey: .fallback)
        cache = try c.decodeIfPresent(EndpointCacheRecord.self, forKey: .cache)
        createdBy = try c.decode(String.self, forKey: .createdBy)
        updatedAt = try c.decode(Double.self, forKey: .updatedAt)
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.currentSchemaVersion, forKey: .schemaVersion)
        try c.encode(name, forKey: .name)
        try c.encode(variants, forKey: .variants)
        try c.encode(shadows, forKey: .shadows)
        try c.encodeIfPresent(stickyHeader, forKey: .stickyHeader)
        try c.encodeIfPresent(timeoutMs, forKey: .timeoutMs)
        try c.encodeIfPresent(fallback, forKey: .fallback)
        try c.encodeIfPresent(cache, forKey: .cache)
        try c.encode(createdBy, forKey: .createdBy)
        try c.encode(updatedAt, forKey: .updatedAt)
    }

    func domain() throws -> Endpoint {
        Endpoint(
            name: name, variants: variants.map { $0.domain() }, shadows: shadows.map { $0.domain() }, stickyHeader: stickyHeader,
            timeoutMs: timeoutMs, fallback: fallback?.domain(), cache: cache?.domain(), createdBy: createdBy,
            updatedAt: Records.date(updatedAt))
    }
}

/// One `Endpoint.Variant`: a version and its traffic weight.
struct EndpointVariantRecord: Codable, Sendable, Equatable {
    var model: String
    var version: Int
    var weight: Double

    enum CodingKeys: String, CodingKey { case model, version, weight }

    init(_ domain: Endpoint.Variant) {
        model = domain.model
        version = domain.version
        weight = domain.weight
    }

    func domain() -> Endpoint.Variant { Endpoint.Variant(model: model, version: version, weight: weight) }
}

/// One `Endpoint.Shadow`: a version that gets a copy of a share of the traffic.
struct EndpointShadowRecord: Codable, Sendable, Equatable {
    var model: String
    var version: Int
    var share: Double

    enum CodingKeys: String, CodingKey { case model, version, share }

    init(_ domain: Endpoint.Shadow) {
        model = domain.model
        version = domain.version
        share = domain.share
    }

    func domain() -> Endpoint.Shadow { Endpoint.Shadow(model: model, version: version, share: share) }
}

/// An `Endpoint.Fallback`: another version, or a static value.
struct EndpointFallbackRecord: Codable, Sendable, Equatable {
    var model: String?
    var version: Int?
    var value: Double?

    enum CodingKeys: String, CodingKey { case model, version, value }

    init(_ domain: Endpoint.Fallback) {
        model = domain.model
        version = domain.version
        value = domain.value
    }

    func domain() -> Endpoint.Fallback { Endpoint.Fallback(model: model, version: version, value: value) }
}

/// An `Endpoint.Cache`. Absent fields read as the domain's defaults when written: 10000 entries, 60 s, 64 MiB.
struct EndpointCacheRecord: Codable, Sendable, Equatable {
    var maxEntries: Int
    var ttlSeconds: Double
    var maxBytes: Int

    enum CodingKeys: String, CodingKey { case maxEntries = "max_entries", ttlSeconds = "ttl_seconds", maxBytes = "max_bytes" }

    init(_ domain: Endpoint.Cache) {
        maxEntries = domain.maxEntries
        ttlSeconds = domain.ttlSeconds
        maxBytes = domain.maxBytes
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        maxEntries = try c.decodeIfPresent(Int.self, forKey: .maxEntries) ?? 10_000
        ttlSeconds = try c.decodeIfPresent(Double.self, forKey: .ttlSeconds) ?? 60
        maxBytes = try c.decodeIfPresent(Int.self, forKey: .maxBytes) ?? 64 << 20
    }

    func domain() -> Endpoint.Cache { Endpoint.Cache(maxEntries: maxEntries, ttlSeconds: ttlSeconds, maxBytes: maxBytes) }
}

/// One `VersionRef` (model and version number), as rollouts and their events store it.
struct VersionRefRecord: Codable, Sendable, Equatable {
    var model: String
    var version: Int

    enum CodingKeys: String, CodingKey { case model, version }

    init(_ domain: VersionRef) {
        model = domain.model
        version = domain.version
    }

    func domain() -> VersionRef { VersionRef(model: model, version: version) }
}

/// `rollout.state`: an endpoint's latest `Rollout`, with its plan and where it stands.
struct RolloutRecord: Codable, Sendable, Equatable {
    static let currentSchemaVersion = 1

    var schemaVersion: Int
    var endpoint: String
    var stable: VersionRefRecord
    var candidate: VersionRefRecord
    var plan: RolloutPlanRecord
    var step: Int
    /// Seconds since 2001-01-01.
    var stepStartedAt: Double
    /// A `Rollout.Status` raw value: "running", "paused", "promoted", "rolled_back".
    var status: String
    var startedBy: String
    /// Seconds since 2001-01-01.
    var startedAt: Double
    var reason: String?

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case endpoint, stable, candidate, plan, step, status, reason
        case stepStartedAt = "step_started_at", startedBy = "started_by", startedAt = "started_at"
    }

    init(_ domain: Rollout) {
        schemaVersion = Self.currentSchemaVersion
        endpoint = domain.endpoint
        stable = VersionRefRecord(domain.stable)
        candidate = VersionRefRecord(domain.candidate)
        plan = RolloutPlanRecord(domain.plan)
        step = domain.step
        stepStartedAt = Records.seconds(domain.stepStartedAt)
        status = domain.status.rawValue
        startedBy = domain.startedBy
        startedAt = Records.seconds(domain.startedAt)
        reason = domain.reason
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schemaVersion = try Records.schemaVersion(
            in: c, forKey: .schemaVersion, record: "RolloutRecord", current: Self.currentSchemaVersion)
        endpoint = try c.decode(String.self, forKey: .endpoint)
        stable = try c.decode(VersionRefRecord.self, forKey: .stable)
        candidate = try c.decode(VersionRefRecord.self, forKey: .candidate)
        plan = try c.decode(RolloutPlanRecord.self, forKey: .plan)
        step = try c.decode(Int.self, forKey: .step)
        stepStartedAt = try c.decode(Double.self, forKey: .stepStartedAt)
        status = try c.decode(String.self, forKey: .status)
        startedBy = try c.decode(String.self, forKey: .startedBy)
        startedAt = try c.decode(Double.self, forKey: .startedAt)
        reason = try c.decodeIfPresent(String.self, forKey: .reason)
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.currentSchemaVersion, forKey: .schemaVersion)
        try c.encode(endpoint, forKey: .endpoint)
        try c.encode(stable, forKey: .stable)
        try c.encode(candidate, forKey: .candidate)
        try c.encode(plan, forKey: .plan)
        try c.encode(step, forKey: .step)
        try c.encode(stepStartedAt, forKey: .stepStartedAt)
        try c.encode(status, forKey: .status)
        try c.encode(startedBy, forKey: .startedBy)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encodeIfPresent(reason, forKey: .reason)
    }

    func domain() throws -> Rollout {
        // `Rollout`'s initializer starts a rollout (step 0, running, step started when it started); the stored
        // progress is set on top of it.
        var rollout = Rollout(
            endpoint: endpoint, stable: stable.domain(), candidate: candidate.domain(), plan: plan.domain(), by: startedBy,
            at: Records.date(startedAt))
        rollout.step = step
        rollout.stepStartedAt = Records.date(stepStartedAt)
        rollout.status = try Records.parse(status, as: Rollout.Status.self, field: "status", in: "RolloutRecord")
        rollout.reason = reason
        return rollout
    }
}

/// A rollout's `RolloutPlan`: its steps, bake time and gates.
struct RolloutPlanRecord: Codable, Sendable, Equatable {
    /// Candidate traffic per step, in percent.
    var steps: [Double]
    var bakeSeconds: Double
    var gates: RolloutGatesRecord

    enum CodingKeys: String, CodingKey { case steps, bakeSeconds = "bake_seconds", gates }

    init(_ domain: RolloutPlan) {
        steps = domain.steps
        bakeSeconds = domain.bakeSeconds
        gates = RolloutGatesRecord(domain.gates)
    }

    func domain() -> RolloutPlan { RolloutPlan(steps: steps, bakeSeconds: bakeSeconds, gates: gates.domain()) }
}

/// A plan's `RolloutGates`. Absent thresholds read as the domain's defaults when written (as its decoder does).
struct RolloutGatesRecord: Codable, Sendable, Equatable {
    var minRequests: Int
    var maxErrorRateIncrease: Double
    var maxLatencyRatio: Double
    var latencySlackSeconds: Double
    var maxOutputPSI: Double
    var minOutputs: Int
    var maxAccuracyDrop: Double
    var minLabels: Int

    enum CodingKeys: String, CodingKey {
        case minRequests = "min_requests", maxErrorRateIncrease = "max_error_rate_increase"
        case maxLatencyRatio = "max_latency_ratio", latencySlackSeconds = "latency_slack_seconds"
        case maxOutputPSI = "max_output_psi", minOutputs = "min_outputs", maxAccuracyDrop = "max_accuracy_drop"
        case minLabels = "min_labels"
    }

    init(_ domain: RolloutGates) {
        minRequests = domain.minRequests
        maxErrorRateIncrease = domain.maxErrorRateIncrease
        maxLatencyRatio = domain.maxLatencyRatio
        latencySlackSeconds = domain.latencySlackSeconds
        maxOutputPSI = domain.maxOutputPSI
        minOutputs = domain.minOutputs
        maxAccuracyDrop = domain.maxAccuracyDrop
        minLabels = domain.minLabels
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        minRequests = try c.decodeIfPresent(Int.self, forKey: .minRequests) ?? 100
        maxErrorRateIncrease = try c.decodeIfPresent(Double.self, forKey: .maxErrorRateIncrease) ?? 0.01
        maxLatencyRatio = try c.decodeIfPresent(Double.self, forKey: .maxLatencyRatio) ?? 1.5
        latencySlackSeconds = try c.decodeIfPresent(Double.self, forKey: .latencySlackSeconds) ?? 0.005
        maxOutputPSI = try c.decodeIfPresent(Double.self, forKey: .maxOutputPSI) ?? 0.2
        minOutputs = try c.decodeIfPresent(Int.self, forKey: .minOutputs) ?? 200
        maxAccuracyDrop = try c.decodeIfPresent(Double.self, forKey: .maxAccuracyDrop) ?? 0.05
        minLabels = try c.decodeIfPresent(Int.self, forKey: .minLabels) ?? 50
    }

    func domain() -> RolloutGates {
        RolloutGates(
            minRequests: minRequests, maxErrorRateIncrease: maxErrorRateIncrease, maxLatencyRatio: maxLatencyRatio,
            latencySlackSeconds: latencySlackSeconds, maxOutputPSI: maxOutputPSI, minOutputs: minOutputs,
            maxAccuracyDrop: maxAccuracyDrop, minLabels: minLabels)
    }
}

/// `rollout_event.event`: one `RolloutEvent`, with the gate verdicts and the observation behind it.
struct RolloutEventRecord: Codable, Sendable, Equatable {
    static let currentSchemaVersion = 1

    var schemaVersion: Int
    /// Per endpoint: 1, 2, ...
    var sequence: Int64
    var endpoint: String
    /// Seconds since 2001-01-01.
    var at: Double
    /// Free text in the domain too: `started`, `advanced`, `promoted`, `rolled_back`, `paused`, `resumed`.
    var action: String
    var stable: VersionRefRecord
    var candidate: VersionRefRecord
    var fromPercent: Double
    var toPercent: Double
    var gates: [GateResultRecord]
    var observation: RolloutObservationRecord?
    var by: String
    var reason: String?

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case sequence, endpoint, at, action, stable, candidate, gates, observation, by, reason
        case fromPercent = "from_percent", toPercent = "to_percent"
    }

    init(_ domain: RolloutEvent) {
        schemaVersion = Self.currentSchemaVersion
        sequence = domain.sequence
        endpoint = domain.endpoint
        at = Records.seconds(domain.at)
        action = domain.action
        stable = VersionRefRecord(domain.stable)
        candidate = VersionRefRecord(domain.candidate)
        fromPercent = domain.fromPercent
        toPercent = domain.toPercent
        gates = domain.gates.map(GateResultRecord.init)
        observation = domain.observation.map(RolloutObservationRecord.init)
        by = domain.by
        reason = domain.reason
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schemaVersion = try Records.schemaVersion(
            in: c, forKey: .schemaVersion, record: "RolloutEventRecord", current: Self.currentSchemaVersion)
        sequence = try c.decode(Int64.self, forKey: .sequence)
        endpoint = try c.decode(String.self, forKey: .endpoint)
        at = try c.decode(Double.self, forKey: .at)
        action = try c.decode(String.self, forKey: .action)
        stable = try c.decode(VersionRefRecord.self, forKey: .stable)
        candidate = try c.decode(VersionRefRecord.self, forKey: .candidate)
        fromPercent = try c.decode(Double.self, forKey: .fromPercent)
        toPercent = try c.decode(Double.self, forKey: .toPercent)
        gates = try c.decode([GateResultRecord].self, forKey: .gates)
        observation = try c.decodeIfPresent(RolloutObservationRecord.self, forKey: .observation)
        by = try c.decode(String.self, forKey: .by)
        reason = try c.decodeIfPresent(String.self, forKey: .reason)
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.currentSchemaVersion, forKey: .schemaVersion)
        try c.encode(sequence, forKey: .sequence)
        try c.encode(endpoint, forKey: .endpoint)
        try c.encode(at, forKey: .at)
        try c.encode(action, forKey: .action)
        try c.encode(stable, forKey: .stable)
        try c.encode(candidate, forKey: .candidate)
        try c.encode(fromPercent, forKey: .fromPercent)
        try c.encode(toPercent, forKey: .toPercent)
        try c.encode(gates, forKey: .gates)
        try c.encodeIfPresent(observation, forKey: .observation)
        try c.encode(by, forKey: .by)
        try c.encodeIfPresent(reason, forKey: .reason)
    }

    func domain() throws -> RolloutEvent {
        var event = RolloutEvent(
            endpoint: endpoint, at: Records.date(at), action: action, stable: stable.domain(), candidate: candidate.domain(),
            fromPercent: fromPercent, toPercent: toPercent, gates: gates.map { $0.domain() }, observation: observation?.domain(),
            by: by, reason: reason)
        event.sequence = sequence
        return event
    }
}

/// One gate's verdict (`GateResult`); `passed` is absent when there was not enough data to judge.
struct GateResultRecord: Codable, Sendable, Equatable {
    var gate: String
    var candidate: Double?
    var limit: Double?
    var passed: Bool?

    enum CodingKeys: String, CodingKey { case gate, candidate, limit, passed }

    init(_ domain: GateResult) {
        gate = domain.gate
        candidate = domain.candidate
        limit = domain.limit
        passed = domain.passed
    }

    func domain() -> GateResult { GateResult(gate: gate, candidate: candidate, limit: limit, passed: passed) }
}

/// A step's `RolloutObservation`: both sides' stats and the shift between their outputs.
struct RolloutObservationRecord: Codable, Sendable, Equatable {
    var stable: VariantStatsRecord
    var candidate: VariantStatsRecord
    var outputPSI: Double?

    enum CodingKeys: String, CodingKey { case stable, candidate, outputPSI = "output_psi" }

    init(_ domain: RolloutObservation) {
        stable = VariantStatsRecord(domain.stable)
        candidate = VariantStatsRecord(domain.candidate)
        outputPSI = domain.outputPSI
    }

    func domain() -> RolloutObservation {
        RolloutObservation(stable: stable.domain(), candidate: candidate.domain(), outputPSI: outputPSI)
    }
}

/// One side's `VariantStats` during a step.
struct VariantStatsRecord: Codable, Sendable, Equatable {
    var requests: Int
    var errors: Int
    var p99Seconds: Double?
    var accuracy: Double?
    var labelled: Int
    var outputs: Int

    enum CodingKeys: String, CodingKey { case requests, errors, p99Seconds = "p99_seconds", accuracy, labelled, outputs }

    init(_ domain: VariantStats) {
        requests = domain.requests
        errors = domain.errors
        p99Seconds = domain.p99Seconds
        accuracy = domain.accuracy
        labelled = domain.labelled
        outputs = domain.outputs
    }

    func domain() -> VariantStats {
        VariantStats(requests: requests, errors: errors, p99Seconds: p99Seconds, accuracy: accuracy, labelled: labelled, outputs: outputs)
    }
}

// MARK: - Alert tables (alert_rule.rule, alert_rule.status)

/// `alert_rule.rule`: an `AlertRule`.
struct AlertRuleRecord: Codable, Sendable, Equatable {
    static let currentSchemaVersion = 1

    var schemaVersion: Int
    var name: String
    var model: String
    /// An `AlertRule.Metric` raw value ("latency_p99_seconds", "error_rate", "drift_psi", "accuracy", ...).
    var metric: String
    var feature: String?
    /// An `AlertRule.Comparison` raw value: ">", ">=", "<", "<=".
    var comparison: String
    var threshold: Double
    var windowSeconds: Int
    var forSeconds: Int
    var webhook: String?
    var webhookSecret: String?

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case name, model, metric, feature, comparison, threshold, webhook
        case windowSeconds = "window_seconds", forSeconds = "for_seconds", webhookSecret = "webhook_secret"
    }

    init(_ domain: AlertRule) {
        schemaVersion = Self.currentSchemaVersion
        name = domain.name
        model = domain.model
        metric = domain.metric.rawValue
        feature = domain.feature
        comparison = domain.comparison.rawValue
        threshold = domain.threshold
        windowSeconds = domain.windowSeconds
        forSeconds = domain.forSeconds
        webhook = domain.webhook
        webhookSecret = domain.webhookSecret
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schemaVersion = try Records.schemaVersion(
            in: c, forKey: .schemaVersion, record: "AlertRuleRecord", current: Self.currentSchemaVersion)
        name = try c.decode(String.self, forKey: .name)
        model = try c.decode(String.self, forKey: .model)
        metric = try c.decode(String.self, forKey: .metric)
        feature = try c.decodeIfPresent(String.self, forKey: .feature)
        comparison = try c.decode(String.self, forKey: .comparison)
        threshold = try c.decode(Double.self, forKey: .threshold)
        windowSeconds = try c.decode(Int.self, forKey: .windowSeconds)
        forSeconds = try c.decode(Int.self, forKey: .forSeconds)
        webhook = try c.decodeIfPresent(String.self, forKey: .webhook)
        webhookSecret = try c.decodeIfPresent(String.self, forKey: .webhookSecret)
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.currentSchemaVersion, forKey: .schemaVersion)
        try c.encode(name, forKey: .name)
        try c.encode(model, forKey: .model)
        try c.encode(metric, forKey: .metric)
        try c.encodeIfPresent(feature, forKey: .feature)
        try c.encode(comparison, forKey: .comparison)
        try c.encode(threshold, forKey: .threshold)
        try c.encode(windowSeconds, forKey: .windowSeconds)
        try c.encode(forSeconds, forKey: .forSeconds)
        try c.encodeIfPresent(webhook, forKey: .webhook)
        try c.encodeIfPresent(webhookSecret, forKey: .webhookSecret)
    }

    func domain() throws -> AlertRule {
        AlertRule(
            name: name, model: model, metric: try Records.parse(metric, as: AlertRule.Metric.self, field: "metric", in: "AlertRuleRecord"),
            feature: feature,
            comparison: try Records.parse(comparison, as: AlertRule.Comparison.self, field: "comparison", in: "AlertRuleRecord"),
            threshold: threshold, windowSeconds: windowSeconds, forSeconds: forSeconds, webhook: webhook, webhookSecret: webhookSecret)
    }
}

/// `alert_rule.status`: where a rule stands (`AlertStatus`).
struct AlertStatusRecord: Codable, Sendable, Equatable {
    static let currentSchemaVersion = 1

    var schemaVersion: Int
    /// An `AlertStatus.State` raw value: "inactive", "pending", "firing", "resolved".
    var state: String
    /// Seconds since 2001-01-01.
    var since: Double?
    var value: Double?
    /// Seconds since 2001-01-01.
    var evaluatedAt: Double?

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case state, since, value
        case evaluatedAt = "evaluated_at"
    }

    init(_ domain: AlertStatus) {
        schemaVersion = Self.currentSchemaVersion
        state = domain.state.rawValue
        since = domain.since.map(Records.seconds)
        value = domain.value
        evaluatedAt = domain.evaluatedAt.map(Records.seconds)
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schemaVersion = try Records.schemaVersion(
            in: c, forKey: .schemaVersion, record: "AlertStatusRecord", current: Self.currentSchemaVersion)
        state = try c.decode(String.self, forKey: .state)
        since = try c.decodeIfPresent(Double.self, forKey: .since)
        value = try c.decodeIfPresent(Double.self, forKey: .value)
        evaluatedAt = try c.decodeIfPresent(Double.self, forKey: .evaluatedAt)
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.currentSchemaVersion, forKey: .schemaVersion)
        try c.encode(state, forKey: .state)
        try c.encodeIfPresent(since, forKey: .since)
        try c.encodeIfPresent(value, forKey: .value)
        try c.encodeIfPresent(evaluatedAt, forKey: .evaluatedAt)
    }

    func domain() throws -> AlertStatus {
        AlertStatus(
            state: try Records.parse(state, as: AlertStatus.State.self, field: "state", in: "AlertStatusRecord"),
            since: since.map(Records.date), value: value, evaluatedAt: evaluatedAt.map(Records.date))
    }
}

// MARK: - Reference profiles (reference_profile.profile)

/// `reference_profile.profile`: a version's `ReferenceProfile`. Its keys are camelCase (`createdBy`, `createdAt`):
/// the domain type has no coding keys.
struct ReferenceProfileRecord: Codable, Sendable, Equatable {
    static let currentSchemaVersion = 1

    var schemaVersion: Int
    var rows: Int
    var features: [DistributionProfileRecord]
    var outputs: [DistributionProfileRecord]
    var createdBy: String
    /// Seconds since 2001-01-01.
    var createdAt: Double

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case rows, features, outputs, createdBy = "createdBy", createdAt = "createdAt"
    }

    init(_ domain: ReferenceProfile) {
        schemaVersion = Self.currentSchemaVersion
        rows = domain.rows
        features = domain.features.map(DistributionProfileRecord.init)
        outputs = domain.outputs.map(DistributionProfileRecord.init)
        createdBy = domain.createdBy
        createdAt = Records.seconds(domain.createdAt)
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schemaVersion = try Records.schemaVersion(
            in: c, forKey: .schemaVersion, record: "ReferenceProfileRecord", current: Self.currentSchemaVersion)
        rows = try c.decode(Int.self, forKey: .rows)
        features = try c.decode([DistributionProfileRecord].self, forKey: .features)
        outputs = try c.decode([DistributionProfileRecord].self, forKey: .outputs)
        createdBy = try c.decode(String.self, forKey: .createdBy)
        createdAt = try c.decode(Double.self, forKey: .createdAt)
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.currentSchemaVersion, forKey: .schemaVersion)
        try c.encode(rows, forKey: .rows)
        try c.encode(features, forKey: .features)
        try c.encode(outputs, forKey: .outputs)
        try c.encode(createdBy, forKey: .createdBy)
        try c.encode(createdAt, forKey: .createdAt)
    }

    func domain() throws -> ReferenceProfile {
        ReferenceProfile(
            rows: rows, features: try features.map { try $0.domain() }, outputs: try outputs.map { try $0.domain() },
            createdBy: createdBy, createdAt: Records.date(createdAt))
    }
}

/// One feature's or output's `DistributionProfile`. Its keys are the property names (`binCounts` is camelCase).
struct DistributionProfileRecord: Codable, Sendable, Equatable {
    var name: String
    /// A `DistributionProfile.Kind` raw value: "numeric", "categorical".
    var kind: String
    var count: Int
    var missing: Int
    var mean: Double?
    var std: Double?
    var min: Double?
    var max: Double?
    var edges: [Double]?
    var binCounts: [Int]?
    var sample: [Double]?
    var categories: [String: Int]?

    enum CodingKeys: String, CodingKey {
        case name, kind, count, missing, mean, std, min, max, edges, binCounts = "binCounts", sample, categories
    }

    init(_ domain: DistributionProfile) {
        name = domain.name
        kind = domain.kind.rawValue
        count = domain.count
        missing = domain.missing
        mean = domain.mean
        std = domain.std
        min = domain.min
        max = domain.max
        edges = domain.edges
        binCounts = domain.binCounts
        sample = domain.sample
        categories = domain.categories
    }

    func domain() throws -> DistributionProfile {
        // `DistributionProfile` has no public memberwise initializer: start from an empty categorical profile and set
        // every stored property (all are public vars).
        var profile = DistributionProfile.categorical(name, [])
        profile.kind = try Records.parse(kind, as: DistributionProfile.Kind.self, field: "profile kind", in: "ReferenceProfileRecord")
        profile.count = count
        profile.missing = missing
        profile.mean = mean
        profile.std = std
        profile.min = min
        profile.max = max
        profile.edges = edges
        profile.binCounts = binCounts
        profile.sample = sample
        profile.categories = categories
        return profile
    }
}
