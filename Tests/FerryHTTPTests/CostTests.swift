import FerryCore
import FerryEngine
import FerryServer
import FerryTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// CPU time per request per version and per client, memory over time, and their price.
struct CostTests {
    @Test func requestsAreMeteredPerVersionAndClientAndPriced() async throws {
        let stack = try await TestStack { configuration in
            configuration.authentication = true
            configuration.costPrices = CostMeter.Prices(cpuHour: 3600, gibHour: 2)
        }
        defer { stack.tearDown() }
        let version = try await stack.registry.register(.init(model: "fraud", artifact: try TestStack.exampleModel(), createdBy: "test"))
        try await stack.registry.setAlias(model: "fraud", alias: "production", version: version.version, by: "test")
        let admin = try await stack.authenticator.createKey(name: "root", role: .admin, by: "test")
        let shop = try await stack.authenticator.createKey(name: "shop", role: .predictor, by: "test")
        let bank = try await stack.authenticator.createKey(name: "bank", role: .predictor, by: "test")
        let row = "[1,2,3,4,5,6,7,8,9,10,11,12]"
        try await Application(router: stack.server.router).test(.router) { client in
            func call(_ method: HTTPRequest.Method, _ uri: String, _ key: String, _ body: String? = nil) async throws -> TestResponse {
                try await client.execute(
                    uri: uri, method: method, headers: [.authorization: "Bearer \(key)", .contentType: "application/json"], body: body.map { ByteBuffer(string: $0) })
            }
            stack.server.cost.tick()
            for _ in 0..<5 { #expect(try await call(.post, "/v1/models/fraud:predict", shop.secret, #"{"instances": [\#(row), \#(row)]}"#).status == .ok) }
            let v2 = #"{"inputs":[{"name":"input","shape":[1,12],"datatype":"FP32","data":\#(row)}]}"#
            for _ in 0..<3 { #expect(try await call(.post, "/v2/models/fraud/infer", bank.secret, v2).status == .ok) }
            try await Task.sleep(for: .milliseconds(50))
            stack.server.cost.tick()

            let report = try await call(.get, "/api/v1/cost", admin.secret).json
            let model = (report["models"] as? [[String: Any]])?.first ?? [:]
            #expect(model["model"] as? String == "fraud" && model["requests"] as? Int == 8 && model["predictions"] as? Int == 13, "\(model)")
            let cpu = model["cpu_seconds"] as? Double ?? 0, memory = model["memory_gib_hours"] as? Double ?? 0
            #expect(cpu > 0 && memory > 0, "\(model)")
            let cost = model["cost"] as? Double ?? -1
            #expect(abs(cost - (cpu + 2 * memory)) < 1e-12, "CPU at 3600 an hour is a second's worth per second")
            #expect(abs((model["cost_per_1000_predictions"] as? Double ?? 0) - cost / 13 * 1000) < 1e-9)
            let clients = Dictionary(uniqueKeysWithValues: (report["principals"] as? [[String: Any]] ?? []).map { ($0["principal"] as? String ?? "", $0) })
            #expect(clients["key:\(shop.key.id)"]?["predictions"] as? Int == 10 && clients["key:\(bank.key.id)"]?["requests"] as? Int == 3, "\(clients.keys)")

            // A client sees its own figures, not another's.
            let own = try await call(.get, "/api/v1/cost", shop.secret).json
            #expect((own["principals"] as? [[String: Any]])?.map { $0["principal"] as? String } == ["key:\(shop.key.id)"])

            let metrics = String(buffer: try await call(.get, "/metrics", admin.secret).body)
            #expect(metrics.contains(#"ferry_principal_predictions_total{principal="key:\#(shop.key.id)"} 10"#))
            #expect(metrics.contains(#"ferry_cpu_seconds_total{model="fraud",version="1"}"#) && metrics.contains("ferry_cost_per_1000_predictions{"))
            #expect(metrics.components(separatedBy: "# TYPE ferry_cpu_seconds_total").count == 2, "one header per family")

            // A budget: an alert on the cost per 1,000 predictions.
            let rule = try await call(.put, "/api/v1/models/fraud/alerts/budget", admin.secret, #"{"metric": "cost_per_1000_predictions", "comparison": ">", "threshold": 0, "window_seconds": 3600}"#)
            #expect(rule.status == .ok, "\(String(buffer: rule.body))")
            let changes = try await call(.post, "/api/v1/alerts/evaluate", admin.secret).json["changes"] as? [[String: Any]] ?? []
            #expect(changes.first?["rule"] as? String == "budget" && changes.first?["to"] as? String == "firing", "\(changes)")
        }
    }
}
