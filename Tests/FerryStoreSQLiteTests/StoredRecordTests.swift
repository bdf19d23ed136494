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

    /// `feature_online.feature_values` as stores wrote it before `FeatureValues` (names sorted, escapes, every type).
    static let onlineRow = "a\u{1F}i-9223372036854775808\u{1E}b\u{1F}d0.30000000000000004\u{1E}c\u{1F}dnan\u{1E}d\u{1F}d-inf\u{1E}"
        + "e\u{1F}d-0.0\u{1E}f\u{1F}d1e-05\u{1E}g\u{1F}sx\\u\\\\y\u{1E}h\\uk\u{1F}b1\u{1E}i\u{1F}n\u{1E}j\u{1F}i9223372036854775807\u{1E}"

    @Test func onlineValuesReadAsStoredAndWriteTheSameText() throws {
        let values = try OnlineValuesCodec.decode(Self.onlineRow)
        #expect(values.names == ["a", "b", "c", "d", "e", "f", "g", "h\u{1F}k", "i", "j"])
        #expect(values["a"] == .int(.min) && values["j"] == .int(.max) && values["b"] == .double(0.30000000000000004))
        if case .double(let nan)? = values["c"] { #expect(nan.isNaN) } else { Issue.record("nan: \(String(describing: values["c"]))") }
        #expect(values["d"] == .double(-.infinity) && values["f"] == .double(0.00001))
        if case .double(let zero)? = values["e"] { #expect(zero == 0 && zero.sign == .minus) } else { Issue.record("-0.0") }
        #expect(values["g"] == .string("x\u{1F}\\y") && values["h\u{1F}k"] == .bool(true) && values["i"] == .null)
        #expect(OnlineValuesCodec.encode(values) == Self.onlineRow)
        // A row not in name order (no store writes one) reads the same, sorted; out-of-range integers read as null.
        let shuffled = try OnlineValuesCodec.decode("z\u{1F}i1\u{1E}y\u{1F}i99999999999999999999\u{1E}a\u{1F}i-\u{1E}z\u{1F}i2\u{1E}")
        #expect(shuffled == ["a": .null, "y": .null, "z": .int(2)])
        #expect(throws: FerryError.self) { try OnlineValuesCodec.decode("a\u{1F}\u{1E}") }
    }

    /// `FeatureValues` keeps a dictionary's meaning: random sets, replacements and removals agree with one.
    @Test func featureValuesAgreeWithADictionary() {
        var generator = SplitMix64(seed: 7)
        var values = FeatureValues()
        var reference: [String: FeatureDatum] = [:]
        for step in 0..<2_000 {
            let name = "f\(Int.random(in: 0..<40, using: &generator))"
            let value: FeatureDatum? = Int.random(in: 0..<4, using: &generator) == 0 ? nil : .int(Int64(step))
            values[name] = value
            reference[name] = value
            #expect(values[name] == reference[name])
        }
        #expect(values.names == reference.keys.sorted() && values.count == reference.count)
        #expect(values.names.map { values[$0] } == reference.keys.sorted().map { reference[$0] })
        #expect(FeatureValues(reference.map { ($0.key, $0.value) }) == values)
        #expect(FeatureValues([("b", .int(1)), ("a", .int(2)), ("b", .int(3))]) == ["a": .int(2), "b": .int(3)])
        let order = FeatureValues.Order(["b", "a", "c", "a"])
        #expect(FeatureValues([.int(1), .int(2), .int(3), .int(4)], in: order) == ["a": .int(4), "b": .int(1), "c": .int(3)])
        var appended = FeatureValues()
        #expect(appended.append("a", .int(1)) && appended.append("b", .int(2)))
        #expect(!appended.append("b", .int(3)) && !appended.append("a", .int(3)) && appended == ["a": .int(1), "b": .int(2)])
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
