import FerryCore
import FerryTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

struct InferenceRouteTests {
    @Test func healthAndMetadata() async throws {
        try await withFerry { client, _ in
            #expect(try await client.get("/v2/health/live").json["live"] as? Bool == true)
            #expect(try await client.get("/v2/health/ready").json["ready"] as? Bool == true)
            let server = try await client.get("/v2").json
            #expect(server["extensions"] as? [String] == ["binary_tensor_data"])
            let meta = try await client.get("/v2/models/fraud")
            #expect(meta.status == .ok)
            let inputs = meta.json["inputs"] as? [[String: Any]]
            #expect(inputs?.first?["shape"] as? [Int] == [-1, 12])
            #expect(meta.json["platform"] as? String == "xgboost_json")
            let ready = try await client.get("/v2/models/fraud/versions/1/ready")
            #expect(ready.status == .ok && ready.json["ready"] as? Bool == true)
            #expect(try await client.get("/v2/models/nope/ready").status == .notFound)
        }
    }

    @Test func jsonInferenceMatchesXGBoost() async throws {
        let expected = try TestStack.exampleExpectations()
        let rows = expected.rows.map { $0.map { $0.map { String($0) } ?? "null" }.joined(separator: ",") }
        let body = """
            {"id": "req-1", "inputs": [{"name": "input", "shape": [\(rows.count), 12], "datatype": "FP64",
              "data": [[\(rows.joined(separator: "],["))]]}]}
            """
        try await withFerry { client, _ in
            let response = try await client.post("/v2/models/fraud/infer", body)
            #expect(response.status == .ok, "\(response.text)")
            #expect(response.json["id"] as? String == "req-1")
            #expect(response.json["model_version"] as? String == "1")
            #expect(response.headers[HTTPField.Name("Ferry-Model-Version")!] == "1")
            let output = (response.json["outputs"] as? [[String: Any]])?.first
            #expect(output?["shape"] as? [Int] == [expected.rows.count])
            let data = output?["data"] as? [Double] ?? []
            #expect(data.count == expected.probabilities.count)
            for (got, want) in zip(data, expected.probabilities) {
                #expect(relativeError(Double(Float(got)), want) <= 1e-6, "got \(got), xgboost \(want)")
            }
        }
    }

    @Test func perFeatureTensorsAndVersionedRoute() async throws {
        let expected = try TestStack.exampleExpectations()
        let row = expected.rows[3]
        let inputs = zip(expected.feature_names, row).map { name, value in
            #"{"name": "\#(name)", "shape": [1], "datatype": "FP32", "data": [\#(value.map { String($0) } ?? "null")]}"#
        }
        try await withFerry { client, _ in
            let response = try await client.post("/v2/models/fraud/versions/1/infer", #"{"inputs": [\#(inputs.joined(separator: ","))]}"#)
            #expect(response.status == .ok, "\(response.text)")
            let data = ((response.json["outputs"] as? [[String: Any]])?.first?["data"] as? [Double]) ?? []
            #expect(data.count == 1 && relativeError(Double(Float(data[0])), expected.probabilities[3]) <= 1e-6)
        }
    }

    @Test func binaryTensorExtensionRequestAndResponse() async throws {
        let expected = try TestStack.exampleExpectations()
        var raw: [UInt8] = []
        for row in expected.rows {
            for v in row {
                let f = v.map(Float.init) ?? .nan
                withUnsafeBytes(of: f.bitPattern.littleEndian) { raw.append(contentsOf: $0) }
            }
        }
        let header = #"{"inputs":[{"name":"input","shape":[\#(expected.rows.count),12],"datatype":"FP32","parameters":{"binary_data_size":\#(raw.count)}}],"parameters":{"binary_data_output":true}}"#
        var buffer = ByteBuffer(string: header)
        buffer.writeBytes(raw)
        let body = buffer
        try await withFerry { client, _ in
            let response = try await client.execute(
                uri: "/v2/models/fraud/infer", method: .post,
                headers: [.contentType: "application/octet-stream", HTTPField.Name("Inference-Header-Content-Length")!: String(header.utf8.count)],
                body: body)
            #expect(response.status == .ok, "\(response.text)")
            let length = Int(response.headers[HTTPField.Name("Inference-Header-Content-Length")!] ?? "") ?? -1
            var buffer = response.body
            let json = try JSONSerialization.jsonObject(with: Data(buffer.readBytes(length: length) ?? [])) as? [String: Any]
            let output = (json?["outputs"] as? [[String: Any]])?.first
            let size = (output?["parameters"] as? [String: Any])?["binary_data_size"] as? Int
            #expect(size == expected.rows.count * 4)
            #expect(output?["data"] == nil)
            let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
            #expect(bytes.count == expected.rows.count * 4)
            for (i, want) in expected.probabilities.enumerated() {
                let bits = bytes[(i * 4)..<(i * 4 + 4)].enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * $1.offset) }
                #expect(relativeError(Double(Float(bitPattern: bits)), want) <= 1e-6)
            }
        }
    }

    @Test func v1PredictWithNamedAndPositionalInstances() async throws {
        let expected = try TestStack.exampleExpectations()
        func text(_ v: Double?) -> String { v.map { String($0) } ?? "null" }
        let named = zip(expected.feature_names, expected.rows[0]).map { #""\#($0)": \#(text($1))"# }.joined(separator: ",")
        let positional = expected.rows[1].map(text).joined(separator: ",")
        try await withFerry { client, _ in
            let response = try await client.post("/v1/models/fraud:predict", #"{"instances": [{\#(named)}, [\#(positional)]]}"#)
            #expect(response.status == .ok, "\(response.text)")
            let predictions = response.json["predictions"] as? [Double] ?? []
            #expect(predictions.count == 2)
            for (got, want) in zip(predictions, expected.probabilities.prefix(2)) {
                #expect(relativeError(Double(Float(got)), want) <= 1e-6)
            }
            let versioned = try await client.post("/v1/models/fraud/versions/production:predict", #"{"instances": [[\#(positional)]]}"#)
            #expect(versioned.status == .ok, "\(versioned.text)")
        }
    }

    @Test(arguments: [
        ("empty body", "", "request body is empty"),
        ("not json", "hello", "malformed JSON"),
        ("no inputs", "{}", "no 'inputs'"),
        ("bad datatype", #"{"inputs":[{"name":"input","shape":[1,12],"datatype":"FP33","data":[1,2,3,4,5,6,7,8,9,10,11,12]}]}"#, "unknown datatype 'FP33'"),
        ("wrong shape", #"{"inputs":[{"name":"input","shape":[1,11],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10,11]}]}"#, "shape [1, 11]; expected [N, 12]"),
        ("count", #"{"inputs":[{"name":"input","shape":[2,12],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10,11,12]}]}"#, "has 12 values but its shape needs 24"),
        ("strings", #"{"inputs":[{"name":"input","shape":[1,12],"datatype":"FP32","data":["a","b","c","d","e","f","g","h","i","j","k","l"]}]}"#, "datatype FP32 but its data holds strings"),
        ("bytes type", #"{"inputs":[{"name":"input","shape":[1,12],"datatype":"BYTES","data":["a","b","c","d","e","f","g","h","i","j","k","l"]}]}"#, "datatype BYTES"),
        ("int range", #"{"inputs":[{"name":"input","shape":[1,12],"datatype":"INT8","data":[1,2,3,4,5,6,7,8,9,10,11,300]}]}"#, "element 11: 300.0 is not a valid INT8"),
        ("unknown feature", #"{"inputs":[{"name":"amount","shape":[1],"datatype":"FP32","data":[1]},{"name":"bogus","shape":[1],"datatype":"FP32","data":[1]}]}"#, "input 'bogus' is not a feature"),
        ("extra input", #"{"inputs":[{"name":"input","shape":[1,12],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10,11,12]},{"name":"extra","shape":[1],"datatype":"FP32","data":[1]}]}"#, "input 'extra' is not an input of this model"),
        ("extra input first", #"{"inputs":[{"name":"extra","shape":[1],"datatype":"FP32","data":[1]},{"name":"input","shape":[1,12],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10,11,12]}]}"#, "input 'extra' is not an input of this model"),
        ("unknown single name", #"{"inputs":[{"name":"features","shape":[1,12],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10,11,12]}]}"#, "input 'features' is not an input of this model; send one tensor 'input'"),
        ("missing shape", #"{"inputs":[{"name":"input","datatype":"FP32","data":[1]}]}"#, "input 'input' has no 'shape'"),
        ("negative dim", #"{"inputs":[{"name":"input","shape":[-1,12],"datatype":"FP32","data":[1]}]}"#, "shape[0] must be a non-negative integer"),
        ("infinity", #"{"inputs":[{"name":"input","shape":[1,12],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10,11,Infinity]}]}"#, "row 0, feature 'device_new': value inf is not finite"),
        ("trailing", #"{"inputs":[]} x"#, "expected the end of the JSON document"),
        ("binary without header", #"{"inputs":[{"name":"input","shape":[1,12],"datatype":"FP32","parameters":{"binary_data_size":48}}]}"#, "no Inference-Header-Content-Length"),
    ] as [(String, String, String)])
    func malformedRequestsGet400NamingTheProblem(_ label: String, _ body: String, _ expected: String) async throws {
        try await withFerry { client, _ in
            let response = try await client.post("/v2/models/fraud/infer", body)
            #expect(response.status == .badRequest, "\(label): \(response.status) \(response.text)")
            #expect(response.errorMessage.contains(expected), "\(label): \(response.errorMessage)")
        }
    }

    @Test func tooManyRowsAndTooLargeBodiesAreRefused() async throws {
        try await withFerry(limits: .init(maxInferenceBodyBytes: 2000), inference: .init(maxRows: 2)) { client, _ in
            let rows = Array(repeating: "[1,2,3,4,5,6,7,8,9,10,11,12]", count: 3).joined(separator: ",")
            let many = try await client.post("/v2/models/fraud/infer", #"{"inputs":[{"name":"input","shape":[3,12],"datatype":"FP32","data":[\#(rows)]}]}"#)
            #expect(many.status == .badRequest)
            #expect(many.errorMessage.contains("3 rows; the limit is 2"))
            let huge = try await client.post("/v2/models/fraud/infer", String(repeating: " ", count: 5000))
            #expect(huge.status == .contentTooLarge)
            #expect(huge.errorMessage.contains("larger than the server's limit"))
        }
    }

    /// Every mutation of a valid request is answered with 200 or a 4xx carrying an error message — never a 5xx.
    @Test func mutatedRequestsNeverCauseServerErrors() async throws {
        let valid = Array(#"{"id":"x","parameters":{"a":1},"inputs":[{"name":"input","shape":[2,12],"datatype":"FP32","data":[[1,2,3,4,5,6,7,8,9,10,11,12],[1.5,-2e3,3,4,5,6,7,8,9,10,11,null]]}],"outputs":[{"name":"predict"}]}"#.utf8)
        try await withFerry { client, _ in
            var generator = SplitMix(seed: 42)
            for i in 0..<300 {
                var body = valid
                switch i % 4 {
                case 0: body = Array(body.prefix(Int(generator.next() % UInt64(body.count))))
                case 1:
                    for _ in 0..<3 { body[Int(generator.next() % UInt64(body.count))] = UInt8(truncatingIfNeeded: generator.next()) }
                case 2:
                    let at = Int(generator.next() % UInt64(body.count))
                    body.insert(contentsOf: Array("[{\"".utf8), at: at)
                default:
                    body.remove(at: Int(generator.next() % UInt64(body.count)))
                }
                let response = try await client.execute(uri: "/v2/models/fraud/infer", method: .post, body: ByteBuffer(bytes: body))
                #expect(response.status.code < 500, "case \(i): \(response.status) for \(String(decoding: body, as: UTF8.self))")
                if response.status != .ok { #expect(response.json["error"] is String, "case \(i): \(response.text)") }
            }
        }
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
}

struct ExplanationRouteTests {
    @Test func v1ExplainAndV2ContributionsAddUpToTheMargin() async throws {
        let expected = try TestStack.exampleExpectations()
        let row = expected.rows[17].map { $0.map { String($0) } ?? "null" }.joined(separator: ",")
        try await withFerry { client, _ in
            let explained = try await client.post("/v1/models/fraud:explain", #"{"instances": [[\#(row)]]}"#)
            #expect(explained.status == .ok, "\(explained.text)")
            let first = (explained.json["explanations"] as? [[String: Any]])?.first
            let contributions = first?["contributions"] as? [String: Double] ?? [:]
            #expect(Set(contributions.keys) == Set(expected.feature_names))
            let margin = contributions.values.reduce(0, +) + (first?["bias"] as? Double ?? .nan)
            let probability = 1 / (1 + exp(-margin))
            #expect(abs(probability - expected.probabilities[17]) < 1e-5, "contributions sum to \(margin)")

            let v2 = try await client.post("/v2/models/fraud/infer", #"{"parameters": {"contributions": true}, "inputs": [{"name": "input", "shape": [1, 12], "datatype": "FP64", "data": [\#(row)]}]}"#)
            #expect(v2.status == .ok, "\(v2.text)")
            let outputs = v2.json["outputs"] as? [[String: Any]] ?? []
            let tensor = outputs.first { $0["name"] as? String == "contributions" }
            #expect(tensor?["shape"] as? [Int] == [1, 13])
            let values = tensor?["data"] as? [Double] ?? []
            #expect(abs(values.reduce(0, +) - margin) < 1e-9)
        }
    }
}

/// Cases the schemathesis fuzz run (scripts/robustness/fuzz.sh) and its follow-up probes found.
struct FuzzFindingTests {
    @Test(arguments: [
        ("DELETE", "/metrics", "GET"),
        ("PUT", "/v2/health/live", "GET"),
        ("GET", "/v1/models/fraud:predict", "POST"),
        ("PATCH", "/api/v1/models/fraud/aliases/production", "DELETE, PUT"),
    ])
    func aKnownPathWithAnotherMethodIs405WithAllow(_ method: String, _ path: String, _ allow: String) async throws {
        try await withFerry { client, _ in
            let response = try await client.execute(uri: path, method: HTTPRequest.Method(method)!)
            #expect(response.status == .methodNotAllowed, "\(method) \(path): \(response.status)")
            #expect(response.headers[.allow] == allow)
            #expect(response.errorMessage.contains("is not allowed"))
        }
    }

    @Test func unknownPathsStay404() async throws {
        try await withFerry { client, _ in
            let response = try await client.get("/v3/nothing")
            #expect(response.status == .notFound)
        }
    }

    @Test(arguments: [#""true""#, "1", "0.5"])
    func contributionsMustBeABoolean(_ value: String) async throws {
        try await withFerry { client, _ in
            let response = try await client.post("/v2/models/fraud/infer", """
                {"inputs":[{"name":"input","shape":[1,12],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10,11,12]}],
                 "parameters":{"contributions":\(value)}}
                """)
            #expect(response.status == .badRequest)
            #expect(response.errorMessage == "parameter 'contributions' must be a boolean (true or false)")
        }
    }

    @Test func anArchivedVersionIsNotServedByNumberEvenWhileLoaded() async throws {
        try await withFerry { client, _ in
            let body = #"{"inputs":[{"name":"input","shape":[1,12],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10,11,12]}]}"#
            #expect(try await client.post("/v2/models/fraud/versions/1/infer", body).status == .ok)
            #expect(try await client.post("/api/v1/models/fraud/versions/1/archive", "").status == .ok)
            let byNumber = try await client.post("/v2/models/fraud/versions/1/infer", body)
            #expect(byNumber.status == .conflict && byNumber.errorMessage.contains("is archived"), "\(byNumber.text)")
            #expect(try await client.post("/v2/models/fraud/infer", body).status == .ok, "the production alias still serves it")
        }
    }

    /// A version an endpoint sends traffic to is not archived: before, archiving it deleted its artifact and the
    /// endpoint failed every request from then on.
    @Test func aVersionAnEndpointUsesIsNotArchived() async throws {
        try await withFerry { client, stack in
            let body = #"{"inputs":[{"name":"input","shape":[1,12],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10,11,12]}]}"#
            let artifact = try TestStack.exampleModel()
            _ = try await stack.registry.register(.init(model: "fraud", artifact: artifact + Data(" ".utf8), createdBy: "t"))
            let set = try await client.execute(
                uri: "/api/v1/endpoints/checkout", method: .put, body: ByteBuffer(string: #"{"variants": [{"model": "fraud", "version": 2, "weight": 1}]}"#))
            #expect(set.status == .ok || set.status == .created, "\(set.text)")
            let refused = try await client.post("/api/v1/models/fraud/versions/2/archive", "")
            #expect(refused.status == .conflict && refused.errorMessage.contains("is used by the endpoint 'checkout'"), "\(refused.status) \(refused.text)")
            #expect(try await client.post("/v2/models/checkout/infer", body).status == .ok, "the endpoint still serves it")
            #expect(try await stack.registry.version(model: "fraud", number: 2).archived == false)

            // Names: an endpoint answers first, so one named like a model (or a model named like an endpoint) is refused.
            let taken = try await client.execute(
                uri: "/api/v1/endpoints/fraud", method: .put, body: ByteBuffer(string: #"{"variants": [{"model": "fraud", "version": 2, "weight": 1}]}"#))
            #expect(taken.status == .conflict && taken.errorMessage.contains("'fraud' is a model; an endpoint of that name would take over its requests"), "\(taken.text)")
            await #expect {
                _ = try await stack.registry.register(.init(model: "checkout", artifact: artifact, createdBy: "t"))
            } throws: { ($0 as? FerryError)?.message.contains("'checkout' is an endpoint") == true }
        }
    }
}

struct AllowHeaderTests {
    @Test func aLiteralSegmentWinsOverAParameter() async throws {
        try await withFerry { client, _ in
            let response = try await client.execute(uri: "/api/v1/endpoints/x/rollout/events", method: .options)
            #expect(response.status == .methodNotAllowed && response.headers[.allow] == "GET")
        }
    }
}
