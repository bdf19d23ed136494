import FerryStoreRecords
import FerryCore
import Foundation
import Testing

/// The stored shape is the store's own, frozen in these rows: rows written before records existed (no
/// `schema_version`) still read, records write the same keys plus `schema_version`, and a row from a newer
/// schema is refused by name. Renaming a field of a domain or HTTP type cannot change any of this.
struct StoredRecordTests {
    static let date = Date(timeIntervalSinceReferenceDate: 734038478.123456)

    static let endpointRow = #"{"cache":{"max_bytes":2048,"max_entries":5,"ttl_seconds":1.5},"created_by":"me","fallback":{"model":"m","version":1},"name":"e","shadows":[{"model":"s","share":0.25,"version":3}],"sticky_header":"X-Id","timeout_ms":250,"updated_at":734038478.123456,"variants":[{"model":"m","version":2,"weight":10.5},{"model":"m","version":1,"weight":89.5}]}"#
    static let endpoint = Endpoint(
        name: "e", variants: [.init(model: "m", version: 2, weight: 10.5), .init(model: "m", version: 1, weight: 89.5)],
        shadows: [.init(model: "s", version: 3, share: 0.25)], stickyHeader: "X-Id", timeoutMs: 250,
        fallback: .init(model: "m", version: 1), cache: .init(maxEntries: 5, ttlSeconds: 1.5, maxBytes: 2048), createdBy: "me", updatedAt: date)

    static let rolloutRow = #"{"candidate":{"model":"m","version":2},"endpoint":"e","plan":{"bake_seconds":30,"gates":{"latency_slack_seconds":0.01,"max_accuracy_drop":0.1,"max_error_rate_increase":0.2,"max_latency_ratio":2,"max_output_psi":0.3,"min_labels":5,"min_outputs":20,"min_requests":7},"steps":[10,100]},"reason":"gate failed","stable":{"model":"m","version":1},"started_at":734038478.123456,"started_by":"me","status":"rolled_back","step":1,"step_started_at":734038478.123456}"#
    static var rollout: Rollout {
        var r = Rollout(
            endpoint: "e", stable: VersionRef(model: "m", version: 1), candidate: VersionRef(model: "m", version: 2),
            plan: RolloutPlan(steps: [10, 100], bakeSeconds: 30, gates: RolloutGates(
                minRequests: 7, maxErrorRateIncrease: 0.2, maxLatencyRatio: 2, latencySlackSeconds: 0.01, maxOutputPSI: 0.3,
                minOutputs: 20, maxAccuracyDrop: 0.1, minLabels: 5)),
            by: "me", at: date)
        r.step = 1
        r.status = .rolledBack
        r.reason = "gate failed"
        return r
    }

    static let ruleRow = #"{"comparison":"<=","feature":"f","for_seconds":30,"metric":"drift_psi","model":"m","name":"a","threshold":0.1,"webhook":"https:\/\/x\/y","webhook_secret":"s","window_seconds":60}"#
    static let rule = AlertRule(
        name: "a", model: "m", metric: .driftPSI, feature: "f", comparison: .lessOrEqual, threshold: 0.1, windowSeconds: 60,
        forSeconds: 30, webhook: "https://x/y", webhookSecret: "s")

    static func withVersion(_ row: String) -> String { "{\"schema_version\":1," + row.dropFirst() }

    @Test func legacyRowsReadAndRecordsWriteTheSameKeys() throws {
        #expect(try Records.decode(EndpointRecord.self, Self.endpointRow).domain() == Self.endpoint)
        #expect(try Records.decode(RolloutRecord.self, Self.rolloutRow).domain() == Self.rollout)
        #expect(try Records.decode(AlertRuleRecord.self, Self.ruleRow).domain() == Self.rule)
        func keys(_ text: String) throws -> Set<String> {
            Set((try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] ?? [:]).keys)
        }
        #expect(try keys(Records.encode(EndpointRecord(Self.endpoint))) == keys(Self.withVersion(Self.endpointRow)))
        #expect(try keys(Records.encode(RolloutRecord(Self.rollout))) == keys(Self.withVersion(Self.rolloutRow)))
        #expect(try keys(Records.encode(AlertRuleRecord(Self.rule))) == keys(Self.withVersion(Self.ruleRow)))
        #expect(try Records.decode(EndpointRecord.self, Records.encode(EndpointRecord(Self.endpoint))).domain() == Self.endpoint)
    }

    @Test func aRowFromANewerSchemaIsRefusedByName() {
        let newer = "{\"schema_version\":2," + Self.endpointRow.dropFirst()
        #expect {
            _ = try Records.decode(EndpointRecord.self, newer)
        } throws: { error in
            (error as? FerryError)?.message.contains("EndpointRecord has schema_version 2") == true
        }
    }
}
