import FerryCore
import FerryTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// Fairness through the API: logged decisions of the example model with ground truth, grouped by a logged feature,
/// give the numbers `FairnessReport` (checked against fairlearn) gives for the same rows.
struct FairnessRouteTests {
    @Test func fairnessOfLoggedDecisionsByAFeature() async throws {
        try await withFerry { client, stack in
            let expected = try TestStack.exampleExpectations()
            let rows = expected.rows.prefix(60)
            let instances = rows.map { "[" + $0.map { $0.map { "\($0)" } ?? "null" }.joined(separator: ",") + "]" }.joined(separator: ",")
            let predicted = try await client.post("/v1/models/fraud:predict", #"{"instances": [\#(instances)]}"#)
            try #require(predicted.status == .ok, "\(predicted.text)")
            let id = predicted.json["prediction_id"] as! String
            // Labels that disagree with the model on some rows, so rates differ between groups.
            let labels = rows.indices.map { $0 % 3 == 0 ? 1 : 0 }
            let items = labels.enumerated().map { #"{"prediction_id": "\#(id)", "row": \#($0.offset), "label": \#($0.element)}"# }
            #expect(try await client.post("/api/v1/feedback", "[\(items.joined(separator: ","))]").status == .ok)
            await stack.predictionLogger.flush()
            let response = try await client.get("/api/v1/models/fraud/fairness?attribute=is_night&threshold=0.01")
            try #require(response.status == .ok, "\(response.text)")
            let column = expected.feature_names.firstIndex(of: "is_night")!
            let want = try FairnessReport(
                labels: labels, predictions: expected.probabilities.prefix(rows.count).map { Float($0) >= 0.01 ? 1 : 0 },
                groups: rows.map { $0[column].map { String(Int($0)) } ?? "missing" })
            let body = response.json
            #expect((body["by_group"] as? [String: Any])?.keys.sorted() == want.byGroup.keys.sorted(), "\(response.text)")
            #expect(abs((body["demographic_parity_difference"] as! Double) - want.demographicParityDifference) < 1e-12)
            #expect(abs((body["equalized_odds_difference"] as! Double) - want.equalizedOddsDifference) < 1e-12)
            #expect((body["overall"] as! [String: Any])["count"] as? Int == rows.count, "every labelled row is counted")

            // Per period: one request is one instant, so one period with the whole window's figures.
            let series = try await client.get("/api/v1/models/fraud/fairness?attribute=is_night&threshold=0.01&every=3600")
            let periods = series.json["series"] as? [[String: Any]] ?? []
            #expect(periods.count == 1 && periods.first?["count"] as? Int == rows.count, "\(series.text)")
            #expect((periods.first?["demographic_parity_difference"] as? Double).map { abs($0 - want.demographicParityDifference) < 1e-12 } == true)
            #expect(body["series"] == nil, "no series unless asked")

            for (query, message) in [
                ("?attribute=hour&every=0", "every must be a number of seconds"), ("?attribute=hour&every=soon", "'every' must be a number of seconds"),
                ("", "query 'attribute' is required"), ("?attribute=nope", "attribute 'nope' is not an input of model 'fraud'"),
                ("?attribute=hour&threshold=2", "threshold must be between 0 and 1"),
            ] {
                let bad = try await client.get("/api/v1/models/fraud/fairness\(query)")
                #expect(bad.status == .badRequest && bad.errorMessage.contains(message), "\(bad.errorMessage)")
            }
        }
    }
}

/// A sensitive input named at registration: the prediction log keeps it hashed, fairness still groups by it (by
/// the hashes), and the model card reports it.
struct SensitiveAtRegistrationTests {
    @Test func aSensitiveInputIsLoggedHashedAndStillGroups() async throws {
        let artifact = try TestStack.exampleModel().base64EncodedString()
        try await withFerry { client, stack in
            let registered = try await client.post("/api/v1/models/fraud/versions", #"{"artifact": "\#(artifact)", "sensitive": {"is_night": "hash"}, "aliases": ["production"]}"#)
            #expect(registered.status == .created, "\(registered.text)")
            let features = ((registered.json["input_schema"] as? [String: Any])?["features"] as? [[String: Any]]) ?? []
            #expect(features.first { $0["name"] as? String == "is_night" }?["sensitive"] as? String == "hash")
            try await predictExampleRowsWithLabels(client, stack) { $0 % 3 == 0 ? 1 : 0 }
            let fairness = try await client.get("/api/v1/models/fraud/fairness?attribute=is_night")
            let groups = (fairness.json["by_group"] as? [String: Any])?.keys.sorted() ?? []
            #expect(groups.count == 2 && groups.allSatisfy { $0.hasPrefix("hmac:") }, "groups by the logged keyed hashes: \(groups)")
            let card = try await client.get("/api/v1/models/fraud/versions/2/card")
            #expect(card.text.contains("Fairness by 'is_night'"), "\(card.text)")
            let unknown = try await client.post("/api/v1/models/fraud/versions", #"{"artifact": "\#(artifact)", "sensitive": {"gender": "hash"}}"#)
            #expect(unknown.status == .badRequest && unknown.errorMessage.contains("names 'gender', which is not an input"), "\(unknown.text)")
            let bad = try await client.post("/api/v1/models/fraud/versions", #"{"artifact": "\#(artifact)", "sensitive": {"is_night": "encrypt"}}"#)
            #expect(bad.status == .badRequest && bad.errorMessage.contains("must be hash or redact"), "\(bad.text)")
        }
    }

    /// A redacted input is logged as missing: one group of everything, which looked perfectly fair. Fairness by it,
    /// an alert on it and a rollout gate on it are refused, naming the way out.
    @Test func fairnessByARedactedInputIsRefusedEverywhere() async throws {
        let artifact = try TestStack.exampleModel().base64EncodedString()
        try await withFerry { client, stack in
            let registered = try await client.post("/api/v1/models/fraud/versions", #"{"artifact": "\#(artifact)", "sensitive": {"is_night": "redact"}, "aliases": ["production"]}"#)
            #expect(registered.status == .created, "\(registered.text)")
            try await predictExampleRowsWithLabels(client, stack) { $0 % 3 == 0 ? 1 : 0 }
            let fairness = try await client.get("/api/v1/models/fraud/fairness?attribute=is_night")
            #expect(fairness.status == .badRequest && fairness.errorMessage.contains("'is_night' is redacted in the prediction log"), "\(fairness.text)")
            for (feature, message) in [("is_night", "is redacted in the prediction log"), ("nope", "field 'feature' 'nope' is not an input of model 'fraud'")] {
                let rule = try await putFraudAlert(client, "gap", #"{"metric": "demographic_parity_difference", "feature": "\#(feature)", "comparison": ">", "threshold": 0.1, "window_seconds": 3600}"#)
                #expect(rule.status == .badRequest && rule.errorMessage.contains(message), "\(rule.text)")
            }
            // No prices: a budget could never be evaluated.
            let budget = try await putFraudAlert(client, "budget", #"{"metric": "cost_per_1000_predictions", "comparison": ">", "threshold": 0.1, "window_seconds": 3600}"#)
            #expect(budget.status == .conflict && budget.errorMessage.contains("needs prices"), "\(budget.text)")
            // An unknown metric is answered with the known ones.
            let unknownMetric = try await putFraudAlert(client, "x", #"{"metric": "demographic_parity_ratio", "feature": "hour", "comparison": ">", "threshold": 0.1}"#)
            #expect(unknownMetric.status == .badRequest && unknownMetric.errorMessage.contains("field 'metric' is 'demographic_parity_ratio'; use one of latency_p50_seconds"), "\(unknownMetric.text)")
            _ = try await stack.endpoints.put(Endpoint(name: "ep", variants: [.init(model: "fraud", version: 1, weight: 1)], createdBy: "t", updatedAt: Date()), by: "t")
            await #expect {
                _ = try await stack.endpoints.startRollout(
                    endpoint: "ep", to: VersionRef(model: "fraud", version: 2), strategy: nil, steps: [50, 100], bakeSeconds: 0,
                    gates: RolloutGates(fairnessAttribute: "is_night"), by: "t")
            } throws: { ($0 as? FerryError)?.message.contains("field 'gates.fairness_attribute' 'is_night' is redacted") == true }
        }
    }
}

/// A ratio over a zero largest value (no positives labelled: every true positive rate is 0) is undefined: null in the
/// answer, not left out; labels of 0.5 or more are positive, as performance reads them.
struct UndefinedFairnessRatioTests {
    @Test func undefinedRatiosAreNull() async throws {
        try await withFerry { client, stack in
            try await predictExampleRowsWithLabels(client, stack) { $0 == 0 ? 0.4 : 0 }
            let fairness = try await client.get("/api/v1/models/fraud/fairness?attribute=is_night")
            #expect(fairness.status == .ok, "\(fairness.text)")
            #expect(fairness.json["equal_opportunity_ratio"] is NSNull && fairness.json["equalized_odds_ratio"] is NSNull, "\(fairness.text)")
            #expect(fairness.json["demographic_parity_ratio"] != nil)
        }
    }
}

/// Fairness as an alert metric: the rule names the sensitive feature and fires on the gap between its groups.
struct FairnessAlertTests {
    @Test func aFairnessRuleFiresOnTheGapBetweenGroups() async throws {
        try await withFerry { client, stack in
            try await predictExampleRowsWithLabels(client, stack) { $0 % 3 == 0 ? 1 : 0 }
            let missing = try await putFraudAlert(client, "gap", #"{"metric": "demographic_parity_difference", "comparison": ">", "threshold": 0.1, "window_seconds": 3600}"#)
            #expect(missing.status == .badRequest && missing.errorMessage.contains("field 'feature' is required for demographic_parity_difference"), "\(missing.errorMessage)")
            let put = try await putFraudAlert(client, "gap", #"{"metric": "equalized_odds_difference", "feature": "is_night", "comparison": ">=", "threshold": 0, "window_seconds": 3600}"#)
            #expect(put.status == .ok, "\(put.text)")
            #expect(try await client.post("/api/v1/alerts/evaluate", "").status == .ok)
            let fairness = try await client.get("/api/v1/models/fraud/fairness?attribute=is_night")
            let status = try await stack.alerts.store.status(model: "fraud", name: "gap")
            let routeValue = try #require((fairness.json["equalized_odds_difference"] as? NSNumber)?.doubleValue, "\(fairness.text)")
            #expect(status.state == .firing && abs((status.value ?? -1) - routeValue) < 1e-12,
                    "the rule's value is the route's: \(String(describing: status.value)) vs \(routeValue)")
        }
    }
}

/// `PUT /api/v1/models/fraud/alerts/{name}` with a JSON rule.
private func putFraudAlert(_ client: any TestClientProtocol, _ name: String, _ rule: String) async throws -> TestResponse {
    try await client.execute(
        uri: "/api/v1/models/fraud/alerts/\(name)", method: .put, headers: [.contentType: "application/json"], body: ByteBuffer(string: rule))
}
