import FerryCore
import FerryTesting
import Foundation
import HTTPTypes
import Hummingbird
import Testing

/// Training data from production: the logged rows of a version with their labels, as CSV.
struct DataExportTests {
    @Test func loggedRowsComeOutWithTheirLabels() async throws {
        try await withFerry { client, stack in
            let expected = try TestStack.exampleExpectations()
            let n = expected.rows.count
            let instances = expected.rows.map { "[" + $0.map { $0.map { "\($0)" } ?? "null" }.joined(separator: ",") + "]" }.joined(separator: ",")
            let predicted = try await client.post("/v1/models/fraud:predict", #"{"instances": [\#(instances)]}"#)
            let id = try #require(predicted.json["prediction_id"] as? String)
            let items = (0..<10).map { #"{"prediction_id": "\#(id)", "row": \#($0), "label": \#($0 % 2)}"# }
            #expect(try await client.post("/api/v1/feedback", "[\(items.joined(separator: ","))]").status == .ok)
            await stack.predictionLogger.flush()

            let all = try await client.get("/api/v1/models/fraud/data")
            #expect(all.status == .ok && all.headers[.contentType]?.hasPrefix("text/csv") == true, "\(all.text)")
            let lines = all.text.split(separator: "\n").map(String.init)
            #expect(lines.count == n + 1)
            #expect(lines[0] == "prediction_id,row,at," + expected.feature_names.joined(separator: ",") + ",predict,label")
            let first = lines[1].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            #expect(first[0] == id && first[1] == "0" && first.last == "0", "\(lines[1])")
            #expect(Double(first[first.count - 2]).map { abs($0 - expected.probabilities[0]) < 1e-6 } == true, "the logged output")
            #expect(lines[12].hasSuffix(","), "a row without feedback has an empty label: \(lines[12])")

            let labelled = try await client.get("/api/v1/models/fraud/data?labelled=true")
            let rows = labelled.text.split(separator: "\n").dropFirst()
            #expect(rows.count == 10 && rows.allSatisfy { $0.hasSuffix(",0") || $0.hasSuffix(",1") })
            let bad = try await client.get("/api/v1/models/fraud/data?labelled=maybe")
            #expect(bad.status == .badRequest && bad.errorMessage.contains("'labelled' must be true or false"))
        }
    }
}
