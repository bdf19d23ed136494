import FerryCore
import FerryEngine
import FerryHTTP
import FerryRuntimes
import FerryServer
import FerryTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

struct SignedModelTests {
    static let release = SigningKey.generate(id: "release")

    static func registration(signature: ModelSignature?) throws -> String {
        let artifact = try TestStack.exampleModel()
        var body: [String: Any] = ["artifact": artifact.base64EncodedString()]
        if let signature {
            body["signature"] = try JSONSerialization.jsonObject(with: JSONEncoder().encode(signature))
        }
        return String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)
    }

    static func signed(model: String = "fraud", key: SigningKey = release) throws -> ModelSignature {
        try ModelSignature.sign(
            sha256: LocalArtifactStore.sha256(try TestStack.exampleModel()), format: "xgboost-json", model: model, key: key)
    }

    @Test func productionTakesOnlyTrustedSignedVersions() async throws {
        let policy = SignaturePolicy(trusted: [try Self.release.publicKey], requiredForAliases: ["production"])
        try await withFerry(signatures: policy, example: false) { client, stack in
            // v1 is signed, v2 is not.
            let signed = try await client.post("/api/v1/models/scoring/versions", try Self.registration(signature: try Self.signed(model: "scoring")))
            #expect(signed.status == .created, "\(signed.text)")
            #expect((signed.json["signature"] as? [String: Any])?["key_id"] as? String == "release")
            let unsigned = try await client.post("/api/v1/models/scoring/versions", try Self.registration(signature: nil))
            #expect(unsigned.status == .created)

            let refused = try await client.execute(
                uri: "/api/v1/models/scoring/aliases/production", method: .put, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"version": 2}"#))
            #expect(refused.status == .conflict)
            #expect(refused.errorMessage == "version 2 of model 'scoring' is not signed; alias 'production' requires a trusted signature (--require-signed-alias)")
            let staging = try await client.execute(
                uri: "/api/v1/models/scoring/aliases/staging", method: .put, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"version": 2}"#))
            #expect(staging.status == .ok, "other aliases are not restricted")
            let promoted = try await client.execute(
                uri: "/api/v1/models/scoring/aliases/production", method: .put, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"version": 1}"#))
            #expect(promoted.status == .ok, "\(promoted.text)")
            #expect(try await stack.registry.aliases(model: "scoring").first { $0.name == "production" }?.version == 1)
        }
    }

    /// Registering with an alias the policy refuses leaves nothing behind: no version, no model, no alias.
    @Test func aRefusedRegistrationCreatesNoVersion() async throws {
        let policy = SignaturePolicy(trusted: [try Self.release.publicKey], requiredForAliases: ["production"])
        try await withFerry(signatures: policy, example: false) { client, stack in
            var body = try JSONSerialization.jsonObject(with: Data(try Self.registration(signature: nil).utf8)) as! [String: Any]
            body["aliases"] = ["production"]
            let json = String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)
            let refused = try await client.post("/api/v1/models/scoring/versions", json)
            #expect(refused.status == .conflict, "\(refused.text)")
            #expect(refused.errorMessage.contains("alias 'production' requires a trusted signature"), "\(refused.errorMessage)")
            #expect(try await stack.registry.store.model(named: "scoring") == nil, "no model was created")
            #expect(try await client.get("/v2/models/scoring").status == .notFound)
            // The same registration, signed, goes through with its alias.
            body["signature"] = try JSONSerialization.jsonObject(with: JSONEncoder().encode(try Self.signed(model: "scoring")))
            let accepted = try await client.post(
                "/api/v1/models/scoring/versions", String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self))
            #expect(accepted.status == .created, "\(accepted.text)")
            #expect(accepted.json["version"] as? Int == 1 && accepted.json["aliases"] as? [String] == ["production"])
        }
    }

    /// A server restarted with `--require-signed-alias production` while production points at an unsigned version
    /// does not serve it: the model is not ready, infer answers 503 naming the policy, the details say why.
    @Test func aSignedAliasPolicyAppliesToWhatIsAlreadyStored() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-test-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        func configuration(_ policy: SignaturePolicy) -> ServerConfiguration {
            ServerConfiguration(store: .sqlite, dataDirectory: folder, serverVersion: "test", authentication: false, signatures: policy)
        }
        do {
            let first = try await FerryServer.build(configuration(.none), logger: .init(label: "t"))
            let v = try await first.registry.register(.init(model: "fraud", artifact: try TestStack.exampleModel(), aliases: ["production"], createdBy: "t"))
            #expect(v.version == 1)
        }
        let policy = SignaturePolicy(trusted: [try Self.release.publicKey], requiredForAliases: ["production"])
        let server = try await FerryServer.build(configuration(policy), logger: .init(label: "t"))
        #expect(server.models.loadedVersions.isEmpty, "the unsigned production version was not loaded")
        try await Application(router: server.router).test(.router) { client in
            let ready = try await client.get("/v2/models/fraud/ready")
            #expect(ready.status == .serviceUnavailable)
            let infer = try await client.post("/v1/models/fraud:predict", #"{"instances": [[1,2,3,4,5,6,7,8,9,10,11,12]]}"#)
            #expect(infer.status == .serviceUnavailable)
            #expect(infer.errorMessage.contains("alias 'production' requires a trusted signature (--require-signed-alias)"), "\(infer.errorMessage)")
            let details = try await client.get("/api/v1/models/fraud")
            #expect((details.json["serving_blocked"] as? [String: String])?["production"]?.contains("is not signed") == true, "\(details.text)")
            let version = try await client.get("/api/v1/models/fraud/versions/1")
            #expect((version.json["serving_blocked"] as? String)?.contains("--require-signed-alias") == true, "\(version.text)")
        }
    }

    @Test(arguments: ["other model", "untrusted key", "edited"])
    func badSignaturesAreRefusedAtRegistration(_ change: String) async throws {
        let policy = SignaturePolicy(trusted: [try Self.release.publicKey])
        try await withFerry(signatures: policy) { client, _ in
            var signature = try Self.signed()
            switch change {
            case "other model": signature = try Self.signed(model: "churn")
            case "untrusted key": signature = try Self.signed(key: SigningKey.generate(id: "release"))
            default: signature.sha256 = String(repeating: "0", count: 64)
            }
            let response = try await client.post("/api/v1/models/fraud/versions", try Self.registration(signature: signature))
            #expect(response.status == .badRequest)
            #expect(response.errorMessage.hasPrefix("field 'signature': the signature"), "\(response.errorMessage)")
        }
    }

    /// With --require-signature nothing unsigned registers, and a version whose stored signature no longer
    /// matches its artifact (the database was edited) refuses to load.
    @Test func requireSignatureGuardsRegistrationAndLoading() async throws {
        let policy = SignaturePolicy(trusted: [try Self.release.publicKey], requireForLoad: true)
        let stack = try await TestStack(signatures: policy)
        defer { stack.tearDown() }
        let artifact = try TestStack.exampleModel()
        await #expect(throws: FerryError.self) {
            try await stack.registry.register(.init(model: "fraud", artifact: artifact, createdBy: "t"))
        }
        let version = try await stack.registry.register(.init(model: "fraud", artifact: artifact, signature: try Self.signed(), createdBy: "t"))
        #expect(try await stack.models.served(model: "fraud", selector: .number(version.version)).version.version == 1)

        var forged = version
        forged.signature?.signedAt = "2001-01-01T00:00:00Z"
        let manager = ModelManager(store: stack.store, artifacts: stack.artifacts, runtimes: RuntimeCatalog([XGBoostRuntime()]),
                                   logger: .init(label: "t"), signatures: policy)
        await #expect {
            try await manager.prepare(forged)
        } throws: { error in
            (error as? FerryError)?.message.contains("does not verify") == true
        }
    }
}
