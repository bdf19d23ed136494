import FerryCore
import FerryHTTP
import FerryTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

/// Versions served by a remote Open Inference Protocol server: another Ferry on loopback, and servers that hang,
/// refuse connections or answer garbage.
struct RemoteBackendTests {
    static func descriptor(port: Int, model: String, timeoutMs: Int = 2000) -> String {
        let json = #"{"remote": {"url": "http://127.0.0.1:\#(port)", "model": "\#(model)", "timeout_ms": \#(timeoutMs)}}"#
        return Data(json.utf8).base64EncodedString()
    }

    static func register(_ client: some TestClientProtocol, _ name: String, port: Int, model: String, timeoutMs: Int = 2000) async throws -> TestResponse {
        try await client.post("/api/v1/models/\(name)/versions", #"{"artifact": "\#(descriptor(port: port, model: model, timeoutMs: timeoutMs))", "format": "remote-v2"}"#)
    }

    @Test func anotherFerryServesAVersionThatThisFerryValidatesLogsAndAnswers() async throws {
        let remote = try await TestStack()
        defer { remote.tearDown() }
        let version = try await remote.registry.register(.init(model: "fraud", artifact: try TestStack.exampleModel(), createdBy: "test"))
        try await remote.registry.setAlias(model: "fraud", alias: "production", version: version.version, by: "test")
        try await Application(router: remote.server.router).test(.live) { remoteClient in
            let port = try #require(remoteClient.port)
            try await withFerry { client, _ in
                let registered = try await Self.register(client, "fraud-gpu", port: port, model: "fraud")
                #expect(registered.status == .created, "\(registered.text)")
                #expect(registered.json["format"] as? String == "remote-v2")
                let features = ((registered.json["input_schema"] as? [String: Any])?["features"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
                #expect(features?.first == "amount" && features?.count == 12, "the remote's feature names: \(String(describing: features))")

                // The same request, here and at the remote directly: the same answer, and this Ferry logs it.
                let request = try String(contentsOf: TestStack.repositoryRoot.appendingPathComponent("examples/fraud/request.json"), encoding: .utf8)
                let here = try await client.post("/v2/models/fraud-gpu/infer", request)
                #expect(here.status == .ok, "\(here.text)")
                let direct = try await remoteClient.post("/v2/models/fraud/infer", request)
                let mine = (here.json["outputs"] as? [[String: Any]])?.first?["data"] as? [Double]
                let theirs = (direct.json["outputs"] as? [[String: Any]])?.first?["data"] as? [Double]
                #expect(mine != nil && mine == theirs)
                #expect((here.json["parameters"] as? [String: Any])?["prediction_id"] as? String != nil)

                // V1 rows by feature name, a missing value travelling as NaN in the binary tensor.
                let v1 = try await client.post("/v1/models/fraud-gpu:predict", #"{"instances": [[120.5, null, 3, 0.2, 1, 0, 14, 2.5, 0, 1, 0.3, 12]]}"#)
                #expect(v1.status == .ok, "\(v1.text)")
                // Ferry's own validation runs before anything goes out.
                let bad = try await client.post("/v2/models/fraud-gpu/infer", #"{"inputs":[{"name":"input","shape":[1,2],"datatype":"FP32","data":[1,2]}]}"#)
                #expect(bad.status == .badRequest && bad.errorMessage.contains("expected [N, 12]"), "\(bad.text)")
                // A batch job scores on Ferry's own engines: a remote version is refused when the job is submitted.
                let job = try await client.post("/api/v1/jobs", #"{"model": "fraud-gpu", "input": {"path": "/tmp/rows.csv"}}"#)
                #expect(job.status == .badRequest && job.errorMessage.contains("served by a remote backend"), "\(job.text)")
            }
        }
    }

    @Test func stringInputsReachARemoteFerryAsTheTextSentInBinaryTensors() async throws {
        // The remote Ferry serves a scikit-learn ColumnTransformer pipeline with string columns: its metadata says
        // BYTES, so here they are text features, forwarded as sent; the remote reads them as categories.
        let remote = try await TestStack()
        defer { remote.tearDown() }
        let fixtures = TestStack.repositoryRoot.appendingPathComponent("Tests/FerryRuntimesTests/Fixtures/onnx")
        let artifact = try Data(contentsOf: fixtures.appendingPathComponent("columns_rf.onnx"))
        _ = try await remote.registry.register(.init(model: "columns", format: .onnx, artifact: artifact, createdBy: "test"))
        let golden = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: fixtures.appendingPathComponent("columns_rf.json"))) as? [String: Any])
        let inputs = try #require(golden["inputs"] as? [[String: Any]]).map { input -> [String: Any] in
            // JSON has no NaN: a missing number is null.
            ["name": input["name"]!, "datatype": input["datatype"]!, "shape": input["shape"]!, "data": (input["data"] as? [Any])!.map { $0 is NSNull ? NSNull() : $0 }]
        }
        let request = String(decoding: try JSONSerialization.data(withJSONObject: ["inputs": inputs]), as: UTF8.self)
        let want = (try #require(golden["outputs"] as? [[String: Any]]))[1]["data"] as? [Double]
        try await Application(router: remote.server.router).test(.live) { remoteClient in
            let port = try #require(remoteClient.port)
            try await withFerry { client, stack in
                let registered = try await Self.register(client, "columns-remote", port: port, model: "columns")
                #expect(registered.status == .created, "\(registered.text)")
                let features = try #require((registered.json["input_schema"] as? [String: Any])?["features"] as? [[String: Any]])
                #expect(features.map { $0["name"] as? String } == ["age", "income", "score", "color", "city"])
                #expect(features[3]["datatype"] as? String == "BYTES" && features[3]["categories"] == nil, "a text feature: \(features[3])")
                // Text goes out as sent, so it cannot be given categories.
                let schema = #"{"features": [{"name": "age"}, {"name": "income"}, {"name": "score"}, {"name": "color", "datatype": "BYTES", "categories": ["blue"]}, {"name": "city", "datatype": "BYTES"}]}"#
                let categorized = try await client.post("/api/v1/models/columns-cat/versions", #"{"artifact": "\#(Self.descriptor(port: port, model: "columns"))", "format": "remote-v2", "input_schema": \#(schema)}"#)
                #expect(categorized.status == .badRequest && categorized.errorMessage.contains("feature 'color' is text the model reads as sent"), "\(categorized.text)")

                let here = try await client.post("/v2/models/columns-remote/infer", request)
                #expect(here.status == .ok, "\(here.text)")
                let direct = try await remoteClient.post("/v2/models/columns/infer", request)
                let mine = (here.json["outputs"] as? [[String: Any]])?.first { $0["name"] as? String == "output_probability" }?["data"] as? [Double]
                let theirs = (direct.json["outputs"] as? [[String: Any]])?.first { $0["name"] as? String == "output_probability" }?["data"] as? [Double]
                #expect(mine != nil && mine == theirs)
                #expect(mine?.count == want?.count && zip(mine ?? [], want ?? []).allSatisfy { abs($0 - $1) < 1e-5 })

                // V1 rows by name carry the text as a string; a number where text belongs is refused by name.
                let v1 = try await client.post("/v1/models/columns-remote:predict", #"{"instances": [{"age": 40, "income": 21000, "score": 0.2, "color": "blue", "city": "oslo"}]}"#)
                #expect(v1.status == .ok, "\(v1.text)")
                // The log keeps the text as it was sent.
                await stack.predictionLogger.flush()
                let logged = try await client.get("/api/v1/predictions/\(v1.json["prediction_id"] as? String ?? "-")")
                #expect((logged.json["inputs"] as? [[Any]])?.first?[3] as? String == "blue", "\(logged.text)")
                // Text features drift as categories: a reference of blue only, traffic of many colours.
                let blue = #"{"age": 40, "income": 21000, "score": 0.2, "color": "blue", "city": "oslo"}"#
                let reference = try await client.execute(
                    uri: "/api/v1/models/columns-remote/versions/1/reference", method: .put,
                    body: ByteBuffer(string: #"{"instances": [\#(Array(repeating: blue, count: 20).joined(separator: ","))]}"#))
                #expect(reference.status == .ok, "\(reference.text)")
                let drift = try await client.get("/api/v1/models/columns-remote/drift?last=100")
                let color = (drift.json["features"] as? [[String: Any]])?.first { $0["name"] as? String == "color" }
                #expect(color?["kind"] as? String == "categorical" && (color?["psi"] as? Double ?? 0) > 1, "\(drift.text.prefix(600))")
                let wrong = try await client.post("/v1/models/columns-remote:predict", #"{"instances": [{"age": 40, "income": 21000, "score": 0.2, "color": 3, "city": "oslo"}]}"#)
                #expect(wrong.status == .badRequest && wrong.errorMessage.contains("feature 'color': expected text"), "\(wrong.text)")
            }
        }
    }

    @Test func textAndImageShapedInputsGoToAJSONOnlyRemoteAsSent() async throws {
        // As MLServer would serve a model with a BYTES input and a [N, 2, 2] input: no binary extension, so JSON.
        let router = Router()
        router.get("/v2/models/words") { _, _ -> Response in
            let body = #"{"name": "words", "inputs": [{"name": "text", "datatype": "BYTES", "shape": [-1]}, {"name": "pixels", "datatype": "FP32", "shape": [-1, 2, 2]}], "outputs": [{"name": "label", "datatype": "BYTES", "shape": [-1]}, {"name": "total", "datatype": "FP32", "shape": [-1]}]}"#
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        router.post("/v2/models/words/infer") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any],
                  let inputs = object["inputs"] as? [[String: Any]],
                  let text = inputs.first(where: { $0["name"] as? String == "text" }), let words = text["data"] as? [String],
                  let pixels = inputs.first(where: { $0["name"] as? String == "pixels" }), let values = pixels["data"] as? [Double],
                  pixels["shape"] as? [Int] == [words.count, 2, 2]
            else { return Response(status: .badRequest, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"error": "bad request"}"#))) }
            let labels = words.map { "\"\($0.uppercased())\"" }.joined(separator: ", ")
            let totals = (0..<words.count).map { r in values[(r * 4)..<((r + 1) * 4)].reduce(0, +) }
            let answer = #"{"model_name": "words", "outputs": [{"name": "label", "datatype": "BYTES", "shape": [\#(words.count)], "data": [\#(labels)]}, {"name": "total", "datatype": "FP32", "shape": [\#(words.count)], "data": \#(totals)}]}"#
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: answer)))
        }
        try await Application(router: router).test(.live) { remoteClient in
            let port = try #require(remoteClient.port)
            try await withFerry { client, _ in
                let registered = try await Self.register(client, "words", port: port, model: "words")
                #expect(registered.status == .created, "\(registered.text)")
                let metadata = try await client.get("/v2/models/words")
                let pixels = (metadata.json["inputs"] as? [[String: Any]])?.first { $0["name"] as? String == "pixels" }
                #expect(pixels?["shape"] as? [Int] == [-1, 2, 2], "\(metadata.text)")

                let request = #"{"inputs": [{"name": "text", "datatype": "BYTES", "shape": [2], "data": ["héllo", "ferry"]}, {"name": "pixels", "datatype": "FP32", "shape": [2, 2, 2], "data": [1, 2, 3, 4, 0.5, 0.5, 0.5, 0.5]}]}"#
                let answer = try await client.post("/v2/models/words/infer", request)
                #expect(answer.status == .ok, "\(answer.text)")
                let outputs = answer.json["outputs"] as? [[String: Any]]
                #expect(outputs?.first { $0["name"] as? String == "label" }?["data"] as? [String] == ["HÉLLO", "FERRY"], "\(answer.text)")
                #expect(outputs?.first { $0["name"] as? String == "total" }?["data"] as? [Double] == [10, 2], "\(answer.text)")

                // A shape that does not fit the remote's is refused here, naming the input and the shape it takes.
                let flat = try await client.post("/v2/models/words/infer", #"{"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["a"]}, {"name": "pixels", "datatype": "FP32", "shape": [1, 3], "data": [1, 2, 3]}]}"#)
                #expect(flat.status == .badRequest && flat.errorMessage.contains("input 'pixels' has shape [1, 3]; expected [N, 2, 2]"), "\(flat.text)")
                let numbers = try await client.post("/v2/models/words/infer", #"{"inputs": [{"name": "text", "datatype": "FP32", "shape": [1], "data": [1]}, {"name": "pixels", "datatype": "FP32", "shape": [1, 2, 2], "data": [1, 2, 3, 4]}]}"#)
                #expect(numbers.status == .badRequest && numbers.errorMessage.contains("feature 'text' is text: send BYTES"), "\(numbers.text)")
            }
        }
    }

    final class Switch: Sendable {
        private let state = Mutex(false)
        var isOn: Bool { state.withLock { $0 } }
        func turnOn() { state.withLock { $0 = true } }
    }

    /// A stand-in remote: metadata for every model, and an infer route per model that misbehaves as named.
    static func misbehaving(changed: Switch) -> Router<BasicRequestContext> {
        let router = Router()
        for model in ["slow", "junk", "failing", "json", "strict"] {
            router.get("/v2/models/\(model)") { _, _ -> Response in
                let width = changed.isOn ? 3 : 2
                let body = #"{"name": "m", "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, \#(width)]}], "outputs": [{"name": "y", "datatype": "FP32", "shape": [-1]}]}"#
                return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
            }
        }
        router.post("/v2/models/slow/infer") { _, _ -> Response in
            try await Task.sleep(for: .seconds(1))
            return Response(status: .ok)
        }
        router.post("/v2/models/junk/infer") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "hello")))
        }
        router.post("/v2/models/failing/infer") { _, _ -> Response in
            Response(status: .internalServerError, headers: [.contentType: "application/json"],
                     body: .init(byteBuffer: ByteBuffer(string: #"{"error": "CUDA out of memory"}"#)))
        }
        // As MLServer: no /v2 listing the binary extension, and a body that is not JSON is a 500.
        router.post("/v2/models/strict/infer") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            guard request.headers[.contentType] == "application/json",
                  let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any],
                  let input = (object["inputs"] as? [[String: Any]])?.first, let data = input["data"] as? [Double], let shape = input["shape"] as? [Int]
            else { return Response(status: .internalServerError) }
            let rows = shape[0], width = shape.count > 1 ? shape[1] : 1
            let sums = (0..<rows).map { r in data[(r * width)..<((r + 1) * width)].reduce(0, +) }
            let answer = #"{"model_name": "strict", "outputs": [{"name": "y", "datatype": "FP32", "shape": [\#(rows)], "data": \#(sums)}]}"#
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: answer)))
        }
        router.post("/v2/models/json/infer") { _, _ -> Response in
            let body = #"{"model_name": "json", "outputs": [{"name": "y", "datatype": "FP32", "shape": [1], "data": [0.25]}]}"#
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        return router
    }

    @Test func aRemoteThatHangsFailsOrAnswersGarbageGetsAClearError() async throws {
        let changed = Switch()
        try await Application(router: Self.misbehaving(changed: changed)).test(.live) { remoteClient in
            let port = try #require(remoteClient.port)
            try await withFerry { client, _ in
                let row = #"{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 2], "data": [1, 2]}]}"#
                // Only `slow` is meant to time out: the others get a bound a loaded test machine cannot reach (2 s was
                // reached once while the whole suite ran).
                for (model, timeout) in [("slow", 200), ("junk", 20_000), ("failing", 20_000), ("json", 20_000), ("strict", 20_000)] {
                    let registered = try await Self.register(client, model, port: port, model: model, timeoutMs: timeout)
                    #expect(registered.status == .created, "\(model): \(registered.text)")
                }
                let slow = try await client.post("/v2/models/slow/infer", row)
                #expect(slow.status == .gatewayTimeout && slow.errorMessage.contains("did not answer within 200 ms"), "\(slow.text)")
                let junk = try await client.post("/v2/models/junk/infer", row)
                #expect(junk.status == .serviceUnavailable && junk.errorMessage.contains("not an inference response"), "\(junk.text)")
                let failing = try await client.post("/v2/models/failing/infer", row)
                #expect(failing.status == .serviceUnavailable && failing.errorMessage.contains("answered 500: CUDA out of memory"), "\(failing.text)")
                // A remote answering plain JSON (no binary extension) is read too.
                let json = try await client.post("/v2/models/json/infer", row)
                #expect(json.status == .ok && (json.json["outputs"] as? [[String: Any]])?.first?["data"] as? [Double] == [0.25], "\(json.text)")
                // A remote without the binary tensor extension (MLServer) gets plain JSON; a missing value, which JSON
                // cannot carry, is refused naming its feature.
                let strict = try await client.post("/v2/models/strict/infer", #"{"inputs": [{"name": "x", "datatype": "FP32", "shape": [2, 2], "data": [1, 2, 3, 4.5]}]}"#)
                #expect(strict.status == .ok && (strict.json["outputs"] as? [[String: Any]])?.first?["data"] as? [Double] == [3, 7.5], "\(strict.text)")
                let missing = try await client.post("/v1/models/strict:predict", #"{"instances": [{"x_0": 1, "x_1": null}]}"#)
                #expect(missing.status == .badRequest && missing.errorMessage.contains("feature 'x_1' is missing") && missing.errorMessage.contains("takes JSON only"), "\(missing.text)")

                // The remote's inputs changed since registration: the version refuses to load, saying so.
                let registered = try await Self.register(client, "drifting", port: port, model: "json")
                let artifact = try #require(registered.json["artifact"] as? [String: Any])
                #expect(artifact["sha256"] != nil)
                changed.turnOn()
                let descriptor = Data(#"{"remote": {"url": "http://127.0.0.1:\#(port)", "model": "json", "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 2]}], "outputs": [{"name": "y", "datatype": "FP32", "shape": [-1]}]}}"#.utf8)
                await #expect { try await RemoteRuntime().load(descriptor) } throws: { error in
                    (error as? FerryError)?.message.contains("changed since it was registered") == true
                }
            }
        }
    }

    @Test func aRemoteThatRefusesConnectionsIsNotRegistered() async throws {
        // A port nothing listens on: bound, then closed.
        let port = try await Application(router: Router()).test(.live) { client in try #require(client.port) }
        try await withFerry { client, _ in
            let refused = try await Self.register(client, "nowhere", port: port, model: "m")
            #expect(refused.status == .serviceUnavailable && refused.errorMessage.contains("cannot be reached"), "\(refused.text)")
            let versions = try await client.get("/api/v1/models/nowhere/versions")
            #expect(versions.status == .notFound, "\(versions.text)")
            let bad = try await client.post("/api/v1/models/x/versions", #"{"artifact": "\#(Data(#"{"remote": {"url": "ftp://h", "model": "m"}}"#.utf8).base64EncodedString())", "format": "remote-v2"}"#)
            #expect(bad.status == .badRequest && bad.errorMessage.contains("is not an http:// or https:// URL"), "\(bad.text)")
        }
    }
}
