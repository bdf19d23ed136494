import FerryCore
import Foundation

/// A runtime for tests whose artifact is a tiny JSON document describing the predictor's behaviour:
/// `{"features": 3, "value": 0.25, "fail": false, "delayMillis": 0}` predicts `value + sum(row)` for each row.
public struct FakeRuntime: ModelRuntime {
    public static let format = ModelFormat(rawValue: "fake")

    public struct Spec: Codable, Sendable {
        public var features: Int
        public var value: Float
        public var fail: Bool
        public var delayMillis: Int
        /// Loads and warms up fine (the warm-up row is all zeros) but fails every real request: a broken canary.
        public var failRequests: Bool
        /// The task reported in the version's details (`binary_classification` makes outputs probabilities).
        public var task: String?
        /// Loading waits this long without holding a thread (a slow artifact store).
        public var loadDelayMillis: Int

        public init(
            features: Int = 3, value: Float = 0, fail: Bool = false, delayMillis: Int = 0, failRequests: Bool = false,
            task: String? = nil, loadDelayMillis: Int = 0
        ) {
            self.loadDelayMillis = loadDelayMillis
            self.task = task
            self.features = features
            self.value = value
            self.fail = fail
            self.delayMillis = delayMillis
            self.failRequests = failRequests
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            features = try c.decode(Int.self, forKey: .features)
            value = try c.decode(Float.self, forKey: .value)
            fail = try c.decodeIfPresent(Bool.self, forKey: .fail) ?? false
            delayMillis = try c.decodeIfPresent(Int.self, forKey: .delayMillis) ?? 0
            failRequests = try c.decodeIfPresent(Bool.self, forKey: .failRequests) ?? false
            task = try c.decodeIfPresent(String.self, forKey: .task)
            loadDelayMillis = try c.decodeIfPresent(Int.self, forKey: .loadDelayMillis) ?? 0
        }

        public var artifact: Data { try! JSONEncoder().encode(self) }
    }

    public init() {}

    public var format: ModelFormat { Self.format }

    public func inspect(_ artifact: Data, options: [String: String]) throws -> ModelDescription {
        let spec = try decode(artifact)
        return ModelDescription(
            inputSchema: InputSchema(features: (0..<spec.features).map { FeatureSpec(name: "x\($0)") }),
            outputSchema: OutputSchema(outputs: [OutputSpec(name: "predict", datatype: .fp32, shape: [])]),
            details: spec.task.map { ["task": .string($0)] } ?? [:])
    }

    public func load(_ artifact: Data, options: [String: String]) async throws -> any Predictor {
        let spec = try decode(artifact)
        if spec.loadDelayMillis > 0 { try await Task.sleep(for: .milliseconds(spec.loadDelayMillis)) }
        return FakePredictor(spec: spec)
    }

    private func decode(_ artifact: Data) throws -> Spec {
        guard let spec = try? JSONDecoder().decode(Spec.self, from: artifact) else {
            throw FerryError.invalid("not a fake model spec")
        }
        return spec
    }
}

/// Predicts `value + sum(row)`; fails every call when `fail` is set; sleeps `delayMillis` per batch.
public struct FakePredictor: Predictor {
    public let spec: FakeRuntime.Spec
    public var featureCount: Int { spec.features }
    public var outputSchema: OutputSchema { OutputSchema(outputs: [OutputSpec(name: "predict", datatype: .fp32, shape: [])]) }

    public func predict(_ batch: FeatureMatrix) throws -> [Tensor] {
        if spec.fail { throw FerryError(.internal, "fake predictor failure") }
        if spec.failRequests, batch.values.contains(where: { $0 != 0 }) { throw FerryError(.internal, "fake predictor failure on a real request") }
        if spec.delayMillis > 0 { usleep(UInt32(spec.delayMillis * 1000)) }
        let values = (0..<batch.rows).map { r in
            (0..<batch.columns).reduce(spec.value) { $0 + (batch[r, $1].isNaN ? 0 : Float(batch[r, $1])) }
        }
        return [Tensor(name: "predict", datatype: .fp32, shape: [batch.rows], data: .float32(values))]
    }
}
