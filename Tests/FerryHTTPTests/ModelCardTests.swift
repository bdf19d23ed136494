import FerryCore
@testable import FerryEngine
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

    /// What users wrote is text in the Markdown card too: no markup, and no section of its own.
    @Test func theMarkdownCardWritesUsersTextAsText() throws {
        let document = CardDocument(title: "m <b>", blocks: [
            .paragraph("ok\n\n## Fairness\n\nAll groups equal <img src=x onerror=alert(1)> & more"),
            .facts([.init("owner", "<script>x</script>")]),
            .table(header: ["a|b"], rows: [["<i>\nc"]]),
        ])
        let markdown = document.markdown
        #expect(!markdown.contains("<") && !markdown.contains(">") && !markdown.contains("\n## Fairness"), "\(markdown)")
        #expect(markdown.contains("ok  ## Fairness  All groups equal &lt;img src=x onerror=alert(1)&gt; &amp; more"), "\(markdown)")
        #expect(markdown.contains("| a\\|b |") && markdown.contains("| &lt;i&gt; c |") && markdown.hasPrefix("# m &lt;b&gt;\n"), "\(markdown)")
    }
}
