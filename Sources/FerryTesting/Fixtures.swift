import FerryCore
import Foundation

/// Builders for domain values used across tests.
public enum Fixtures {
    /// A fixed instant with whole milliseconds, so it survives every store's timestamp precision.
    public static let time = Date(timeIntervalSince1970: 1_790_000_000)

    public static func model(_ name: String, description: String = "", tags: [String: String] = [:]) -> Model {
        Model(name: name, description: description, tags: tags, createdBy: "tester", createdAt: time)
    }

    public static func version(_ model: String, digest: String = "aa") -> ModelVersion {
        ModelVersion(
            model: model, format: .xgboostJSON, artifact: ArtifactRef(sha256: digest, size: 42),
            inputSchema: InputSchema(features: [FeatureSpec(name: "x"), FeatureSpec(name: "y", nullable: false)]),
            outputSchema: OutputSchema(outputs: [OutputSpec(name: "predict", datatype: .fp32, shape: [])]),
            description: "v", params: ["eta": .number(0.1), "note": .string("n")], metrics: ["auc": 0.9],
            lineage: Lineage(trainingData: "s3://d", trainingDataDigest: "sha256:1", code: "git:abc"),
            details: ["objective": .string("binary:logistic")], runtimeOptions: ["iterations": "best"],
            createdBy: "tester", createdAt: time,
            signature: ModelSignature(
                keyID: "release", sha256: digest, format: "xgboost-json", model: model, signedAt: "2026-01-01T00:00:00Z",
                signature: "c2lnbmF0dXJl"),
            features: [FeatureRef(view: "card_stats", feature: "y")])
    }
}
