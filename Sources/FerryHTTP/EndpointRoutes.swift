import FerryCore
import FerryEngine
import Foundation
import HTTPTypes
import Hummingbird

/// Endpoints, rollouts and shadow reports under `/api/v1/endpoints`.
struct EndpointRoutes {
    typealias Context = FerryRequestContext
    let endpoints: Endpoints?
    /// Files approval requests for protected endpoints; nil when the server has none.
    let approvals: Approvals?

    func add(to router: Router<Context>) {
        let api = router.group("/api/v1/endpoints")
        api.get("") { _, context in
            let visible = context.principal?.models.map(Set.init)
            return try API.response(API.List(items: try require().all().filter { visible?.contains($0.name) ?? true }.map(API.EndpointBody.init)))
        }
        api.put("/{name}") { request, context in
            let body = try API.decode(API.EndpointRequest.self, from: Data(buffer: try await request.body.collect(upTo: 1 << 20)))
            let spec = Endpoint(
                name: try context.parameters.require("name"), variants: body.variants, shadows: body.shadows ?? [],
                stickyHeader: body.stickyHeader, timeoutMs: body.timeoutMs, fallback: body.fallback, cache: body.cache,
                createdBy: context.actor, updatedAt: Date())
            let endpoints = try require()
            if let pending = try await pending(spec.name, .putEndpoint(spec), context) { return pending }
            return try API.response(API.EndpointBody(try await endpoints.put(spec, by: context.actor)))
        }
        api.get("/{name}") { _, context in
            let endpoints = try require()
            let name = try context.parameters.require("name")
            guard let endpoint = endpoints.endpoint(named: name) else { throw FerryError.notFound("no endpoint named '\(name)'") }
            return try API.response(API.EndpointStatusBody(endpoint, rollout: status(endpoints, name)))
        }
        api.delete("/{name}") { _, context in
            let endpoints = try require()
            let name = try context.parameters.require("name")
            if let pending = try await pending(name, .deleteEndpoint, context) { return pending }
            try await endpoints.delete(name: name, by: context.actor)
            return jsonResponse(Array(#"{"deleted":true}"#.utf8))
        }
        api.post("/{name}/rollout") { request, context in
            let endpoints = try require()
            let name = try context.parameters.require("name")
            let body = try API.decode(API.RolloutRequest.self, from: Data(buffer: try await request.body.collect(upTo: 1 << 20)))
            guard let endpoint = endpoints.endpoint(named: name) else { throw FerryError.notFound("no endpoint named '\(name)'") }
            let candidate = VersionRef(model: body.model ?? endpoints.primary(of: endpoint).model, version: body.version)
            let plan = try RolloutPlan.make(strategy: body.strategy, steps: body.steps, bakeSeconds: body.bakeSeconds, gates: body.gates)
            if let pending = try await pending(name, .rollout(candidate: candidate, plan: plan), context, reason: body.reason ?? "") { return pending }
            try await endpoints.startRollout(endpoint: name, to: candidate, plan: plan, by: context.actor)
            return try API.response(status(endpoints, name), status: .created)
        }
        api.get("/{name}/rollout") { _, context in
            let endpoints = try require()
            let name = try context.parameters.require("name")
            guard let rollout = status(endpoints, name) else { throw FerryError.notFound("endpoint '\(name)' has no rollout") }
            return try API.response(rollout)
        }
        api.post("/{name}/rollout/{action}") { _, context in
            let endpoints = try require()
            let name = try context.parameters.require("name")
            let text = try context.parameters.require("action")
            guard let command = Rollout.Command(rawValue: text) else {
                throw FerryError.invalid("action '\(text)' is not one of pause, resume, promote, rollback")
            }
            try await endpoints.command(command, endpoint: name, by: context.actor)
            return try API.response(status(endpoints, name))
        }
        api.get("/{name}/rollout/events") { request, context in
            let limit = try request.uri.queryParameters["limit"].map { text -> Int in
                guard let n = Int(text), (1...10_000).contains(n) else { throw FerryError.invalid("query 'limit' must be a number from 1 to 10000") }
                return n
            } ?? 100
            let events = try await require().events(endpoint: try context.parameters.require("name"), limit: limit)
            return try API.response(API.List(items: events.map(API.RolloutEventBody.init)))
        }
        api.get("/{name}/shadow") { _, context in
            try API.response(API.List(items: try await require().shadowReports(endpoint: try context.parameters.require("name")).map(API.ShadowReportBody.init)))
        }
    }

    /// The 202 answer when the endpoint is protected and the change became an approval request.
    private func pending(_ name: String, _ change: ApprovalRequest.Change, _ context: Context, reason: String = "") async throws -> Response? {
        guard case .pending(let request)? = try await approvals?.clearEndpoint(name, change, by: context.principal ?? .anonymous, reason: reason) else {
            return nil
        }
        return try API.response(API.PendingApprovalBody(request), status: .accepted)
    }

    private func status(_ endpoints: Endpoints, _ name: String) -> API.RolloutStatusBody? {
        guard let rollout = endpoints.rollout(endpoint: name) else { return nil }
        let last = endpoints.lastEvaluation(endpoint: name)
        return API.RolloutStatusBody(rollout, gates: last.gates, observation: last.observation)
    }

    private func require() throws -> Endpoints {
        guard let endpoints else { throw FerryError(.failedPrecondition, "endpoints are not enabled on this server") }
        return endpoints
    }
}

extension API {
    struct EndpointRequest: Decodable {
        var variants: [Endpoint.Variant]
        var shadows: [Endpoint.Shadow]?
        var stickyHeader: String?
        var timeoutMs: Int?
        var fallback: Endpoint.Fallback?
        var cache: Endpoint.Cache?
        enum CodingKeys: String, CodingKey {
            case variants, shadows, fallback, cache, stickyHeader = "sticky_header", timeoutMs = "timeout_ms"
        }
    }

    /// Starts a rollout: `canary` (the default) walks `steps` with `bake_seconds` per step; `blue-green` switches
    /// all traffic at once and keeps the old version loaded, gates watching, for `bake_seconds` before promoting.
    struct RolloutRequest: Decodable {
        var model: String?
        var version: Int
        var strategy: String?
        var steps: [Double]?
        var bakeSeconds: Double?
        var gates: RolloutGates?
        /// Why: kept on the approval request when the endpoint is protected.
        var reason: String?
        enum CodingKeys: String, CodingKey { case model, version, strategy, steps, reason, bakeSeconds = "bake_seconds", gates }
    }
}
