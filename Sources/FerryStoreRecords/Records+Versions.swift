import FerryCore
import Foundation

// Version columns (model_version.input_schema, output_schema, lineage, signature)

/// `model_version.input_schema`: a version's `InputSchema`.
package struct InputSchemaRecord: Codable, Sendable, Equatable {
    static let currentSchemaVersion = 1

    var schemaVersion: Int
    var features: [FeatureSpecRecord]
    /// Named input tensors (absent for models that take the matrix or per-feature tensors only).
    var tensors: [InputTensorRecord]?

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case features, tensors
    }

    package init(_ domain: InputSchema) {
        schemaVersion = Self.currentSchemaVersion
        features = domain.features.map(FeatureSpecRecord.init)
        tensors = domain.tensors?.map(InputTensorRecord.init)
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schemaVersion = try Records.schemaVersion(
            in: c, forKey: .schemaVersion, record: "InputSchemaRecord", current: Self.currentSchemaVersion)
        features = try c.decode([FeatureSpecRecord].self, forKey: .features)
        tensors = try c.decodeIfPresent([InputTensorRecord].self, forKey: .tensors)
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.currentSchemaVersion, forKey: .schemaVersion)
        try c.encode(features, forKey: .features)
        try c.encodeIfPresent(tensors, forKey: .tensors)
    }

    package func domain() throws -> InputSchema {
        InputSchema(features: try features.map { try $0.domain() }, tensors: try tensors?.map { try $0.domain() })
    }
}

/// One `InputTensor` of an input schema.
package struct InputTensorRecord: Codable, Sendable, Equatable {
    var name: String
    /// A `DataType` raw value.
    var datatype: String
    var width: Int
    var perRowShape: [Int]

    enum CodingKeys: String, CodingKey {
        case name, datatype, width
        case perRowShape = "per_row_shape"
    }

    package init(_ domain: InputTensor) {
        name = domain.name
        datatype = domain.datatype.rawValue
        width = domain.width
        perRowShape = domain.perRowShape
    }

    package func domain() throws -> InputTensor {
        InputTensor(
            name: name, datatype: try Records.parse(datatype, as: DataType.self, field: "input tensor datatype", in: "InputSchemaRecord"),
            width: width, perRowShape: perRowShape)
    }
}

/// One `FeatureSpec` of an input schema. `datatype` and `nullable` default to "FP32" and true when absent.
package struct FeatureSpecRecord: Codable, Sendable, Equatable {
    var name: String
    /// A `DataType` raw value ("FP32", "INT64", ...).
    var datatype: String
    var nullable: Bool
    var description: String?
    var categories: [String]?
    /// A `Sensitivity` raw value ("redact", "hash").
    var sensitive: String?

    enum CodingKeys: String, CodingKey { case name, datatype, nullable, description, categories, sensitive }

    package init(_ domain: FeatureSpec) {
        name = domain.name
        datatype = domain.datatype.rawValue
        nullable = domain.nullable
        description = domain.description
        categories = domain.categories
        sensitive = domain.sensitive?.rawValue
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        datatype = try c.decodeIfPresent(String.self, forKey: .datatype) ?? "FP32"
        nullable = try c.decodeIfPresent(Bool.self, forKey: .nullable) ?? true
        description = try c.decodeIfPresent(String.self, forKey: .description)
        categories = try c.decodeIfPresent([String].self, forKey: .categories)
        sensitive = try c.decodeIfPresent(String.self, forKey: .sensitive)
    }

    package func domain() throws -> FeatureSpec {
        FeatureSpec(
            name: name,
            datatype: try Records.parse(datatype, as: DataType.self, field: "feature datatype", in: "InputSchemaRecord"),
            nullable: nullable, description: description, categories: categories,
            sensitive: try sensitive.map { try Records.parse($0, as: Sensitivity.self, field: "feature sensitivity", in: "InputSchemaRecord") })
    }
}

/// `model_version.output_schema`: a version's `OutputSchema`.
package struct OutputSchemaRecord: Codable, Sendable, Equatable {
    static let currentSchemaVersion = 1

    var schemaVersion: Int
    var outputs: [OutputSpecRecord]

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case outputs
    }

    package init(_ domain: OutputSchema) {
        schemaVersion = Self.currentSchemaVersion
        outputs = domain.outputs.map(OutputSpecRecord.init)
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schemaVersion = try Records.schemaVersion(
            in: c, forKey: .schemaVersion, record: "OutputSchemaRecord", current: Self.currentSchemaVersion)
        outputs = try c.decode([OutputSpecRecord].self, forKey: .outputs)
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.currentSchemaVersion, forKey: .schemaVersion)
        try c.encode(outputs, forKey: .outputs)
    }

    package func domain() throws -> OutputSchema {
        OutputSchema(outputs: try outputs.map { try $0.domain() })
    }
}

/// One `OutputSpec` of an output schema.
package struct OutputSpecRecord: Codable, Sendable, Equatable {
    var name: String
    /// A `DataType` raw value.
    var datatype: String
    var shape: [Int]
    var description: String?

    enum CodingKeys: String, CodingKey { case name, datatype, shape, description }

    package init(_ domain: OutputSpec) {
        name = domain.name
        datatype = domain.datatype.rawValue
        shape = domain.shape
        description = domain.description
    }

    package func domain() throws -> OutputSpec {
        OutputSpec(
            name: name, datatype: try Records.parse(datatype, as: DataType.self, field: "output datatype", in: "OutputSchemaRecord"),
            shape: shape, description: description)
    }
}

/// `model_version.lineage`: a version's `Lineage`. Its keys are camelCase: the domain type has no coding keys.
package struct LineageRecord: Codable, Sendable, Equatable {
    static let currentSchemaVersion = 1

    var schemaVersion: Int
    var trainingData: String?
    var trainingDataDigest: String?
    var code: String?
    var run: String?
    var source: String?

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case trainingData = "trainingData", trainingDataDigest = "trainingDataDigest", code = "code", run = "run", source = "source"
    }

    package init(_ domain: Lineage) {
        schemaVersion = Self.currentSchemaVersion
        trainingData = domain.trainingData
        trainingDataDigest = domain.trainingDataDigest
        code = domain.code
        run = domain.run
        source = domain.source
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schemaVersion = try Records.schemaVersion(
            in: c, forKey: .schemaVersion, record: "LineageRecord", current: Self.currentSchemaVersion)
        trainingData = try c.decodeIfPresent(String.self, forKey: .trainingData)
        trainingDataDigest = try c.decodeIfPresent(String.self, forKey: .trainingDataDigest)
        code = try c.decodeIfPresent(String.self, forKey: .code)
        run = try c.decodeIfPresent(String.self, forKey: .run)
        source = try c.decodeIfPresent(String.self, forKey: .source)
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.currentSchemaVersion, forKey: .schemaVersion)
        try c.encodeIfPresent(trainingData, forKey: .trainingData)
        try c.encodeIfPresent(trainingDataDigest, forKey: .trainingDataDigest)
        try c.encodeIfPresent(code, forKey: .code)
        try c.encodeIfPresent(run, forKey: .run)
        try c.encodeIfPresent(source, forKey: .source)
    }

    package func domain() throws -> Lineage {
        Lineage(trainingData: trainingData, trainingDataDigest: trainingDataDigest, code: code, run: run, source: source)
    }
}

/// `model_version.signature`: the `ModelSignature` supplied at registration (the column is NULL when there is none).
package struct ModelSignatureRecord: Codable, Sendable, Equatable {
    static let currentSchemaVersion = 1

    var schemaVersion: Int
    var keyID: String
    var sha256: String
    var format: String?
    var model: String?
    /// ISO 8601 text, exactly as signed (it is part of the signed message, so it is kept as text).
    var signedAt: String
    /// Base64 of the Ed25519 signature.
    var signature: String

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case keyID = "key_id", sha256, format, model, signedAt = "signed_at", signature
    }

    package init(_ domain: ModelSignature) {
        schemaVersion = Self.currentSchemaVersion
        keyID = domain.keyID
        sha256 = domain.sha256
        format = domain.format
        model = domain.model
        signedAt = domain.signedAt
        signature = domain.signature
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schemaVersion = try Records.schemaVersion(
            in: c, forKey: .schemaVersion, record: "ModelSignatureRecord", current: Self.currentSchemaVersion)
        keyID = try c.decode(String.self, forKey: .keyID)
        sha256 = try c.decode(String.self, forKey: .sha256)
        format = try c.decodeIfPresent(String.self, forKey: .format)
        model = try c.decodeIfPresent(String.self, forKey: .model)
        signedAt = try c.decode(String.self, forKey: .signedAt)
        signature = try c.decode(String.self, forKey: .signature)
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.currentSchemaVersion, forKey: .schemaVersion)
        try c.encode(keyID, forKey: .keyID)
        try c.encode(sha256, forKey: .sha256)
        try c.encodeIfPresent(format, forKey: .format)
        try c.encodeIfPresent(model, forKey: .model)
        try c.encode(signedAt, forKey: .signedAt)
        try c.encode(signature, forKey: .signature)
    }

    package func domain() throws -> ModelSignature {
        ModelSignature(keyID: keyID, sha256: sha256, format: format, model: model, signedAt: signedAt, signature: signature)
    }
}
