import FerryCore
import Foundation
import Testing

@testable import FerryRuntimes

/// Large batches split across threads give exactly the single-threaded results, row for row.
struct ParallelPredictionTests {
    static func bigBatch(_ rows: [[Double?]], columns: Int, count: Int) -> FeatureMatrix {
        let flat = (0..<count).flatMap { rows[$0 % rows.count].map { $0 ?? .nan } }
        return FeatureMatrix(rows: count, columns: columns, values: flat)
    }

    @Test func xgboostThreadsDoNotChangeResults() async throws {
        let (forest, expected) = try XGBoostGoldenTests.load("digits_softprob")
        let batch = Self.bigBatch(expected.rows, columns: expected.num_feature, count: 5000)
        var one = forest
        one.threads = 1
        var two = forest
        two.threads = 2
        #expect(one.margins(batch) == two.margins(batch))
        let margins = two.margins(batch)
        let k = expected.margins[0].count
        for r in [0, 1, 2499, 4999] {
            #expect(Array(margins[(r * k)..<((r + 1) * k)]) == expected.margins[r % expected.rows.count].map(Float.init))
        }
    }

    @Test func lightgbmThreadsDoNotChangeResults() throws {
        let (model, expected) = try LightGBMGoldenTests.load("leaves255")
        let batch = Self.bigBatch(expected.rows, columns: expected.num_feature, count: 5000)
        var one = model
        one.threads = 1
        var two = model
        two.threads = 2
        #expect(one.rawScores(batch) == two.rawScores(batch))
    }
}
