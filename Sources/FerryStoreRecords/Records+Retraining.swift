import FerryCore
import Foundation

// Retraining tables (retrain_policy.spec, retrain_job.spec)

/// `retrain_policy.spec`: a `RetrainPolicy`.
package struct RetrainPolicyRecord: Codable, Sendable, Equatable {
    static let currentSchemaVersion = 1

    struct Gate: Codable, Sendable, Equatable {
        var metric: String
        var minImprovement: Double
        var requireConfidence: Bool
        var maxLatencyRatio: Double

        enum CodingKeys: String, CodingKey {
            case metric, minImprovement = "min_improvement", requireConfidence = "require_confidence", maxLatencyRatio = "max_latency_ratio"
        }
    }

    var schemaVersion: Int
    var model: String
    var command: [String]
    var webhookURL: String?
    var webhookSecret: String?
    var alerts: [String]
    var everySeconds: Int?
    var windowRows: Int
    var holdoutFraction: Double
    var timeoutSeconds: Int
    var retries: Int
    var gate: Gate
    var endpoint: String?
    var rolloutSteps: [Double]?
    var rolloutBakeSeconds: Double?
    var rolloutGates: RolloutGatesRecord?
    var updatedBy: String
    var updatedAt: Double

    enum CodingKeys: String, CodingKey {
        case rolloutSteps = "rollout_steps", rolloutBakeSeconds = "rollout_bake_seconds", rolloutGates = "rollout_gates"
        case schemaVersion = "schema_version", everySeconds = "every_seconds", windowRows = "window_rows", holdoutFraction = "holdout_fraction"
        case timeoutSeconds = "timeout_seconds", updatedBy = "updated_by", updatedAt = "updated_at"
        case model, command, alerts, retries, gate, endpoint, webhookURL = "webhook_url", webhookSecret = "webhook_secret"
    }

    package init(_ p: RetrainPolicy) {
        schemaVersion = Self.currentSchemaVersion
        model = p.model
        switch p.trainer {
        case .command(let argv): command = argv
        case .webhook(let url, let secret): (command, webhookURL, webhookSecret) = ([], url, secret)
        }
        alerts = p.alerts
        everySeconds = p.everySeconds
        windowRows = p.windowRows
        holdoutFraction = p.holdoutFraction
        timeoutSeconds = p.timeoutSeconds
        retries = p.retries
        gate = Gate(metric: p.gate.metric, minImprovement: p.gate.minImprovement, requireConfidence: p.gate.requireConfidence, maxLatencyRatio: p.gate.maxLatencyRatio)
        endpoint = p.endpoint
        rolloutSteps = p.rolloutSteps
        rolloutBakeSeconds = p.rolloutBakeSeconds
        rolloutGates = p.rolloutGates.map(RolloutGatesRecord.init)
        updatedBy = p.updatedBy
        updatedAt = Records.seconds(p.updatedAt)
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schemaVersion = try Records.schemaVersion(in: c, forKey: .schemaVersion, record: "RetrainPolicyRecord", current: Self.currentSchemaVersion)
        model = try c.decode(String.self, forKey: .model)
        command = try c.decodeIfPresent([String].self, forKey: .command) ?? []
        webhookURL = try c.decodeIfPresent(String.self, forKey: .webhookURL)
        webhookSecret = try c.decodeIfPresent(String.self, forKey: .webhookSecret)
        alerts = try c.decode([String].self, forKey: .alerts)
        everySeconds = try c.decodeIfPresent(Int.self, forKey: .everySeconds)
        windowRows = try c.decode(Int.self, forKey: .windowRows)
        holdoutFraction = try c.decode(Double.self, forKey: .holdoutFraction)
        timeoutSeconds = try c.decode(Int.self, forKey: .timeoutSeconds)
        retries = try c.decode(Int.self, forKey: .retries)
        gate = try c.decode(Gate.self, forKey: .gate)
        endpoint = try c.decodeIfPresent(String.self, forKey: .endpoint)
        rolloutSteps = try c.decodeIfPresent([Double].self, forKey: .rolloutSteps)
        rolloutBakeSeconds = try c.decodeIfPresent(Double.self, forKey: .rolloutBakeSeconds)
        rolloutGates = try c.decodeIfPresent(RolloutGatesRecord.self, forKey: .rolloutGates)
        updatedBy = try c.decode(String.self, forKey: .updatedBy)
        updatedAt = try c.decode(Double.self, forKey: .updatedAt)
    }

    package func domain() -> RetrainPolicy {
        RetrainPolicy(
            model: model, trainer: webhookURL.map { .webhook(url: $0, secret: webhookSecret) } ?? .command(command), alerts: alerts, everySeconds: everySeconds, windowRows: windowRows,
            holdoutFraction: holdoutFraction, timeoutSeconds: timeoutSeconds, retries: retries,
            gate: RetrainGate(metric: gate.metric, minImprovement: gate.minImprovement, requireConfidence: gate.requireConfidence, maxLatencyRatio: gate.maxLatencyRatio),
            endpoint: endpoint, rolloutSteps: rolloutSteps, rolloutBakeSeconds: rolloutBakeSeconds, rolloutGates: rolloutGates?.domain(),
            updatedBy: updatedBy,
            updatedAt: Records.date(updatedAt))
    }
}

/// `retrain_job.spec`: a `RetrainJob`.
package struct RetrainJobRecord: Codable, Sendable, Equatable {
    static let currentSchemaVersion = 1

    struct Evaluation: Codable, Sendable, Equatable {
        var metric: String
        var rows: Int
        var champion: Double
        var challenger: Double
        var improvement: Double
        var lower: Double?
        var upper: Double?
        var resamples: Int
        var championMicrosPerRow: Double
        var challengerMicrosPerRow: Double

        enum CodingKeys: String, CodingKey {
            case metric, rows, champion, challenger, improvement, lower, upper, resamples
            case championMicrosPerRow = "champion_micros_per_row", challengerMicrosPerRow = "challenger_micros_per_row"
        }
    }

    var schemaVersion: Int
    var id: String
    var model: String
    var trigger: String
    var state: String
    var attempt: Int
    var createdBy: String
    var createdAt: Double
    var startedAt: Double?
    var finishedAt: Double?
    var reason: String
    var logs: String
    var champion: Int?
    var candidate: Int?
    var trainingRows: Int
    var holdoutRows: Int
    var dataSince: Double?
    var dataUntil: Double?
    var dataDigest: String?
    var evaluation: Evaluation?
    var dataBytes: Int?
    var reportedVersion: Int?
    var reportedFailure: String?

    enum CodingKeys: String, CodingKey {
        case dataBytes = "data_bytes", reportedVersion = "reported_version", reportedFailure = "reported_failure"
        case schemaVersion = "schema_version", createdBy = "created_by", createdAt = "created_at", startedAt = "started_at"
        case finishedAt = "finished_at", trainingRows = "training_rows", holdoutRows = "holdout_rows", dataSince = "data_since"
        case dataUntil = "data_until", dataDigest = "data_digest"
        case id, model, trigger, state, attempt, reason, logs, champion, candidate, evaluation
    }

    package init(_ j: RetrainJob) {
        schemaVersion = Self.currentSchemaVersion
        id = j.id
        model = j.model
        trigger = j.trigger
        state = j.state.rawValue
        attempt = j.attempt
        createdBy = j.createdBy
        createdAt = Records.seconds(j.createdAt)
        startedAt = j.startedAt.map(Records.seconds)
        finishedAt = j.finishedAt.map(Records.seconds)
        reason = j.reason
        logs = j.logs
        champion = j.champion
        candidate = j.candidate
        trainingRows = j.trainingRows
        holdoutRows = j.holdoutRows
        dataSince = j.dataSince.map(Records.seconds)
        dataUntil = j.dataUntil.map(Records.seconds)
        dataDigest = j.dataDigest
        dataBytes = j.dataBytes
        switch j.report {
        case .version(let v): reportedVersion = v
        case .failure(let why): reportedFailure = why
        case nil: break
        }
        // JSON has no NaN: an undefined interval end is left out.
        evaluation = j.evaluation.map {
            Evaluation(
                metric: $0.metric, rows: $0.rows, champion: $0.champion, challenger: $0.challenger, improvement: $0.improvement,
                lower: $0.lower.isFinite ? $0.lower : nil, upper: $0.upper.isFinite ? $0.upper : nil, resamples: $0.resamples,
                championMicrosPerRow: $0.championMicrosPerRow, challengerMicrosPerRow: $0.challengerMicrosPerRow)
        }
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schemaVersion = try Records.schemaVersion(in: c, forKey: .schemaVersion, record: "RetrainJobRecord", current: Self.currentSchemaVersion)
        id = try c.decode(String.self, forKey: .id)
        model = try c.decode(String.self, forKey: .model)
        trigger = try c.decode(String.self, forKey: .trigger)
        state = try c.decode(String.self, forKey: .state)
        attempt = try c.decode(Int.self, forKey: .attempt)
        createdBy = try c.decode(String.self, forKey: .createdBy)
        createdAt = try c.decode(Double.self, forKey: .createdAt)
        startedAt = try c.decodeIfPresent(Double.self, forKey: .startedAt)
        finishedAt = try c.decodeIfPresent(Double.self, forKey: .finishedAt)
        reason = try c.decode(String.self, forKey: .reason)
        logs = try c.decode(String.self, forKey: .logs)
        champion = try c.decodeIfPresent(Int.self, forKey: .champion)
        candidate = try c.decodeIfPresent(Int.self, forKey: .candidate)
        trainingRows = try c.decode(Int.self, forKey: .trainingRows)
        holdoutRows = try c.decode(Int.self, forKey: .holdoutRows)
        dataSince = try c.decodeIfPresent(Double.self, forKey: .dataSince)
        dataUntil = try c.decodeIfPresent(Double.self, forKey: .dataUntil)
        dataDigest = try c.decodeIfPresent(String.self, forKey: .dataDigest)
        evaluation = try c.decodeIfPresent(Evaluation.self, forKey: .evaluation)
        dataBytes = try c.decodeIfPresent(Int.self, forKey: .dataBytes)
        reportedVersion = try c.decodeIfPresent(Int.self, forKey: .reportedVersion)
        reportedFailure = try c.decodeIfPresent(String.self, forKey: .reportedFailure)
    }

    package func domain() throws -> RetrainJob {
        RetrainJob(
            id: id, model: model, trigger: trigger, state: try Records.parse(state, as: RetrainJob.State.self, field: "state", in: "RetrainJobRecord"),
            attempt: attempt, createdBy: createdBy, createdAt: Records.date(createdAt), startedAt: startedAt.map(Records.date),
            finishedAt: finishedAt.map(Records.date), reason: reason, logs: logs, champion: champion, candidate: candidate,
            trainingRows: trainingRows, holdoutRows: holdoutRows, dataSince: dataSince.map(Records.date), dataUntil: dataUntil.map(Records.date),
            dataDigest: dataDigest,
            evaluation: evaluation.map {
                RetrainEvaluation(
                    metric: $0.metric, rows: $0.rows, champion: $0.champion, challenger: $0.challenger, improvement: $0.improvement,
                    lower: $0.lower ?? .nan, upper: $0.upper ?? .nan, resamples: $0.resamples,
                    championMicrosPerRow: $0.championMicrosPerRow, challengerMicrosPerRow: $0.challengerMicrosPerRow)
            },
            dataBytes: dataBytes, report: reportedVersion.map(TrainerReport.version) ?? reportedFailure.map(TrainerReport.failure))
    }
}

/// What both stores say when a model's one active job slot is taken.
package enum RetrainJobs {
    package static func busy(model: String, active: String) -> FerryError {
        FerryError(.failedPrecondition, "model '\(model)' already has a retraining job queued or running (\(active)); wait for it or cancel it")
    }
}
