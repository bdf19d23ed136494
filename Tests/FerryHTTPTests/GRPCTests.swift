import FerryCore
import FerryGRPC
import FerryTesting
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import ServiceLifecycle
import Testing

/// The Open Inference Protocol over gRPC, called through the generated client on a real loopback connection:
/// the same answers, validation, access rules and messages as the HTTP API, as gRPC statuses.
struct GRPCTests {
    /// Runs `body` with a client of a fresh server (authentication on) serving the example model as 'fraud'.
    static func withGRPC(_ body: (Inference_GRPCInferenceService.Client<HTTP2ClientTransport.Posix>, TestStack) async throws -> Void) async throws {
        let stack = try await TestStack { $0.grpcPort = 0; $0.authentication = true }
        defer { stack.tearDown() }
        let version = try await stack.registry.register(.init(model: "fraud", artifact: try TestStack.exampleModel(), createdBy: "test"))
        try await stack.registry.setAlias(model: "fraud", alias: "production", version: version.version, by: "test")
        let grpc = try #require(stack.server.grpc)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await grpc.server.serve() }
            let port = try await grpc.port
            try await withGRPCClient(transport: .http2NIOPosix(target: .ipv4(host: "127.0.0.1", port: port), transportSecurity: .plaintext)) { client in
                try await body(Inference_GRPCInferenceService.Client(wrapping: client), stack)
            }
            grpc.server.beginGracefulShutdown()
            try await group.waitForAll()
        }
    }

    static func request(rows: [[Float]], raw: Bool) -> Inference_ModelInferRequest {
        var request = Inference_ModelInferRequest()
        request.modelName = "fraud"
        var input = Inference_ModelInferRequest.InferInputTensor()
        input.name = "input"
        input.datatype = "FP32"
        input.shape = [Int64(rows.count), Int64(rows.first?.count ?? 0)]
        let values = rows.flatMap { $0 }
        if raw {
            request.rawInputContents = [Data(values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } })]
        } else {
            var contents = Inference_InferTensorContents()
            contents.fp32Contents = values
            input.contents = contents
        }
        request.inputs = [input]
        return request
    }

    @Test func inferenceHealthAndMetadataOverGRPC() async throws {
        try await Self.withGRPC { client, stack in
            let key = try await stack.authenticator.createKey(name: "svc", role: .predictor, by: "test").secret
            let auth: Metadata = ["authorization": "Bearer \(key)"]
            #expect(try await client.serverLive(Inference_ServerLiveRequest()).live)
            #expect(try await client.serverReady(Inference_ServerReadyRequest()).ready)
            var ready = Inference_ModelReadyRequest()
            ready.name = "fraud"
            #expect(try await client.modelReady(ready, metadata: auth).ready)
            var metaRequest = Inference_ModelMetadataRequest()
            metaRequest.name = "fraud"
            let meta = try await client.modelMetadata(metaRequest, metadata: auth)
            #expect(meta.inputs.first?.name == "input" && meta.inputs.first?.shape == [-1, 12])

            // Raw and typed inputs give the same answer as the HTTP API's data plane, outputs as raw contents.
            let expected = try TestStack.exampleExpectations()
            let rows = expected.rows.prefix(3).map { $0.map { Float($0 ?? .nan) } }
            for raw in [true, false] {
                let response = try await client.modelInfer(Self.request(rows: rows, raw: raw), metadata: auth)
                #expect(response.outputs.first?.name == "predict" && response.outputs.first?.shape == [3])
                let bytes = try #require(response.rawOutputContents.first)
                let got = (0..<3).map { i in Float(bitPattern: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self) }) }
                for (g, w) in zip(got, expected.probabilities.prefix(3)) { #expect(abs(Double(g) - w) <= 1e-6 * max(abs(w), 1e-6)) }
                if case .stringParam(let id)? = response.parameters["prediction_id"]?.parameterChoice { #expect(!id.isEmpty) } else { Issue.record("no prediction_id") }
            }
            // Metered like REST requests: per version and per principal.
            let principal = stack.server.cost.principals().first { $0.0.hasPrefix("key:") }?.1
            #expect(principal?.requests == 2 && principal?.predictions == 6 && (principal?.cpuSeconds ?? 0) > 0)
        }
    }

    /// `--host` may be a name, as for the HTTP server: before, any name but `localhost` stopped the server at start.
    @Test func theServerListensOnAnAddressOrAResolvedName() throws {
        #expect(try GRPCInferenceServer.address("10.1.2.3", port: 1).ipv4?.host == "10.1.2.3")
        #expect(try GRPCInferenceServer.address("::1", port: 1).ipv6?.host == "::1")
        let local = try GRPCInferenceServer.address("localhost", port: 8081)
        #expect(local.ipv4?.host == "127.0.0.1" || local.ipv6?.host == "::1", "\(local)")
        #expect {
            _ = try GRPCInferenceServer.address("no-such-host.invalid", port: 1)
        } throws: { ($0 as? FerryError)?.message.contains("--host 'no-such-host.invalid' cannot be resolved") == true }
    }

    @Test func errorsAreStatusesWithTheHTTPMessages() async throws {
        try await Self.withGRPC { client, stack in
            let key = try await stack.authenticator.createKey(name: "svc", role: .predictor, by: "test").secret
            let viewer = try await stack.authenticator.createKey(name: "view", role: .viewer, by: "test").secret
            let other = try await stack.authenticator.createKey(name: "other", role: .predictor, models: ["churn"], by: "test").secret
            func status(_ request: Inference_ModelInferRequest, _ metadata: Metadata) async -> (RPCError.Code, String)? {
                do {
                    _ = try await client.modelInfer(request, metadata: metadata)
                    return nil
                } catch let error as RPCError {
                    return (error.code, error.message)
                } catch {
                    return (.unknown, "\(error)")
                }
            }
            let good = Self.request(rows: [[Float](repeating: 0, count: 12)], raw: true)
            let narrow = Self.request(rows: [[1, 2]], raw: true)
            var missing = good
            missing.modelName = "nope"
            var mixed = good
            mixed.inputs[0].contents.fp32Contents = [1]
            // A shape whose element count fits 64 bits but whose bytes do not: before, the server crashed.
            var huge = good
            huge.inputs[0].shape = [(1 << 31) - 1, (1 << 31) - 1]
            huge.inputs[0].datatype = "FP64"
            huge.rawInputContents = [Data(count: 8)]
            // INT8 values travel in 32 bits: one that INT8 cannot hold is refused, as REST refuses it.
            var wide = Self.request(rows: [[Float](repeating: 0, count: 12)], raw: false)
            wide.inputs[0].datatype = "INT8"
            wide.inputs[0].contents = Inference_InferTensorContents()
            wide.inputs[0].contents.intContents = [Int32](repeating: 1000, count: 12)
            let tooMany = Self.request(rows: [[Float]](repeating: [Float](repeating: 0, count: 12), count: 10_001), raw: true)
            var long = good
            long.modelName = String(repeating: "m", count: 50_000)
            // tritonclient's class_count: refused, not ignored (the numbers would be read as "score:index" strings).
            var classify = good
            var output = Inference_ModelInferRequest.InferRequestedOutputTensor()
            output.name = "predict"
            var count = Inference_InferParameter()
            count.int64Param = 1
            output.parameters["classification"] = count
            classify.outputs = [output]
            for (request, metadata, code, message) in [
                (huge, ["authorization": "Bearer \(key)"], .invalidArgument, "has an impossibly large shape"),
                (wide, ["authorization": "Bearer \(key)"], .invalidArgument, "element 0: 1000.0 is not a valid INT8"),
                // Too many rows can never succeed: not RESOURCE_EXHAUSTED, which clients retry.
                (tooMany, ["authorization": "Bearer \(key)"], .invalidArgument, "the limit is 10000 rows per request"),
                // A name of 50 KB is not echoed whole (it would pass the client's limit on metadata).
                (long, ["authorization": "Bearer \(key)"], .notFound, "…"),
                (classify, ["authorization": "Bearer \(key)"], .unimplemented, "the classification extension"),
                // Spaces around a header's value are trimmed in HTTP; in gRPC metadata too.
                (narrow, ["authorization": "Bearer \(key) "], .invalidArgument, "expected [N, 12]"),
                (good, [:] as Metadata, RPCError.Code.unauthenticated, "needs credentials"),
                (good, ["authorization": "Bearer fry_nope_nope"], .unauthenticated, "unknown, expired or revoked"),
                (good, ["authorization": "Bearer \(viewer)"], .permissionDenied, "lacks the 'predict' permission"),
                (good, ["authorization": "Bearer \(other)"], .permissionDenied, "restricted to models churn"),
                (narrow, ["authorization": "Bearer \(key)"], .invalidArgument, "expected [N, 12]"),
                (missing, ["authorization": "Bearer \(key)"], .notFound, "model 'nope' is not registered"),
                (mixed, ["authorization": "Bearer \(key)"], .invalidArgument, "has contents although raw_input_contents is used"),
            ] {
                let got = await status(request, metadata)
                #expect(got?.0 == code && got?.1.contains(message) == true, "\(String(describing: got)) for \(message)")
            }
        }
    }
}
