import FerryCore
import Foundation

/// Runs XGBoost models saved as JSON or UBJSON (`booster.save_model("model.json" | "model.ubj")`, xgboost ≥ 2.0)
/// natively.
///
/// Supported: `gbtree` and `dart` (per-tree `weight_drop`); numeric splits compared in float32 with `<`; missing
/// values following `default_left`; categorical splits (a category in the node's set goes right); random forests
/// (`num_parallel_tree` > 1); multi-class and multi-output through `tree_info`; multi-target vector leaves; the
/// objectives in `XGBoostObjective`. Everything else (gblinear, other objectives) is refused by `inspect` with a
/// message naming the construct, so a model never gets a wrong answer. All trees are used, as `Booster.predict`
/// does; `best_iteration` is not applied.
public struct XGBoostRuntime: ModelRuntime {
    /// Threads a large batch is split across (batches under `TreeParallelism.minimumRows` use one).
    public let threads: Int

    public init(threads: Int = TreeParallelism.defaultThreads) {
        self.threads = max(1, threads)
    }

    public var format: ModelFormat { .xgboostJSON }

    /// `iterations`: `all` (default, as `Booster.predict`), `best` (up to the early-stopping `best_iteration`, as
    /// the scikit-learn wrapper predicts) or a number of boosting rounds.
    public static let options: Set<String> = ["iterations"]

    public func inspect(_ artifact: Data, options: [String: String]) throws -> ModelDescription {
        try checkOptions(options, known: Self.options)
        return try XGBoostForest(parsing: artifact, iterations: options["iterations"]).description
    }

    public func load(_ artifact: Data, options: [String: String]) async throws -> any Predictor {
        try await loadDescribed(artifact, options: options).predictor
    }

    public func loadDescribed(_ artifact: Data, options: [String: String]) async throws -> (predictor: any Predictor, description: ModelDescription) {
        try checkOptions(options, known: Self.options)
        var forest = try XGBoostForest(parsing: artifact, iterations: options["iterations"])
        forest.threads = threads
        return (forest, forest.description)
    }

    /// JSON and UBJSON documents both open with `{`.
    public func recognizes(_ artifact: Data) -> Bool {
        artifact.first(where: { ![0x20, 0x0A, 0x0D, 0x09].contains($0) }) == UInt8(ascii: "{")
    }
}

/// The objectives whose output transform Ferry implements, with XGBoost's `ProbToMargin` and `PredTransform`.
enum XGBoostObjective: String, CaseIterable {
    case binaryLogistic = "binary:logistic"
    case binaryLogitraw = "binary:logitraw"
    case binaryHinge = "binary:hinge"
    case regLogistic = "reg:logistic"
    case regSquaredError = "reg:squarederror"
    case regSquaredLogError = "reg:squaredlogerror"
    case regAbsoluteError = "reg:absoluteerror"
    case regPseudoHuberError = "reg:pseudohubererror"
    case regQuantileError = "reg:quantileerror"
    case regGamma = "reg:gamma"
    case regTweedie = "reg:tweedie"
    case countPoisson = "count:poisson"
    case survivalCox = "survival:cox"
    case survivalAFT = "survival:aft"
    case multiSoftprob = "multi:softprob"
    case multiSoftmax = "multi:softmax"
    case rankPairwise = "rank:pairwise"
    case rankNDCG = "rank:ndcg"
    case rankMAP = "rank:map"

    enum Transform { case identity, sigmoid, exp, hinge, softmax, argmax }

    var transform: Transform {
        switch self {
        case .binaryLogistic, .regLogistic: .sigmoid
        case .binaryHinge: .hinge
        case .regGamma, .regTweedie, .countPoisson, .survivalCox, .survivalAFT: .exp
        case .multiSoftprob: .softmax
        case .multiSoftmax: .argmax
        default: .identity
        }
    }

    /// XGBoost's `ProbToMargin` for `base_score` (float arithmetic, as in the library).
    func margin(fromBaseScore b: Float) -> Float {
        switch self {
        case .binaryLogistic, .regLogistic: -logf(1.0 / b - 1.0)
        case .countPoisson, .regGamma, .regTweedie, .survivalCox, .survivalAFT: logf(b)
        default: b
        }
    }

    var isMulticlass: Bool { self == .multiSoftprob || self == .multiSoftmax }

    var meaning: String {
        switch transform {
        case .sigmoid: "probability of the positive class"
        case .hinge: "predicted class (0 or 1)"
        case .exp: self == .survivalCox ? "hazard ratio" : self == .survivalAFT ? "predicted survival time" : "predicted mean"
        case .softmax: "probability of each class"
        case .argmax: "predicted class index"
        case .identity:
            self == .binaryLogitraw ? "raw margin (log-odds)" : rawValue.hasPrefix("rank:") ? "ranking score" : "predicted value"
        }
    }
}
