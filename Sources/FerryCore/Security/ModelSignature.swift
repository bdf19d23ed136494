import Crypto
import Foundation

/// An Ed25519 signature over a model artifact's SHA-256 and the metadata that says what it is.
///
/// The signed message is the canonical JSON of `{"digest": "sha256:<hex>", "format", "key_id", "model",
/// "signed_at"}` prefixed by `ferry-model-signature-v1\n`, so a signature cannot be moved to other bytes, another
/// format or (when `model` is set) another model.
public struct ModelSignature: Sendable, Equatable, Codable {
    public var keyID: String
    public var sha256: String
    /// The artifact format the signer vouched for, if any.
    public var format: String?
    /// The model name the signer vouched for; nil lets the artifact be registered under any name.
    public var model: String?
    public var signedAt: String
    /// Base64 of the 64-byte Ed25519 signature.
    public var signature: String

    enum CodingKeys: String, CodingKey {
        case keyID = "key_id", sha256, format, model, signedAt = "signed_at", signature
    }

    public init(keyID: String, sha256: String, format: String?, model: String?, signedAt: String, signature: String) {
        self.keyID = keyID
        self.sha256 = sha256
        self.format = format
        self.model = model
        self.signedAt = signedAt
        self.signature = signature
    }

    public var message: [UInt8] {
        var covered: [String: JSONValue] = [
            "digest": .string("sha256:" + sha256), "key_id": .string(keyID), "signed_at": .string(signedAt),
        ]
        if let format { covered["format"] = .string(format) }
        if let model { covered["model"] = .string(model) }
        return Array(("ferry-model-signature-v1\n" + AuditEntry.canonical(.object(covered))).utf8)
    }

    /// Signs an artifact digest with a private key.
    public static func sign(
        sha256: String, format: String?, model: String?, key: SigningKey, at date: Date = Date()
    ) throws -> ModelSignature {
        let formatter = ISO8601DateFormatter()
        var unsigned = ModelSignature(
            keyID: key.id, sha256: sha256, format: format, model: model, signedAt: formatter.string(from: date), signature: "")
        let privateKey = try Curve25519.Signing.PrivateKey(rawRepresentation: key.privateKey)
        unsigned.signature = try privateKey.signature(for: unsigned.message).base64EncodedString()
        return unsigned
    }
}

/// An Ed25519 key pair for signing models (`ferry sign keygen`); the private half never reaches the server.
public struct SigningKey: Sendable, Codable {
    public var id: String
    /// Raw 32-byte private key.
    public var privateKey: Data

    public init(id: String, privateKey: Data) {
        self.id = id
        self.privateKey = privateKey
    }

    enum CodingKeys: String, CodingKey { case id = "key_id", privateKey = "ed25519_private_key" }

    public static func generate(id: String) -> SigningKey {
        SigningKey(id: id, privateKey: Curve25519.Signing.PrivateKey().rawRepresentation)
    }

    public var publicKey: TrustedKey {
        get throws {
            TrustedKey(id: id, publicKey: try Curve25519.Signing.PrivateKey(rawRepresentation: privateKey).publicKey.rawRepresentation)
        }
    }
}

/// A public key the server trusts to sign models, as written by `ferry sign keygen` (`NAME.pub.json`).
public struct TrustedKey: Sendable, Codable, Equatable {
    public var id: String
    /// Raw 32-byte Ed25519 public key.
    public var publicKey: Data

    enum CodingKeys: String, CodingKey { case id = "key_id", publicKey = "ed25519_public_key" }

    public init(id: String, publicKey: Data) {
        self.id = id
        self.publicKey = publicKey
    }
}

/// Which signatures the server accepts and when it insists on one.
public struct SignaturePolicy: Sendable {
    public var trusted: [String: TrustedKey]
    /// Every version must carry a valid signature to be registered or loaded.
    public var requireForLoad: Bool
    /// Aliases (e.g. `production`) that only a version with a valid signature may take.
    public var requiredForAliases: Set<String>

    public init(trusted: [TrustedKey] = [], requireForLoad: Bool = false, requiredForAliases: Set<String> = []) {
        self.trusted = Dictionary(trusted.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.requireForLoad = requireForLoad
        self.requiredForAliases = requiredForAliases
    }

    public static let none = SignaturePolicy()

    /// Checks that `signature` is a valid signature by a trusted key over this artifact digest, format and model.
    /// Throws `.integrity` naming what does not match.
    public func verify(_ signature: ModelSignature, sha256: String, format: String, model: String) throws {
        guard signature.sha256 == sha256 else {
            throw FerryError(.integrity, "the signature covers artifact sha256 \(signature.sha256) but the artifact is \(sha256): the artifact or its signature was changed")
        }
        if let signed = signature.format, signed != format {
            throw FerryError(.integrity, "the signature is for format '\(signed)' but the version is '\(format)'")
        }
        if let signed = signature.model, signed != model {
            throw FerryError(.integrity, "the signature is for model '\(signed)', not '\(model)'")
        }
        guard let key = trusted[signature.keyID] else {
            throw FerryError(.integrity, "the signature is by key '\(signature.keyID)', which this server does not trust (see --trusted-key)")
        }
        guard let bytes = Data(base64Encoded: signature.signature), bytes.count == 64,
              let publicKey = try? Curve25519.Signing.PublicKey(rawRepresentation: key.publicKey),
              publicKey.isValidSignature(bytes, for: signature.message)
        else {
            throw FerryError(.integrity, "the signature by key '\(signature.keyID)' does not verify: the signature or its metadata was changed")
        }
    }

    /// Checks a stored version before it is loaded (when every version must be signed).
    public func checkLoad(_ version: ModelVersion) throws {
        guard requireForLoad else { return }
        try requireSigned(version, because: "this server loads only signed models (--require-signature)")
    }

    /// Checks a version before `alias` may point at it.
    public func checkAlias(_ alias: String, _ version: ModelVersion) throws {
        guard requiredForAliases.contains(alias) else { return }
        try requireSigned(version, because: "alias '\(alias)' requires a trusted signature (--require-signed-alias)")
    }

    private func requireSigned(_ version: ModelVersion, because reason: String) throws {
        let label = "version \(version.version) of model '\(version.model)'"
        guard let signature = version.signature else {
            throw FerryError(.failedPrecondition, "\(label) is not signed; \(reason)")
        }
        do {
            try verify(signature, sha256: version.artifact.sha256, format: version.format.rawValue, model: version.model)
        } catch let error as FerryError {
            throw FerryError(.failedPrecondition, "\(label): \(error.message); \(reason)")
        }
    }
}
