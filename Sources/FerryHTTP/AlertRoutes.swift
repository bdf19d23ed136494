import FerryCore
import FerryEngine
import Foundation
import Hummingbird

/// Alert rules, their status and history under `/api/v1`.
struct AlertRoutes {
    typealias Context = FerryRequestContext
    let alerts: AlertManager?

    func add(to router: Router<Context>) {
        let api = router.group("/api/v1")
        api.get("/models/{name}/alerts") { _, context in
            let alerts = try require()
            let model = try context.parameters.require("name")
            var items: [API.AlertRuleWithStatusBody] = []
            for rule in try await alerts.store.rules(model: model) {
                items.append(API.AlertRuleWithStatusBody(rule: rule, status: try await alerts.store.status(model: model, name: rule.name)))
            }
            return try API.response(API.List(items: items))
        }
        api.put("/models/{name}/alerts/{alert}") { request, context in
            let alerts = try require()
            let buffer = try await request.body.collect(upTo: 1 << 20)
            var body = try API.decode(RuleBody.self, from: Data(buffer: buffer))
            body.name = try context.parameters.require("alert")
            body.model = try context.parameters.require("name")
            let rule = body.rule
            try await alerts.put(rule, by: context.actor)
            return try API.response(API.AlertRuleWithStatusBody(rule: rule, status: try await alerts.store.status(model: rule.model, name: rule.name)))
        }
        api.delete("/models/{name}/alerts/{alert}") { _, context in
            try await require().delete(model: try context.parameters.require("name"), name: try context.parameters.require("alert"), by: context.actor)
            return jsonResponse(Array(#"{"deleted":true}"#.utf8))
        }
        api.get("/alerts/events") { request, _ in
            let q = request.uri.queryParameters
            let limit = try q["limit"].map { text -> Int in
                guard let n = Int(text), (1...10_000).contains(n) else { throw FerryError.invalid("query 'limit' must be a number from 1 to 10000") }
                return n
            } ?? 100
            let events = try await require().store.events(model: q["model"].map(String.init), rule: q["alert"].map(String.init), limit: limit)
            return try API.response(API.List(items: events.map(API.AlertEventBody.init)))
        }
        api.post("/alerts/evaluate") { _, _ in
            try API.response(["changes": await try require().evaluateAll().map(API.AlertEventBody.init)])
        }
    }

    private func require() throws -> AlertManager {
        guard let alerts else { throw FerryError(.failedPrecondition, "alerts need the prediction log, which is off on this server") }
        return alerts
    }


    /// A rule as sent: model and name come from the path.
    struct RuleBody: Decodable {
        var name = ""
        var model = ""
        var metric: AlertRule.Metric
        var feature: String?
        var comparison: AlertRule.Comparison
        var threshold: Double
        var windowSeconds: Int?
        var forSeconds: Int?
        var webhook: String?
        var webhookSecret: String?

        enum CodingKeys: String, CodingKey {
            case metric, feature, comparison, threshold, webhook
            case windowSeconds = "window_seconds", forSeconds = "for_seconds", webhookSecret = "webhook_secret"
        }

        /// The metric and comparison are read as text first, so an unknown one is answered with the known ones.
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let metricText = try c.decode(String.self, forKey: .metric)
            guard let metric = AlertRule.Metric(rawValue: metricText) else {
                throw FerryError.invalid("field 'metric' is '\(metricText)'; use one of \(AlertRule.Metric.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let comparisonText = try c.decode(String.self, forKey: .comparison)
            guard let comparison = AlertRule.Comparison(rawValue: comparisonText) else {
                throw FerryError.invalid("field 'comparison' is '\(comparisonText)'; use one of >, >=, <, <=")
            }
            (self.metric, self.comparison) = (metric, comparison)
            feature = try c.decodeIfPresent(String.self, forKey: .feature)
            threshold = try c.decode(Double.self, forKey: .threshold)
            windowSeconds = try c.decodeIfPresent(Int.self, forKey: .windowSeconds)
            forSeconds = try c.decodeIfPresent(Int.self, forKey: .forSeconds)
            webhook = try c.decodeIfPresent(String.self, forKey: .webhook)
            webhookSecret = try c.decodeIfPresent(String.self, forKey: .webhookSecret)
        }

        var rule: AlertRule {
            AlertRule(
                name: name, model: model, metric: metric, feature: feature, comparison: comparison, threshold: threshold,
                windowSeconds: windowSeconds ?? 300, forSeconds: forSeconds ?? 0, webhook: webhook, webhookSecret: webhookSecret)
        }
    }
}
