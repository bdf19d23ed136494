import FerryCore
import FerryEngine
import FerryHTTP
import FerryTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// Deadlines, circuit breakers, fallbacks, load shedding and the prediction cache.
struct ResilienceTests {
    static let row = #"{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP64","data":[1,2,3]}]}"#
    static let json: HTTPFields = [.contentType: "application/json"]

    static func register(_ stack: TestStack, _ specs: FakeRuntime.Spec...) async throws {
        for spec in specs {
            try await stack.registry.register(.init(model: "m", format: FakeRuntime.format, artifact: spec.artifact, createdBy: "t"))
        }
    }

    static func putEndpoint(_ client: any TestClientProtocol, _ body: String) async throws {
        let put = try await client.execute(uri: "/api/v1/endpoints/ep", method: .put, headers: json, body: ByteBuffer(string: body))
        #expect(put.status == .ok, "\(put.text)")
    }

    @Test func aDeadlineAnswers504AtOnceWithAClearMessage() async throws {
        try await withFerry(example: false) { client, stack in
            try await Self.register(stack, FakeRuntime.Spec(delayMillis: 300))
            var headers = Self.json
            headers[HTTPField.Name("Ferry-Timeout-Ms")!] = "30"
            let late = try await client.post("/v2/models/m/infer", Self.row, headers: headers)
            #expect(late.status == .gatewayTimeout)
            #expect(late.errorMessage == "no answer within the request's deadline of 30 ms")
            let parameter = try await client.post("/v2/models/m/infer", #"{"parameters": {"timeout_ms": 20}, "inputs":[{"name":"input","shape":[1,3],"datatype":"FP64","data":[1,2,3]}]}"#)
            #expect(parameter.status == .gatewayTimeout)
            headers[HTTPField.Name("Ferry-Timeout-Ms")!] = "soon"
            let bad = try await client.post("/v2/models/m/infer", Self.row, headers: headers)
            #expect(bad.status == .badRequest && bad.errorMessage.contains("Ferry-Timeout-Ms"))
            let patient = try await client.post("/v2/models/m/infer", Self.row)
            #expect(patient.status == .ok, "no deadline, no timeout")
            headers[HTTPField.Name("Ferry-Timeout-Ms")!] = "0"
            let unbounded = try await client.post("/v2/models/m/infer", Self.row, headers: headers)
            #expect(unbounded.status == .ok, "0 means no deadline: \(unbounded.text)")
        }
    }

    /// A 500 does not echo the internal error (it may hold SQL or paths): a fixed message with the request id,
    /// which the log carries next to the real error.
    @Test func internalErrorsAnswerAFixedMessageWithTheRequestID() async throws {
        try await withFerry(example: false) { client, stack in
            try await Self.register(stack, FakeRuntime.Spec(failRequests: true))
            let failed = try await client.post("/v2/models/m/infer", Self.row)
            #expect(failed.status == .internalServerError)
            let id = try #require(failed.headers[HTTPField.Name("Ferry-Request-Id")!])
            #expect(failed.errorMessage == "internal error; the server logged it with request id \(id)", "\(failed.text)")
            #expect(!failed.text.contains("fake predictor"))
        }
    }

    @Test func theBreakerOpensAfterConsecutiveFailuresAndFailsFast() async throws {
        try await withFerry(serving: ServingPolicy(breakerThreshold: 3, breakerCooldown: 3600), example: false) { client, stack in
            try await Self.register(stack, FakeRuntime.Spec(failRequests: true))
            for _ in 0..<3 {
                let failed = try await client.post("/v2/models/m/infer", Self.row)
                #expect(failed.status == .internalServerError)
            }
            let open = try await client.post("/v2/models/m/infer", Self.row)
            #expect(open.status == .serviceUnavailable)
            #expect(open.errorMessage.contains("circuit breaker open after 3 consecutive failures"), "\(open.errorMessage)")
            // Bad input is the caller's fault: it never opens a breaker.
            try await Self.register(stack, FakeRuntime.Spec())
            for _ in 0..<5 { _ = try await client.post("/v2/models/m/versions/2/infer", #"{"inputs":[{"name":"input","shape":[1,2],"datatype":"FP64","data":[1,2]}]}"#) }
            #expect(try await client.post("/v2/models/m/versions/2/infer", Self.row).status == .ok)
        }
    }

    @Test(arguments: [
        (#"{"value": 0.5}"#, nil as String?),
        (#"{"model": "m", "version": 2}"#, "m/2"),
    ])
    func anEndpointFallsBackWhenItsVersionsFail(_ fallback: String, _ servedBy: String?) async throws {
        try await withFerry(serving: ServingPolicy(breakerThreshold: 2, breakerCooldown: 3600), example: false) { client, stack in
            try await Self.register(stack, FakeRuntime.Spec(failRequests: true), FakeRuntime.Spec(value: 0.25))
            try await Self.putEndpoint(client, #"{"variants": [{"model": "m", "version": 1, "weight": 1}], "fallback": \#(fallback)}"#)
            for _ in 0..<6 {
                let response = try await client.post("/v2/models/ep/infer", Self.row)
                #expect(response.status == .ok, "\(response.text)")
                #expect(response.headers[HTTPField.Name("Ferry-Fallback")!] == "true")
                #expect((response.json["parameters"] as? [String: Any])?["fallback"] as? Bool == true)
                #expect((response.json["parameters"] as? [String: Any])?["served_by"] as? String == servedBy)
                let value = ((response.json["outputs"] as? [[String: Any]])?.first?["data"] as? [Double])?.first
                #expect(value == (servedBy == nil ? 0.5 : 6.25), "\(response.text)")
                // Typed as the version's metadata says (FP32), the static value too: before, FP64.
                #expect((response.json["outputs"] as? [[String: Any]])?.first?["datatype"] as? String == "FP32", "\(response.text)")
            }
            let v1 = try await client.post("/v1/models/ep:predict", #"{"instances": [[1, 2, 3], [0, 0, 1]]}"#)
            #expect(v1.status == .ok && v1.json["fallback"] as? Bool == true && (v1.json["predictions"] as? [Any])?.count == 2, "\(v1.text)")
        }
    }

    @Test func theCacheAnswersRepeatsAndNeverCrossesVersions() async throws {
        try await withFerry(example: false) { client, stack in
            try await Self.register(stack, FakeRuntime.Spec(value: 0), FakeRuntime.Spec(value: 100))
            try await Self.putEndpoint(client, #"{"variants": [{"model": "m", "version": 1, "weight": 1}], "cache": {"max_entries": 100, "ttl_seconds": 3600}}"#)
            let first = try await client.post("/v2/models/ep/infer", Self.row)
            #expect((first.json["parameters"] as? [String: Any])?["cached"] == nil)
            let second = try await client.post("/v2/models/ep/infer", Self.row)
            let parameters = second.json["parameters"] as? [String: Any]
            // A cached answer is a prediction the caller acts on: it has its own id, logged, that feedback can name.
            let firstID = (first.json["parameters"] as? [String: Any])?["prediction_id"] as? String
            let cachedID = parameters?["prediction_id"] as? String
            #expect(parameters?["cached"] as? Bool == true && cachedID != nil && cachedID != firstID, "\(second.text)")
            #expect(second.headers[HTTPField.Name("Ferry-Prediction-Id")!] == cachedID)
            await stack.predictionLogger.flush()
            let logged = try await client.get("/api/v1/predictions/\(cachedID ?? "none")")
            #expect(logged.status == .ok && logged.json["version"] as? Int == 1, "\(logged.text)")
            #expect((second.json["outputs"] as? [[String: Any]])?.first?["data"] as? [Double] == [6])
            let other = try await client.post("/v2/models/ep/infer", #"{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP64","data":[1,2,4]}]}"#)
            #expect((other.json["parameters"] as? [String: Any])?["cached"] == nil, "another input is another key")

            try await Self.putEndpoint(client, #"{"variants": [{"model": "m", "version": 2, "weight": 1}], "cache": {"max_entries": 100, "ttl_seconds": 3600}}"#)
            let moved = try await client.post("/v2/models/ep/infer", Self.row)
            #expect((moved.json["parameters"] as? [String: Any])?["cached"] == nil)
            #expect((moved.json["outputs"] as? [[String: Any]])?.first?["data"] as? [Double] == [106], "\(moved.text)")
            let metrics = try await client.get("/metrics").text
            #expect(metrics.contains(#"ferry_endpoint_cache_hits_total{endpoint="ep"} 1"#), "\(metrics.split(separator: "\n").filter { $0.contains("cache") })")
            #expect(metrics.contains(#"ferry_endpoint_cache_misses_total{endpoint="ep"} 3"#))
        }
    }
}
