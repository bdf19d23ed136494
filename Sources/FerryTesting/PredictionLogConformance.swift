import FerryCore
import Foundation

/// The behaviour every `PredictionLog` must show.
public enum PredictionLogConformance {
    static func record(_ id: String, model: String = "m", version: Int = 1, second: Double) -> PredictionRecord {
        PredictionRecord(
            id: id, model: model, version: version, at: Fixtures.time.addingTimeInterval(second), latencyMicros: 120,
            inputs: [[.number(1.5), .null, .string("sha256:ab")]], outputs: [[0.25, 0.75]])
    }

    public static let cases: [ConformanceCase<any PredictionLog>] = [
        .init("the hash key is made once: every caller, at once or later, gets the same 32 bytes") { log in
            async let a = log.hashKey()
            async let b = log.hashKey()
            let (first, second) = try await (a, b)
            let third = try await log.hashKey()
            try expect(first == second && second == third, "one key: \(first) \(second) \(third)")
            try expect(first.count == 64 && first.hexBytes?.count == 32, "32 bytes of hex: \(first)")
        },
        .init("records round-trip and are found by id") { log in
            let r = record("a", second: 1)
            try await log.append([r])
            try expect(try await log.record(id: "a") == r, "round trip")
            try expect(try await log.record(id: "zz") == nil, "unknown id is nil")
            var flagged = record("b", second: 2)
            flagged.inputs = [[.number(1)], [.number(2)]]
            flagged.outputs = [[0.9], [0.2]]
            flagged.flags = [[], ["out_of_range:amount", "unseen_category:country \"x\""]]
            try await log.append([flagged])
            try expect(try await log.record(id: "b") == flagged, "flags round-trip")
            try expect(try await log.records(model: "m", version: nil, since: nil, until: nil, limit: 10).first == flagged, "and are listed")
        },
        .init("queries filter by model, version and time, newest first, with a limit") { log in
            try await log.append([
                record("1", second: 1), record("2", version: 2, second: 2), record("3", second: 3),
                record("4", model: "other", second: 4), record("5", second: 5),
            ])
            let all = try await log.records(model: "m", version: nil, since: nil, until: nil, limit: 100)
            try expect(all.map(\.id) == ["5", "3", "2", "1"], "newest first: \(all.map(\.id))")
            let v1 = try await log.records(model: "m", version: 1, since: nil, until: nil, limit: 100)
            try expect(v1.map(\.id) == ["5", "3", "1"], "version filter: \(v1.map(\.id))")
            let window = try await log.records(
                model: "m", version: nil, since: Fixtures.time.addingTimeInterval(2), until: Fixtures.time.addingTimeInterval(5), limit: 100)
            try expect(window.map(\.id) == ["3", "2"], "since inclusive, until exclusive: \(window.map(\.id))")
            try expect(try await log.records(model: "m", version: nil, since: nil, until: nil, limit: 2).count == 2, "limit")
            let counts = (try await log.count(model: "m"), try await log.count(model: nil))
            try expect(counts == (4, 5), "counts \(counts)")
        },
        .init("retention purges by age and trims by count") { log in
            try await log.append((1...10).map { record("r\($0)", second: Double($0)) })
            try expect(try await log.purge(olderThan: Fixtures.time.addingTimeInterval(4)) == 3, "three older than 4 s")
            try expect(try await log.trim(keepNewest: 5) == 2, "seven left, keep five")
            let left = try await log.records(model: "m", version: nil, since: nil, until: nil, limit: 100).map(\.id)
            try expect(left == ["r10", "r9", "r8", "r7", "r6"], "newest kept: \(left)")
        },
        .init("feedback joins logged rows; unmatched feedback is kept and counted") { log in
            var two = record("p", second: 1)
            two.inputs = [[.number(1)], [.number(2)]]
            two.outputs = [[0.9], [0.2]]
            try await log.append([two, record("q", model: "other", second: 2)])
            let matched = try await log.addFeedback([
                Feedback(predictionID: "p", row: 0, label: 1, receivedAt: Fixtures.time),
                Feedback(predictionID: "p", row: 1, label: 1, receivedAt: Fixtures.time),
                Feedback(predictionID: "sampled-out", row: 0, label: 0, receivedAt: Fixtures.time),
                Feedback(predictionID: "p", row: 5, label: 0, receivedAt: Fixtures.time),
            ])
            try expect(matched == 2, "two rows match: \(matched)")
            try await log.addFeedback([Feedback(predictionID: "p", row: 1, label: 0, receivedAt: Fixtures.time)])
            let labeled = try await log.labeled(model: "m", version: nil, since: nil, until: nil, limit: 100)
            try expect(labeled.map(\.label) == [1, 0], "later label replaces: \(labeled.map(\.label))")
            try expect(labeled.map(\.output) == [[0.9], [0.2]] && labeled[1].inputs == [.number(2)], "joined rows")
            try expect(labeled.allSatisfy { $0.at == two.at }, "each labelled row carries its prediction's time: \(labeled.map(\.at))")
            try expect(labeled.map { "\($0.predictionID)/\($0.row)" } == ["p/0", "p/1"], "each labelled row names its prediction and row: \(labeled.map { "\($0.predictionID)/\($0.row)" })")
            try expect(try await log.labeled(model: "other", version: nil, since: nil, until: nil, limit: 100).isEmpty, "per model")
            try expect(try await log.unmatchedFeedbackCount() == 1, "one unknown id")
        },
        .init("text with quotes, backslashes, newlines and control characters round-trips") { log in
            var r = record("t", second: 1)
            r.inputs = [[.string("line one\nline \"two\"\t\\ \u{01}\u{1F} é ✓"), .bool(true), .number(-0.5), .number(1e-300)]]
            r.flags = [["unseen_category:note \"a\nb\""]]
            try await log.append([r])
            let back = try await log.record(id: "t")
            try expect(back == r, "round trip: \(String(describing: back))")
        },
        .init("an unhurried append writes every record, also more than one group") { log in
            let records = (1...11).map { record("u\($0)", second: Double($0)) }
            try await log.appendUnhurried(records)
            try expect(try await log.count(model: "m") == 11, "all eleven written")
            try expect(try await log.record(id: "u7") == records[6], "in full")
        },
        .init("hundreds of records, appended in several batches out of time order: order, windows, limits and retention stay exact") { log in
            // Each time appears twice, so newest-first order also depends on the id; version 2 is every third record.
            let all = (0..<200).map { i in
                record(String(format: "k%03d", i), version: i % 3 == 0 ? 2 : 1, second: Double((i * 37) % 100))
            }
            try await log.append(Array(all[0..<90]))
            try await log.appendUnhurried(Array(all[90..<150]))
            try await log.append(Array(all[150...]))
            let newestFirst = all.sorted { ($0.at, $1.id) > ($1.at, $0.id) }
            let top = try await log.records(model: "m", version: nil, since: nil, until: nil, limit: 30)
            try expect(top == Array(newestFirst.prefix(30)), "newest 30: \(top.map(\.id))")
            let since = Fixtures.time.addingTimeInterval(20), until = Fixtures.time.addingTimeInterval(60)
            let window = try await log.records(model: "m", version: 2, since: since, until: until, limit: 15)
            let expected = newestFirst.filter { $0.version == 2 && $0.at >= since && $0.at < until }.prefix(15)
            try expect(window == Array(expected), "version 2 in [20 s, 60 s): \(window.map(\.id)), expected \(expected.map(\.id))")
            try expect(try await log.count(model: "m") == 200, "all counted")
            try expect(try await log.record(id: "k123") == all[123], "found by id")
            try expect(try await log.purge(olderThan: Fixtures.time.addingTimeInterval(10)) == 20, "twenty older than 10 s")
            try expect(try await log.trim(keepNewest: 50) == 130, "a hundred and eighty left, keep fifty")
            let left = try await log.records(model: "m", version: nil, since: nil, until: nil, limit: 1000)
            try expect(left == Array(newestFirst.prefix(50)), "the newest fifty kept: \(left.map(\.id))")
            try expect(try await log.record(id: all.first { $0.at < Fixtures.time.addingTimeInterval(10) }!.id) == nil, "a purged record is gone")
        },
        .init("appending the same id twice keeps the first") { log in
            try await log.append([record("x", second: 1)])
            try await log.append([record("x", version: 9, second: 2)])
            try expect(try await log.record(id: "x")?.version == 1, "first write wins")
        },
    ]
}
