import FerryCore
import FerryTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

struct DriftRouteTests {
    /// Rows drawn once from fixed distributions; replaying them gives zero drift, shifting two features drifts
    /// exactly those two.
    static func rows(count: Int) -> [[Double]] {
        var g = SplitMix(seed: 7)
        func uniform() -> Double { Double(g.next() % 1_000_000) / 1_000_000 }
        return (0..<count).map { _ in (0..<12).map { f in (uniform() * Double(f + 1) * 10).rounded() / 10 } }
    }

    static func json(_ rows: ArraySlice<[Double]>) -> String {
        rows.map { "[" + $0.map { String($0) }.joined(separator: ",") + "]" }.joined(separator: ",")
    }

    @Test func replayedTrafficShowsNoDriftAndShiftedFeaturesDrift() async throws {
        let reference = Self.rows(count: 2000)
        try await withFerry { client, stack in
            let put = try await client.execute(
                uri: "/api/v1/models/fraud/versions/1/reference", method: .put,
                body: ByteBuffer(string: #"{"instances": [\#(Self.json(reference[...]))]}"#))
            #expect(put.status == .ok, "\(put.text.prefix(300))")
            #expect(put.json["rows"] as? Int == 2000)
            #expect((put.json["outputs"] as? [Any])?.count == 1)

            func send(_ rows: [[Double]]) async throws {
                for start in stride(from: 0, to: rows.count, by: 200) {
                    let chunk = rows[start..<min(start + 200, rows.count)]
                    let body = #"{"inputs":[{"name":"input","shape":[\#(chunk.count),12],"datatype":"FP64","data":[\#(Self.json(chunk))]}]}"#
                    let response = try await client.post("/v2/models/fraud/infer", body)
                    #expect(response.status == .ok)
                }
                await stack.predictionLogger.flush()
            }
            func features(_ report: TestResponse) -> [String: [String: Any]] {
                Dictionary(uniqueKeysWithValues: (report.json["features"] as? [[String: Any]] ?? []).map { ($0["name"] as! String, $0) })
            }

            try await send(reference)
            let same = try await client.get("/api/v1/models/fraud/drift?last=10")
            #expect(same.status == .ok, "\(same.text.prefix(300))")
            #expect(same.json["current_rows"] as? Int == 2000)
            for (name, f) in features(same) {
                #expect((f["psi"] as? Double ?? 1) < 1e-9, "\(name) drifted on replayed traffic: \(f)")
                #expect((f["ks_statistic"] as? Double ?? 1) == 0, "\(name)")
            }

            let shifted = reference.map { row -> [Double] in
                var r = row
                r[0] *= 3          // amount
                r[4] += 2.5        // merchant_risk
                return r
            }
            try await send(shifted)
            let drifted = try await client.get("/api/v1/models/fraud/drift?last=10")
            let byName = features(drifted)
            for name in ["amount", "merchant_risk"] {
                #expect((byName[name]?["psi"] as? Double ?? 0) > 0.25, "\(name) should drift: \(byName[name] ?? [:])")
                #expect((byName[name]?["ks_pvalue"] as? Double ?? 1) < 1e-6, "\(name)")
            }
            for (name, f) in byName where !["amount", "merchant_risk"].contains(name) {
                #expect((f["psi"] as? Double ?? 1) < 1e-9, "\(name) should not drift: \(f)")
            }
            let outputs = drifted.json["outputs"] as? [[String: Any]] ?? []
            #expect(outputs.first?["name"] as? String == "predict")

            // Against a baseline window instead of the reference: the first 10 requests vs the last 10.
            let windows = try await client.get("/api/v1/models/fraud/drift?last=10&baseline_last=20")
            #expect(windows.status == .ok && windows.json["against"] as? String == "window")

            let bad = try await client.get("/api/v1/models/fraud/drift?last=0")
            #expect(bad.status == .badRequest && bad.errorMessage.contains("'last'"))
            let noReference = try await client.get("/api/v1/models/fraud/versions/1/reference")
            #expect(noReference.status == .ok)
        }
    }

    @Test func driftWithoutReferenceOrTrafficIsAClearError() async throws {
        try await withFerry { client, _ in
            let none = try await client.get("/api/v1/models/fraud/drift")
            #expect(none.status == .conflict && none.errorMessage.contains("no logged predictions"), "\(none.text)")
            _ = try await client.post("/v1/models/fraud:predict", #"{"instances":[[1,2,3,4,5,6,7,8,9,10,11,12]]}"#)
            let missing = try await client.get("/api/v1/models/fraud/drift")
            #expect(missing.status.code == 409 || missing.status.code == 404, "\(missing.text)")
            let csv = try await client.execute(
                uri: "/api/v1/models/fraud/versions/1/reference", method: .put, headers: [.contentType: "text/csv"],
                body: ByteBuffer(string: "amount,hour\n1,2\n"))
            #expect(csv.status == .badRequest && csv.errorMessage.contains("missing"), "\(csv.text)")
        }
    }
}

struct PerformanceRouteTests {
    /// Labels that agree with the model give high accuracy; degraded labels make it fall, per window and cohort.
    /// A label sent right after its prediction (still queued for the log) matches it.
    @Test func feedbackRightAfterThePredictionMatches() async throws {
        try await withFerry { client, _ in
            let response = try await client.post("/v1/models/fraud:predict", #"{"instances": [[1,2,3,4,5,6,7,8,9,10,11,12]]}"#)
            let id = try #require(response.json["prediction_id"] as? String)
            let feedback = try await client.post("/api/v1/feedback", #"{"prediction_id": "\#(id)", "row": 0, "label": 1}"#)
            #expect(feedback.json["matched"] as? Int == 1 && feedback.json["unmatched"] as? Int == 0, "\(feedback.text)")
        }
    }

    @Test func feedbackScoresPredictionsAndDegradedLabelsLowerAccuracy() async throws {
        let rows = DriftRouteTests.rows(count: 200)
        try await withFerry { client, stack in
            var ids: [String] = []
            var probabilities: [Double] = []
            for chunk in stride(from: 0, to: rows.count, by: 50).map({ rows[$0..<($0 + 50)] }) {
                let body = #"{"inputs":[{"name":"input","shape":[50,12],"datatype":"FP64","data":[\#(DriftRouteTests.json(chunk))]}]}"#
                let response = try await client.post("/v2/models/fraud/infer", body)
                ids.append((response.json["parameters"] as? [String: Any])?["prediction_id"] as? String ?? "")
                probabilities += ((response.json["outputs"] as? [[String: Any]])?.first?["data"] as? [Double]) ?? []
            }
            await stack.predictionLogger.flush()
            #expect(probabilities.count == 200)

            // First two requests: labels that agree with the model's decisions.
            let agree = (0..<100).map { i in #"{"prediction_id": "\#(ids[i / 50])", "row": \#(i % 50), "label": \#(probabilities[i] >= 0.5 ? 1 : 0)}"# }
            let first = try await client.post("/api/v1/feedback", #"{"items": [\#(agree.joined(separator: ","))]}"#)
            #expect(first.status == .ok && first.json["matched"] as? Int == 100, "\(first.text)")
            let good = try await client.get("/api/v1/models/fraud/performance")
            #expect(good.status == .ok, "\(good.text)")
            #expect(good.json["task"] as? String == "binary_classification")
            #expect((good.json["overall"] as? [String: Any])?["accuracy"] as? Double == 1)

            // Last two requests: every label flipped, plus feedback for a prediction that was never logged.
            let flipped = (100..<200).map { i in #"{"prediction_id": "\#(ids[i / 50])", "row": \#(i % 50), "label": \#(probabilities[i] >= 0.5 ? 0 : 1)}"# }
            let second = try await client.post("/api/v1/feedback", "[\(flipped.joined(separator: ",")), {\"prediction_id\": \"never-logged\", \"label\": 1}]")
            #expect(second.json["unmatched"] as? Int == 1, "\(second.text)")
            let bad = try await client.get("/api/v1/models/fraud/performance?segment_by=amount")
            let overall = bad.json["overall"] as? [String: Any] ?? [:]
            #expect(overall["accuracy"] as? Double == 0.5 && overall["count"] as? Int == 200, "\(overall)")
            #expect(bad.json["unmatched_feedback"] as? Int == 1)
            #expect((bad.json["segments"] as? [Any])?.count ?? 0 >= 4, "quartile cohorts of amount")

            let invalid = try await client.post("/api/v1/feedback", #"{"prediction_id": "x"}"#)
            #expect(invalid.status == .badRequest && invalid.errorMessage.contains("label"), "\(invalid.text)")
            let unknown = try await client.get("/api/v1/models/fraud/performance?segment_by=nope")
            #expect(unknown.status == .badRequest && unknown.errorMessage.contains("segment_by"))
        }
    }
}
