import FerryCore
import FerryTesting
import Foundation
import HTTPTypes
import Hummingbird
import Testing

/// A version's model card gathers what Ferry knows, as Markdown and as a standalone HTML page.
struct ModelCardTests {
    @Test func theCardShowsLineageInputsAliasesAndProduction() async throws {
        try await withFerry { client, stack in
            let expected = try TestStack.exampleExpectations()
            let n = expected.rows.count
            let instances = expected.rows.map { "[" + $0.map { $0.map { "\($0)" } ?? "null" }.joined(separator: ",") + "]" }.joined(separator: ",")
            #expect(try await client.execute(uri: "/api/v1/models/fraud/versions/1/reference", method: .put,
                                              headers: [.contentType: "application/json"],
                                              body: ByteBuffer(string: #"{"instances": [\#(instances)]}"#)).status == .ok)
            let predicted = try await client.post("/v1/models/fraud:predict", #"{"instances": [\#(instances)]}"#)
            let id = try #require(predicted.json["prediction_id"] as? String)
            let items = (0..<n).map { #"{"prediction_id": "\#(id)", "row": \#($0), "label": \#($0 % 4 == 0 ? 1 : 0)}"# }
            #expect(try await client.post("/api/v1/feedback", "[\(items.joined(separator: ","))]").status == .ok)
            await stack.predictionLogger.flush()

            let card = try await client.get("/api/v1/models/fraud/versions/1/card")
            #expect(card.status == .ok && card.headers[.contentType]?.hasPrefix("text/markdown") == true, "\(card.text)")
            let text = card.text
            for part in ["# fraud version 1", "## Training lineage", "| amount | FP32 |", "## Feature importance",
                         "Pointing at this version: production.", "| production | - | 1 |", "Drift against the reference profile (\(n) rows) on \(n) logged rows",
                         "| roc auc |", "Fairness: no input is marked sensitive", "**Signature**: unsigned"] {
                #expect(text.contains(part), "the card lacks '\(part)':\n\(text)")
            }
            let html = try await client.get("/api/v1/models/fraud/versions/1/card?format=html")
            #expect(html.status == .ok && html.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(html.text.hasPrefix("<!doctype html>") && html.text.contains("<th scope=\"col\">feature</th>") && !html.text.contains("<script"))
            let bad = try await client.get("/api/v1/models/fraud/versions/1/card?format=pdf")
            #expect(bad.status == .badRequest && bad.errorMessage.contains("use markdown or html"))
            let missing = try await client.get("/api/v1/models/fraud/versions/9/card")
            #expect(missing.status == .notFound)
        }
    }
}
