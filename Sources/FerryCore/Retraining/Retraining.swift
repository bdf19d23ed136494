import Foundation

// Retraining: a policy per model says when to retrain (an alert firing, a schedule, by hand), which trainer to run
// on which data window, and how a candidate must beat the champion on recent labelled data it was not trained on.
// Each run is a job with its data window, logs, candidate version and evaluation.

/// What retrains a model, and how its candidate is judged.
public struct RetrainPolicy: Sendable, Equatable {
    public enum Trainer: Sendable, Equatable {
        /// A program run with the exported window's path, an output folder and the tracking URI in its environment
        /// (`FERRY_TRAINING_DATA`, `FERRY_OUTPUT_DIR`, `MLFLOW_TRACKING_URI`, `FERRY_MODEL`, `FERRY_JOB_ID`).
        case command([String])
        /// A POST to an external orchestrator (Airflow, Kubeflow, a CI job, ...), signed like alert webhooks when a
        /// secret is set, with the job, where to download its training data and where to report back: the
        /// orchestrator registers its model as a version and reports the number (or a failure) to the job.
        case webhook(url: String, secret: String?)
    }

    public var model: String
    public var trainer: Trainer
    /// Alert rules of the model whose firing starts a retraining.
    public var alerts: [String]
    /// Retrain every so many seconds (nil: no schedule).
    public var everySeconds: Int?
    /// The newest labelled rows of the served version to use: the newest `holdoutFraction` of them are held out for
    /// the evaluation, the rest are the training data.
    public var windowRows: Int
    public var holdoutFraction: Double
    public var timeoutSeconds: Int
    /// Further attempts after a failed one.
    public var retries: Int
    public var gate: RetrainGate
    /// The endpoint a passing candidate is rolled out on (a canary with the endpoint's gates); nil points the
    /// `challenger` alias at it and leaves the promotion to people.
    public var endpoint: String?
    /// The canary's traffic steps (percent) and bake time per step on that endpoint (nil: the canary defaults).
    public var rolloutSteps: [Double]?
    public var rolloutBakeSeconds: Double?
    /// The canary's gates (nil: the canary defaults). A retrained model often shifts its scores on purpose, so the
    /// output-PSI gate is the one most often loosened here.
    public var rolloutGates: RolloutGates?
    public var updatedBy: String
    public var updatedAt: Date

    public init(
        model: String, trainer: Trainer, alerts: [String] = [], everySeconds: Int? = nil, windowRows: Int = 100_000,
        holdoutFraction: Double = 0.2, timeoutSeconds: Int = 3600, retries: Int = 0, gate: RetrainGate = RetrainGate(),
        endpoint: String? = nil, rolloutSteps: [Double]? = nil, rolloutBakeSeconds: Double? = nil, rolloutGates: RolloutGates? = nil,
        updatedBy: String = "", updatedAt: Date = Date(timeIntervalSince1970: 0)
    ) {
        self.rolloutGates = rolloutGates
        self.rolloutSteps = rolloutSteps
        self.rolloutBakeSeconds = rolloutBakeSeconds
        self.model = model
        self.trainer = trainer
        self.alerts = alerts
        self.everySeconds = everySeconds
        self.windowRows = windowRows
        self.holdoutFraction = holdoutFraction
        self.timeoutSeconds = timeoutSeconds
        self.retries = retries
        self.gate = gate
        self.endpoint = endpoint
        self.updatedBy = updatedBy
        self.updatedAt = updatedAt
    }

    /// Refuses a policy that cannot work, naming the field.
    public func validate() throws {
        switch trainer {
        case .command(let argv):
            if argv.first?.isEmpty ?? true {
                throw FerryError.invalid("field 'command' must name a program to run, e.g. [\"python\", \"train.py\"]")
            }
        case .webhook(let url, _):
            guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""), parsed.host?.isEmpty == false else {
                throw FerryError.invalid("field 'webhook.url' must be an http or https URL, e.g. https://airflow.internal/api/retrain (it is '\(url)')")
            }
        }
        guard windowRows >= 20 else { throw FerryError.invalid("field 'window_rows' must be at least 20 (it is \(windowRows))") }
        guard holdoutFraction > 0, holdoutFraction < 1 else {
            throw FerryError.invalid("field 'holdout_fraction' must be between 0 and 1 (exclusive); it is \(holdoutFraction)")
        }
        guard timeoutSeconds >= 1 else { throw FerryError.invalid("field 'timeout_seconds' must be at least 1") }
        guard (0...10).contains(retries) else { throw FerryError.invalid("field 'retries' must be 0 to 10") }
        if let every = everySeconds, every < 60 { throw FerryError.invalid("field 'every_seconds' must be at least 60") }
        try gate.validate()
        if rolloutSteps != nil || rolloutBakeSeconds != nil || rolloutGates != nil {
            guard endpoint != nil else { throw FerryError.invalid("fields 'rollout_steps', 'rollout_bake_seconds' and 'rollout_gates' need 'endpoint'") }
            do {
                _ = try RolloutPlan.make(strategy: "canary", steps: rolloutSteps, bakeSeconds: rolloutBakeSeconds, gates: rolloutGates)
            } catch let error as FerryError {
                throw FerryError.invalid("rollout: \(error.message)")
            }
        }
    }
}

/// How a candidate must compare with the champion on the held-out rows.
public struct RetrainGate: Sendable, Equatable {
    /// accuracy, precision, recall, f1, roc_auc, log_loss (classifiers); rmse, mae, r2 (regressors).
    public var metric: String
    /// How much better the candidate must be (in the metric's units, in its better direction).
    public var minImprovement: Double
    /// The lower end of the 95% interval of the improvement must be above 0 (the gain is not luck).
    public var requireConfidence: Bool
    /// The candidate's time per row may be at most this multiple of the champion's.
    public var maxLatencyRatio: Double

    public init(metric: String = "roc_auc", minImprovement: Double = 0, requireConfidence: Bool = false, maxLatencyRatio: Double = 1.5) {
        self.metric = metric
        self.minImprovement = minImprovement
        self.requireConfidence = requireConfidence
        self.maxLatencyRatio = maxLatencyRatio
    }

    public static let metrics: [String: Bool] = [  // name: higher is better
        "accuracy": true, "precision": true, "recall": true, "f1": true, "roc_auc": true, "log_loss": false,
        "rmse": false, "mae": false, "r2": true,
    ]

    public var higherIsBetter: Bool { Self.metrics[metric] ?? true }

    public func validate() throws {
        guard Self.metrics[metric] != nil else {
            throw FerryError.invalid("field 'gate.metric' is '\(metric)'; use one of \(Self.metrics.keys.sorted().joined(separator: ", "))")
        }
        guard minImprovement >= 0, minImprovement.isFinite else { throw FerryError.invalid("field 'gate.min_improvement' must be 0 or more") }
        guard maxLatencyRatio >= 1, maxLatencyRatio.isFinite else { throw FerryError.invalid("field 'gate.max_latency_ratio' must be 1 or more") }
    }

    /// The metric's value in a report (nil when it cannot be computed on these rows).
    public func value(in report: PerformanceReport) -> Double? {
        switch metric {
        case "accuracy": report.accuracy
        case "precision": report.precision
        case "recall": report.recall
        case "f1": report.f1
        case "roc_auc": report.rocAUC
        case "log_loss": report.logLoss
        case "rmse": report.rmse
        case "mae": report.mae
        case "r2": report.r2
        default: nil
        }
    }

    /// The verdict on an evaluation: passed, or the reasons it did not.
    public func decide(_ e: RetrainEvaluation) -> (passed: Bool, reasons: [String]) {
        var reasons: [String] = []
        let f = { (v: Double) in String(format: "%.4g", v) }
        if e.improvement < minImprovement {
            reasons.append("\(metric) improves by \(f(e.improvement)) (champion \(f(e.champion)), candidate \(f(e.challenger))); the gate needs at least \(f(minImprovement))")
        }
        if requireConfidence, !(e.lower > 0) {
            reasons.append("the 95% interval of the improvement, [\(f(e.lower)), \(f(e.upper))], does not lie above 0")
        }
        if e.championMicrosPerRow > 0, e.challengerMicrosPerRow > maxLatencyRatio * e.championMicrosPerRow {
            reasons.append("the candidate takes \(f(e.challengerMicrosPerRow)) µs per row against the champion's \(f(e.championMicrosPerRow)); the gate allows \(f(maxLatencyRatio))×")
        }
        return (reasons.isEmpty, reasons)
    }
}

/// Champion against candidate on the held-out rows.
public struct RetrainEvaluation: Sendable, Equatable {
    public var metric: String
    public var rows: Int
    public var champion: Double
    public var challenger: Double
    /// challenger − champion, signed so that positive is better.
    public var improvement: Double
    /// The 95% paired-bootstrap interval of the improvement.
    public var lower: Double
    public var upper: Double
    public var resamples: Int
    public var championMicrosPerRow: Double
    public var challengerMicrosPerRow: Double

    public init(
        metric: String, rows: Int, champion: Double, challenger: Double, improvement: Double, lower: Double, upper: Double,
        resamples: Int, championMicrosPerRow: Double, challengerMicrosPerRow: Double
    ) {
        self.metric = metric
        self.rows = rows
        self.champion = champion
        self.challenger = challenger
        self.improvement = improvement
        self.lower = lower
        self.upper = upper
        self.resamples = resamples
        self.championMicrosPerRow = championMicrosPerRow
        self.challengerMicrosPerRow = challengerMicrosPerRow
    }

    /// A paired bootstrap of the improvement over `n` rows: `resamples` times the rows are drawn with replacement,
    /// and both models are scored on the same draw (`score(0, rows)` the champion, `score(1, rows)` the candidate;
    /// nil where the metric is undefined, e.g. a draw with one class for AUC, which is skipped). Returns both scores
    /// on all rows, the improvement (positive is better) and its 2.5th and 97.5th percentiles. Deterministic for a
    /// seed.
    public static func paired(
        rows n: Int, higherIsBetter: Bool, resamples: Int = 1000, seed: UInt64 = 0x5EED, score: ([Int]) -> (Double?, Double?)
    ) throws -> (champion: Double, challenger: Double, improvement: Double, lower: Double, upper: Double) {
        guard n > 0 else { throw FerryError.invalid("no held-out rows to evaluate on") }
        guard case (let a?, let b?) = score(Array(0..<n)) else {
            throw FerryError(.failedPrecondition, "the metric is undefined on the \(n) held-out rows (e.g. only one class among their labels)")
        }
        let sign = higherIsBetter ? 1.0 : -1.0
        var rng = SplitMix64(seed: seed)
        var differences: [Double] = []
        differences.reserveCapacity(resamples)
        var draw = [Int](repeating: 0, count: n)
        for _ in 0..<resamples {
            for i in 0..<n { draw[i] = Int(rng.next() % UInt64(n)) }
            if case (let sa?, let sb?) = score(draw) { differences.append(sign * (sb - sa)) }
        }
        differences.sort()
        func percentile(_ q: Double) -> Double {
            guard !differences.isEmpty else { return .nan }
            return differences[min(differences.count - 1, max(0, Int((q * Double(differences.count - 1)).rounded())))]
        }
        return (a, b, sign * (b - a), percentile(0.025), percentile(0.975))
    }
}

/// A small, fast, seedable generator (Steele, Lea and Flood's SplitMix64).
public struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// One retraining of a model, from its trigger to its verdict.
public struct RetrainJob: Sendable, Equatable {
    public enum State: String, Sendable, CaseIterable {
        case queued, running
        /// The candidate beat the champion and went out (a canary started, or the challenger alias moved).
        case succeeded
        /// The candidate was registered and lost; it stays registered, the champion keeps serving.
        case rejected
        case failed, cancelled

        public var isActive: Bool { self == .queued || self == .running }
    }

    public var id: String
    public var model: String
    /// `manual`, `alert:<rule>` or `schedule`.
    public var trigger: String
    public var state: State
    public var attempt: Int
    public var createdBy: String
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    /// Why it failed or was rejected, or what happened on success.
    public var reason: String
    /// The trainer's output (the last 64 KiB).
    public var logs: String
    /// The version serving when the job started, and the candidate it registered.
    public var champion: Int?
    public var candidate: Int?
    public var trainingRows: Int
    public var holdoutRows: Int
    /// The training window: its first and last prediction time, and the SHA-256 of the exported file.
    public var dataSince: Date?
    public var dataUntil: Date?
    public var dataDigest: String?
    public var evaluation: RetrainEvaluation?
    /// The training data's size in bytes: the file is kept in the artifact store under `dataDigest`.
    public var dataBytes: Int?
    /// What a webhook trainer reported back (nil until it does).
    public var report: TrainerReport?

    public init(
        id: String, model: String, trigger: String, state: State = .queued, attempt: Int = 1, createdBy: String, createdAt: Date,
        startedAt: Date? = nil, finishedAt: Date? = nil, reason: String = "", logs: String = "", champion: Int? = nil, candidate: Int? = nil,
        trainingRows: Int = 0, holdoutRows: Int = 0, dataSince: Date? = nil, dataUntil: Date? = nil, dataDigest: String? = nil,
        evaluation: RetrainEvaluation? = nil, dataBytes: Int? = nil, report: TrainerReport? = nil
    ) {
        self.dataBytes = dataBytes
        self.report = report
        self.id = id
        self.model = model
        self.trigger = trigger
        self.state = state
        self.attempt = attempt
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.reason = reason
        self.logs = logs
        self.champion = champion
        self.candidate = candidate
        self.trainingRows = trainingRows
        self.holdoutRows = holdoutRows
        self.dataSince = dataSince
        self.dataUntil = dataUntil
        self.dataDigest = dataDigest
        self.evaluation = evaluation
    }
}

/// A webhook trainer's answer: the version of the model it registered, or why it could not train one.
public enum TrainerReport: Sendable, Equatable {
    case version(Int)
    case failure(String)
}

/// Whether a policy's automatic triggers call for a retraining now: an alert it names firing since after the last
/// job began, or the schedule's period passed since the last job (or since the policy was set).
public func retrainTrigger(
    policy: RetrainPolicy, firing: [(rule: String, since: Date)], lastJob: Date?, now: Date
) -> String? {
    for alert in firing.sorted(by: { $0.rule < $1.rule }) where policy.alerts.contains(alert.rule) {
        if lastJob.map({ $0 < alert.since }) ?? true { return "alert:\(alert.rule)" }
    }
    if let every = policy.everySeconds {
        let from = max(lastJob ?? policy.updatedAt, policy.updatedAt)
        if now.timeIntervalSince(from) >= Double(every) { return "schedule" }
    }
    return nil
}

/// Retraining policies and jobs. Every implementation must pass `RetrainStoreConformance` in `FerryTesting`.
public protocol RetrainStore: Sendable {
    func setRetrainPolicy(_ policy: RetrainPolicy, audit: AuditBuilder<RetrainPolicy>?) async throws
    func retrainPolicy(model: String) async throws -> RetrainPolicy?
    func retrainPolicies() async throws -> [RetrainPolicy]
    /// Removes a model's policy; `.notFound` when it has none.
    func deleteRetrainPolicy(model: String, audit: AuditBuilder<String>?) async throws

    /// Stores a new job; `.failedPrecondition` when the model already has a queued or running one (at most one per
    /// model at a time, across replicas).
    func createRetrainJob(_ job: RetrainJob, audit: AuditBuilder<RetrainJob>?) async throws
    func retrainJob(id: String) async throws -> RetrainJob?
    /// A model's jobs (or every model's), newest first.
    func retrainJobs(model: String?, limit: Int) async throws -> [RetrainJob]
    /// Replaces a job; `.notFound` for an unknown id.
    func updateRetrainJob(_ job: RetrainJob, audit: AuditBuilder<RetrainJob>?) async throws
}
