/// What a model version accepts: its features, in the order the model reads them.
public struct InputSchema: Sendable, Equatable, Codable {
    public var features: [FeatureSpec]
    /// The model's own named input tensors (an ONNX graph's inputs), each carrying consecutive features in order;
    /// nil when the model takes the matrix `input` or one tensor per feature only.
    public var tensors: [InputTensor]?

    public init(features: [FeatureSpec], tensors: [InputTensor]? = nil) {
        self.features = features
        self.tensors = tensors
    }

    /// Feature names in model order.
    public var featureNames: [String] { features.map(\.name) }
}

/// One input feature of a tabular model.
public struct FeatureSpec: Sendable, Equatable, Codable {
    public var name: String
    /// The wire type the feature is read as (numeric features are read as float32 by tree models).
    public var datatype: DataType
    /// Whether a missing value (JSON `null`, NaN) is allowed; tree models route missing values explicitly.
    public var nullable: Bool
    public var description: String?
    /// For a categorical feature that may be sent by name: the category names, whose index is the code the model
    /// reads. An unknown name reads as a missing value (as pandas does for an unseen category).
    public var categories: [String]?
    /// Whether the prediction log stores this feature redacted or hashed instead of as it is.
    public var sensitive: Sensitivity?

    public init(
        name: String, datatype: DataType = .fp32, nullable: Bool = true, description: String? = nil,
        categories: [String]? = nil, sensitive: Sensitivity? = nil
    ) {
        self.name = name
        self.datatype = datatype
        self.nullable = nullable
        self.description = description
        self.categories = categories
        self.sensitive = sensitive
    }

    /// A text feature: BYTES without categories, passed to the model as the text sent (a remote model's string
    /// input). The feature matrix carries its index into `FeatureMatrix.texts`.
    public var isText: Bool { datatype == .bytes && categories == nil }

    /// The code of a category sent by name: its index, or NaN when the model never saw it.
    public func code(of category: String) -> Double {
        categories?.firstIndex(of: category).map(Double.init) ?? .nan
    }

    enum CodingKeys: String, CodingKey { case name, datatype, nullable, description, categories, sensitive }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        datatype = try c.decodeIfPresent(DataType.self, forKey: .datatype) ?? .fp32
        nullable = try c.decodeIfPresent(Bool.self, forKey: .nullable) ?? true
        description = try c.decodeIfPresent(String.self, forKey: .description)
        categories = try c.decodeIfPresent([String].self, forKey: .categories)
        sensitive = try c.decodeIfPresent(Sensitivity.self, forKey: .sensitive)
    }
}

/// A named input tensor of a model that carries `width` consecutive features: `[N, width]`, or `[N]` when
/// `perRowShape` is empty.
public struct InputTensor: Sendable, Equatable, Codable {
    public var name: String
    public var datatype: DataType
    public var width: Int
    public var perRowShape: [Int]

    public init(name: String, datatype: DataType, width: Int, perRowShape: [Int]) {
        self.name = name
        self.datatype = datatype
        self.width = width
        self.perRowShape = perRowShape
    }
}

/// What a model version returns.
public struct OutputSchema: Sendable, Equatable, Codable {
    public var outputs: [OutputSpec]
    public init(outputs: [OutputSpec]) { self.outputs = outputs }

    /// The output that logging, monitoring and V1 answers read (see `Collection<Tensor>.scores`).
    public var scores: OutputSpec? { outputs.first { $0.datatype == .fp32 || $0.datatype == .fp64 } ?? outputs.first }
}

/// One output tensor; `shape` is the per-row shape (the batch dimension is implied first).
public struct OutputSpec: Sendable, Equatable, Codable {
    public var name: String
    public var datatype: DataType
    public var shape: [Int]
    public var description: String?

    public init(name: String, datatype: DataType, shape: [Int], description: String? = nil) {
        self.name = name
        self.datatype = datatype
        self.shape = shape
        self.description = description
    }
}

/// Bounds every inference request is checked against before it reaches a model.
public struct InferenceLimits: Sendable, Equatable {
    public var maxRows: Int
    public var maxElements: Int

    public init(maxRows: Int = 10_000, maxElements: Int = 4_000_000) {
        self.maxRows = maxRows
        self.maxElements = maxElements
    }
}

extension InputSchema {
    /// Checks that `attribute` names an input whose groups fairness can compare from the prediction log: one of the
    /// inputs, and not redacted (a redacted input is logged as missing, one group of everything: "perfectly fair").
    public func checkFairnessAttribute(_ attribute: String, field: String, model: String, version: Int) throws {
        guard let feature = features.first(where: { $0.name == attribute }) else {
            throw FerryError.invalid(
                "\(field) '\(attribute)' is not an input of model '\(model)' version \(version) (it has \(featureNames.prefix(12).joined(separator: ", "))\(featureNames.count > 12 ? ", …" : ""))")
        }
        if feature.sensitive == .redact {
            throw FerryError.invalid(
                "\(field) '\(attribute)' is redacted in the prediction log of model '\(model)' version \(version), so its groups cannot be compared; register the version with it hashed (`--sensitive \(attribute)=hash`) to measure fairness by it")
        }
    }
}
