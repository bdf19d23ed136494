import Crypto
import FerryCore
import FerryEngine
import FerryHTTP
import FerryTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing

/// A real HTTP server on loopback that records webhook deliveries and fails the first `failures` of them.
final class WebhookReceiver: Sendable {
    struct Delivery: Sendable {
        var headers: HTTPFields
        var body: Data
    }

    let deliveries = Mutex<[Delivery]>([])
    let failures: Int
    let attempts = Mutex(0)

    init(failures: Int) { self.failures = failures }

    /// Runs the receiver for the duration of `body`, passing its URL.
    func run(_ body: @Sendable (String) async throws -> Void) async throws {
        let router = Router()
        router.post("/hook") { request, _ -> Response in
            let data = Data(buffer: try await request.body.collect(upTo: 1 << 20))
            let attempt = self.attempts.withLock { a -> Int in
                a += 1
                return a
            }
            if attempt <= self.failures { return Response(status: .internalServerError) }
            self.deliveries.withLock { $0.append(Delivery(headers: request.headers, body: data)) }
            return Response(status: .noContent)
        }
        let port = Mutex<Int?>(nil)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port } })
        let server = Task { try await app.run() }
        defer { server.cancel() }
        var bound: Int?
        for _ in 0..<200 {
            bound = port.withLock { $0 }
            if bound != nil { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        guard let bound else { throw FerryError(.internal, "receiver did not start") }
        try await body("http://127.0.0.1:\(bound)/hook")
    }
}

struct AlertRouteTests {
    @Test func driftAlertFiresAndASignedWebhookIsDeliveredAfterARetry() async throws {
        let stack = try await TestStack()
        defer { stack.tearDown() }
        let version = try await stack.registry.register(.init(model: "fraud", artifact: try TestStack.exampleModel(), createdBy: "test"))
        try await stack.registry.setAlias(model: "fraud", alias: "production", version: version.version, by: "test")
        let alerts = stack.alerts
        let app = Application(router: stack.server.router)
        let receiver = WebhookReceiver(failures: 1)
        let reference = DriftRouteTests.rows(count: 1000)

        try await receiver.run { url in
            try await app.test(.router) { client in
                _ = try await client.execute(uri: "/api/v1/models/fraud/versions/1/reference", method: .put,
                                             body: ByteBuffer(string: #"{"instances": [\#(DriftRouteTests.json(reference[...]))]}"#))
                let rule = #"{"metric": "drift_psi", "feature": "amount", "comparison": ">", "threshold": 0.25, "window_seconds": 3600, "webhook": "\#(url)", "webhook_secret": "s3cret"}"#
                let put = try await client.execute(uri: "/api/v1/models/fraud/alerts/amount-drift", method: .put, body: ByteBuffer(string: rule))
                #expect(put.status == .ok, "\(put.text)")
                #expect((put.json["rule"] as? [String: Any])?["webhook_secret"] as? String == "********", "the secret is never echoed")
                let audited = try await stack.store.auditEntries(after: 0, limit: 1000).filter { $0.action == "alert.put" }
                #expect(!audited.isEmpty && !audited.contains { "\($0.after ?? .null)".contains("s3cret") }, "nor kept in the audit trail: \(audited)")

                func send(_ rows: [[Double]]) async throws {
                    let body = #"{"inputs":[{"name":"input","shape":[\#(rows.count),12],"datatype":"FP64","data":[\#(DriftRouteTests.json(rows[...]))]}]}"#
                    #expect(try await client.post("/v2/models/fraud/infer", body).status == .ok)
                    await stack.predictionLogger.flush()
                }
                try await send(reference)
                let calm = try await client.post("/api/v1/alerts/evaluate", "")
                #expect((calm.json["changes"] as? [Any])?.isEmpty == true, "\(calm.text)")

                try await send(reference.map { row in var r = row; r[0] *= 4; return r })
                let fired = try await client.post("/api/v1/alerts/evaluate", "")
                let change = (fired.json["changes"] as? [[String: Any]])?.first
                #expect(change?["to"] as? String == "firing", "\(fired.text)")

                let list = try await client.get("/api/v1/models/fraud/alerts")
                let status = ((list.json["items"] as? [[String: Any]])?.first?["status"] as? [String: Any])
                #expect(status?["state"] as? String == "firing")
                let events = try await client.get("/api/v1/alerts/events?model=fraud")
                #expect((events.json["items"] as? [[String: Any]])?.last?["to"] as? String == "firing")
                // Delivery runs in the background, so evaluation never waits on a slow webhook.
                await alerts.waitForDeliveries()

                let bad = try await client.execute(uri: "/api/v1/models/fraud/alerts/x", method: .put, body: ByteBuffer(string: #"{"metric": "drift_psi", "comparison": "!=", "threshold": 1}"#))
                #expect(bad.status == .badRequest, "\(bad.text)")
            }
        }
        #expect(receiver.attempts.withLock { $0 } == 2, "one refused attempt, then one delivered")
        let deliveries = receiver.deliveries.withLock { $0 }
        #expect(deliveries.count == 1)
        guard let delivery = deliveries.first else { return }
        let payload = try JSONSerialization.jsonObject(with: delivery.body) as? [String: Any]
        #expect(payload?["state"] as? String == "firing" && payload?["alert"] as? String == "amount-drift")
        #expect((payload?["value"] as? Double ?? 0) > 0.25)
        let timestamp = delivery.headers[HTTPField.Name("Ferry-Timestamp")!] ?? ""
        let expected = AlertManager.signature(secret: "s3cret", timestamp: timestamp, body: delivery.body)
        #expect(delivery.headers[HTTPField.Name("Ferry-Signature")!] == expected, "HMAC over timestamp.body")
        #expect(alerts.deliveryCounts.sent == 1 && alerts.deliveryCounts.failed == 0)
        #expect(try await stack.store.pendingNotifications(limit: 10).isEmpty, "delivered notifications leave the outbox")
    }

    /// A leader that recorded a firing alert and died before its webhook was sent: the replica that evaluates
    /// next finds the notification in the outbox and delivers it, with the event's number for deduplication.
    @Test func aNotificationLeftByADeadLeaderIsDeliveredByTheNext() async throws {
        let stack = try await TestStack()
        defer { stack.tearDown() }
        try await stack.registerFake("m", value: 1)
        let receiver = WebhookReceiver(failures: 0)
        try await receiver.run { url in
            let rule = AlertRule(
                name: "errors", model: "m", metric: .errorRate, comparison: .greater, threshold: 0.5, windowSeconds: 60, webhook: url)
            try await stack.alerts.put(rule, by: "t")
            let event = AlertEvent(rule: "errors", model: "m", from: .pending, to: .firing, value: 0.9, threshold: 0.5, at: Date())
            let stored = try #require(try await stack.store.record(
                model: "m", name: "errors", status: AlertStatus(state: .firing), event: event, notify: true))
            await stack.alerts.evaluateAll()
            await stack.alerts.waitForDeliveries()
            // This evaluation also resolves the alert (no traffic, no error rate), which is notified too.
            let events = receiver.deliveries.withLock { $0 }.compactMap { $0.headers[HTTPField.Name("Ferry-Event")!] }
            #expect(events.filter { $0 == "\(stored.sequence)" }.count == 1, "the left-over notification is delivered once: \(events)")
            #expect(try await stack.store.pendingNotifications(limit: 10).isEmpty)
        }
    }
}
