import FerryCore

/// The part of an ONNX graph that explanations read: its one tree ensemble, when it reads the graph's one input
/// directly (or through Cast and Identity), so its columns are the version's features, and sums or averages its
/// trees. Contributions are to the ensemble's raw score per output group: the target's score plus its base value,
/// before any post transform (the log-odds of a binary classifier with one weighted class, each class's score of a
/// multi-class one, the prediction of a regressor).
struct ExplainableTrees: Sendable {
    let forest: ONNXTreeEnsemble
    /// The targets explained, in output group order, and each one's base value.
    let targets: [Int]
    let base: [Double]
    let singlePrecision: Bool

    /// The graph's explainable ensemble, or why it has none.
    static func find(in graph: ONNXModelFile.Graph, inputs: [ONNXModel.Input]) -> Result<ExplainableTrees, FerryError> {
        func refuse(_ why: String) -> Result<ExplainableTrees, FerryError> {
            .failure(FerryError(.unsupported, "this ONNX model cannot explain its predictions: \(why)"))
        }
        let ensembles = graph.nodes.filter { ["TreeEnsembleRegressor", "TreeEnsembleClassifier", "TreeEnsemble"].contains($0.opType) }
        guard ensembles.count == 1, let node = ensembles.first else {
            return refuse(ensembles.isEmpty ? "explanations cover tree ensembles, and the graph has none" : "the graph has \(ensembles.count) tree ensembles")
        }
        guard inputs.count == 1, let input = inputs.first, input.element == .float || input.element == .double || input.element == .int64 else {
            return refuse("its tree ensemble must read the graph's one numeric input, and the graph has \(inputs.count) inputs")
        }
        // Back from the ensemble's input to the graph's, through value-preserving nodes only.
        var name = node.inputs.first ?? ""
        var castTo: Int?
        while name != input.name {
            guard let producer = graph.nodes.first(where: { $0.outputs.contains(name) }), ["Cast", "Identity"].contains(producer.opType),
                  let source = producer.inputs.first
            else {
                return refuse("its tree ensemble reads '\(name)', which the graph computes from its inputs (a transformed feature has no one input to credit)")
            }
            if producer.opType == "Cast", castTo == nil { castTo = ONNXAttributes(node: producer).int("to") }
            name = source
        }
        let a = ONNXAttributes(node: node)
        do {
            let forest: ONNXTreeEnsemble
            var base = try ONNXOperators.baseValues(a)
            switch node.opType {
            case "TreeEnsembleRegressor":
                forest = try ONNXTreeEnsemble(legacy: a, weightPrefix: "target", targets: a.int("n_targets", default: 1), aggregate: try ONNXOperators.aggregate(a))
            case "TreeEnsembleClassifier":
                forest = try ONNXTreeEnsemble(legacy: a, weightPrefix: "class", targets: ONNXOperators.ClassLabels(a).count, aggregate: .sum)
            default:
                forest = try ONNXTreeEnsemble(opset5: a)
                base = []
            }
            guard forest.aggregate == .sum || forest.aggregate == .average else {
                return refuse("its trees are combined by their minimum or maximum, which no sum of contributions gives")
            }
            let weighted = Set(forest.weights.map { Int($0.target) })
            let targets: [Int]
            if node.opType == "TreeEnsembleClassifier" && forest.targets == 2 && weighted.count == 1 {
                // One weighted class: onnxruntime scores it (plus the one base value) as the positive class's margin.
                guard base.count <= 1 else { return refuse("its two-class ensemble has two base values with one weighted class") }
                targets = [weighted.first!]
                base = [base.first ?? 0]
            } else {
                guard base.isEmpty || base.count == forest.targets else { return refuse("it has \(base.count) base values for \(forest.targets) targets") }
                targets = Array(0..<forest.targets)
                base = base.isEmpty ? [Double](repeating: 0, count: forest.targets) : base
            }
            // Compared as onnxruntime compares: in float32 unless the ensemble reads doubles.
            let double = castTo.map { $0 == 11 } ?? (input.element == .double)
            return .success(ExplainableTrees(forest: forest, targets: targets, base: base, singlePrecision: !double))
        } catch let error as ONNXError {
            return refuse(error.text)
        } catch {
            return refuse("\(error)")
        }
    }

    /// `[rows, groups, features + 1]`: each feature's contribution, then the mean raw score of the background.
    func contributions(_ batch: FeatureMatrix, background: FeatureMatrix) -> (values: [Double], groups: Int) {
        let f = batch.columns
        let rows = (0..<background.rows).map { Array(background.values[($0 * f)..<(($0 + 1) * f)]) }
        var out: [Double] = []
        out.reserveCapacity(batch.rows * targets.count * (f + 1))
        for r in 0..<batch.rows {
            let x = Array(batch.values[(r * f)..<((r + 1) * f)])
            let (values, bias) = forest.interventionalSHAP(x, background: rows, singlePrecision: singlePrecision)
            for (g, t) in targets.enumerated() {
                out.append(contentsOf: values[(t * f)..<((t + 1) * f)])
                out.append(bias[t] + base[g])
            }
        }
        return (out, targets.count)
    }
}

extension ONNXModel: BackgroundExplainer {
    func contributions(_ batch: FeatureMatrix, background: FeatureMatrix) throws -> (values: [Double], groups: Int) {
        let trees = try explainable.get()
        guard batch.columns == featureCount, background.columns == featureCount else {
            throw FerryError.invalid("explanations take rows of \(featureCount) features")
        }
        guard background.rows > 0 else { throw FerryError(.failedPrecondition, "the background sample is empty") }
        return trees.contributions(batch, background: background)
    }
}
