import FerryCore
import FerryEngine
import FerryHTTP
import Foundation
import GRPCCore

/// The Open Inference Protocol's `inference.GRPCInferenceService` over the same data plane as the HTTP API:
/// endpoints and rollouts, validation, deadlines, the breaker, fallbacks, the cache, metrics and the prediction
/// log. Callers authenticate with the `authorization` metadata (an API key or a JWT) under the HTTP API's rules
/// and rate limits; errors are gRPC statuses carrying the messages the HTTP API gives.
package struct InferenceService: Inference_GRPCInferenceService.ServiceProtocol {
    let dataPlane: DataPlane
    let access: AccessControl
    /// Counts each answered ModelInfer's CPU time per version and principal, as the REST routes do.
    let cost: CostMeter?

    package init(dataPlane: DataPlane, access: AccessControl, cost: CostMeter? = nil) {
        self.dataPlane = dataPlane
        self.access = access
        self.cost = cost
    }

    // MARK: Health and metadata

    package func serverLive(
        request: ServerRequest<Inference_ServerLiveRequest>, context: ServerContext
    ) async throws -> ServerResponse<Inference_ServerLiveResponse> {
        var answer = Inference_ServerLiveResponse()
        answer.live = dataPlane.live
        return ServerResponse(message: answer)
    }

    package func serverReady(
        request: ServerRequest<Inference_ServerReadyRequest>, context: ServerContext
    ) async throws -> ServerResponse<Inference_ServerReadyResponse> {
        var answer = Inference_ServerReadyResponse()
        answer.ready = dataPlane.ready
        return ServerResponse(message: answer)
    }

    package func modelReady(
        request: ServerRequest<Inference_ModelReadyRequest>, context: ServerContext
    ) async throws -> ServerResponse<Inference_ModelReadyResponse> {
        try await guarded {
            let name = request.message.name
            try await authorize(request.metadata, .requires(.read), model: name)
            var answer = Inference_ModelReadyResponse()
            answer.ready = try await dataPlane.modelReady(model: name, version: Self.version(request.message.version))
            return ServerResponse(message: answer)
        }
    }

    package func serverMetadata(
        request: ServerRequest<Inference_ServerMetadataRequest>, context: ServerContext
    ) async throws -> ServerResponse<Inference_ServerMetadataResponse> {
        try await guarded {
            try await authorize(request.metadata, .requires(.read, openToRestricted: true), model: nil)
            let meta = dataPlane.serverMetadata
            var answer = Inference_ServerMetadataResponse()
            answer.name = meta.name
            answer.version = meta.version
            answer.extensions = meta.extensions
            return ServerResponse(message: answer)
        }
    }

    package func modelMetadata(
        request: ServerRequest<Inference_ModelMetadataRequest>, context: ServerContext
    ) async throws -> ServerResponse<Inference_ModelMetadataResponse> {
        try await guarded {
            let name = request.message.name
            try await authorize(request.metadata, .requires(.read), model: name)
            let meta = try await dataPlane.modelMetadata(model: name, version: Self.version(request.message.version))
            func tensors(_ list: [ModelMetadata.TensorMetadata]) -> [Inference_ModelMetadataResponse.TensorMetadata] {
                list.map { t in
                    var out = Inference_ModelMetadataResponse.TensorMetadata()
                    out.name = t.name
                    out.datatype = t.datatype.rawValue
                    out.shape = t.shape.map(Int64.init)
                    return out
                }
            }
            var answer = Inference_ModelMetadataResponse()
            answer.name = meta.name
            answer.versions = meta.versions
            answer.platform = meta.platform
            answer.inputs = tensors(meta.inputs)
            answer.outputs = tensors(meta.outputs)
            return ServerResponse(message: answer)
        }
    }

    // MARK: Inference

    package func modelInfer(
        request: ServerRequest<Inference_ModelInferRequest>, context: ServerContext
    ) async throws -> ServerResponse<Inference_ModelInferResponse> {
        try await guarded {
            let started = CostMeter.start()
            let message = request.message
            let principal = try await authorize(request.metadata, .requires(.predict), model: message.modelName)
            let inference = try GRPCCodec.request(message)
            let metadata = request.metadata
            var options = CallOptions(header: { name in metadata[stringValues: name.lowercased()].first(where: { _ in true }) })
            if let ms = inference.parameters["timeout_ms"] {
                guard let value = ms.doubleValue, value >= 0, value <= 3_600_000 else {
                    throw FerryError.invalid("parameter 'timeout_ms' must be a number of milliseconds between 0 and 3600000")
                }
                options.timeout = value / 1000
            } else if let deadline = GRPCCodec.timeout(metadata) {
                options.timeout = deadline
            }
            let response = try await dataPlane.infer(
                model: message.modelName, version: Self.version(message.modelVersion), request: inference, options: options)
            let answer = GRPCCodec.response(response, requestID: message.id)
            if let cost, let answered = response.serving.servedBy ?? response.modelVersion.flatMap({ Int($0) }).map({ VersionRef(model: message.modelName, version: $0) }) {
                cost.record(
                    model: answered.model, version: answered.version, principal: (principal ?? .anonymous).id,
                    predictions: response.outputs.first?.shape.first ?? 0, since: started)
            }
            return ServerResponse(message: answer)
        }
    }

    // MARK: Access and errors

    /// Authenticates the caller from its metadata and applies the route's rule and the caller's rate limit.
    /// Answers the principal (nil for an open call).
    @discardableResult
    func authorize(_ metadata: Metadata, _ rule: RouteAccess, model: String?) async throws -> Principal? {
        guard rule.permission != nil else { return nil }
        let principal = try await access.principal(secret: Self.credentials(metadata))
        switch rule.decide(principal, model: model?.isEmpty == true ? nil : model) {
        case .allow: break
        case .unauthenticated: throw FerryError(.unauthenticated, "this call needs credentials")
        case .forbidden(let reason): throw FerryError(.permissionDenied, reason)
        }
        if let limiter = access.rateLimiter, let wait = limiter.admit(principal) {
            throw FerryError(.rateLimited, "rate limit of \(principal.id) exceeded; retry after \(max(1, Int(min(wait, 86_400).rounded(.up)))) s")
        }
        return principal
    }

    /// The secret from `authorization` (Bearer, or Basic with the secret as password) or `x-api-key`, as REST reads
    /// its headers (whose values the HTTP parser trims of spaces).
    static func credentials(_ metadata: Metadata) -> Substring? {
        func first(_ name: String) -> String? {
            metadata[stringValues: name].first(where: { _ in true }).map { $0.trimmingCharacters(in: .whitespaces) }
        }
        return AccessControl.credentials(authorization: first("authorization"), apiKey: first("x-api-key"))
    }

    static func version(_ text: String) -> String? { text.isEmpty ? nil : text }

    /// Runs a call, turning Ferry's errors into gRPC statuses with the same messages.
    func guarded<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as FerryError {
            // Names are echoed in messages: a name of kilobytes would pass the client's limit on metadata.
            throw RPCError(code: Self.code(error.code), message: error.message.count > 2048 ? String(error.message.prefix(2048)) + "…" : error.message)
        } catch let error as RPCError {
            throw error
        } catch is CancellationError {
            throw RPCError(code: .cancelled, message: "the call was cancelled")
        } catch {
            throw RPCError(code: .internalError, message: "internal error")
        }
    }

    static func code(_ code: FerryError.Code) -> RPCError.Code {
        switch code {
        case .invalidArgument: .invalidArgument
        case .notFound: .notFound
        case .alreadyExists: .alreadyExists
        case .failedPrecondition: .failedPrecondition
        case .unsupported: .unimplemented
        // Too many rows can never succeed, as REST's 400 says; RESOURCE_EXHAUSTED would have clients retry it.
        case .tooLarge: .invalidArgument
        case .rateLimited: .resourceExhausted
        case .unavailable: .unavailable
        case .integrity: .dataLoss
        case .unauthenticated: .unauthenticated
        case .permissionDenied: .permissionDenied
        case .deadlineExceeded: .deadlineExceeded
        default: .internalError
        }
    }
}
