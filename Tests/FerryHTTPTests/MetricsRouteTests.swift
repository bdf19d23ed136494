import FerryCore
import FerryTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

struct MetricsRouteTests {
    @Test func metricsCountRequestsRowsErrorsAndLatencyPerVersion() async throws {
        try await withFerry { client, _ in
            let row = "[1,2,3,4,5,6,7,8,9,10,11,12]"
            _ = try await client.post("/v2/models/fraud/infer", #"{"inputs":[{"name":"input","shape":[2,12],"datatype":"FP32","data":[\#(row),\#(row)]}]}"#)
            _ = try await client.post("/v1/models/fraud:predict", #"{"instances":[\#(row)]}"#)
            _ = try await client.post("/v2/models/fraud/infer", #"{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]}"#)
            _ = try await client.post("/v2/models/nope/infer", #"{"inputs":[]}"#)
            let response = try await client.get("/metrics")
            #expect(response.status == .ok)
            #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
            let text = response.text
            let lines = Set(text.split(separator: "\n").map(String.init))
            #expect(lines.contains(#"ferry_inference_requests_total{model="fraud",version="1"} 3"#), "\(text.prefix(800))")
            #expect(lines.contains(#"ferry_inference_rows_total{model="fraud",version="1"} 3"#))
            #expect(lines.contains(#"ferry_inference_errors_total{model="fraud",version="1",kind="invalid_argument"} 1"#))
            #expect(lines.contains(#"ferry_inference_unresolved_errors_total{kind="not_found"} 1"#))
            #expect(lines.contains(#"ferry_inference_duration_seconds_count{model="fraud",version="1"} 3"#))
            #expect(lines.contains(#"ferry_inference_duration_seconds_bucket{model="fraud",version="1",le="+Inf"} 3"#))
            #expect(lines.contains(#"ferry_inference_batch_rows_bucket{model="fraud",version="1",le="2"} 2"#), "the 1-row and the 2-row requests")
            #expect(lines.contains(#"ferry_model_loaded{model="fraud",version="1"} 1"#))
            #expect(text.contains("process_resident_memory_bytes "))
            // Every sample line belongs to a metric declared with # TYPE.
            let declared = Set(lines.filter { $0.hasPrefix("# TYPE ") }.map { $0.split(separator: " ")[2] })
            for line in lines where !line.hasPrefix("#") {
                let name = line.prefix { $0 != "{" && $0 != " " }
                let base = ["_bucket", "_sum", "_count"].reduce(String(name)) { n, suffix in
                    n.hasSuffix(suffix) && declared.contains(Substring(n.dropLast(suffix.count))) ? String(n.dropLast(suffix.count)) : n
                }
                #expect(declared.contains(Substring(base)), "undeclared metric in \(line)")
            }
        }
    }
}

struct PredictionLogRouteTests {
    @Test func responsesCarryAPredictionIDThatFindsTheLoggedRecord() async throws {
        try await withFerry { client, stack in
            let row = "[1,2,3,4,5,6,7,8,9,10,11,12]"
            let v2 = try await client.post("/v2/models/fraud/infer", #"{"inputs":[{"name":"input","shape":[1,12],"datatype":"FP32","data":[\#(row)]}]}"#)
            let id = (v2.json["parameters"] as? [String: Any])?["prediction_id"] as? String
            #expect(id != nil && v2.headers[HTTPField.Name("Ferry-Prediction-Id")!] == id)
            let v1 = try await client.post("/v1/models/fraud:predict", #"{"instances":[\#(row),\#(row)]}"#)
            #expect(v1.json["prediction_id"] is String)
            await stack.predictionLogger.flush()

            let one = try await client.get("/api/v1/predictions/\(id ?? "-")")
            #expect(one.status == .ok, "\(one.text)")
            #expect((one.json["inputs"] as? [[Double]])?.first == (1...12).map(Double.init))
            #expect(one.json["version"] as? Int == 1)
            let list = try await client.get("/api/v1/models/fraud/predictions?limit=10")
            #expect((list.json["items"] as? [Any])?.count == 2)
            #expect(try await client.get("/api/v1/predictions/nope").status == .notFound)
            let bad = try await client.get("/api/v1/models/fraud/predictions?since=yesterday")
            #expect(bad.status == .badRequest && bad.errorMessage.contains("query 'since'"))
            let metrics = try await client.get("/metrics").text
            #expect(metrics.contains("ferry_prediction_log_written_total 2"))
        }
    }
}
