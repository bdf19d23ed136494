import FerryCore
import FerryTesting
import Foundation
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
