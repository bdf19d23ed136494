import FerryCore
import FerryEngine
import Foundation

// Endpoints and rollouts: response bodies copying domain types field by field (see `ControlPlaneBodies.swift`).
extension API {
    /// One version of one model, as rollouts, rollout events and shadow reports name it.
    struct VersionRefBody: Encodable, Sendable {
        var model: String
        var version: Int

        enum CodingKeys: String, CodingKey {
            case model, version
        }

        init(_ domain: VersionRef) {
            model = domain.model
            version = domain.version
        }
    }

    /// An endpoint: answers `PUT /api/v1/endpoints/{name}`, and in a list `GET /api/v1/endpoints`.
    struct EndpointBody: Encodable, Sendable {
        var name: String
        var variants: [EndpointVariantBody]
        var shadows: [EndpointShadowBody]
        var stickyHeader: String?
        var timeoutMs: Int?
        var fallback: EndpointFallbackBody?
        var cache: EndpointCacheBody?
        var createdBy: String
        var updatedAt: Date

        enum CodingKeys: String, CodingKey {
            case name, variants, shadows, fallback, cache, stickyHeader = "sticky_header", timeoutMs = "timeout_ms"
            case createdBy = "created_by", updatedAt = "updated_at"
        }

        init(_ domain: Endpoint) {
            name = domain.name
            variants = domain.variants.map(EndpointVariantBody.init)
            shadows = domain.shadows.map(EndpointShadowBody.init)
            stickyHeader = domain.stickyHeader
            timeoutMs = domain.timeoutMs
            fallback = domain.fallback.map(EndpointFallbackBody.init)
            cache = domain.cache.map(EndpointCacheBody.init)
            createdBy = domain.createdBy
            updatedAt = domain.updatedAt
        }
    }

    /// One weighted version of an endpoint (`EndpointBody.variants`).
    struct EndpointVariantBody: Encodable, Sendable {
        var model: String
        var version: Int
        var weight: Double

        enum CodingKeys: String, CodingKey {
            case model, version, weight
        }

        init(_ domain: Endpoint.Variant) {
            model = domain.model
            version = domain.version
            weight = domain.weight
        }
    }

    /// One shadow version of an endpoint and its share of mirrored traffic (`EndpointBody.shadows`).
    struct EndpointShadowBody: Encodable, Sendable {
        var model: String
        var version: Int
        var share: Double

        enum CodingKeys: String, CodingKey {
            case model, version, share
        }

        init(_ domain: Endpoint.Shadow) {
            model = domain.model
            version = domain.version
            share = domain.share
        }
    }

    /// An endpoint's fallback (`EndpointBody.fallback`): `{model, version}` or `{value}`; absent fields are left out.
    struct EndpointFallbackBody: Encodable, Sendable {
        var model: String?
        var version: Int?
        var value: Double?

        enum CodingKeys: String, CodingKey {
            case model, version, value
        }

        init(_ domain: Endpoint.Fallback) {
            model = domain.model
            version = domain.version
            value = domain.value
        }
    }

    /// An endpoint's answer cache (`EndpointBody.cache`).
    struct EndpointCacheBody: Encodable, Sendable {
        var maxEntries: Int
        var ttlSeconds: Double
        var maxBytes: Int

        enum CodingKeys: String, CodingKey {
            case maxEntries = "max_entries", ttlSeconds = "ttl_seconds", maxBytes = "max_bytes"
        }

        init(_ domain: Endpoint.Cache) {
            maxEntries = domain.maxEntries
            ttlSeconds = domain.ttlSeconds
            maxBytes = domain.maxBytes
        }
    }

    /// An endpoint with its rollout, if it has one: answers `GET /api/v1/endpoints/{name}`
    /// (replaces `API.EndpointStatus`; `rollout` is left out when there is none).
    struct EndpointStatusBody: Encodable, Sendable {
        var endpoint: EndpointBody
        var rollout: RolloutStatusBody?

        enum CodingKeys: String, CodingKey {
            case endpoint, rollout
        }

        init(_ endpoint: Endpoint, rollout: RolloutStatusBody?) {
            self.endpoint = EndpointBody(endpoint)
            self.rollout = rollout
        }
    }

    /// A rollout with the candidate's traffic share now and the last evaluation: answers `GET /api/v1/endpoints/{name}/rollout`,
    /// `POST /api/v1/endpoints/{name}/rollout` and `POST /api/v1/endpoints/{name}/rollout/{action}`
    /// (replaces `API.RolloutStatus`).
    struct RolloutStatusBody: Encodable, Sendable {
        var rollout: RolloutBody
        var candidatePercent: Double
        var gates: [GateResultBody]
        var observation: RolloutObservationBody?

        enum CodingKeys: String, CodingKey {
            case rollout, candidatePercent = "candidate_percent", gates, observation
        }

        /// `gates` and `observation` are the endpoint's last evaluation (`Endpoints.lastEvaluation(endpoint:)`).
        init(_ rollout: Rollout, gates: [GateResult], observation: RolloutObservation?) {
            self.rollout = RolloutBody(rollout)
            candidatePercent = rollout.candidatePercent
            self.gates = gates.map(GateResultBody.init)
            self.observation = observation.map(RolloutObservationBody.init)
        }
    }

    /// A rollout's state (`RolloutStatusBody.rollout`). `status` is `running`, `paused`, `promoted` or `rolled_back`.
    struct RolloutBody: Encodable, Sendable {
        var endpoint: String
        var stable: VersionRefBody
        var candidate: VersionRefBody
        var plan: RolloutPlanBody
        var step: Int
        var stepStartedAt: Date
        var status: String
        var startedBy: String
        var startedAt: Date
        var reason: String?

        enum CodingKeys: String, CodingKey {
            case endpoint, stable, candidate, plan, step, status, reason
            case stepStartedAt = "step_started_at", startedBy = "started_by", startedAt = "started_at"
        }

        init(_ domain: Rollout) {
            endpoint = domain.endpoint
            stable = VersionRefBody(domain.stable)
            candidate = VersionRefBody(domain.candidate)
            plan = RolloutPlanBody(domain.plan)
            step = domain.step
            stepStartedAt = domain.stepStartedAt
            status = domain.status.rawValue
            startedBy = domain.startedBy
            startedAt = domain.startedAt
            reason = domain.reason
        }
    }

    /// A rollout's plan (`RolloutBody.plan`).
    struct RolloutPlanBody: Encodable, Sendable {
        var steps: [Double]
        var bakeSeconds: Double
        var gates: RolloutGatesBody

        enum CodingKeys: String, CodingKey {
            case steps, bakeSeconds = "bake_seconds", gates
        }

        init(_ domain: RolloutPlan) {
            steps = domain.steps
            bakeSeconds = domain.bakeSeconds
            gates = RolloutGatesBody(domain.gates)
        }
    }

    /// A rollout plan's thresholds (`RolloutPlanBody.gates`); every threshold is always sent.
    struct RolloutGatesBody: Encodable, Sendable {
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

        init(_ domain: RolloutGates) {
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
    }

    /// One gate's verdict (`RolloutStatusBody.gates`, `RolloutEventBody.gates`); nil numbers and an undecided
    /// `passed` are left out.
    struct GateResultBody: Encodable, Sendable {
        var gate: String
        var candidate: Double?
        var limit: Double?
        var passed: Bool?

        enum CodingKeys: String, CodingKey {
            case gate, candidate, limit, passed
        }

        init(_ domain: GateResult) {
            gate = domain.gate
            candidate = domain.candidate
            limit = domain.limit
            passed = domain.passed
        }
    }

    /// Both sides of a rollout step (`RolloutStatusBody.observation`, `RolloutEventBody.observation`).
    struct RolloutObservationBody: Encodable, Sendable {
        var stable: VariantStatsBody
        var candidate: VariantStatsBody
        var outputPSI: Double?

        enum CodingKeys: String, CodingKey {
            case stable, candidate, outputPSI = "output_psi"
        }

        init(_ domain: RolloutObservation) {
            stable = VariantStatsBody(domain.stable)
            candidate = VariantStatsBody(domain.candidate)
            outputPSI = domain.outputPSI
        }
    }

    /// What one side of a rollout step saw (`RolloutObservationBody.stable` / `.candidate`).
    struct VariantStatsBody: Encodable, Sendable {
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

        init(_ domain: VariantStats) {
            requests = domain.requests
            errors = domain.errors
            p99Seconds = domain.p99Seconds
            accuracy = domain.accuracy
            labelled = domain.labelled
            outputs = domain.outputs
            parityDifference = domain.parityDifference
        }
    }

    /// One recorded step of a rollout: answers, in a list, `GET /api/v1/endpoints/{name}/rollout/events`.
    struct RolloutEventBody: Encodable, Sendable {
        var sequence: Int64
        var endpoint: String
        var at: Date
        var action: String
        var stable: VersionRefBody
        var candidate: VersionRefBody
        var fromPercent: Double
        var toPercent: Double
        var gates: [GateResultBody]
        var observation: RolloutObservationBody?
        var by: String
        var reason: String?

        enum CodingKeys: String, CodingKey {
            case sequence, endpoint, at, action, stable, candidate, gates, observation, by, reason
            case fromPercent = "from_percent", toPercent = "to_percent"
        }

        init(_ domain: RolloutEvent) {
            sequence = domain.sequence
            endpoint = domain.endpoint
            at = domain.at
            action = domain.action
            stable = VersionRefBody(domain.stable)
            candidate = VersionRefBody(domain.candidate)
            fromPercent = domain.fromPercent
            toPercent = domain.toPercent
            gates = domain.gates.map(GateResultBody.init)
            observation = domain.observation.map(RolloutObservationBody.init)
            by = domain.by
            reason = domain.reason
        }
    }

    /// How a shadow version compares with the version that answered: answers, in a list,
    /// `GET /api/v1/endpoints/{name}/shadow`. Figures without data yet are left out.
    struct ShadowReportBody: Encodable, Sendable {
        var endpoint: String
        var shadow: VersionRefBody
        var compared: Int
        var shadowErrors: Int
        var skipped: Int
        var agreement: Double?
        var meanAbsDifference: Double?
        var p99AbsDifference: Double?
        var maxAbsDifference: Double?
        var primaryLatencyP50: Double?
        var primaryLatencyP99: Double?
        var shadowLatencyP50: Double?
        var shadowLatencyP99: Double?

        enum CodingKeys: String, CodingKey {
            case endpoint, shadow, compared, skipped, agreement
            case shadowErrors = "shadow_errors", meanAbsDifference = "mean_abs_difference"
            case p99AbsDifference = "p99_abs_difference", maxAbsDifference = "max_abs_difference"
            case primaryLatencyP50 = "primary_latency_p50_seconds", primaryLatencyP99 = "primary_latency_p99_seconds"
            case shadowLatencyP50 = "shadow_latency_p50_seconds", shadowLatencyP99 = "shadow_latency_p99_seconds"
        }

        init(_ domain: ShadowReport) {
            endpoint = domain.endpoint
            shadow = VersionRefBody(domain.shadow)
            compared = domain.compared
            shadowErrors = domain.shadowErrors
            skipped = domain.skipped
            agreement = domain.agreement
            meanAbsDifference = domain.meanAbsDifference
            p99AbsDifference = domain.p99AbsDifference
            maxAbsDifference = domain.maxAbsDifference
            primaryLatencyP50 = domain.primaryLatencyP50
            primaryLatencyP99 = domain.primaryLatencyP99
            shadowLatencyP50 = domain.shadowLatencyP50
            shadowLatencyP99 = domain.shadowLatencyP99
        }
    }
}
