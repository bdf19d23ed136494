import FerryCore
@testable import FerryEngine
import Foundation
import Testing

/// Champion against challenger on held-out logged rows: each version predicts through its own path, a remote one
/// remotely, and logged text reaches a text feature as text.
struct RetrainEvaluationTests {
    /// A remote version scoring each row by its text: 0.9 for "fraud", 0.1 otherwise. Its synchronous path fails,
    /// as a real remote version's does.
    struct RemoteByWord: RemotePredictor {
        var featureCount: Int { 2 }
        var outputSchema: OutputSchema { OutputSchema(outputs: [OutputSpec(name: "score", datatype: .fp64, shape: [])]) }
        func predict(_ batch: FeatureMatrix) throws -> [Tensor] { throw FerryError(.internal, "a remote version predicts asynchronously") }
        func predictRemotely(_ batch: FeatureMatrix) async throws -> [Tensor] {
            let scores = (0..<batch.rows).map { r in batch.text(row: r, column: 1) == Array("fraud".utf8) ? 0.9 : 0.1 }
            return [Tensor(name: "score", datatype: .fp64, shape: [batch.rows], data: .float64(scores))]
        }
    }

    /// A local version that cannot tell the rows apart.
    struct Constant: Predictor {
        var featureCount: Int { 2 }
        var outputSchema: OutputSchema { OutputSchema(outputs: [OutputSpec(name: "score", datatype: .fp64, shape: [])]) }
        func predict(_ batch: FeatureMatrix) throws -> [Tensor] {
            [Tensor(name: "score", datatype: .fp64, shape: [batch.rows], data: .float64(Array(repeating: 0.5, count: batch.rows)))]
        }
    }

    static func served(_ predictor: any Predictor, version: Int) -> ModelManager.Served {
        let schema = InputSchema(features: [FeatureSpec(name: "amount"), FeatureSpec(name: "word", datatype: .bytes, nullable: false)])
        let metadata = ModelVersion(
            model: "m", version: version, format: ModelFormat(rawValue: "test"), artifact: ArtifactRef(sha256: "", size: 0),
            inputSchema: schema, outputSchema: predictor.outputSchema, details: ["task": .string("binary_classification")],
            createdBy: "test", createdAt: Date())
        return ModelManager.Served(
            version: metadata, predictor: predictor, metrics: ServingMetrics().version(model: "m", version: version),
            admission: VersionGuard(label: "m", policy: ServingPolicy()), batcher: nil, loadSeconds: 0)
    }

    @Test func aRemoteChampionPredictsRemotelyAndReadsTheLoggedText() async throws {
        var rows: [LabeledPrediction] = []
        for i in 0..<40 {
            let word: String = i % 2 == 1 ? "fraud" : "fine"
            let inputs: [JSONValue] = [.number(Double(i)), .string(word)]
            rows.append(LabeledPrediction(output: [0], label: Double(i % 2), inputs: inputs))
        }
        let evaluation = try await Retrainer.evaluate(
            champion: Self.served(RemoteByWord(), version: 1), challenger: Self.served(Constant(), version: 2),
            rows: rows, gate: RetrainGate(metric: "roc_auc"))
        #expect(evaluation.champion == 1, "the remote champion separates the rows by their text: \(evaluation)")
        #expect(evaluation.challenger == 0.5)
        #expect(evaluation.championMicrosPerRow.isFinite && evaluation.challengerMicrosPerRow.isFinite)
    }
}
