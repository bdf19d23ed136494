import FerryCore
import FerryEngine
import FerryHTTP
import FerryRuntimes
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
        let stack = try TestStack(signatures: policy)
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
