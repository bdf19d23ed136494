import FerryCore
import FerryEngine
import FerryHTTP
import FerryTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// The monitoring story end to end on the example model: traffic from the reference distribution shows no drift;
/// shifted traffic drifts on exactly the shifted features; feedback with degraded labels lowers accuracy; the
/// accuracy alert fires and its webhook reaches a real receiver.
struct MonitoringScenarioTests {
    @Test func referenceTrafficThenShiftThenDegradedLabelsThenAlert() async throws {
        let stack = try await TestStack { $0.webhookRetryDelays = [] }
        defer { stack.tearDown() }
        let version = try await stack.registry.register(.init(model: "fraud", artifact: try TestStack.exampleModel(), createdBy: "test"))
        try await stack.registry.setAlias(model: "fraud", alias: "production", version: version.version, by: "test")
        let alerts = stack.alerts
        let app = Application(router: stack.server.router)
        let receiver = WebhookReceiver(failures: 0)
        let reference = DriftRouteTests.rows(count: 1200)

        try await receiver.run { url in
            try await app.test(.router) { client in
                _ = try await client.execute(uri: "/api/v1/models/fraud/versions/1/reference", method: .put,
                                             body: ByteBuffer(string: #"{"instances": [\#(DriftRouteTests.json(reference[...]))]}"#))
                let rule = #"{"metric": "accuracy", "comparison": "<", "threshold": 0.8, "window_seconds": 3600, "webhook": "\#(url)"}"#
                #expect(try await client.execute(uri: "/api/v1/models/fraud/alerts/accuracy-drop", method: .put, body: ByteBuffer(string: rule)).status == .ok)

                /// Sends rows in requests of 200; returns (prediction id, row, probability) for each row.
                func send(_ rows: [[Double]]) async throws -> [(String, Int, Double)] {
                    var out: [(String, Int, Double)] = []
                    for start in stride(from: 0, to: rows.count, by: 200) {
                        let chunk = rows[start..<min(start + 200, rows.count)]
                        let body = #"{"inputs":[{"name":"input","shape":[\#(chunk.count),12],"datatype":"FP64","data":[\#(DriftRouteTests.json(chunk))]}]}"#
                        let response = try await client.post("/v2/models/fraud/infer", body)
                        let id = (response.json["parameters"] as? [String: Any])?["prediction_id"] as? String ?? ""
                        let p = ((response.json["outputs"] as? [[String: Any]])?.first?["data"] as? [Double]) ?? []
                        out += p.enumerated().map { (id, $0.offset, $0.element) }
                    }
                    await stack.predictionLogger.flush()
                    return out
                }
                func feedback(_ rows: [(String, Int, Double)], degraded: Bool) async throws {
                    let items = rows.enumerated().map { i, r -> String in
                        let decision = r.2 >= 0.5 ? 1 : 0
                        let label = degraded && i % 2 == 0 ? 1 - decision : decision   // half the labels disagree
                        return #"{"prediction_id": "\#(r.0)", "row": \#(r.1), "label": \#(label)}"#
                    }
                    #expect(try await client.post("/api/v1/feedback", "[\(items.joined(separator: ","))]").status == .ok)
                }
                func drifted(_ last: Int) async throws -> Set<String> {
                    let report = try await client.get("/api/v1/models/fraud/drift?last=\(last)")
                    let features = report.json["features"] as? [[String: Any]] ?? []
                    return Set(features.filter { ($0["psi"] as? Double ?? 0) > 0.2 && ($0["ks_pvalue"] as? Double ?? 1) < 0.001 }.compactMap { $0["name"] as? String })
                }
                func accuracy() async throws -> Double {
                    let perf = try await client.get("/api/v1/models/fraud/performance")
                    return (perf.json["overall"] as? [String: Any])?["accuracy"] as? Double ?? .nan
                }

                // 1. Traffic from the reference distribution, with labels that agree: no drift, high accuracy.
                let calm = try await send(reference)
                #expect(try await drifted(6).isEmpty)
                try await feedback(calm, degraded: false)
                #expect(try await accuracy() == 1)
                #expect((try await client.post("/api/v1/alerts/evaluate", "").json["changes"] as? [Any])?.isEmpty == true)

                // 2. Shifted traffic: exactly the shifted features drift.
                let shiftedRows = reference.map { row -> [Double] in
                    var r = row
                    r[2] += 6          // hour
                    r[9] *= 5          // avg_amount_30d
                    return r
                }
                let shifted = try await send(shiftedRows)
                #expect(try await drifted(6) == ["hour", "avg_amount_30d"])

                // 3. Degraded labels: accuracy falls and the alert fires, notifying the webhook.
                try await feedback(shifted, degraded: true)
                let fallen = try await accuracy()
                #expect(fallen < 0.8 && fallen > 0.7, "accuracy \(fallen)")
                let changes = try await client.post("/api/v1/alerts/evaluate", "").json["changes"] as? [[String: Any]] ?? []
                #expect(changes.first?["to"] as? String == "firing", "\(changes)")
                await alerts.waitForDeliveries()
            }
        }
        let delivered = receiver.deliveries.withLock { $0 }
        #expect(delivered.count == 1)
        let payload = delivered.first.flatMap { try? JSONSerialization.jsonObject(with: $0.body) as? [String: Any] }
        #expect(payload?["alert"] as? String == "accuracy-drop" && payload?["state"] as? String == "firing")
    }
}
