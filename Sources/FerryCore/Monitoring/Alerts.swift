import Foundation

/// A declarative alert: when `metric` of a model compared with `threshold` holds over the last `windowSeconds`
/// for at least `forSeconds`, the alert fires (and notifies its webhook); when it stops holding, it resolves.
public struct AlertRule: Codable, Sendable, Equatable {
    public enum Metric: String, Codable, Sendable, CaseIterable {
        /// Latency percentiles of logged predictions in the window, in seconds.
        case latencyP50 = "latency_p50_seconds", latencyP99 = "latency_p99_seconds"
        /// Failed share of inference requests in the window.
        case errorRate = "error_rate"
        /// Drift against the reference: the largest PSI, or the smallest KS/χ² p-value, over features (or `feature`).
        case driftPSI = "drift_psi", driftPValue = "drift_pvalue"
        /// Performance on predictions with ground truth in the window.
        case accuracy, f1, rocAUC = "roc_auc", logLoss = "log_loss", rmse, mae
        /// Fairness of a binary classifier's decisions on predictions with ground truth in the window, between the
        /// groups of `feature` (required): the largest minus the smallest selection rate, or the worse of the TPR
        /// and FPR gaps (`FairnessReport`).
        case demographicParityDifference = "demographic_parity_difference", equalizedOddsDifference = "equalized_odds_difference"
        /// The model's cost per 1,000 predictions in the window (needs prices: `--cost-per-cpu-hour`,
        /// `--cost-per-gib-hour`), on the replica that evaluates alerts: a budget.
        case costPer1000 = "cost_per_1000_predictions"

        /// Whether the metric compares groups of a feature, which the rule must then name.
        public var isFairness: Bool { self == .demographicParityDifference || self == .equalizedOddsDifference }
    }

    public enum Comparison: String, Codable, Sendable {
        case greater = ">", greaterOrEqual = ">=", less = "<", lessOrEqual = "<="

        public func holds(_ value: Double, _ threshold: Double) -> Bool {
            switch self {
            case .greater: value > threshold
            case .greaterOrEqual: value >= threshold
            case .less: value < threshold
            case .lessOrEqual: value <= threshold
            }
        }
    }

    public var name: String
    public var model: String
    public var metric: Metric
    /// For drift metrics: one feature (default: every feature, worst value).
    public var feature: String?
    public var comparison: Comparison
    public var threshold: Double
    public var windowSeconds: Int
    public var forSeconds: Int
    /// Where notifications go (JSON POST, signed with HMAC-SHA256 when a secret is set).
    public var webhook: String?
    public var webhookSecret: String?

    public init(
        name: String, model: String, metric: Metric, feature: String? = nil, comparison: Comparison, threshold: Double,
        windowSeconds: Int = 300, forSeconds: Int = 0, webhook: String? = nil, webhookSecret: String? = nil
    ) {
        self.name = name
        self.model = model
        self.metric = metric
        self.feature = feature
        self.comparison = comparison
        self.threshold = threshold
        self.windowSeconds = windowSeconds
        self.forSeconds = forSeconds
        self.webhook = webhook
        self.webhookSecret = webhookSecret
    }

    enum CodingKeys: String, CodingKey {
        case name, model, metric, feature, comparison, threshold, webhook
        case windowSeconds = "window_seconds", forSeconds = "for_seconds", webhookSecret = "webhook_secret"
    }

    /// Checks the rule's fields, naming the first one that is wrong.
    public func validate() throws {
        try Model.validate(name: name, field: "alert name")
        guard threshold.isFinite else { throw FerryError.invalid("field 'threshold' must be a finite number") }
        guard windowSeconds >= 1, windowSeconds <= 90 * 86_400 else { throw FerryError.invalid("field 'window_seconds' must be between 1 and 7776000") }
        guard forSeconds >= 0, forSeconds <= 90 * 86_400 else { throw FerryError.invalid("field 'for_seconds' must be between 0 and 7776000") }
        if let webhook {
            guard let url = URL(string: webhook), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw FerryError.invalid("field 'webhook' must be an http(s) URL, got '\(webhook)'")
            }
        }
        if metric.isFairness && feature == nil {
            throw FerryError.invalid("field 'feature' is required for \(metric.rawValue): the sensitive feature whose groups are compared")
        }
        if feature != nil && metric != .driftPSI && metric != .driftPValue && !metric.isFairness {
            throw FerryError.invalid("field 'feature' applies only to drift_psi, drift_pvalue and the fairness metrics")
        }
    }
}

/// Where an alert stands. `inactive` → `pending` when the condition starts holding, → `firing` once it has held for
/// `forSeconds`, → `resolved` when it stops holding while firing (a resolved alert behaves as inactive).
public struct AlertStatus: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable { case inactive, pending, firing, resolved }

    public var state: State
    /// When the current state began.
    public var since: Date?
    public var value: Double?
    public var evaluatedAt: Date?

    public init(state: State = .inactive, since: Date? = nil, value: Double? = nil, evaluatedAt: Date? = nil) {
        self.state = state
        self.since = since
        self.value = value
        self.evaluatedAt = evaluatedAt
    }

    enum CodingKeys: String, CodingKey {
        case state, since, value
        case evaluatedAt = "evaluated_at"
    }

    /// The next status after observing `value` (nil: no data, which never fires and resolves a firing alert).
    /// A pure function of its inputs: table-tested without clocks or threads.
    public func next(rule: AlertRule, value: Double?, now: Date) -> AlertStatus {
        let holds = value.map { rule.comparison.holds($0, rule.threshold) } ?? false
        var next = self
        next.value = value
        next.evaluatedAt = now
        switch (state, holds) {
        case (.inactive, true), (.resolved, true):
            next.state = rule.forSeconds == 0 ? .firing : .pending
            next.since = now
        case (.pending, true):
            if let since, now.timeIntervalSince(since) >= Double(rule.forSeconds) {
                next.state = .firing
                next.since = now
            }
        case (.pending, false):
            next.state = .inactive
            next.since = now
        case (.firing, false):
            next.state = .resolved
            next.since = now
        case (.firing, true), (.inactive, false), (.resolved, false):
            break
        }
        return next
    }
}

/// A change of an alert's state, kept as history and sent to the webhook.
public struct AlertEvent: Codable, Sendable, Equatable {
    public var sequence: Int64
    public var rule: String
    public var model: String
    public var from: AlertStatus.State
    public var to: AlertStatus.State
    public var value: Double?
    public var threshold: Double
    public var at: Date

    public init(sequence: Int64 = 0, rule: String, model: String, from: AlertStatus.State, to: AlertStatus.State, value: Double?, threshold: Double, at: Date) {
        self.sequence = sequence
        self.rule = rule
        self.model = model
        self.from = from
        self.to = to
        self.value = value
        self.threshold = threshold
        self.at = at
    }
}

/// Alert rules, their current status and their history.
public protocol AlertStore: Sendable {
    /// Creates or replaces a rule (rules are identified by model and name).
    func putRule(_ rule: AlertRule, audit: AuditBuilder<AlertRule>?) async throws
    func rules(model: String?) async throws -> [AlertRule]
    /// Deletes a rule (the builder gets the rule as it was); `.notFound` when there is none.
    func deleteRule(model: String, name: String, audit: AuditBuilder<AlertRule>?) async throws
    func status(model: String, name: String) async throws -> AlertStatus
    /// Saves a rule's status and, when the state changed, appends the event, in one transaction. An event to
    /// `notify` stays pending (an outbox) until `markNotified`, so a notification survives the death of the
    /// process that was sending it.
    @discardableResult
    func record(model: String, name: String, status: AlertStatus, event: AlertEvent?, notify: Bool) async throws -> AlertEvent?
    func events(model: String?, rule: String?, limit: Int) async throws -> [AlertEvent]
    /// Events recorded with `notify` and not yet marked notified, oldest first.
    func pendingNotifications(limit: Int) async throws -> [AlertEvent]
    /// Marks an event's notification done (delivered, or given up after its retries).
    func markNotified(sequence: Int64, at: Date) async throws
}

extension AlertStore {
    public func putRule(_ rule: AlertRule) async throws { try await putRule(rule, audit: nil) }
    public func deleteRule(model: String, name: String) async throws { try await deleteRule(model: model, name: name, audit: nil) }
    @discardableResult
    public func record(model: String, name: String, status: AlertStatus, event: AlertEvent?) async throws -> AlertEvent? {
        try await record(model: model, name: name, status: status, event: event, notify: false)
    }
}
