import FerryCore
import FerryEngine
import Hummingbird
import Logging

/// Limits the HTTP adapter enforces before anything reaches the engine.
public struct HTTPLimits: Sendable {
    /// Largest inference request body (JSON or binary).
    public var maxInferenceBodyBytes: Int
    /// Largest model artifact accepted by registration.
    public var maxArtifactBytes: Int
    /// Largest file a data validation reads (checked as it arrives), and largest entity table of a training set
    /// (written to a temporary file as it arrives).
    public var maxValidationBytes: Int

    public init(maxInferenceBodyBytes: Int = 32 << 20, maxArtifactBytes: Int = 512 << 20, maxValidationBytes: Int = 16 << 30) {
        self.maxInferenceBodyBytes = maxInferenceBodyBytes
        self.maxArtifactBytes = maxArtifactBytes
        self.maxValidationBytes = maxValidationBytes
    }
}

func costMetrics(_ cost: CostMeter?) -> [(name: String, help: String, type: String, value: Double)] {
    guard let cost else { return [] }
    let label = PrometheusExposition.escape
    typealias Sample = (name: String, help: String, type: String, value: Double)
    // One family after another: samples of a family must follow its header together.
    var cpu: [Sample] = [], memory: [Sample] = [], price: [Sample] = []
    for (key, t) in cost.versions() {
        let labels = "model=\"\(label(key.model))\",version=\"\(key.version)\""
        cpu.append(("ferry_cpu_seconds_total{\(labels)}", "CPU time of answered inference requests on the serving path, per version.", "counter", t.cpuSeconds))
        memory.append((
            "ferry_model_memory_byte_seconds_total{\(labels)}", "Model memory held over time while loaded, in byte-seconds (GiB-hours × 2^30 × 3600), per version.",
            "counter", t.gibHours * Double(1 << 30) * 3600))
        if let c = t.costPer1000(cost.prices) {
            price.append(("ferry_cost_per_1000_predictions{\(labels)}", "CPU and memory cost per 1,000 predictions at the configured prices, per version.", "gauge", c))
        }
    }
    var principalCPU: [Sample] = [], principalPredictions: [Sample] = [], principalPrice: [Sample] = []
    for (principal, t) in cost.principals() {
        let labels = "principal=\"\(label(principal))\""
        principalCPU.append(("ferry_principal_cpu_seconds_total{\(labels)}", "CPU time of answered inference requests on the serving path, per principal.", "counter", t.cpuSeconds))
        principalPredictions.append(("ferry_principal_predictions_total{\(labels)}", "Predictions answered, per principal.", "counter", Double(t.predictions)))
        if let c = t.costPer1000(cost.prices) {
            principalPrice.append(("ferry_principal_cost_per_1000_predictions{\(labels)}", "CPU cost per 1,000 predictions at the configured price, per principal.", "gauge", c))
        }
    }
    return cpu + memory + price + principalCPU + principalPredictions + principalPrice
}

func predictionLogMetrics(_ log: PredictionLogger?) -> [(name: String, help: String, type: String, value: Double)] {
    guard let log else { return [] }
    let c = log.counters
    return [
        ("ferry_prediction_log_written_total", "Prediction records written to the log.", "counter", Double(c.written)),
        ("ferry_prediction_log_dropped_total", "Prediction records dropped because the log's queue was full.", "counter", Double(c.dropped)),
        ("ferry_prediction_log_sampled_out_total", "Requests not logged because of the sample rate.", "counter", Double(c.sampledOut)),
        ("ferry_prediction_log_write_failures_total", "Prediction records whose write failed.", "counter", Double(c.writeFailures)),
        ("ferry_prediction_log_queued", "Prediction records waiting to be written.", "gauge", Double(c.queued)),
        ("ferry_prediction_log_batches_total", "Batches of records written to the prediction log.", "counter", Double(c.batches)),
        ("ferry_prediction_log_batch_seconds_total", "Seconds spent writing prediction log batches, in all.", "counter", c.batchSeconds),
    ]
}

func directMetrics(_ direct: DirectInference?) -> [(name: String, help: String, type: String, value: Double)] {
    guard let direct else { return [] }
    return [("ferry_direct_inference_requests_total", "Inference requests and online feature reads answered on the connection's event loop, without the router.", "counter", Double(direct.answered))]
}

func endpointMetrics(_ endpoints: Endpoints?) -> [(name: String, help: String, type: String, value: Double)] {
    guard let endpoints else { return [] }
    let counts = endpoints.cacheCounts
    func label(_ name: String) -> String { "{endpoint=\"\(PrometheusExposition.escape(name))\"}" }
    return counts.map { ("ferry_endpoint_cache_hits_total" + label($0.endpoint), "Answers served from an endpoint's cache.", "counter", Double($0.hits)) }
        + counts.map { ("ferry_endpoint_cache_misses_total" + label($0.endpoint), "Cache lookups that found no fresh answer.", "counter", Double($0.misses)) }
        + counts.map { ("ferry_endpoint_cache_entries" + label($0.endpoint), "Answers held in an endpoint's cache.", "gauge", Double($0.entries)) }
        + counts.map { ("ferry_endpoint_cache_bytes" + label($0.endpoint), "Estimated memory of an endpoint's cached keys and answers.", "gauge", Double($0.bytes)) }
}

func rateLimitMetrics(_ limiter: RateLimiter?) -> [(name: String, help: String, type: String, value: Double)] {
    guard let limiter else { return [] }
    let help = "Requests refused with 429 because a principal exceeded its rate limit."
    let rejections = limiter.rejections.sorted { $0.key < $1.key }
    if rejections.isEmpty { return [("ferry_rate_limited_total", help, "counter", 0)] }
    return rejections.map { ("ferry_rate_limited_total{principal=\"\(PrometheusExposition.escape($0.key))\"}", help, "counter", Double($0.value)) }
}

/// Builds the router of Ferry's HTTP API: inference (V2, V1), the registry API and `/openapi.json`.
///
/// Every route's access rule comes from `OpenAPIDocument.routes`; `access` decides how callers prove who they are.
public func makeRouter(
    dataPlane: DataPlane, registry: Registry, monitor: ModelMonitor? = nil, alerts: AlertManager? = nil, access: AccessControl,
    replica: Replica? = nil, features: FeatureService? = nil, tracking: TrackingService? = nil, retrainer: Retrainer? = nil,
    jobs: BatchScoring? = nil, approvals: Approvals? = nil, validation: DataValidation? = nil, cost: CostMeter? = nil,
    direct: DirectInference? = nil, limits: HTTPLimits = HTTPLimits()
) -> Router<FerryRequestContext> {
    let router = Router(context: FerryRequestContext.self)
    router.add(middleware: RequestLogMiddleware())
    router.add(middleware: ErrorMiddleware())
    router.add(middleware: AccessMiddleware(control: access, routes: OpenAPIDocument.routes + (tracking == nil ? [] : MLflowRoutes.routes)))
    InferenceRoutes(dataPlane: dataPlane, maxBodyBytes: limits.maxInferenceBodyBytes, cost: cost) { ($0.principal ?? .anonymous).id }.add(to: router)
    if let cost { CostRoutes(cost: cost).add(to: router) }
    ControlPlaneRoutes(registry: registry, monitor: monitor, approvals: approvals, validation: validation, maxArtifactBytes: limits.maxArtifactBytes)
        .add(to: router)
    MonitoringRoutes(monitor: monitor, alerts: alerts, maxBodyBytes: limits.maxArtifactBytes).add(to: router)
    AlertRoutes(alerts: alerts).add(to: router)
    EndpointRoutes(endpoints: dataPlane.endpoints, approvals: approvals).add(to: router)
    if let approvals { ApprovalRoutes(approvals: approvals, authentication: access.authenticator != nil || access.jwt != nil).add(to: router) }
    SecurityRoutes(authenticator: access.authenticator, audit: registry.audit).add(to: router)
    if let replica { ClusterRoutes(replica: replica).add(to: router) }
    if let features { FeatureRoutes(features: features, maxBodyBytes: limits.maxArtifactBytes, maxOnlineBodyBytes: limits.maxInferenceBodyBytes, maxEntityFileBytes: limits.maxValidationBytes).add(to: router) }
    if let retrainer { RetrainRoutes(retrainer: retrainer).add(to: router) }
    if let validation {
        ValidationRoutes(validation: validation, maxFileBytes: limits.maxValidationBytes, changed: dataPlane.expectationsChanged).add(to: router)
    }
    if let jobs { JobRoutes(jobs: jobs, maxUploadBytes: limits.maxArtifactBytes).add(to: router) }
    ConsoleRoutes().add(to: router)
    if let tracking { MLflowRoutes(tracking: tracking, registry: registry, approvals: approvals, maxArtifactBytes: limits.maxArtifactBytes).add(to: router) }
    var openAPI = JSONWriter(capacity: 32 << 10)
    openAPI.value(OpenAPIDocument.document(version: dataPlane.serverVersion))
    let document = openAPI.bytes
    router.get("/openapi.json") { _, _ in jsonResponse(document) }
    router.get("/metrics") { _, _ in
        Response(
            status: .ok, headers: [.contentType: PrometheusExposition.contentType],
            body: .init(byteBuffer: ByteBuffer(string: PrometheusExposition.render(
                dataPlane.models.metrics,
                extra: predictionLogMetrics(dataPlane.predictionLog) + rateLimitMetrics(access.rateLimiter) + endpointMetrics(dataPlane.endpoints)
                    + replicaMetrics(replica) + costMetrics(cost) + directMetrics(direct)))))
    }
    return router
}
