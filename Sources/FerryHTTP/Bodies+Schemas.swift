import FerryCore
import FerryEngine
import Foundation

// Schemas and signatures (inside `VersionBody`): response bodies copying domain types field by field (see `ControlPlaneBodies.swift`).
extension API {
    /// A version's input schema (`VersionBody.input_schema`).
    struct InputSchemaBody: Encodable, Sendable {
        var features: [FeatureSpecBody]

        enum CodingKeys: String, CodingKey {
            case features
        }

        init(_ domain: InputSchema) {
            features = domain.features.map(FeatureSpecBody.init)
        }
    }

    /// One input feature (`InputSchemaBody.features`). `datatype` is a V2 type name (`FP32`, ...), `nullable` is
    /// always sent; `description`, `categories` and `sensitive` (`redact` or `hash`) are left out when unset.
    struct FeatureSpecBody: Encodable, Sendable {
        var name: String
        var datatype: String
        var nullable: Bool
        var description: String?
        var categories: [String]?
        var sensitive: String?

        enum CodingKeys: String, CodingKey {
            case name, datatype, nullable, description, categories, sensitive
        }

        init(_ domain: FeatureSpec) {
            name = domain.name
            datatype = domain.datatype.rawValue
            nullable = domain.nullable
            description = domain.description
            categories = domain.categories
            sensitive = domain.sensitive?.rawValue
        }
    }

    /// A version's output schema (`VersionBody.output_schema`).
    struct OutputSchemaBody: Encodable, Sendable {
        var outputs: [OutputSpecBody]

        enum CodingKeys: String, CodingKey {
            case outputs
        }

        init(_ domain: OutputSchema) {
            outputs = domain.outputs.map(OutputSpecBody.init)
        }
    }

    /// One output tensor (`OutputSchemaBody.outputs`); `shape` is per row; `description` is left out when unset.
    struct OutputSpecBody: Encodable, Sendable {
        var name: String
        var datatype: String
        var shape: [Int]
        var description: String?

        enum CodingKeys: String, CodingKey {
            case name, datatype, shape, description
        }

        init(_ domain: OutputSpec) {
            name = domain.name
            datatype = domain.datatype.rawValue
            shape = domain.shape
            description = domain.description
        }
    }

    /// The signature a version was registered with (`VersionBody.signature`); `format` and `model` are left out when
    /// the signer did not vouch for them. `signed_at` is the signer's own ISO 8601 text, not a re-encoded date.
    struct ModelSignatureBody: Encodable, Sendable {
        var keyID: String
        var sha256: String
        var format: String?
        var model: String?
        var signedAt: String
        var signature: String

        enum CodingKeys: String, CodingKey {
            case keyID = "key_id", sha256, format, model, signedAt = "signed_at", signature
        }

        init(_ domain: ModelSignature) {
            keyID = domain.keyID
            sha256 = domain.sha256
            format = domain.format
            model = domain.model
            signedAt = domain.signedAt
            signature = domain.signature
        }
    }
}
