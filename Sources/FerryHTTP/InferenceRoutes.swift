import FerryCore
import FerryEngine
import Foundation
import HTTPTypes
import Hummingbird

extension HTTPField.Name {
    /// Triton's binary tensor extension: length of the JSON header at the start of the body.
    static let inferenceHeaderContentLength = Self("Inference-Header-Content-Length")!
    /// The model version that answered a request.
    static let ferryModelVersion = Self("Ferry-Model-Version")!
    /// The id under which a prediction was logged; feedback refers to it.
    static let ferryPredictionID = Self("Ferry-Prediction-Id")!
    /// The model version (`model/version`) that answered a request to an endpoint.
    static let ferryServedBy = Self("Ferry-Served-By")!
    /// Set on an endpoint's answer when its declared fallback gave it.
    static let ferryFallback = Self("Ferry-Fallback")!
    /// The caller's deadline in milliseconds.
    static let ferryTimeoutMs = Self("Ferry-Timeout-Ms")!
}

/// Open Inference Protocol (V2) and V1 `:predict` routes over the `DataPlane`.
struct InferenceRoutes<Context: RequestContext> {
    let dataPlane: DataPlane
    let maxBodyBytes: Int
    /// Counts each answered request's CPU time per version and principal (named by `principal`).
    var cost: CostMeter? = nil
    var principal: @Sendable (Context) -> String = { _ in Principal.anonymous.id }

    func add(to router: Router<Context>) {
        router.get("/v2/health/live") { _, _ in jsonResponse(Array(#"{"live":true}"#.utf8)) }
        router.get("/v2/health/ready") { _, _ in
            dataPlane.ready
                ? jsonResponse(Array(#"{"ready":true}"#.utf8))
                : jsonResponse(Array(#"{"ready":false}"#.utf8), status: .serviceUnavailable)
        }
        router.get("/v2") { _, _ in
            let meta = dataPlane.serverMetadata
            var w = JSONWriter()
            w.raw("{\"name\":"); w.string(meta.name)
            w.raw(",\"version\":"); w.string(meta.version)
            w.raw(",\"extensions\":"); w.value(.array(meta.extensions.map { .string($0) }))
            w.raw("}")
            return jsonResponse(w.bytes)
        }
        for versioned in [false, true] {
            let base = versioned ? "/v2/models/{name}/versions/{version}" : "/v2/models/{name}"
            router.get(RouterPath(base)) { _, context in
                try await modelMetadata(context)
            }
            router.get(RouterPath(base + "/ready")) { _, context in
                let name = try context.parameters.require("name")
                let ready = try await dataPlane.modelReady(model: name, version: context.parameters.get("version"))
                var w = JSONWriter()
                w.raw("{\"name\":"); w.string(name)
                w.raw(",\"ready\":"); w.bool(ready)
                w.raw("}")
                return jsonResponse(w.bytes, status: ready ? .ok : .serviceUnavailable)
            }
            router.post(RouterPath(base + "/infer")) { request, context in
                try await infer(request, context)
            }
            let v1 = versioned ? "/v1/models/{name}/versions/{version}:predict" : "/v1/models/{name}:predict"
            router.post(RouterPath(v1)) { request, context in
                try await predictV1(request, context)
            }
            let explain = versioned ? "/v1/models/{name}/versions/{version}:explain" : "/v1/models/{name}:explain"
            router.post(RouterPath(explain)) { request, context in
                try await explainV1(request, context)
            }
        }
    }

    private func modelMetadata(_ context: Context) async throws -> Response {
        let meta = try await dataPlane.modelMetadata(
            model: try context.parameters.require("name"), version: context.parameters.get("version"))
        func tensors(_ list: [ModelMetadata.TensorMetadata]) -> JSONValue {
            .array(list.map { t in
                .object(["name": .string(t.name), "datatype": .string(t.datatype.rawValue),
                         "shape": .array(t.shape.map { .number(Double($0)) })])
            })
        }
        let body: JSONValue = .object([
            "name": .string(meta.name),
            "versions": .array(meta.versions.map { .string($0) }),
            "platform": .string(meta.platform),
            "inputs": tensors(meta.inputs),
            "outputs": tensors(meta.outputs),
            "parameters": .object([
                "version": .string(String(meta.resolvedVersion)),
                "features": .array(meta.features.map { .string($0.name) }),
            ]),
        ])
        var w = JSONWriter()
        w.value(body)
        return jsonResponse(w.bytes)
    }

    private func infer(_ request: Request, _ context: Context) async throws -> Response {
        let started = CostMeter.start()
        let name = try context.parameters.require("name")
        let version = context.parameters.get("version")
        let body = try await request.body.collect(upTo: maxBodyBytes)
        var jsonLength: Int?
        if let header = request.headers[.inferenceHeaderContentLength] {
            guard let n = Int(header) else {
                throw FerryError.invalid("Inference-Header-Content-Length '\(header)' is not a number")
            }
            jsonLength = n
        }
        if let encoding = request.headers[.contentEncoding], encoding != "identity" {
            throw FerryError.invalid("Content-Encoding '\(encoding)' is not supported; send the body uncompressed")
        }
        let inferenceRequest = try body.withUnsafeReadableBytes { try V2Codec.decodeRequest($0, jsonLength: jsonLength) }
        let response = try await dataPlane.infer(
            model: name, version: version, request: inferenceRequest,
            options: try options(request, parameter: inferenceRequest.parameters["timeout_ms"]))
        Self.recordCost(cost, response, model: name, principal: principal(context), since: started)
        let (headers, bytes) = Self.answer(response, to: inferenceRequest)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// The headers and body answering a V2 inference request (JSON, or binary tensors when the request asked so).
    static func answer(_ response: InferenceResponse, to request: InferenceRequest) -> (HTTPFields, [UInt8]) {
        let (bytes, headerLength) = V2Codec.encodeResponse(response, request: request)
        var headers = HTTPFields()
        headers.reserveCapacity(4)
        if let v = response.modelVersion { headers[.ferryModelVersion] = v }
        if let servedBy = response.serving.servedBy { headers[.ferryServedBy] = servedBy.description }
        if response.serving.fallback { headers[.ferryFallback] = "true" }
        if let id = response.serving.predictionID { headers[.ferryPredictionID] = id }
        if let headerLength {
            headers[.inferenceHeaderContentLength] = String(headerLength)
            headers[.contentType] = "application/octet-stream"
        } else {
            headers[.contentType] = "application/json"
        }
        return (headers, bytes)
    }

    /// Counts an answered V2 request's CPU time against the version that answered and the caller.
    static func recordCost(_ cost: CostMeter?, _ response: InferenceResponse, model name: String, principal: @autoclosure () -> String, since started: CostMeter.Start) {
        guard let cost, let answered = response.serving.servedBy ?? response.modelVersion.flatMap({ Int($0) }).map({ VersionRef(model: name, version: $0) })
        else { return }
        cost.record(
            model: answered.model, version: answered.version, principal: principal(),
            predictions: response.outputs.first?.shape.first ?? 0, since: started)
    }

    private func predictV1(_ request: Request, _ context: Context) async throws -> Response {
        let started = CostMeter.start()
        let name = try context.parameters.require("name")
        let body = try await request.body.collect(upTo: maxBodyBytes)
        let instances = try body.withUnsafeReadableBytes { try V1Codec.decodeInstances($0) }
        let version = context.parameters.get("version")
        let result = try await dataPlane.predict(
            model: name, version: version, instances: instances, options: try options(request, parameter: nil))
        var w = JSONWriter()
        w.raw("{\"predictions\":")
        w.value(.array(result.predictions))
        var headers: HTTPFields = [:]
        if let version = result.version {
            w.raw(",\"model_version\":")
            w.string(String(version))
            headers[.ferryModelVersion] = String(version)
        }
        if result.serving.fallback {
            w.raw(",\"fallback\":true")
            headers[.ferryFallback] = "true"
        }
        if let servedBy = result.serving.servedBy {
            w.raw(",\"served_by\":")
            w.string(servedBy.description)
            headers[.ferryServedBy] = servedBy.description
        }
        if let predictionID = result.serving.predictionID {
            w.raw(",\"prediction_id\":")
            w.string(predictionID)
            headers[.ferryPredictionID] = predictionID
        }
        w.raw("}")
        if let cost, let answered = result.serving.servedBy ?? result.version.map({ VersionRef(model: name, version: $0) }) {
            cost.record(model: answered.model, version: answered.version, principal: principal(context), predictions: result.predictions.count, since: started)
        }
        return jsonResponse(w.bytes, headers: headers)
    }
}

extension InferenceRoutes {
    /// The request's headers (an endpoint reads its sticky header) and deadline (`Ferry-Timeout-Ms` header, or the
    /// V2 `timeout_ms` parameter; 0 means none).
    private func options(_ request: Request, parameter: ParameterValue?) throws -> CallOptions {
        let headers = request.headers
        var options = CallOptions(header: { name in HTTPField.Name(name).flatMap { headers[$0] } })
        if let text = request.headers[.ferryTimeoutMs] {
            guard let ms = Double(text), ms >= 0, ms <= 3_600_000 else {
                throw FerryError.invalid("header Ferry-Timeout-Ms '\(text)' must be a number of milliseconds between 0 and 3600000")
            }
            options.timeout = ms / 1000
        } else if let parameter {
            guard let ms = parameter.doubleValue, ms >= 0, ms <= 3_600_000 else {
                throw FerryError.invalid("parameter 'timeout_ms' must be a number of milliseconds between 0 and 3600000")
            }
            options.timeout = ms / 1000
        }
        return options
    }

    private func explainV1(_ request: Request, _ context: Context) async throws -> Response {
        let name = try context.parameters.require("name")
        let body = try await request.body.collect(upTo: maxBodyBytes)
        let instances = try body.withUnsafeReadableBytes { try V1Codec.decodeInstances($0) }
        let (version, explanations) = try await dataPlane.explain(
            model: name, version: context.parameters.get("version"), instances: instances)
        var w = JSONWriter()
        w.raw("{\"explanations\":")
        w.value(.array(explanations))
        w.raw(",\"model_version\":")
        w.string(String(version))
        w.raw("}")
        return jsonResponse(w.bytes, headers: [.ferryModelVersion: String(version)])
    }
}

/// V1 / TF-Serving style `{"instances": [...]}` bodies.
enum V1Codec {
    static func decodeInstances(_ body: UnsafeRawBufferPointer) throws -> [Instance] {
        guard body.count > 0 else { throw FerryError.invalid("request body is empty; send {\"instances\": [...]}") }
        var reader = JSONReader(body)
        var instances: [Instance]?
        try reader.object(at: "request") { r, key in
            switch key {
            case "instances":
                var rows: [Instance] = []
                try r.array(at: "instances") { r, i in rows.append(try instance(&r, at: "instances[\(i)]")) }
                instances = rows
            default:
                try r.skipValue(at: key)
            }
        }
        try reader.finish()
        guard let instances else { throw FerryError.invalid("request has no 'instances' list") }
        return instances
    }

    private static func instance(_ r: inout JSONReader, at field: @autoclosure () -> String) throws -> Instance {
        switch r.peek() {
        case UInt8(ascii: "["):
            var values: [FeatureValue] = []
            try r.array(at: field()) { r, i in values.append(try scalar(&r, at: "\(field())[\(i)]")) }
            return .values(values)
        case UInt8(ascii: "{"):
            var named: [String: FeatureValue] = [:]
            try r.object(at: field()) { r, key in named[key] = try scalar(&r, at: "\(field()).\(key)") }
            return .named(named)
        default:
            return .values([try scalar(&r, at: field())])
        }
    }

    private static func scalar(_ r: inout JSONReader, at field: @autoclosure () -> String) throws -> FeatureValue {
        switch r.peek() {
        case UInt8(ascii: "\""): return .string(try r.string(at: field()))
        case UInt8(ascii: "-"), UInt8(ascii: "N"), UInt8(ascii: "I"), .some(0x30...0x39): return .number(try r.number(at: field()))
        default:
            switch r.literal() {
            case .some(.some(let b)): return .bool(b)
            case .some(.none): return .missing
            case .none: throw r.fail("a number, string, boolean or null", at: field())
            }
        }
    }
}
