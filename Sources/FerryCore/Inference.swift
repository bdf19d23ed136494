/// An inference request in the shape of the Open Inference Protocol, independent of any transport.
public struct InferenceRequest: Sendable {
    public var id: String?
    public var parameters: Parameters
    public var inputs: [Tensor]
    /// Outputs the caller asked for; `nil` means all of them.
    public var outputs: [RequestedOutput]?

    public init(id: String? = nil, parameters: Parameters = [:], inputs: [Tensor], outputs: [RequestedOutput]? = nil) {
        self.id = id
        self.parameters = parameters
        self.inputs = inputs
        self.outputs = outputs
    }
}

public struct RequestedOutput: Sendable, Equatable {
    public var name: String
    public var parameters: Parameters
    public init(name: String, parameters: Parameters = [:]) {
        self.name = name
        self.parameters = parameters
    }
}

/// An inference response in the shape of the Open Inference Protocol.
/// How a request was answered beyond its outputs: the prediction id feedback refers to and, for endpoint requests,
/// which version answered, whether a fallback or the cache did. Wire adapters turn it into headers and parameters.
public struct Serving: Sendable, Equatable {
    /// The id of the logged prediction (nil when the prediction log is off).
    public var predictionID: String?
    /// The version that answered an endpoint request (nil for a static fallback value).
    public var servedBy: VersionRef?
    /// The variant that failed when the endpoint's primary answered instead.
    public var fallbackFrom: VersionRef?
    /// The endpoint's declared fallback answered.
    public var fallback = false
    /// The answer came from the endpoint's cache.
    public var cached = false

    public init(predictionID: String? = nil) { self.predictionID = predictionID }
}

public struct InferenceResponse: Sendable {
    public var modelName: String
    public var modelVersion: String?
    public var id: String?
    public var parameters: Parameters
    public var outputs: [Tensor]
    public var serving = Serving()

    public init(modelName: String, modelVersion: String?, id: String?, parameters: Parameters = [:], outputs: [Tensor]) {
        self.modelName = modelName
        self.modelVersion = modelVersion
        self.id = id
        self.parameters = parameters
        self.outputs = outputs
    }
}

extension InferenceResponse {
    /// Response parameters as every transport answers them: the prediction id feedback refers to, and for endpoint
    /// requests the version that answered (`served_by`), the variant that failed (`fallback_from`), `fallback` and
    /// `cached` when so.
    public var wireParameters: Parameters {
        var parameters = self.parameters
        if let id = serving.predictionID { parameters["prediction_id"] = .string(id) }
        if let servedBy = serving.servedBy { parameters["served_by"] = .string(servedBy.description) }
        if let failed = serving.fallbackFrom { parameters["fallback_from"] = .string(failed.description) }
        if serving.fallback { parameters["fallback"] = .bool(true) }
        if serving.cached { parameters["cached"] = .bool(true) }
        return parameters
    }
}

/// One row of a V1 `{"instances": [...]}` request: either values in schema order or values keyed by feature name.
public enum Instance: Sendable, Equatable {
    case values([FeatureValue])
    case named([String: FeatureValue])
}

/// A scalar feature value as it arrives on the wire; `missing` is JSON `null`.
public enum FeatureValue: Sendable, Equatable {
    case number(Double)
    case bool(Bool)
    case string(String)
    case missing
}

/// A dense batch of rows with a fixed number of columns; NaN marks a missing value.
///
/// Values are kept in double precision as they arrived (an FP32 input is widened exactly), so each runtime can
/// compare in the precision its reference library uses: float32 for XGBoost, float64 for LightGBM.
public struct FeatureMatrix: Sendable, Equatable {
    public let rows: Int
    public let columns: Int
    /// Row-major values, `rows * columns` of them.
    public var values: [Double]
    /// Where a categorical feature was sent a name it does not know (read as missing): `row * columns + column`.
    public var unseen: [Int] = []
    /// The values of text features (`FeatureSpec.isText`): such a feature's value in `values` is its index here
    /// (NaN when missing).
    public var texts: [[UInt8]] = []

    public init(rows: Int, columns: Int, values: [Double]) {
        precondition(values.count == rows * columns, "FeatureMatrix needs rows*columns values")
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    public subscript(row: Int, column: Int) -> Double { values[row * columns + column] }

    /// The text at a text feature's cell, nil when missing.
    public func text(row: Int, column: Int) -> [UInt8]? {
        let v = values[row * columns + column]
        guard v.isFinite, v >= 0, Int(v) < texts.count else { return nil }
        return texts[Int(v)]
    }
}
