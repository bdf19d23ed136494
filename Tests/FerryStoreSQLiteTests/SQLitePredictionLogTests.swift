import FerryCore
import FerryTesting
import Foundation
import GRDB
import Testing

@testable import FerryStoreSQLite

struct SQLitePredictionLogTests {
    @Test(arguments: PredictionLogConformance.cases)
    func conformance(_ check: ConformanceCase<any PredictionLog>) async throws {
        try await check.run(try SQLitePredictionLog())
    }

    @Test(arguments: PredictionLogConformance.cases)
    func conformanceOnDisk(_ check: ConformanceCase<any PredictionLog>) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-plog-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try await check.run(try SQLitePredictionLog(path: dir.appendingPathComponent("predictions.sqlite").path))
    }
}

struct SQLitePredictionLogMigrationTests {
    /// A log written one row per record (before blocks) opens with its records moved into blocks, feedback and all.
    @Test func recordsStoredOneRowEachAreMovedIntoBlocks() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-plog-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("predictions.sqlite").path
        let old = try DatabaseQueue(path: path)
        try SQLitePredictionLog.migrator.migrate(old, upTo: "v3-prediction-flags")
        try await old.write { db in
            for i in 0..<100 {
                try db.execute(
                    sql: "INSERT INTO prediction (id, model, version, at, latency_us, inputs, outputs, flags) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    arguments: [
                        "p\(i)", i < 70 ? "fraud" : "churn", 1 + i % 2, 1_700_000_000_000 + i * 1000, 90 + i,
                        #"[[1.5,null,"a \"b\"\n"],[2,true,"sha256:ab"]]"#, "[[0.25],[0.75]]", i == 3 ? #"[[],["out_of_range:amount"]]"# : nil,
                    ])
            }
            try db.execute(sql: "INSERT INTO feedback (prediction_id, row, label, received_at) VALUES ('p5', 1, 1, 0), ('gone', 0, 0, 0)")
        }
        try old.close()

        let log = try SQLitePredictionLog(path: path)
        try #expect(await log.count(model: "fraud") == 70)
        try #expect(await log.count(model: nil) == 100)
        let three = try #require(try await log.record(id: "p3"))
        #expect(three == PredictionRecord(
            id: "p3", model: "fraud", version: 2, at: Date(timeIntervalSince1970: 1_700_000_003), latencyMicros: 93,
            inputs: [[.number(1.5), .null, .string("a \"b\"\n")], [.number(2), .bool(true), .string("sha256:ab")]], outputs: [[0.25], [0.75]],
            flags: [[], ["out_of_range:amount"]]))
        let newest = try await log.records(model: "churn", version: nil, since: nil, until: nil, limit: 3)
        #expect(newest.map(\.id) == ["p99", "p98", "p97"])
        let labeled = try await log.labeled(model: "fraud", version: nil, since: nil, until: nil, limit: 10)
        #expect(labeled.map { "\($0.predictionID)/\($0.row)/\($0.output)" } == ["p5/1/[0.75]"])
        try #expect(await log.unmatchedFeedbackCount() == 1)
        try #expect(await log.addFeedback([Feedback(predictionID: "p7", row: 1, label: 0, receivedAt: Date())]) == 1)
    }
}
