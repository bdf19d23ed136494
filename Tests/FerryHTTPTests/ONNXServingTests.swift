import FerryCore
import FerryHTTP
import FerryTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// A scikit-learn pipeline exported to ONNX is registered, described and served like any other model, its inputs
/// sent as onnxruntime's clients send them (one tensor per graph input, strings as BYTES).
struct ONNXServingTests {
    static let fixtures = TestStack.repositoryRoot.appendingPathComponent("Tests/FerryRuntimesTests/Fixtures/onnx")

    struct Golden: Decodable {
        struct Value: Decodable {
            var name: String
            var datatype: String
            var shape: [Int]
            var data: [Scalar]
        }
        enum Scalar: Decodable, Equatable {
            case number(Double), string(String), null
            init(from decoder: any Decoder) throws {
                let c = try decoder.singleValueContainer()
                if c.decodeNil() { self = .null } else if let d = try? c.decode(Double.self) { self = .number(d) } else { self = .string(try c.decode(String.self)) }
            }
            var json: String {
                switch self {
                case .number(let d): "\(d)"
                case .string(let s): "\"\(s)\""
                case .null: "null"
                }
            }
        }
        var inputs: [Value]
        var outputs: [Value]
    }

    @Test func aColumnTransformerPipelineIsDetectedDescribedAndServed() async throws {
        let model = try Data(contentsOf: Self.fixtures.appendingPathComponent("columns_rf.onnx"))
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: Self.fixtures.appendingPathComponent("columns_rf.json")))
        try await withFerry { client, _ in
            let raw = try await client.execute(uri: "/api/v1/models/churn/versions", method: .post,
                                               headers: [.contentType: "application/octet-stream"], body: ByteBuffer(bytes: model))
            #expect(raw.status == .created, "\(raw.text)")
            #expect(raw.json["format"] as? String == "onnx")

            // Metadata advertises the graph's own inputs, strings as BYTES, and the ZipMap as a tensor.
            let metadata = try await client.get("/v2/models/churn")
            let inputs = metadata.json["inputs"] as? [[String: Any]] ?? []
            #expect(inputs.map { $0["name"] as? String } == ["age", "income", "score", "color", "city"])
            #expect(inputs[3]["datatype"] as? String == "BYTES" && inputs[3]["shape"] as? [Int] == [-1, 1])
            let outputs = metadata.json["outputs"] as? [[String: Any]] ?? []
            #expect(outputs.map { $0["name"] as? String } == ["output_label", "output_probability"])

            // The golden rows (NaNs and unseen categories among them), one tensor per input, as tritonclient sends.
            let n = 6
            let tensors = golden.inputs.map { input in
                #"{"name": "\#(input.name)", "datatype": "\#(input.datatype)", "shape": [\#(n), 1], "data": [\#(input.data.prefix(n).map(\.json).joined(separator: ", "))]}"#
            }
            let response = try await client.post("/v2/models/churn/infer", #"{"inputs": [\#(tensors.joined(separator: ", "))]}"#)
            #expect(response.status == .ok, "\(response.text)")
            let answered = response.json["outputs"] as? [[String: Any]] ?? []
            #expect(answered.count == 2)
            let labels = answered.first { $0["name"] as? String == "output_label" }?["data"] as? [Int]
            #expect(labels == golden.outputs[0].data.prefix(n).map { if case .number(let d) = $0 { Int(d) } else { -1 } })
            let probabilities = answered.first { $0["name"] as? String == "output_probability" }?["data"] as? [Double] ?? []
            let expected: [Double] = golden.outputs[1].data.prefix(n * 2).map { value -> Double in
                if case .number(let d) = value { return d }
                return .nan
            }
            #expect(probabilities.count == expected.count)
            for (g, w) in zip(probabilities, expected) { #expect(abs(g - w) <= 1e-5) }

            // V1 rows keyed by column, categories by name; a wrong type is refused naming the input.
            let v1 = try await client.post("/v1/models/churn:predict",
                                           #"{"instances": [{"age": 40, "income": null, "score": 0.5, "color": "red", "city": "Atlantis"}]}"#)
            #expect(v1.status == .ok, "\(v1.text)")
            let bad = try await client.post("/v2/models/churn/infer",
                                            #"{"inputs": [{"name": "age", "datatype": "FP32", "shape": [1, 2], "data": [1, 2]}]}"#)
            #expect(bad.status == .badRequest)
            #expect(bad.errorMessage.contains("input 'age' has shape [1, 2]; expected [N, 1]"), "\(bad.text)")
        }
    }

    /// A schema given at registration (descriptions, sensitivity) keeps what the graph says: its named input
    /// tensors and the string inputs' categories.
    @Test func aGivenSchemaKeepsTheGraphsInputTensorsAndCategories() async throws {
        let model = try Data(contentsOf: Self.fixtures.appendingPathComponent("columns_rf.onnx")).base64EncodedString()
        try await withFerry { client, _ in
            let features = #"[{"name": "age", "description": "years"}, {"name": "income"}, {"name": "score"}, {"name": "color", "datatype": "BYTES"}, {"name": "city", "datatype": "BYTES", "sensitive": "hash"}]"#
            let registered = try await client.post("/api/v1/models/churn/versions", #"{"artifact": "\#(model)", "input_schema": {"features": \#(features)}}"#)
            #expect(registered.status == .created, "\(registered.text)")
            let schema = registered.json["input_schema"] as? [String: Any]
            let listed = schema?["features"] as? [[String: Any]] ?? []
            #expect(listed.first?["description"] as? String == "years")
            #expect((listed.last?["categories"] as? [String])?.contains("paris") == true, "\(listed)")
            let metadata = try await client.get("/v2/models/churn")
            #expect((metadata.json["inputs"] as? [[String: Any]])?.map { $0["name"] as? String } == ["age", "income", "score", "color", "city"])
            let numeric = try await client.post("/api/v1/models/churn/versions", #"{"artifact": "\#(model)", "input_schema": {"features": [{"name": "age", "datatype": "BYTES"}, {"name": "income"}, {"name": "score"}, {"name": "color"}, {"name": "city"}]}}"#)
            #expect(numeric.status == .badRequest && numeric.errorMessage.contains("'age' has datatype BYTES"), "\(numeric.text)")
        }
    }

    @Test func aModelWithAnUnsupportedOperatorIsRefusedAndNothingIsRegistered() async throws {
        let model = onnxModelWithOperator("LSTM")
        try await withFerry { client, _ in
            let refused = try await client.execute(uri: "/api/v1/models/seq/versions", method: .post,
                                                   headers: [.contentType: "application/octet-stream"], body: ByteBuffer(bytes: model))
            #expect(refused.status == .badRequest || refused.status == .unprocessableContent, "\(refused.text)")
            #expect(refused.errorMessage.contains("operator LSTM of domain ai.onnx is not supported"), "\(refused.text)")
            let versions = try await client.get("/api/v1/models/seq/versions")
            #expect(versions.status == .notFound || (versions.json["items"] as? [Any])?.isEmpty == true, "\(versions.text)")
        }
    }

    /// A minimal ModelProto (ir_version 8, opset 17) with one node of `op` from x [N, 3] to y.
    func onnxModelWithOperator(_ op: String) -> Data {
        func field(_ n: Int, _ payload: [UInt8]) -> [UInt8] { [UInt8(n << 3 | 2), UInt8(payload.count)] + payload }
        func text(_ n: Int, _ s: String) -> [UInt8] { field(n, Array(s.utf8)) }
        let dims = field(1, [0x12, 0x01, 0x4E]) + field(1, [0x08, 0x03])
        let type = field(1, [0x08, 0x01] + field(2, dims))
        let node = text(1, "x") + text(2, "y") + text(3, "n0") + text(4, op)
        let graph = field(1, node) + text(2, "g") + field(11, text(1, "x") + field(2, type)) + field(12, text(1, "y") + field(2, type))
        let opset = field(8, text(1, "") + [0x10, 17])
        return Data([0x08, 0x08] + field(7, graph) + opset)
    }
}

/// An ONNX tree ensemble explains against its reference's background (interventional TreeSHAP): `:explain` and the
/// V2 `contributions` output equal the real shap with the same background rows.
struct ONNXExplanationRouteTests {
    struct Golden: Decodable {
        var background: [[Double?]]
        var rows: [[Double?]]
        var expected_value: [Double]
        var shap: [[[Double]]]
    }

    static func json(_ rows: [[Double?]]) -> String {
        "[" + rows.map { "[" + $0.map { $0.map { "\($0)" } ?? "null" }.joined(separator: ",") + "]" }.joined(separator: ",") + "]"
    }

    @Test func explanationsEqualShapAgainstTheReferenceBackground() async throws {
        let folder = TestStack.repositoryRoot.appendingPathComponent("Tests/FerryRuntimesTests/Fixtures/onnx_shap")
        let model = try Data(contentsOf: folder.appendingPathComponent("hgb_binary_nan.onnx"))
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: folder.appendingPathComponent("hgb_binary_nan.json")))
        try await withFerry(example: false) { client, _ in
            let registered = try await client.execute(uri: "/api/v1/models/risk/versions", method: .post,
                                                      headers: [.contentType: "application/octet-stream"], body: ByteBuffer(bytes: model))
            try #require(registered.status == .created, "\(registered.text)")
            let names = ((registered.json["input_schema"] as? [String: Any])?["features"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            func instances(_ rows: [[Double?]]) -> String {
                "[" + rows.map { row in "{" + zip(names, row).map { "\"\($0)\": \($1.map { "\($0)" } ?? "null")" }.joined(separator: ",") + "}" }.joined(separator: ",") + "]"
            }

            let early = try await client.post("/v1/models/risk:explain", #"{"instances": \#(instances(golden.rows))}"#)
            #expect(early.status == .conflict && early.errorMessage.contains("background sample of its reference"), "\(early.text)")

            let reference = try await client.execute(
                uri: "/api/v1/models/risk/versions/1/reference", method: .put, body: ByteBuffer(string: #"{"instances": \#(instances(golden.background))}"#))
            try #require(reference.status == .ok, "\(reference.text.prefix(300))")

            func close(_ a: Double?, _ b: Double) -> Bool { a.map { abs($0 - b) <= 1e-4 * max(1, abs(b)) } ?? false }
            let explained = try await client.post("/v1/models/risk:explain", #"{"instances": \#(instances(golden.rows))}"#)
            try #require(explained.status == .ok, "\(explained.text.prefix(300))")
            let explanations = explained.json["explanations"] as? [[String: Any]] ?? []
            #expect(explanations.count == golden.rows.count)
            for (r, explanation) in explanations.enumerated() {
                let contributions = explanation["contributions"] as? [String: Double] ?? [:]
                for (f, name) in names.enumerated() {
                    #expect(close(contributions[name], golden.shap[r][0][f]), "row \(r) \(name): \(String(describing: contributions[name])) against \(golden.shap[r][0][f])")
                }
                #expect(close(explanation["bias"] as? Double, golden.expected_value[0]))
            }

            // The V2 contributions output: the same values, row by row, then the bias.
            let body = #"{"inputs": [{"name": "X", "shape": [\#(golden.rows.count), \#(names.count)], "datatype": "FP32", "data": \#(Self.json(golden.rows))}], "parameters": {"contributions": true}}"#
            let inferred = try await client.post("/v2/models/risk/infer", body)
            try #require(inferred.status == .ok, "\(inferred.text.prefix(300))")
            let output = (inferred.json["outputs"] as? [[String: Any]] ?? []).first { $0["name"] as? String == "contributions" }
            let data = output?["data"] as? [Double] ?? []
            #expect(output?["shape"] as? [Int] == [golden.rows.count, names.count + 1])
            for r in golden.rows.indices {
                for f in names.indices { #expect(close(data[r * (names.count + 1) + f], golden.shap[r][0][f]), "V2 row \(r) feature \(f)") }
            }
        }
    }
}
