import FerryCore
import FerryEngine
import Foundation
import HTTPTypes
import Hummingbird

/// Protections (`/api/v1/protections`, `.../protection` under an alias or endpoint) and approval requests
/// (`/api/v1/approvals`).
struct ApprovalRoutes {
    typealias Context = FerryRequestContext
    let approvals: Approvals
    /// Approvals tell principals apart; with authentication off every caller is the same anonymous one.
    let authentication: Bool

    func add(to router: Router<Context>) {
        router.get("/api/v1/protections") { _, context in
            let visible = context.principal?.models.map(Set.init)
            let items = try await approvals.protections().filter { visible?.contains($0.target.scope) ?? true }
            return try API.response(API.List(items: items.map(API.ProtectionBody.init)))
        }
        for (path, target) in [
            ("/api/v1/models/{name}/aliases/{alias}/protection", { @Sendable (c: Context) throws -> ProtectedTarget in
                .alias(model: try c.parameters.require("name"), alias: try c.parameters.require("alias"))
            }),
            ("/api/v1/endpoints/{name}/protection", { @Sendable (c: Context) throws -> ProtectedTarget in .endpoint(try c.parameters.require("name")) }),
        ] {
            router.put(RouterPath(path)) { request, context in
                guard authentication else {
                    throw FerryError(
                        .failedPrecondition,
                        "protections need authentication: an approval must come from a second principal, and with authentication off every caller is 'anonymous'")
                }
                let body = try await decodeOptional(request)
                let protection = try await approvals.protect(
                    try target(context), expiresAfterSeconds: body.expiresAfterSeconds, preapproved: body.preapproved ?? [], by: context.actor)
                return try API.response(API.ProtectionBody(protection))
            }
            router.delete(RouterPath(path)) { _, context in
                try await approvals.unprotect(try target(context), by: context.actor)
                return jsonResponse(Array(#"{"deleted":true}"#.utf8))
            }
        }
        let api = router.group("/api/v1/approvals")
        api.get("") { request, context in
            let query = request.uri.queryParameters
            let state = try query["state"].map { text -> ApprovalRequest.State in
                guard let state = ApprovalRequest.State(rawValue: String(text)) else {
                    throw FerryError.invalid("query 'state' is '\(text)'; use one of \(ApprovalRequest.State.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return state
            }
            let limit = try query["limit"].map { text -> Int in
                guard let n = Int(text), (1...1000).contains(n) else { throw FerryError.invalid("query 'limit' must be a number from 1 to 1000, got '\(text)'") }
                return n
            } ?? 100
            let visible = context.principal?.models.map(Set.init)
            let items = try await approvals.requests(state: state, limit: limit).filter { visible?.contains($0.target.scope) ?? true }
            return try API.response(API.List(items: items.map(API.ApprovalBody.init)))
        }
        api.get("/{id}") { _, context in
            try API.response(API.ApprovalBody(try await visibleRequest(context)))
        }
        for action in ["approve", "reject", "cancel"] {
            api.post(RouterPath("/{id}/\(action)")) { request, context in
                let id = try await visibleRequest(context).id
                let principal = context.principal ?? .anonymous
                let decided = switch action {
                case "approve": try await approvals.approve(id: id, by: principal, comment: try await decodeComment(request))
                case "reject": try await approvals.reject(id: id, by: principal, comment: try await decodeComment(request))
                default: try await approvals.cancel(id: id, by: principal)
                }
                return try API.response(API.ApprovalBody(decided))
            }
        }
    }

    /// The request the caller names, refused when its target is outside the caller's model restriction.
    private func visibleRequest(_ context: Context) async throws -> ApprovalRequest {
        let request = try await approvals.request(id: try context.parameters.require("id"))
        if let allowed = context.principal?.models, !allowed.contains(request.target.scope) {
            throw FerryError(.permissionDenied, "this key is restricted to models \(allowed.joined(separator: ", ")) and may not see approval request \(request.id) for \(request.target)")
        }
        return request
    }

    private func decodeOptional(_ request: Request) async throws -> API.ProtectionRequest {
        let data = Data(buffer: try await request.body.collect(upTo: 1 << 16))
        return data.isEmpty ? API.ProtectionRequest() : try API.decode(API.ProtectionRequest.self, from: data)
    }

    private func decodeComment(_ request: Request) async throws -> String {
        let data = Data(buffer: try await request.body.collect(upTo: 1 << 16))
        return data.isEmpty ? "" : try API.decode(API.DecisionRequest.self, from: data).comment ?? ""
    }
}
