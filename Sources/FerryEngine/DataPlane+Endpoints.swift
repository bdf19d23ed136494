import FerryCore
import Foundation

extension DataPlane {
    /// Response parameter (V2) and header naming the model version that answered an endpoint request.
    public static let servedByParameter = "served_by"
    /// Response parameter set when the chosen variant failed and the endpoint's primary version answered instead.
    public static let fallbackFromParameter = "fallback_from"

    /// Routes one request through an endpoint: picks a variant (sticky when a routing key is given), runs it,
    /// and when a variant other than the primary fails, answers from the primary instead, so a failing canary
    /// never fails a caller. Counts every attempt for the rollout gates and mirrors V2 requests to shadows.
    func routed<Result: Sendable>(
        _ endpoint: Endpoint, _ endpoints: Endpoints, _ routingKey: String?, mirror: InferenceRequest?,
        _ run: @Sendable (Endpoint.Variant) async throws -> (Result, [Double]),
        mark: (inout Result, Endpoint.Variant, VersionRef?) -> Void
    ) async throws -> Result {
        let chosen = endpoint.variant(at: routingKey.map { Endpoint.point(forKey: $0) } ?? Double.random(in: 0..<1))
        let primary = endpoints.primary(of: endpoint)
        let start = ContinuousClock.now
        var answered = chosen
        var fallback: VersionRef?
        var result: Result
        var outputs: [Double]
        do {
            (result, outputs) = try await run(chosen)
            endpoints.record(endpoint: endpoint.name, version: chosen.ref, seconds: Self.elapsed(start), failed: false, outputs: outputs)
        } catch {
            endpoints.record(endpoint: endpoint.name, version: chosen.ref, seconds: Self.elapsed(start), failed: true, outputs: [])
            guard chosen.ref != primary.ref else { throw error }
            let retry = ContinuousClock.now
            do {
                (result, outputs) = try await run(primary)
            } catch {
                endpoints.record(endpoint: endpoint.name, version: primary.ref, seconds: Self.elapsed(retry), failed: true, outputs: [])
                throw error
            }
            endpoints.record(endpoint: endpoint.name, version: primary.ref, seconds: Self.elapsed(retry), failed: false, outputs: outputs)
            answered = primary
            fallback = chosen.ref
        }
        mark(&result, answered, fallback)
        if let mirror, !endpoint.shadows.isEmpty {
            shadow(endpoint, mirror, primaryOutputs: outputs, primarySeconds: Self.elapsed(start), endpoints.shadows)
        }
        return result
    }

    /// Sends a copy of the request to each shadow (by its share) off the caller's path and records how it compares.
    private func shadow(
        _ endpoint: Endpoint, _ request: InferenceRequest, primaryOutputs: [Double], primarySeconds: Double, _ recorder: ShadowRecorder
    ) {
        for shadow in endpoint.shadows where Double.random(in: 0..<1) < shadow.share {
            let key = ShadowRecorder.Key(endpoint: endpoint.name, shadow: shadow.ref)
            guard recorder.begin(key) else { continue }
            Task {
                defer { recorder.end() }
                let start = ContinuousClock.now
                do {
                    let response = try await self.infer(model: shadow.model, version: String(shadow.version), request: request)
                    recorder.record(
                        key, primary: primaryOutputs, shadow: Self.firstOutput(response.outputs), primarySeconds: primarySeconds,
                        shadowSeconds: Self.elapsed(start))
                } catch {
                    recorder.recordError(key)
                }
            }
        }
    }

    /// The first output tensor's values as numbers (one per row for scalar outputs).
    static func firstOutput(_ outputs: [Tensor]) -> [Double] {
        switch outputs.first?.data {
        case .float32(let v)?: v.map(Double.init)
        case .float64(let v)?: v
        default: []
        }
    }

    static func elapsed(_ start: ContinuousClock.Instant) -> Double { ModelManager.seconds(ContinuousClock.now - start) }
}
