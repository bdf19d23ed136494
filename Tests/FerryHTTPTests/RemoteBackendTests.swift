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
                for (model, timeout) in [("slow", 200), ("junk", 2000), ("failing", 2000), ("json", 2000), ("strict", 2000)] {
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
