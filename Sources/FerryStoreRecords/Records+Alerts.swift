import FerryCore
import Foundation

// Alert tables (alert_rule.rule, alert_rule.status)

/// `alert_rule.rule`: an `AlertRule`.
package struct AlertRuleRecord: Codable, Sendable, Equatable {
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

    package init(_ domain: AlertRule) {
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

    package init(from decoder: any Decoder) throws {
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

    package func encode(to encoder: any Encoder) throws {
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

    package func domain() throws -> AlertRule {
        AlertRule(
            name: name, model: model, metric: try Records.parse(metric, as: AlertRule.Metric.self, field: "metric", in: "AlertRuleRecord"),
            feature: feature,
            comparison: try Records.parse(comparison, as: AlertRule.Comparison.self, field: "comparison", in: "AlertRuleRecord"),
            threshold: threshold, windowSeconds: windowSeconds, forSeconds: forSeconds, webhook: webhook, webhookSecret: webhookSecret)
    }
}

/// `alert_rule.status`: where a rule stands (`AlertStatus`).
package struct AlertStatusRecord: Codable, Sendable, Equatable {
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

    package init(_ domain: AlertStatus) {
        schemaVersion = Self.currentSchemaVersion
        state = domain.state.rawValue
        since = domain.since.map(Records.seconds)
        value = domain.value
        evaluatedAt = domain.evaluatedAt.map(Records.seconds)
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schemaVersion = try Records.schemaVersion(
            in: c, forKey: .schemaVersion, record: "AlertStatusRecord", current: Self.currentSchemaVersion)
        state = try c.decode(String.self, forKey: .state)
        since = try c.decodeIfPresent(Double.self, forKey: .since)
        value = try c.decodeIfPresent(Double.self, forKey: .value)
        evaluatedAt = try c.decodeIfPresent(Double.self, forKey: .evaluatedAt)
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.currentSchemaVersion, forKey: .schemaVersion)
        try c.encode(state, forKey: .state)
        try c.encodeIfPresent(since, forKey: .since)
        try c.encodeIfPresent(value, forKey: .value)
        try c.encodeIfPresent(evaluatedAt, forKey: .evaluatedAt)
    }

    package func domain() throws -> AlertStatus {
        AlertStatus(
            state: try Records.parse(state, as: AlertStatus.State.self, field: "state", in: "AlertStatusRecord"),
            since: since.map(Records.date), value: value, evaluatedAt: evaluatedAt.map(Records.date))
    }
}
