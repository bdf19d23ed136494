import FerryCore
import FerryTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// Figures over time: drift, performance and fairness per period of prediction time equal the same figures asked
/// for that period's window alone; traffic per period adds up every replica's stored counts.
struct MonitoringSeriesTests {
    static let hour = 3600.0

    /// Logs 40 predictions in each of two hours (the second hour shifted in `amount`), with ground truth.
    static func logTwoHours(_ stack: TestStack, _ client: any TestClientProtocol) async throws -> Date {
        let start = Periods.start(of: Date().addingTimeInterval(-3 * hour), every: hour)
        let rows = DriftRouteTests.rows(count: 80)
        var records: [PredictionRecord] = []
        for (i, row) in rows.enumerated() {
            var inputs = row
            if i >= 40 { inputs[0] *= 3 }
            let at = start.addingTimeInterval((i >= 40 ? hour : 0) + 60 + Double(i % 40) * 30)
            records.append(PredictionRecord(
                id: "series-\(i)", model: "fraud", version: 1, at: at, latencyMicros: 100,
                inputs: [inputs.map { .number($0) }], outputs: [[Double(i % 10) / 10]]))
        }
        try await stack.predictionLog.append(records)
        let items = (0..<80).map { #"{"prediction_id": "series-\#($0)", "label": \#($0 % 3 == 0 ? 1 : 0)}"# }
        let fed = try await client.post("/api/v1/feedback", "[\(items.joined(separator: ","))]")
        try #require(fed.status == .ok && fed.json["matched"] as? Int == 80, "\(fed.text)")
        return start
    }

    static func iso(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }

    @Test func driftAndPerformancePerPeriodEqualEachPeriodAlone() async throws {
        try await withFerry { client, stack in
            let reference = DriftRouteTests.rows(count: 400)
            let put = try await client.execute(
                uri: "/api/v1/models/fraud/versions/1/reference", method: .put,
                body: ByteBuffer(string: #"{"instances": [\#(DriftRouteTests.json(reference[...]))]}"#))
            try #require(put.status == .ok, "\(put.text.prefix(300))")
            let start = try await Self.logTwoHours(stack, client)
            let window = "since=\(Self.iso(start))&until=\(Self.iso(start.addingTimeInterval(2 * Self.hour)))"

            let drift = try await client.get("/api/v1/models/fraud/drift?\(window)&every=3600")
            try #require(drift.status == .ok, "\(drift.text.prefix(300))")
            let periods = drift.json["series"] as? [[String: Any]] ?? []
            #expect(periods.count == 2, "\(drift.text.prefix(500))")
            #expect(periods.map { $0["rows"] as? Int } == [40, 40])
            for (p, period) in periods.enumerated() {
                let from = start.addingTimeInterval(Double(p) * Self.hour)
                let alone = try await client.get("/api/v1/models/fraud/drift?since=\(Self.iso(from))&until=\(Self.iso(from.addingTimeInterval(Self.hour)))")
                try #require(alone.status == .ok)
                let seriesPSI = (period["features"] as? [[String: Any]] ?? []).map { $0["psi"] as? Double }
                let alonePSI = (alone.json["features"] as? [[String: Any]] ?? []).map { $0["psi"] as? Double }
                #expect(seriesPSI == alonePSI && seriesPSI.count == 12, "period \(p)")
                #expect((period["features"] as? [[String: Any]])?.first?["bins"] == nil, "periods carry no bins")
            }
            let amountPSI = periods.map { (($0["features"] as? [[String: Any]])?.first?["psi"] as? Double) ?? 0 }
            #expect(amountPSI[1] > amountPSI[0] + 0.5, "the shifted hour drifts: \(amountPSI)")
            #expect(try await client.get("/api/v1/models/fraud/drift?\(window)").json["series"] == nil, "no series unless asked")

            let performance = try await client.get("/api/v1/models/fraud/performance?\(window)&every=3600&segment_by=is_night")
            try #require(performance.status == .ok, "\(performance.text.prefix(300))")
            let scored = performance.json["series"] as? [[String: Any]] ?? []
            #expect(scored.count == 2)
            let cohorts = Set((performance.json["segments"] as? [[String: Any]] ?? []).compactMap { $0["segment"] as? String })
            for (p, period) in scored.enumerated() {
                let from = start.addingTimeInterval(Double(p) * Self.hour)
                let alone = try await client.get(
                    "/api/v1/models/fraud/performance?since=\(Self.iso(from))&until=\(Self.iso(from.addingTimeInterval(Self.hour)))")
                let overall = period["overall"] as? [String: Any] ?? [:]
                let want = alone.json["overall"] as? [String: Any] ?? [:]
                #expect(overall["count"] as? Int == 40 && want["count"] as? Int == 40)
                #expect(overall["roc_auc"] as? Double == want["roc_auc"] as? Double && overall["log_loss"] as? Double == want["log_loss"] as? Double)
                let names = Set((period["segments"] as? [[String: Any]] ?? []).compactMap { $0["segment"] as? String })
                #expect(!names.isEmpty && names.isSubset(of: cohorts), "cohorts as over the whole window: \(names) of \(cohorts)")
            }

            for (query, message) in [("every=0", "every must be a number of seconds"), ("every=soon", "'every' must be a number of seconds")] {
                for route in ["drift", "performance", "traffic"] {
                    let bad = try await client.get("/api/v1/models/fraud/\(route)?\(query)")
                    #expect(bad.status == .badRequest && bad.errorMessage.contains(message), "\(route): \(bad.errorMessage)")
                }
            }
        }
    }

    @Test func trafficPerPeriodAddsUpTheStoredCounts() async throws {
        try await withFerry { client, stack in
            let row = Array(repeating: "1", count: 12).joined(separator: ",")
            func infer(_ n: Int) async throws {
                for _ in 0..<n {
                    let r = try await client.post("/v1/models/fraud:predict", #"{"instances": [[\#(row)]]}"#)
                    #expect(r.status == .ok)
                }
            }
            let now = Date()
            let first = Periods.start(of: now, every: 60).addingTimeInterval(-180)
            try await infer(3)
            await stack.alerts.publishCounts(at: first.addingTimeInterval(5))
            try await infer(2)
            await stack.alerts.publishCounts(at: first.addingTimeInterval(125))

            let traffic = try await client.get("/api/v1/models/fraud/traffic?every=60&since=\(Self.iso(first))")
            try #require(traffic.status == .ok, "\(traffic.text.prefix(300))")
            let periods = traffic.json["periods"] as? [[String: Any]] ?? []
            #expect(periods.count >= 3, "\(traffic.text.prefix(400))")
            #expect(periods.prefix(3).map { $0["requests"] as? Int } == [3, 0, 2], "\(traffic.text.prefix(600))")
            #expect(periods.map { $0["errors"] as? Int ?? -1 }.allSatisfy { $0 == 0 })
            let p99 = periods.first?["p99_ms"] as? Double
            #expect(p99 != nil && p99! > 0, "latency from the serving histogram")
            #expect(periods[1]["p99_ms"] == nil && periods[1]["error_rate"] == nil, "an empty period has no percentiles or rate")

            let unknown = try await client.get("/api/v1/models/nope/traffic")
            #expect(unknown.status == .notFound)
            let reversed = try await client.get("/api/v1/models/fraud/traffic?since=\(Self.iso(now))&until=\(Self.iso(now.addingTimeInterval(-60)))")
            #expect(reversed.status == .badRequest && reversed.errorMessage.contains("since must be before its until"), "\(reversed.errorMessage)")
        }
    }
}
