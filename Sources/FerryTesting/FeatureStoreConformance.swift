import FerryCore
import Foundation
import Synchronization

/// The behaviour every feature store (definitions, online rows, materialization marks) must show.
public enum FeatureStoreConformance {
    public typealias Store = any FeatureStore & AuditStore

    static let card = FeatureEntity(name: "card", joinKeys: [JoinKey(name: "card_id", type: .int64)], description: "a card")
    static func stats(ttl: Int64 = 7200, features: [FeatureField]? = nil, entities: [String] = ["card"]) -> FeatureView {
        FeatureView(
            name: "card_stats", entities: entities,
            features: features ?? [FeatureField(name: "count", type: .int64), FeatureField(name: "mean", type: .float64)],
            source: FeatureSource(kind: .file(path: "/data/stats.csv", format: .csv), createdTimestampField: "created"),
            ttlSeconds: ttl, owner: "risk", description: "d", tags: ["team": "risk"])
    }

    static func row(_ key: String, event: Int64, created: Int64? = nil, count: Int64) -> OnlineFeatureRow {
        OnlineFeatureRow(key: key, eventTime: event, createdTime: created, values: ["count": .int(count), "mean": .double(0.5), "s": .string("a\u{1F}b\\"), "n": .null])
    }

    public static let cases: [ConformanceCase<Store>] = [
        .init("applying definitions versions them: new at 1, changed one up, unchanged kept; one audit entry per apply") { store in
            let first = try await store.applyFeatures(FeatureDefinitions(entities: [card], views: [stats()]), by: "ann", at: Fixtures.time, audit: audit)
            try expect(first.entities.map(\.version) == [1] && first.views.map(\.version) == [1], "new at 1: \(first)")
            try expect(first.views[0].updatedBy == "ann" && first.views[0].updatedAt == Fixtures.time, "who and when: \(first.views[0])")
            let later = Fixtures.time.addingTimeInterval(60)
            let same = try await store.applyFeatures(FeatureDefinitions(entities: [card], views: [stats()]), by: "bob", at: later, audit: audit)
            try expect(same == first, "unchanged definitions stay as they were: \(same)")
            let changed = try await store.applyFeatures(FeatureDefinitions(views: [stats(ttl: 60)]), by: "bob", at: later, audit: audit)
            try expect(changed.views[0].version == 2 && changed.views[0].ttlSeconds == 60 && changed.views[0].updatedBy == "bob", "changed one up: \(changed)")
            let views = try await store.featureViews()
            try expect(views == changed.views, "stored as returned: \(views)")
            try expect(try await store.featureEntities() == first.entities, "entities round-trip")
            let entries = try await store.auditEntries(after: 0, limit: 10)
            try expect(entries.map(\.action) == ["features.apply", "features.apply", "features.apply"], "audited: \(entries.map(\.action))")
            try expect(
                entries.map(\.after) == [.array([.string("card_stats v1")]), .array([]), .array([.string("card_stats v2")])],
                "each entry names what its apply changed: \(entries.map(\.after))")
        },
        .init("an online row is replaced only by a newer event, or the same event created as late or later") { store in
            _ = try await store.applyFeatures(FeatureDefinitions(entities: [card], views: [stats()]), by: "a", at: Fixtures.time, audit: nil)
            var result = try await store.writeOnline(view: "card_stats", rows: [row("1", event: 100, created: 5, count: 1), row("2", event: 100, count: 2)])
            try expect(result == OnlineWriteResult(written: 2, ignoredOlder: 0), "first writes: \(result)")
            result = try await store.writeOnline(view: "card_stats", rows: [
                row("1", event: 99, created: 9, count: 10),     // older event: ignored
                row("1", event: 100, created: 4, count: 11),    // same event, created earlier: ignored
                row("2", event: 101, count: 12),                // newer: written
            ])
            try expect(result == OnlineWriteResult(written: 1, ignoredOlder: 2), "older ignored: \(result)")
            result = try await store.writeOnline(view: "card_stats", rows: [row("1", event: 100, created: 6, count: 13), row("1", event: 100, created: 7, count: 14)])
            try expect(result.written + result.ignoredOlder == 2, "every row counted once: \(result)")
            let read = try await store.readOnline(view: "card_stats", keys: ["2", "3", "1"])
            try expect(read.count == 3 && read[1] == nil, "absent key reads nil, in key order: \(read)")
            try expect(read[0] == row("2", event: 101, count: 12), "newer event kept: \(String(describing: read[0]))")
            try expect(read[2] == row("1", event: 100, created: 7, count: 14), "latest created kept, values round-trip: \(String(describing: read[2]))")
            try expect(try await store.readOnline(view: "other", keys: ["1"]) == [nil], "views are separate")
        },
        .init("a read of several keys, then newer writes: every later read sees them") { store in
            _ = try await store.applyFeatures(FeatureDefinitions(entities: [card], views: [stats()]), by: "a", at: Fixtures.time, audit: nil)
            _ = try await store.writeOnline(view: "card_stats", rows: [row("1", event: 100, count: 1), row("2", event: 100, count: 2)])
            try expect(try await store.readOnline(view: "card_stats", keys: ["1", "2"]).map { $0?.values["count"] } == [.int(1), .int(2)], "first read")
            _ = try await store.writeOnline(view: "card_stats", rows: [row("1", event: 101, count: 11), row("2", event: 101, count: 12)])
            try expect(try await store.readOnline(view: "card_stats", keys: ["1", "2"]).map { $0?.values["count"] } == [.int(11), .int(12)], "several keys after the write")
            _ = try await store.writeOnline(view: "card_stats", rows: [row("1", event: 102, count: 21)])
            try expect(try await store.readOnline(view: "card_stats", keys: ["1"]).map { $0?.values["count"] } == [.int(21)], "one key after the next write")
        },
        .init("reads racing writes: a read sees every write that returned before it, and no reader goes back in time") { store in
            _ = try await store.applyFeatures(FeatureDefinitions(entities: [card], views: [stats()]), by: "a", at: Fixtures.time, audit: nil)
            _ = try await store.writeOnline(view: "card_stats", rows: [row("1", event: 0, count: 0)])
            let writes: Int64 = 200
            let done = StopFlag()
            try await withThrowingTaskGroup(of: Void.self) { group in
                // Readers keep connections busy, so that writes commit while reads are under way.
                for _ in 0..<3 {
                    group.addTask {
                        var seen: Int64 = 0
                        while !done.value.load(ordering: .relaxed) {
                            guard case .int(let count)? = try await store.readOnline(view: "card_stats", keys: ["1"])[0]?.values["count"] else {
                                throw FerryError(.internal, "a reader found no count")
                            }
                            try expect(count >= seen, "a reader saw count \(count) after \(seen)")
                            seen = count
                            await Task.yield()   // a read that never suspends would keep the writer off the threads
                        }
                    }
                }
                defer { done.value.store(true, ordering: .relaxed) }
                for k in 1...writes {
                    _ = try await store.writeOnline(view: "card_stats", rows: [row("1", event: k, count: k)])
                    let read = try await store.readOnline(view: "card_stats", keys: ["1", "2"])
                    try expect(read[0]?.values["count"] == .int(k) && read[1] == nil, "after write \(k): \(read)")
                }
                done.value.store(true, ordering: .relaxed)
                try await group.waitForAll()
            }
        },
        .init("materialization marks are kept per view; a change of join keys or of a feature's type drops the view's online rows and mark; an earlier end leaves the mark") { store in
            _ = try await store.applyFeatures(FeatureDefinitions(entities: [card], views: [stats()]), by: "a", at: Fixtures.time, audit: nil)
            try expect(try await store.materializedThrough(view: "card_stats") == nil, "no mark at first")
            try await store.setMaterializedThrough(view: "card_stats", 1_700_000_000_000_000)
            try expect(try await store.materializedThrough(view: "card_stats") == 1_700_000_000_000_000, "mark kept")
            try await store.setMaterializedThrough(view: "card_stats", 1_600_000_000_000_000)
            try expect(try await store.materializedThrough(view: "card_stats") == 1_700_000_000_000_000, "an earlier end leaves the mark")
            try await store.setMaterializedThrough(view: "card_stats", 1_800_000_000_000_000)
            try expect(try await store.materializedThrough(view: "card_stats") == 1_800_000_000_000_000, "a later end moves it")
            try await expectError(.notFound) { try await store.setMaterializedThrough(view: "nope", 1) }
            _ = try await store.writeOnline(view: "card_stats", rows: [row("1", event: 1, count: 1)])
            // A feature removed keeps the rows; a key change drops them.
            _ = try await store.applyFeatures(
                FeatureDefinitions(views: [stats(features: [FeatureField(name: "count", type: .int64)])]), by: "a", at: Fixtures.time, audit: nil)
            try expect(try await store.readOnline(view: "card_stats", keys: ["1"])[0] != nil, "rows kept when only features change")
            // A feature's new type drops them: they hold values of the old one.
            _ = try await store.applyFeatures(
                FeatureDefinitions(views: [stats(features: [FeatureField(name: "count", type: .string)])]), by: "a", at: Fixtures.time, audit: nil)
            try expect(try await store.readOnline(view: "card_stats", keys: ["1"])[0] == nil, "rows dropped when a feature's type changes")
            try expect(try await store.materializedThrough(view: "card_stats") == nil, "mark dropped with them")
            try await store.setMaterializedThrough(view: "card_stats", 1_800_000_000_000_000)
            _ = try await store.writeOnline(view: "card_stats", rows: [row("1", event: 1, count: 1)])
            var wider = card
            wider.joinKeys.append(JoinKey(name: "country", type: .string))
            _ = try await store.applyFeatures(FeatureDefinitions(entities: [wider]), by: "a", at: Fixtures.time, audit: nil)
            try expect(try await store.readOnline(view: "card_stats", keys: ["1"])[0] == nil, "rows dropped when the entity's keys change")
            try expect(try await store.materializedThrough(view: "card_stats") == nil, "mark dropped with them")
        },
    ]

    static let audit: AuditBuilder<FeatureApplication> = { application in
        AuditDraft(
            at: Fixtures.time, actor: "t", action: "features.apply", target: "features",
            after: .array(application.changed.views.map { .string("\($0.name) v\($0.version)") }))
    }
}

/// Tells concurrent loops of a conformance case to stop.
final class StopFlag: Sendable {
    let value = Atomic<Bool>(false)
}
