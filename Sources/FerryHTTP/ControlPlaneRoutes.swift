import FerryCore
import FerryEngine
import Foundation
import HTTPTypes
import Hummingbird

/// The registry's JSON API under `/api/v1`.
struct ControlPlaneRoutes {
    typealias Context = FerryRequestContext
    let registry: Registry
    /// Reads the prediction log; nil when it is off.
    let monitor: ModelMonitor?
    /// Files approval requests for protected aliases; nil when the server has none.
    let approvals: Approvals?
    /// Versions' expectations of their data, for model cards.
    var validation: DataValidation? = nil
    let maxArtifactBytes: Int

    func add(to router: Router<Context>) {
        let api = router.group("/api/v1")
        api.get("/models") { request, context in
            // Without max_results every model is listed (read in pages); with it, one page and the token of the next.
            let query = request.uri.queryParameters
            let pageSize = try query["max_results"].map { try API.positive(String($0), field: "max_results", max: 10_000) }
            var after = try query["page_token"].map { try API.pageName(String($0)) }
            let visible = context.principal?.models.map(Set.init)
            var items: [API.ModelBody] = []
            var next: String?
            // A key limited to some models reads on until its page is full (or the models end): before, it got
            // empty pages to walk through, and a client stopping at an empty page missed its models.
            repeat {
                let limit = pageSize.map { $0 - items.count } ?? 1000
                let page = try await registry.modelSummaries(after: after, limit: limit)
                for summary in page where visible?.contains(summary.model.name) ?? true {
                    items.append(API.ModelBody(summary.model, latestVersion: summary.latestVersion, aliases: summary.aliases))
                }
                after = page.count == limit ? page.last?.model.name : nil
                if pageSize != nil { next = after.map(API.pageToken) }
            } while after != nil && (pageSize.map { items.count < $0 } ?? true)
            return try API.response(API.ModelPage(items: items, nextPageToken: next))
        }
        api.post("/models") { request, context in
            let body = try await decode(API.CreateModelRequest.self, request, limit: 1 << 20)
            let model = try await registry.createModel(
                name: body.name, description: body.description ?? "", tags: body.tags ?? [:], by: context.actor)
            return try API.response(API.ModelBody(model, aliases: []), status: .created)
        }
        api.get("/models/{name}") { _, context in
            let name = try context.parameters.require("name")
            let model = try await registry.model(named: name)
            let versions = try await registry.versions(model: name)
            return try API.response(API.ModelBody(
                model, latestVersion: versions.last?.version, aliases: try await registry.aliases(model: name),
                blocked: try await registry.blockedAliases(model: name)))
        }
        api.patch("/models/{name}") { request, context in
            let body = try await decode(API.UpdateModelRequest.self, request, limit: 1 << 20)
            let name = try context.parameters.require("name")
            let model = try await registry.updateModel(name: name, description: body.description, tags: body.tags, by: context.actor)
            return try API.response(API.ModelBody(model, aliases: try await registry.aliases(model: name)))
        }
        api.get("/models/{name}/versions") { _, context in
            let name = try context.parameters.require("name")
            let aliases = try await registry.aliases(model: name)
            let blocked = try await registry.blockedAliases(model: name)
            return try API.response(API.List(items: try await registry.versions(model: name).map { API.VersionBody($0, aliases: aliases, blocked: blocked) }))
        }
        api.post("/models/{name}/versions") { request, context in
            let name = try context.parameters.require("name")
            let version = try await registry.register(try await newVersion(name, request, by: context.actor))
            return try API.response(API.VersionBody(version, aliases: try await registry.aliases(model: name)), status: .created)
        }
        api.get("/models/{name}/versions/{version}") { _, context in
            let name = try context.parameters.require("name")
            let version = try await registry.version(model: name, number: try number(context))
            return try API.response(API.VersionBody(
                version, aliases: try await registry.aliases(model: name), blocked: try await registry.blockedAliases(model: name)))
        }
        api.get("/models/{name}/versions/{version}/card") { request, context in
            let card = try await ModelCards(registry: registry, monitor: monitor, validation: validation)
                .card(model: try context.parameters.require("name"), version: try number(context))
            switch request.uri.queryParameters["format"].map(String.init) ?? "markdown" {
            case "markdown", "md":
                return Response(status: .ok, headers: [.contentType: "text/markdown; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: card.markdown)))
            case "html":
                return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: card.html)))
            case let other:
                throw FerryError.invalid("query 'format' is '\(other)'; use markdown or html")
            }
        }
        api.post("/models/{name}/versions/{version}/archive") { request, context in
            let name = try context.parameters.require("name")
            let version = try await registry.archive(model: name, number: try number(context), by: context.actor)
            return try API.response(API.VersionBody(version, aliases: try await registry.aliases(model: name)))
        }
        api.post("/models/{name}/versions/{version}/unarchive") { request, context in
            let name = try context.parameters.require("name")
            let version = try await registry.unarchive(model: name, number: try number(context), by: context.actor)
            return try API.response(API.VersionBody(version, aliases: try await registry.aliases(model: name)))
        }
        api.get("/models/{name}/aliases") { _, context in
            try API.response(API.List(items: try await registry.aliases(model: try context.parameters.require("name")).map(API.AliasBody.init)))
        }
        api.put("/models/{name}/aliases/{alias}") { request, context in
            let body = try await decode(API.SetAliasRequest.self, request, limit: 1 << 20)
            let (model, alias) = (try context.parameters.require("name"), try context.parameters.require("alias"))
            if case .pending(let pending)? = try await approvals?.clearAlias(
                model: model, alias: alias, version: body.version, by: context.principal ?? .anonymous, reason: body.reason ?? "") {
                return try API.response(API.PendingApprovalBody(pending), status: .accepted)
            }
            let event = try await registry.setAlias(model: model, alias: alias, version: body.version, by: context.actor, reason: body.reason ?? "")
            return try API.response(API.AliasEventBody(event))
        }
        api.delete("/models/{name}/aliases/{alias}") { request, context in
            let (model, alias) = (try context.parameters.require("name"), try context.parameters.require("alias"))
            let reason = request.uri.queryParameters["reason"].map(String.init) ?? ""
            if case .pending(let pending)? = try await approvals?.clearAlias(
                model: model, alias: alias, version: nil, by: context.principal ?? .anonymous, reason: reason) {
                return try API.response(API.PendingApprovalBody(pending), status: .accepted)
            }
            let event = try await registry.removeAlias(model: model, alias: alias, by: context.actor, reason: reason)
            return try API.response(API.AliasEventBody(event))
        }
        api.get("/models/{name}/predictions") { request, context in
            let name = try context.parameters.require("name")
            let query = request.uri.queryParameters
            let limit = try query["limit"].map { text -> Int in
                guard let n = Int(text), (1...10_000).contains(n) else {
                    throw FerryError.invalid("query 'limit' must be a number from 1 to 10000, got '\(text)'")
                }
                return n
            } ?? 100
            let version = try query["version"].map { text -> Int in
                guard let n = Int(text), n > 0 else { throw FerryError.invalid("query 'version' must be a version number, got '\(text)'") }
                return n
            }
            let records = try await requireMonitor().predictions(
                model: name, version: version, since: try Self.date(query["since"], "since"),
                until: try Self.date(query["until"], "until"), limit: limit)
            return try API.response(API.List(items: records.map(API.PredictionBody.init)))
        }
        api.get("/predictions/{id}") { _, context in
            return try API.response(API.PredictionBody(try await requireMonitor().prediction(id: try context.parameters.require("id"))))
        }
        api.get("/models/{name}/alias-history") { request, context in
            let alias = request.uri.queryParameters["alias"].map(String.init)
            let events = try await registry.aliasHistory(model: try context.parameters.require("name"), alias: alias)
            return try API.response(API.List(items: events.map(API.AliasEventBody.init)))
        }
    }

    /// A version to register, from a JSON envelope (base64 artifact) or, with `Content-Type:
    /// application/octet-stream`, from the raw artifact bytes with options in the query string.
    private func newVersion(_ name: String, _ request: Request, by: String) async throws -> Registry.NewVersion {
        if request.headers[.contentType]?.hasPrefix("application/octet-stream") == true {
            let bytes = Data(buffer: try await request.body.collect(upTo: maxArtifactBytes))
            let query = request.uri.queryParameters
            let aliases = query["alias"].map { $0.split(separator: ",").map(String.init) } ?? []
            let features = try (query["features"].map { $0.split(separator: ",").map(String.init) } ?? [])
                .enumerated().map { try FeatureRef(parsing: $1, field: "query 'features'[\($0)]") }
            return Registry.NewVersion(
                model: name, format: query["format"].map { ModelFormat(rawValue: String($0)) },
                artifact: bytes, description: query["description"].map(String.init) ?? "", aliases: aliases, features: features, createdBy: by)
        }
        let body = try await decode(API.RegisterVersionRequest.self, request, limit: maxArtifactBytes * 4 / 3 + (1 << 20))
        guard let artifact = Data(base64Encoded: body.artifact, options: .ignoreUnknownCharacters) else {
            throw FerryError.invalid("field 'artifact' is not valid base64")
        }
        return Registry.NewVersion(
            model: name, format: body.format.map { ModelFormat(rawValue: $0) }, artifact: artifact,
            description: body.description ?? "", inputSchema: body.inputSchema, params: body.params ?? [:],
            metrics: body.metrics ?? [:], lineage: body.lineage?.domain ?? Lineage(),
            runtimeOptions: body.runtimeOptions ?? [:], signature: body.signature, aliases: body.aliases ?? [],
            features: try (body.features ?? []).enumerated().map { try FeatureRef(parsing: $1, field: "features[\($0)]") },
            sensitive: try (body.sensitive ?? [:]).mapValues { text in
                guard let how = Sensitivity(rawValue: text) else { throw FerryError.invalid("field 'sensitive' values must be hash or redact, not '\(text)'") }
                return how
            }, createdBy: by)
    }

    private func requireMonitor() throws -> ModelMonitor {
        guard let monitor else { throw FerryError(.failedPrecondition, "the prediction log is off on this server") }
        return monitor
    }

    /// Reads an ISO 8601 time from the query string.
    static func date(_ text: Substring?, _ name: String) throws -> Date? {
        guard let text else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        if let d = formatter.date(from: String(text)) { return d }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = formatter.date(from: String(text)) { return d }
        throw FerryError.invalid("query '\(name)' must be an ISO 8601 time like 2026-11-22T10:00:00Z, got '\(text)'")
    }

    private func number(_ context: Context) throws -> Int {
        let text = try context.parameters.require("version")
        guard let n = Int(text), n > 0 else { throw FerryError.invalid("version '\(text)' is not a version number (1, 2, ...)") }
        return n
    }

    private func decode<T: Decodable>(_ type: T.Type, _ request: Request, limit: Int) async throws -> T {
        let buffer = try await request.body.collect(upTo: limit)
        return try API.decode(type, from: Data(buffer: buffer))
    }

}
