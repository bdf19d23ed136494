import FerryCore
import Foundation

extension ModelFormat {
    /// LightGBM's text model (`booster.save_model("model.txt")`).
    public static let lightgbmText = ModelFormat(rawValue: "lightgbm-text")
}

/// Runs LightGBM text models natively, in double precision as LightGBM does.
///
/// Supported: numeric splits (`x <= threshold` on doubles) with LightGBM's three missing-value types, categorical
/// bitset splits, multi-class (`num_tree_per_iteration`), random-forest averaging (`average_output`), linear trees,
/// and the objectives in `LightGBMObjective`. Anything else is refused at registration, naming what and where.
public struct LightGBMRuntime: ModelRuntime {
    /// Threads a large batch is split across (batches under `TreeParallelism.minimumRows` use one).
    public let threads: Int

    public init(threads: Int = TreeParallelism.defaultThreads) {
        self.threads = max(1, threads)
    }

    public var format: ModelFormat { .lightgbmText }

    public func inspect(_ artifact: Data, options: [String: String]) throws -> ModelDescription {
        try checkOptions(options, known: [])
        return try LightGBMModel(parsing: artifact).description
    }

    public func load(_ artifact: Data, options: [String: String]) async throws -> any Predictor {
        try await loadDescribed(artifact, options: options).predictor
    }

    public func loadDescribed(_ artifact: Data, options: [String: String]) async throws -> (predictor: any Predictor, description: ModelDescription) {
        try checkOptions(options, known: [])
        var model = try LightGBMModel(parsing: artifact)
        model.threads = threads
        return (model, model.description)
    }

    /// LightGBM text models open with the line `tree`.
    public func recognizes(_ artifact: Data) -> Bool {
        artifact.starts(with: Array("tree\n".utf8)) || artifact.starts(with: Array("tree\r\n".utf8))
    }
}

/// LightGBM objectives and their output transforms (`ObjectiveFunction::ConvertOutput`).
struct LightGBMObjective {
    enum Transform: Equatable {
        case identity
        case sigmoid(Double)
        case softmax
        case ovaSigmoid(Double)
        case exp
        case square
        case log1pExp
    }

    var name: String
    var transform: Transform
    var numClass: Int

    static let identityObjectives: Set<String> = [
        "regression", "regression_l2", "l2", "mean_squared_error", "mse", "regression_l1", "l1",
        "mean_absolute_error", "mae", "huber", "fair", "quantile", "mape", "lambdarank", "rank_xendcg", "custom",
    ]

    /// Parses the `objective=` header line, e.g. `binary sigmoid:1`, `multiclass num_class:3`, `regression sqrt`.
    init(line: String) throws {
        let parts = line.split(separator: " ").map(String.init)
        guard let first = parts.first else { throw FerryError.invalid("not a valid LightGBM model: empty objective line") }
        name = first
        var params: [String: String] = [:]
        var flags: Set<String> = []
        for p in parts.dropFirst() {
            if let colon = p.firstIndex(of: ":") {
                params[String(p[..<colon])] = String(p[p.index(after: colon)...])
            } else {
                flags.insert(p)
            }
        }
        numClass = Int(params["num_class"] ?? "1") ?? 1
        let sigmoid = Double(params["sigmoid"] ?? "1") ?? 1
        switch first {
        case "binary": transform = .sigmoid(sigmoid)
        case "multiclass", "softmax": transform = .softmax
        case "multiclassova", "multiclass_ova", "ova", "ovr": transform = .ovaSigmoid(sigmoid)
        case "cross_entropy", "xentropy": transform = .sigmoid(1)
        case "cross_entropy_lambda", "xentlambda": transform = .log1pExp
        case "poisson", "gamma", "tweedie": transform = .exp
        case let other where Self.identityObjectives.contains(other):
            transform = flags.contains("sqrt") ? .square : .identity
        default:
            throw FerryError(.unsupported, "LightGBM objective '\(first)' is not supported by Ferry's LightGBM runtime yet")
        }
    }

    var meaning: String {
        switch transform {
        case .sigmoid: name == "binary" ? "probability of the positive class" : "predicted probability"
        case .softmax, .ovaSigmoid: "probability of each class"
        case .exp: "predicted mean"
        case .identity, .square, .log1pExp: name.hasPrefix("lambdarank") || name == "rank_xendcg" ? "ranking score" : "predicted value"
        }
    }
}
