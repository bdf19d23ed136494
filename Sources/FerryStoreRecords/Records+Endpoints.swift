import FerryCore
import Foundation

// Endpoint and rollout tables (endpoint.spec, rollout.state, rollout_event.event)

/// `endpoint.spec`: an `Endpoint` (its variants, shadows, fallback and cache).
package struct EndpointRecord: Codable, Sendable, Equatable {
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

    package init(_ domain: Endpoint) {
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

    package init(from decoder: any Decoder) throws {
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

    package func encode(to encoder: any Encoder) throws {
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

    package func domain() throws -> Endpoint {
        Endpoint(
            name: name, variants: variants.map { $0.domain() }, shadows: shadows.map { $0.domain() }, stickyHeader: stickyHeader,
            timeoutMs: timeoutMs, fallback: fallback?.domain(), cache: cache?.domain(), createdBy: createdBy,
            updatedAt: Records.date(updatedAt))
    }
}

/// One `Endpoint.Variant`: a version and its traffic weight.
package struct EndpointVariantRecord: Codable, Sendable, Equatable {
    var model: String
    var version: Int
    var weight: Double

    enum CodingKeys: String, CodingKey { case model, version, weight }

    package init(_ domain: Endpoint.Variant) {
        model = domain.model
        version = domain.version
        weight = domain.weight
    }

    package func domain() -> Endpoint.Variant { Endpoint.Variant(model: model, version: version, weight: weight) }
}

/// One `Endpoint.Shadow`: a version that gets a copy of a share of the traffic.
package struct EndpointShadowRecord: Codable, Sendable, Equatable {
    var model: String
    var version: Int
    var share: Double

    enum CodingKeys: String, CodingKey { case model, version, share }

    package init(_ domain: Endpoint.Shadow) {
        model = domain.model
        version = domain.version
        share = domain.share
    }

    package func domain() -> Endpoint.Shadow { Endpoint.Shadow(model: model, version: version, share: share) }
}

/// An `Endpoint.Fallback`: another version, or a static value.
package struct EndpointFallbackRecord: Codable, Sendable, Equatable {
    var model: String?
    var version: Int?
    var value: Double?

    enum CodingKeys: String, CodingKey { case model, version, value }

    package init(_ domain: Endpoint.Fallback) {
        model = domain.model
        version = domain.version
        value = domain.value
    }

    package func domain() -> Endpoint.Fallback { Endpoint.Fallback(model: model, version: version, value: value) }
}

/// An `Endpoint.Cache`. Absent fields read as the domain's defaults when written: 10000 entries, 60 s, 64 MiB.
package struct EndpointCacheRecord: Codable, Sendable, Equatable {
    var maxEntries: Int
    var ttlSeconds: Double
    var maxBytes: Int

    enum CodingKeys: String, CodingKey { case maxEntries = "max_entries", ttlSeconds = "ttl_seconds", maxBytes = "max_bytes" }

    package init(_ domain: Endpoint.Cache) {
        maxEntries = domain.maxEntries
        ttlSeconds = domain.ttlSeconds
        maxBytes = domain.maxBytes
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        maxEntries = try c.decodeIfPresent(Int.self, forKey: .maxEntries) ?? 10_000
        ttlSeconds = try c.decodeIfPresent(Double.self, forKey: .ttlSeconds) ?? 60
        maxBytes = try c.decodeIfPresent(Int.self, forKey: .maxBytes) ?? 64 << 20
    }

    package func domain() -> Endpoint.Cache { Endpoint.Cache(maxEntries: maxEntries, ttlSeconds: ttlSeconds, maxBytes: maxBytes) }
}

/// One `VersionRef` (model and version number), as rollouts and their events store it.
package struct VersionRefRecord: Codable, Sendable, Equatable {
    var model: String
    var version: Int

    enum CodingKeys: String, CodingKey { case model, version }

    package init(_ domain: VersionRef) {
        model = domain.model
        version = domain.version
    }

    package func domain() -> VersionRef { VersionRef(model: model, version: version) }
}

/// `rollout.state`: an endpoint's latest `Rollout`, with its plan and where it stands.
package struct RolloutRecord: Codable, Sendable, Equatable {
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

    package init(_ domain: Rollout) {
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

    package init(from decoder: any Decoder) throws {
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

    package func encode(to encoder: any Encoder) throws {
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

    package func domain() throws -> Rollout {
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
package struct RolloutPlanRecord: Codable, Sendable, Equatable {
    /// Candidate traffic per step, in percent.
    var steps: [Double]
    var bakeSeconds: Double
    var gates: RolloutGatesRecord

    enum CodingKeys: String, CodingKey { case steps, bakeSeconds = "bake_seconds", gates }

    package init(_ domain: RolloutPlan) {
        steps = domain.steps
        bakeSeconds = domain.bakeSeconds
        gates = RolloutGatesRecord(domain.gates)
    }

    package func domain() -> RolloutPlan { RolloutPlan(steps: steps, bakeSeconds: bakeSeconds, gates: gates.domain()) }
}

/// A plan's `RolloutGates`. Absent thresholds read as the domain's defaults when written (as its decoder does).
package struct RolloutGatesRecord: Codable, Sendable, Equatable {
    var minRequests: Int
    var maxErrorRateIncrease: Double
    var maxLatencyRatio: Double
    var latencySlackSeconds: Double
    var maxOutputPSI: Double
    var minOutputs: Int
    var maxAccuracyDrop: Double
    var minLabels: Int
    var fairnessAttribute: String?
    var maxParityIncrease: Double

    enum CodingKeys: String, CodingKey {
        case minRequests = "min_requests", maxErrorRateIncrease = "max_error_rate_increase"
        case maxLatencyRatio = "max_latency_ratio", latencySlackSeconds = "latency_slack_seconds"
        case maxOutputPSI = "max_output_psi", minOutputs = "min_outputs", maxAccuracyDrop = "max_accuracy_drop"
        case minLabels = "min_labels", fairnessAttribute = "fairness_attribute", maxParityIncrease = "max_parity_increase"
    }

    package init(_ domain: RolloutGates) {
        minRequests = domain.minRequests
        maxErrorRateIncrease = domain.maxErrorRateIncrease
        maxLatencyRatio = domain.maxLatencyRatio
        latencySlackSeconds = domain.latencySlackSeconds
        maxOutputPSI = domain.maxOutputPSI
        minOutputs = domain.minOutputs
        maxAccuracyDrop = domain.maxAccuracyDrop
        minLabels = domain.minLabels
        fairnessAttribute = domain.fairnessAttribute
        maxParityIncrease = domain.maxParityIncrease
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        minRequests = try c.decodeIfPresent(Int.self, forKey: .minRequests) ?? 100
        maxErrorRateIncrease = try c.decodeIfPresent(Double.self, forKey: .maxErrorRateIncrease) ?? 0.01
        maxLatencyRatio = try c.decodeIfPresent(Double.self, forKey: .maxLatencyRatio) ?? 1.5
        latencySlackSeconds = try c.decodeIfPresent(Double.self, forKey: .latencySlackSeconds) ?? 0.005
        maxOutputPSI = try c.decodeIfPresent(Double.self, forKey: .maxOutputPSI) ?? 0.2
        minOutputs = try c.decodeIfPresent(Int.self, forKey: .minOutputs) ?? 200
        maxAccuracyDrop = try c.decodeIfPresent(Double.self, forKey: .maxAccuracyDrop) ?? 0.05
        minLabels = try c.decodeIfPresent(Int.self, forKey: .minLabels) ?? 50
        fairnessAttribute = try c.decodeIfPresent(String.self, forKey: .fairnessAttribute)
        maxParityIncrease = try c.decodeIfPresent(Double.self, forKey: .maxParityIncrease) ?? 0.05
    }

    package func domain() -> RolloutGates {
        RolloutGates(
            minRequests: minRequests, maxErrorRateIncrease: maxErrorRateIncrease, maxLatencyRatio: maxLatencyRatio,
            latencySlackSeconds: latencySlackSeconds, maxOutputPSI: maxOutputPSI, minOutputs: minOutputs,
            maxAccuracyDrop: maxAccuracyDrop, minLabels: minLabels, fairnessAttribute: fairnessAttribute,
            maxParityIncrease: maxParityIncrease)
    }
}

/// `rollout_event.event`: one `RolloutEvent`, with the gate verdicts and the observation behind it.
package struct RolloutEventRecord: Codable, Sendable, Equatable {
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

    package init(_ domain: RolloutEvent) {
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

    package init(from decoder: any Decoder) throws {
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

    package func encode(to encoder: any Encoder) throws {
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

    package func domain() throws -> RolloutEvent {
        var event = RolloutEvent(
            endpoint: endpoint, at: Records.date(at), action: action, stable: stable.domain(), candidate: candidate.domain(),
            fromPercent: fromPercent, toPercent: toPercent, gates: gates.map { $0.domain() }, observation: observation?.domain(),
            by: by, reason: reason)
        event.sequence = sequence
        return event
    }
}

/// One gate's verdict (`GateResult`); `passed` is absent when there was not enough data to judge.
package struct GateResultRecord: Codable, Sendable, Equatable {
    var gate: String
    var candidate: Double?
    var limit: Double?
    var passed: Bool?

    enum CodingKeys: String, CodingKey { case gate, candidate, limit, passed }

    package init(_ domain: GateResult) {
        gate = domain.gate
        candidate = domain.candidate
        limit = domain.limit
        passed = domain.passed
    }

    package func domain() -> GateResult { GateResult(gate: gate, candidate: candidate, limit: limit, passed: passed) }
}

/// A step's `RolloutObservation`: both sides' stats and the shift between their outputs.
package struct RolloutObservationRecord: Codable, Sendable, Equatable {
    var stable: VariantStatsRecord
    var candidate: VariantStatsRecord
    var outputPSI: Double?

    enum CodingKeys: String, CodingKey { case stable, candidate, outputPSI = "output_psi" }

    package init(_ domain: RolloutObservation) {
        stable = VariantStatsRecord(domain.stable)
        candidate = VariantStatsRecord(domain.candidate)
        outputPSI = domain.outputPSI
    }

    package func domain() -> RolloutObservation {
        RolloutObservation(stable: stable.domain(), candidate: candidate.domain(), outputPSI: outputPSI)
    }
}

/// One side's `VariantStats` during a step.
package struct VariantStatsRecord: Codable, Sendable, Equatable {
    var requests: Int
    var errors: Int
    var p99Seconds: Double?
    var accuracy: Double?
    var labelled: Int
    var outputs: Int
    var parityDifference: Double?

    enum CodingKeys: String, CodingKey {
        case requests, errors, p99Seconds = "p99_seconds", accuracy, labelled, outputs, parityDifference = "parity_difference"
    }

    package init(_ domain: VariantStats) {
        requests = domain.requests
        errors = domain.errors
        p99Seconds = domain.p99Seconds
        accuracy = domain.accuracy
        labelled = domain.labelled
        outputs = domain.outputs
        parityDifference = domain.parityDifference
    }

    package func domain() -> VariantStats {
        VariantStats(
            requests: requests, errors: errors, p99Seconds: p99Seconds, accuracy: accuracy, labelled: labelled, outputs: outputs,
            parityDifference: parityDifference)
    }
}

extension RequestCountSample {
    /// Latency bucket counts as stored: decimal numbers separated by commas (empty for none).
    public static func latencyText(_ counts: [Int64]) -> String {
        counts.map(String.init).joined(separator: ",")
    }

    /// Counts read back from `latencyText`; a malformed text (never written by Ferry) reads as none.
    public static func latencyCounts(_ text: String) -> [Int64] {
        guard !text.isEmpty else { return [] }
        let counts = text.split(separator: ",").compactMap { Int64($0) }
        return counts.count == text.split(separator: ",", omittingEmptySubsequences: false).count ? counts : []
    }
}
