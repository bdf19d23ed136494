import Foundation

/// A registered model: a name under which numbered, immutable versions are kept.
public struct Model: Sendable, Equatable, Codable {
    public var name: String
    public var description: String
    public var tags: [String: String]
    public var createdBy: String
    public var createdAt: Date

    public init(name: String, description: String = "", tags: [String: String] = [:], createdBy: String, createdAt: Date) {
        self.name = name
        self.description = description
        self.tags = tags
        self.createdBy = createdBy
        self.createdAt = createdAt
    }

    /// Checks that `name` is usable as a model or alias name in URLs and on the command line.
    public static func validate(name: String, field: String = "name") throws {
        let ok = !name.isEmpty && name.count <= 128 && name.utf8.allSatisfy { c in
            (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39)
                || c == 0x2D || c == 0x5F || c == 0x2E
        } && name.utf8.first.map({ $0 != 0x2E && $0 != 0x2D }) == true
        guard ok else {
            throw FerryError.invalid(
                "\(field) '\(name)' is not valid: use 1-128 letters, digits, '-', '_' or '.', not starting with '.' or '-'")
        }
        if Int(name) != nil {
            throw FerryError.invalid("\(field) '\(name)' is not valid: a name cannot be only digits (it would read as a version)")
        }
    }
}

/// The on-disk format of a model artifact; selects the runtime that loads it.
public struct ModelFormat: Hashable, Sendable, Codable, RawRepresentable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
    public var description: String { rawValue }

    /// XGBoost's JSON model (`booster.save_model("model.json")`).
    public static let xgboostJSON = ModelFormat(rawValue: "xgboost-json")
}

/// A content-addressed artifact: `sha256` is the lowercase hex SHA-256 of its bytes.
public struct ArtifactRef: Sendable, Equatable, Hashable, Codable {
    public var sha256: String
    public var size: Int
    public init(sha256: String, size: Int) {
        self.sha256 = sha256
        self.size = size
    }
}

/// Where a version came from.
public struct Lineage: Sendable, Equatable, Codable {
    public var trainingData: String?
    public var trainingDataDigest: String?
    public var code: String?
    /// The experiment-tracking run that produced the model (e.g. `mlflow:<run_id>`).
    public var run: String?
    /// Where the model's files were read from (e.g. the MLflow artifact location of a logged model).
    public var source: String?
    public init(trainingData: String? = nil, trainingDataDigest: String? = nil, code: String? = nil, run: String? = nil, source: String? = nil) {
        self.trainingData = trainingData
        self.trainingDataDigest = trainingDataDigest
        self.code = code
        self.run = run
        self.source = source
    }
}

/// One immutable, numbered version of a model.
public struct ModelVersion: Sendable, Equatable, Codable {
    public var model: String
    /// Assigned by the store: 1 for the first version of a model, then one more than the highest.
    public var version: Int
    public var format: ModelFormat
    public var artifact: ArtifactRef
    public var inputSchema: InputSchema
    public var outputSchema: OutputSchema
    public var description: String
    public var params: [String: JSONValue]
    public var metrics: [String: Double]
    public var lineage: Lineage
    /// What the runtime learned when it inspected the artifact (objective, number of trees...).
    public var details: [String: JSONValue]
    /// Runtime options chosen at registration (e.g. XGBoost `iterations=best`); part of the immutable version.
    public var runtimeOptions: [String: String]
    public var createdBy: String
    public var createdAt: Date
    public var archived: Bool
    /// The signature supplied at registration (verified then against the trusted keys), if any.
    public var signature: ModelSignature?
    /// Features the online store supplies at inference (each fills the schema input of its name), looked up by
    /// their views' join keys, which requests then send instead.
    public var features: [FeatureRef]

    public init(
        model: String, version: Int = 0, format: ModelFormat, artifact: ArtifactRef,
        inputSchema: InputSchema, outputSchema: OutputSchema, description: String = "",
        params: [String: JSONValue] = [:], metrics: [String: Double] = [:], lineage: Lineage = Lineage(),
        details: [String: JSONValue] = [:], runtimeOptions: [String: String] = [:], createdBy: String, createdAt: Date,
        archived: Bool = false, signature: ModelSignature? = nil, features: [FeatureRef] = []
    ) {
        self.signature = signature
        self.features = features
        self.model = model
        self.version = version
        self.format = format
        self.artifact = artifact
        self.inputSchema = inputSchema
        self.outputSchema = outputSchema
        self.description = description
        self.params = params
        self.metrics = metrics
        self.lineage = lineage
        self.details = details
        self.runtimeOptions = runtimeOptions
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.archived = archived
    }
}

/// A model as lists show it: with its newest version's number and its aliases.
public struct ModelSummary: Sendable, Equatable {
    public var model: Model
    public var latestVersion: Int?
    public var aliases: [Alias]

    public init(model: Model, latestVersion: Int?, aliases: [Alias]) {
        self.model = model
        self.latestVersion = latestVersion
        self.aliases = aliases
    }
}

/// A movable name (`production`, `staging`, anything) that points at one version of a model.
public struct Alias: Sendable, Equatable, Codable {
    public var model: String
    public var name: String
    public var version: Int
    public var updatedBy: String
    public var updatedAt: Date

    public init(model: String, name: String, version: Int, updatedBy: String, updatedAt: Date) {
        self.model = model
        self.name = name
        self.version = version
        self.updatedBy = updatedBy
        self.updatedAt = updatedAt
    }

    /// The alias a model name without a version resolves to, when it exists.
    public static let production = "production"
}

/// One move of an alias, kept forever: `from` is nil when the alias was created, `to` is nil when it was removed.
public struct AliasEvent: Sendable, Equatable, Codable {
    public var sequence: Int64
    public var model: String
    public var alias: String
    public var from: Int?
    public var to: Int?
    public var by: String
    public var at: Date
    public var reason: String

    public init(sequence: Int64 = 0, model: String, alias: String, from: Int?, to: Int?, by: String, at: Date, reason: String = "") {
        self.sequence = sequence
        self.model = model
        self.alias = alias
        self.from = from
        self.to = to
        self.by = by
        self.at = at
        self.reason = reason
    }
}

/// Which version of a model a request names: the default route, a number, or an alias.
public enum VersionSelector: Sendable, Equatable, CustomStringConvertible {
    /// The `production` alias when it exists, else the newest version that is not archived.
    case `default`
    case number(Int)
    case alias(String)

    /// Reads a path segment: digits are a version number, anything else an alias name.
    public init(parsing text: String?) throws {
        guard let text, !text.isEmpty else {
            self = .default
            return
        }
        if let n = Int(text) {
            guard n > 0 else { throw FerryError.invalid("version '\(text)' is not valid: versions are numbered from 1") }
            self = .number(n)
        } else {
            try Model.validate(name: text, field: "version alias")
            self = .alias(text)
        }
    }

    public var description: String {
        switch self {
        case .default: "default"
        case .number(let n): "\(n)"
        case .alias(let a): a
        }
    }
}

extension FerryError {
    /// An alias asked of an archived version (checked by the registry, and again by stores in the alias's transaction).
    public static func archivedTakesNoAlias(model: String, version: Int, alias: String) -> FerryError {
        FerryError(.failedPrecondition, "version \(version) of model '\(model)' is archived and cannot take the alias '\(alias)'")
    }
}
