import FerryCore
import Foundation
import Synchronization

/// How a caller wants a request handled beyond its body.
public struct CallOptions: Sendable {
    /// Reads a request header (HTTP) or metadata entry (gRPC) by name. An endpoint with a sticky header pins each
    /// caller to one variant by that header's value; it is read only then.
    public var header: @Sendable (String) -> String?
    /// Seconds the caller waits at most; 0 waits without a deadline; nil uses the endpoint's `timeout_ms`, else none.
    public var timeout: Double?

    public init(header: @escaping @Sendable (String) -> String? = { _ in nil }, timeout: Double? = nil) {
        self.header = header
        self.timeout = timeout
    }
}

/// A V1 prediction: the version that answered (nil for an endpoint's static fallback), one value per instance.
public struct Prediction: Sendable {
    public var version: Int?
    public var predictions: [JSONValue]
    public var serving: Serving

    public init(version: Int?, predictions: [JSONValue], predictionID: String?) {
        self.version = version
        self.predictions = predictions
        self.serving = Serving(predictionID: predictionID)
    }
}

extension DataPlane {

    /// Routes one request through an endpoint:
    /// 1. picks a variant (sticky when a routing key is given) and answers from the endpoint's cache when it can;
    /// 2. runs it under the deadline; if it fails and is not the primary, the primary answers instead, so a
    ///    failing canary never fails a caller;
    /// 3. if that fails too (breaker open, timeout, errors), the endpoint's declared fallback answers, marked so;
    /// 4. counts every attempt for the rollout gates and mirrors V2 requests to shadows.
    func routed<Result: Sendable>(
        _ endpoint: Endpoint, _ endpoints: Endpoints, _ options: CallOptions, mirror: InferenceRequest?,
        cacheKey: @autoclosure () -> [UInt8]?,
        _ run: @escaping @Sendable (Endpoint.Variant) async throws -> (Result, [Double]),
        constant: @Sendable (Double, OutputSpec?) -> Result,
        mark: (inout Result, Serving) -> Void
    ) async throws -> Result {
        let routingKey = endpoint.stickyHeader.flatMap(options.header)
        let chosen = endpoint.variant(at: routingKey.map { Endpoint.point(forKey: $0) } ?? Double.random(in: 0..<1))
        let primary = endpoints.primary(of: endpoint)
        // The key (a canonical copy of the inputs) is built only for an endpoint that caches.
        let cache = endpoints.cache(for: endpoint)
        let cacheKey = cache == nil ? nil : cacheKey()
        if let cache, let cacheKey, let hit = cache.get(PredictionCache.Key(version: chosen.ref, request: cacheKey)) as? Result {
            var result = hit
            var serving = Serving()
            serving.servedBy = chosen.ref
            serving.cached = true
            mark(&result, serving)
            return result
        }
        let start = ContinuousClock.now
        // A caller's timeout of 0 means no deadline, even where the endpoint sets one.
        let seconds = options.timeout ?? endpoint.timeoutMs.map { Double($0) / 1000 }
        let deadline = seconds.flatMap { $0 > 0 ? start + .milliseconds(Int64($0 * 1000)) : nil }
        func attempt(_ variant: Endpoint.Variant) async throws -> (Result, [Double]) {
            let begin = ContinuousClock.now
            do {
                let remaining = deadline.map { max(0, Self.seconds($0 - begin)) }
                let outcome = try await Self.withDeadline(remaining) { try await run(variant) }
                endpoints.record(endpoint: endpoint.name, version: variant.ref, seconds: Self.elapsed(begin), failed: false, outputs: outcome.1)
                return outcome
            } catch {
                endpoints.record(endpoint: endpoint.name, version: variant.ref, seconds: Self.elapsed(begin), failed: true, outputs: [])
                throw error
            }
        }
        var answered = Serving()
        answered.servedBy = chosen.ref
        var result: Result
        var outputs: [Double]
        do {
            do {
                (result, outputs) = try await attempt(chosen)
            } catch where chosen.ref != primary.ref && !Self.isClientError(error) {
                (result, outputs) = try await attempt(primary)
                answered.servedBy = primary.ref
                answered.fallbackFrom = chosen.ref
            }
            if let cache, let cacheKey, let response = result as? InferenceResponse {
                cache.put(PredictionCache.Key(version: answered.servedBy!, request: cacheKey), response)
            }
        } catch where endpoint.fallback != nil && !Self.isClientError(error) {
            let fallback = endpoint.fallback!
            if let ref = fallback.ref {
                (result, outputs) = try await run(Endpoint.Variant(model: ref.model, version: ref.version, weight: 0))
                answered.servedBy = ref
                answered.fallbackFrom = chosen.ref
                answered.fallback = true
            } else {
                // Named and typed as the primary version's scores output, as its metadata says.
                result = constant(fallback.value ?? 0, (try? await models.store.version(model: primary.model, number: primary.version))?.outputSchema.scores)
                outputs = []
                answered.servedBy = nil
                answered.fallbackFrom = chosen.ref
                answered.fallback = true
            }
        }
        mark(&result, answered)
        if let mirror, !endpoint.shadows.isEmpty, !answered.fallback {
            shadow(endpoint, mirror, primaryOutputs: outputs, primarySeconds: Self.elapsed(start), endpoints.shadows)
        }
        return result
    }

    /// Errors the caller caused (bad input, unknown names): another version would not do better.
    static func isClientError(_ error: any Error) -> Bool {
        guard let error = error as? FerryError else { return false }
        return [.invalidArgument, .tooLarge, .unsupported, .unauthenticated, .permissionDenied].contains(error.code)
    }

    /// Runs `work` and answers with a `.deadlineExceeded` error if it takes longer than `seconds` (nil: no limit).
    /// The work goes on in the background when the deadline passes (inference cannot be interrupted); the caller
    /// gets its answer at once. Work that finishes after the deadline (when busy threads kept the timer from
    /// firing) is answered with the same error: the caller's deadline decides, not the scheduler.
    static func withDeadline<T: Sendable>(_ seconds: Double?, _ work: @escaping @Sendable () async throws -> T) async throws -> T {
        guard let seconds else { return try await work() }
        guard seconds > 0 else { throw Self.deadlineError(seconds) }
        let answered = Mutex(false)
        let claim: @Sendable () -> Bool = { answered.withLock { done in defer { done = true }; return !done } }
        let deadline = ContinuousClock.now + .milliseconds(Int64((seconds * 1000).rounded(.up)))
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let timer = Task {
                try? await Task.sleep(for: .milliseconds(Int64((seconds * 1000).rounded(.up))))
                if !Task.isCancelled, claim() { continuation.resume(throwing: Self.deadlineError(seconds)) }
            }
            Task {
                do {
                    let value = try await work()
                    timer.cancel()
                    guard claim() else { return }
                    if ContinuousClock.now > deadline {
                        continuation.resume(throwing: Self.deadlineError(seconds))
                    } else {
                        continuation.resume(returning: value)
                    }
                } catch {
                    timer.cancel()
                    if claim() { continuation.resume(throwing: error) }
                }
            }
        }
    }

    static func deadlineError(_ seconds: Double) -> FerryError {
        FerryError(.deadlineExceeded, "no answer within the request's deadline of \(Int((seconds * 1000).rounded())) ms")
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

    /// The score output's values as numbers (one per row for scalar outputs).
    static func firstOutput(_ outputs: [Tensor]) -> [Double] {
        switch outputs.scores?.data {
        case .float32(let v)?: v.map(Double.init)
        case .float64(let v)?: v
        default: []
        }
    }

    static func seconds(_ d: Duration) -> Double { ModelManager.seconds(d) }
    static func elapsed(_ start: ContinuousClock.Instant) -> Double { ModelManager.seconds(ContinuousClock.now - start) }
}
