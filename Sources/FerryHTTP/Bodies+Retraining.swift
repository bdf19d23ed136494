import FerryCore
import FerryEngine
import Foundation

// Retraining: the policy as sent and shown, and jobs as shown.
extension API {
    /// `PUT /api/v1/models/{name}/retrain/policy` and its answers. Only the trainer is required: `command` or
    /// `webhook` (whose secret is never echoed).
    struct RetrainPolicyBody: Codable, Sendable {
        struct Webhook: Codable, Sendable {
            var url: String
            var secret: String?
        }

        struct Gate: Codable, Sendable {
            var metric: String?
            var minImprovement: Double?
            var requireConfidence: Bool?
            var maxLatencyRatio: Double?

            enum CodingKeys: String, CodingKey {
                case metric, minImprovement = "min_improvement", requireConfidence = "require_confidence", maxLatencyRatio = "max_latency_ratio"
            }
        }

        var model: String?
        var command: [String]?
        var webhook: Webhook?
        var alerts: [String]?
        var everySeconds: Int?
        var windowRows: Int?
        var holdoutFraction: Double?
        var timeoutSeconds: Int?
        var retries: Int?
        var gate: Gate?
        var endpoint: String?
        var rolloutSteps: [Double]?
        var rolloutBakeSeconds: Double?
        /// Decoded as the rollout API decodes a plan's gates (absent thresholds take the defaults).
        var rolloutGates: RolloutGates?
        var updatedBy: String?
        var updatedAt: Date?

        enum CodingKeys: String, CodingKey {
            case model, command, webhook, alerts, retries, gate, endpoint
            case everySeconds = "every_seconds", windowRows = "window_rows", holdoutFraction = "holdout_fraction", timeoutSeconds = "timeout_seconds"
            case updatedBy = "updated_by", updatedAt = "updated_at", rolloutSteps = "rollout_steps", rolloutBakeSeconds = "rollout_bake_seconds"
            case rolloutGates = "rollout_gates"
        }

        init(_ p: RetrainPolicy) {
            model = p.model
            switch p.trainer {
            case .command(let argv): command = argv
            case .webhook(let url, let secret): webhook = Webhook(url: url, secret: secret.map { _ in AlertRuleBody.maskedSecret })
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
            rolloutGates = p.rolloutGates
            updatedBy = p.updatedBy
            updatedAt = p.updatedAt
        }

        func domain(model: String) throws -> RetrainPolicy {
            let trainer: RetrainPolicy.Trainer
            switch (command, webhook) {
            case (let argv?, nil): trainer = .command(argv)
            case (nil, let hook?): trainer = .webhook(url: hook.url, secret: hook.secret)
            default:
                throw FerryError.invalid("give the trainer as exactly one of field 'command' (a program this server runs) or field 'webhook' ({\"url\": ..., \"secret\": ...}, an orchestrator it calls)")
            }
            let defaults = RetrainPolicy(model: model, trainer: trainer)
            let d = RetrainGate()
            return RetrainPolicy(
                model: model, trainer: trainer, alerts: alerts ?? [], everySeconds: everySeconds,
                windowRows: windowRows ?? defaults.windowRows, holdoutFraction: holdoutFraction ?? defaults.holdoutFraction,
                timeoutSeconds: timeoutSeconds ?? defaults.timeoutSeconds, retries: retries ?? defaults.retries,
                gate: RetrainGate(
                    metric: gate?.metric ?? d.metric, minImprovement: gate?.minImprovement ?? d.minImprovement,
                    requireConfidence: gate?.requireConfidence ?? d.requireConfidence, maxLatencyRatio: gate?.maxLatencyRatio ?? d.maxLatencyRatio),
                endpoint: endpoint, rolloutSteps: rolloutSteps, rolloutBakeSeconds: rolloutBakeSeconds, rolloutGates: rolloutGates)
        }
    }

    /// A retraining job as shown.
    struct RetrainJobBody: Encodable, Sendable {
        struct Evaluation: Encodable, Sendable {
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

        var id: String
        var model: String
        var trigger: String
        var state: String
        var attempt: Int
        var createdBy: String
        var createdAt: Date
        var startedAt: Date?
        var finishedAt: Date?
        var reason: String
        var logs: String?
        var champion: Int?
        var candidate: Int?
        var trainingRows: Int
        var holdoutRows: Int
        var dataSince: Date?
        var dataUntil: Date?
        var dataDigest: String?
        var evaluation: Evaluation?
        var dataBytes: Int?
        /// A webhook trainer's report: the version it registered, or its error.
        var reportedVersion: Int?
        var reportedError: String?

        enum CodingKeys: String, CodingKey {
            case dataBytes = "data_bytes", reportedVersion = "reported_version", reportedError = "reported_error"
            case id, model, trigger, state, attempt, reason, logs, champion, candidate, evaluation
            case createdBy = "created_by", createdAt = "created_at", startedAt = "started_at", finishedAt = "finished_at"
            case trainingRows = "training_rows", holdoutRows = "holdout_rows", dataSince = "data_since", dataUntil = "data_until"
            case dataDigest = "data_digest"
        }

        /// `logs` only when asked (a job's own page).
        init(_ j: RetrainJob, logs: Bool = false) {
            id = j.id
            model = j.model
            trigger = j.trigger
            state = j.state.rawValue
            attempt = j.attempt
            createdBy = j.createdBy
            createdAt = j.createdAt
            startedAt = j.startedAt
            finishedAt = j.finishedAt
            reason = j.reason
            self.logs = logs ? j.logs : nil
            champion = j.champion
            candidate = j.candidate
            trainingRows = j.trainingRows
            holdoutRows = j.holdoutRows
            dataSince = j.dataSince
            dataUntil = j.dataUntil
            dataDigest = j.dataDigest
            dataBytes = j.dataBytes
            switch j.report {
            case .version(let v): reportedVersion = v
            case .failure(let why): reportedError = why
            case nil: break
            }
            evaluation = j.evaluation.map {
                Evaluation(
                    metric: $0.metric, rows: $0.rows, champion: $0.champion, challenger: $0.challenger, improvement: $0.improvement,
                    lower: $0.lower.isFinite ? $0.lower : nil, upper: $0.upper.isFinite ? $0.upper : nil, resamples: $0.resamples,
                    championMicrosPerRow: $0.championMicrosPerRow, challengerMicrosPerRow: $0.challengerMicrosPerRow)
            }
        }
    }

    /// `POST /api/v1/models/{name}/retrain/jobs/{id}/report`: a webhook trainer's answer.
    struct TrainerReportBody: Decodable, Sendable {
        var version: Int?
        var error: String?

        func domain() throws -> TrainerReport {
            switch (version, error) {
            case (let v?, nil): return .version(v)
            case (nil, let why?) where !why.isEmpty: return .failure(why)
            default:
                throw FerryError.invalid("send exactly one of field 'version' (the version of the model the trainer registered) or field 'error' (why it could not train one)")
            }
        }
    }
}
