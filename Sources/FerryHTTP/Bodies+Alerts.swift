import FerryCore
import FerryEngine
import Foundation

// Alerts: response bodies copying domain types field by field (see `ControlPlaneBodies.swift`).
extension API {
    /// An alert rule with its status: answers `PUT /api/v1/models/{name}/alerts/{alert}` and, in `{"items": [...]}`,
    /// `GET /api/v1/models/{name}/alerts` (replaces `AlertRoutes.RuleWithStatus`).
    struct AlertRuleWithStatusBody: Encodable, Sendable {
        var rule: AlertRuleBody
        var status: AlertStatusBody

        enum CodingKeys: String, CodingKey {
            case rule, status
        }

        init(rule: AlertRule, status: AlertStatus) {
            self.rule = AlertRuleBody(rule)
            self.status = AlertStatusBody(status)
        }
    }

    /// An alert rule as shown (`AlertRuleWithStatusBody.rule`). The webhook secret is never echoed: when the rule has
    /// one (even an empty one) it is sent as `"********"`; when it has none, `webhook_secret` is left out.
    struct AlertRuleBody: Encodable, Sendable {
        /// What a set webhook secret reads as on the wire.
        static let maskedSecret = "********"

        var name: String
        var model: String
        var metric: String
        var feature: String?
        var comparison: String
        var threshold: Double
        var windowSeconds: Int
        var forSeconds: Int
        var webhook: String?
        var webhookSecret: String?

        enum CodingKeys: String, CodingKey {
            case name, model, metric, feature, comparison, threshold, webhook
            case windowSeconds = "window_seconds", forSeconds = "for_seconds", webhookSecret = "webhook_secret"
        }

        init(_ domain: AlertRule) {
            name = domain.name
            model = domain.model
            metric = domain.metric.rawValue
            feature = domain.feature
            comparison = domain.comparison.rawValue
            threshold = domain.threshold
            windowSeconds = domain.windowSeconds
            forSeconds = domain.forSeconds
            webhook = domain.webhook
            webhookSecret = domain.webhookSecret == nil ? nil : Self.maskedSecret
        }
    }

    /// Where an alert stands (`AlertRuleWithStatusBody.status`): `state` is `inactive`, `pending`, `firing` or
    /// `resolved`; `since`, `value` and `evaluated_at` are left out until known.
    struct AlertStatusBody: Encodable, Sendable {
        var state: String
        var since: Date?
        var value: Double?
        var evaluatedAt: Date?

        enum CodingKeys: String, CodingKey {
            case state, since, value
            case evaluatedAt = "evaluated_at"
        }

        init(_ domain: AlertStatus) {
            state = domain.state.rawValue
            since = domain.since
            value = domain.value
            evaluatedAt = domain.evaluatedAt
        }
    }

    /// A change of an alert's state: answers, in `{"items": [...]}`, `GET /api/v1/alerts/events` and, in
    /// `{"changes": [...]}`, `POST /api/v1/alerts/evaluate`. `value` is left out when there was no data.
    struct AlertEventBody: Encodable, Sendable {
        var sequence: Int64
        var rule: String
        var model: String
        var from: String
        var to: String
        var value: Double?
        var threshold: Double
        var at: Date

        enum CodingKeys: String, CodingKey {
            case sequence, rule, model, from, to, value, threshold, at
        }

        init(_ domain: AlertEvent) {
            sequence = domain.sequence
            rule = domain.rule
            model = domain.model
            from = domain.from.rawValue
            to = domain.to.rawValue
            value = domain.value
            threshold = domain.threshold
            at = domain.at
        }
    }
}
