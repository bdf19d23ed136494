import FerryCore
import FerryEngine
import Foundation
import Hummingbird

/// MLflow's tracking, artifact and model-registry REST API under `/api/2.0` (its protos are the contract), so an
/// unchanged training script logs runs to Ferry and registers models in Ferry's own registry.
///
/// These routes are not in `/openapi.json` (MLflow publishes none; its protos describe them), but `routes` declares
/// the access of each exactly as `OpenAPIDocument.routes` does for Ferry's own: reads need `read`, writes `deploy`.
struct MLflowRoutes {
    typealias Context = FerryRequestContext
    let tracking: TrackingService
    let registry: Registry
    /// Files approval requests for protected aliases; nil when the server has none.
    let approvals: Approvals?
    let maxArtifactBytes: Int

    static let prefix = "/api/2.0/mlflow"
    static let artifactsPrefix = "/api/2.0/mlflow-artifacts/artifacts"

    /// Every route with the permission it needs.
    static let routes: [OpenAPIDocument.Route] = {
        let reads: [(String, String)] = [
            ("get", "/experiments/get"), ("get", "/experiments/get-by-name"), ("post", "/experiments/search"), ("get", "/experiments/search"),
            ("get", "/runs/get"), ("post", "/runs/search"), ("get", "/metrics/get-history"), ("get", "/artifacts/list"),
            ("get", "/logged-models/{model_id}"), ("post", "/logged-models/search"),
            ("get", "/registered-models/get"), ("get", "/registered-models/search"), ("post", "/registered-models/search"),
            ("post", "/registered-models/get-latest-versions"), ("get", "/registered-models/alias"),
            ("get", "/model-versions/get"), ("get", "/model-versions/search"), ("post", "/model-versions/search"),
            ("get", "/model-versions/get-download-uri"),
        ]
        let writes: [(String, String)] = [
            ("post", "/experiments/create"), ("post", "/experiments/update"), ("post", "/experiments/delete"), ("post", "/experiments/restore"),
            ("post", "/experiments/set-experiment-tag"),
            ("post", "/runs/create"), ("post", "/runs/update"), ("post", "/runs/delete"), ("post", "/runs/restore"), ("post", "/runs/log-metric"),
            ("post", "/runs/log-parameter"), ("post", "/runs/set-tag"), ("post", "/runs/delete-tag"), ("post", "/runs/log-batch"),
            ("post", "/runs/log-model"), ("post", "/runs/log-inputs"), ("post", "/runs/outputs"),
            ("post", "/logged-models"), ("patch", "/logged-models/{model_id}"), ("delete", "/logged-models/{model_id}"),
            ("patch", "/logged-models/{model_id}/tags"), ("post", "/logged-models/{model_id}/params"),
            ("post", "/registered-models/create"), ("patch", "/registered-models/update"), ("post", "/registered-models/set-tag"),
            ("post", "/registered-models/alias"), ("delete", "/registered-models/alias"), ("post", "/model-versions/create"),
            ("post", "/model-versions/transition-stage"),
        ]
        func route(_ method: String, _ path: String, _ permission: Permission) -> OpenAPIDocument.Route {
            OpenAPIDocument.Route(
                method: method, path: path, summary: "MLflow API", tag: "mlflow", access: .requires(permission), response: ["type": "object"])
        }
        return reads.map { route($0.0, prefix + $0.1, .read) } + writes.map { route($0.0, prefix + $0.1, .deploy) } + [
            route("put", artifactsPrefix + "/**", .deploy), route("get", artifactsPrefix + "/**", .read), route("get", artifactsPrefix, .read),
            route("get", "/api/3.0/mlflow/server-info", .read),
        ]
    }()

    func add(to router: Router<Context>) {
        let api = router.group(RouterPath(Self.prefix))
        addExperiments(api)
        addRuns(api)
        addLoggedModels(api)
        addRegistry(api)
        addArtifacts(router)
    }

    // MARK: Experiments

    private func addExperiments(_ api: RouterGroup<Context>) {
        api.post("/experiments/create") { request, _ in
            let m = try await MLflowMessage.read(request)
            let experiment = try await tracking.createExperiment(
                name: try m.required("name"), artifactLocation: try m.string("artifact_location"), tags: try m.keyValues("tags"))
            return MLflowJSON.response(["experiment_id": .string(experiment.id)])
        }
        api.get("/experiments/get") { request, _ in
            let id = try await MLflowMessage.read(request).required("experiment_id")
            guard Int64(id) != nil else {
                throw FerryError.invalid("Invalid experiment ID '\(id)'. Experiment ID must be a valid integer.")
            }
            return MLflowJSON.response(["experiment": MLflowJSON.experiment(try await tracking.experiment(id: id))])
        }
        api.get("/experiments/get-by-name") { request, _ in
            let name = try await MLflowMessage.read(request).required("experiment_name")
            return MLflowJSON.response(["experiment": MLflowJSON.experiment(try await tracking.experiment(named: name))])
        }
        let search: @Sendable (Request, Context) async throws -> Response = { request, _ in
            let m = try await MLflowMessage.read(request)
            let max = Int(try m.int64("max_results") ?? 1000)
            guard (1...50_000).contains(max) else { throw FerryError.invalid("Invalid value \(max) for parameter 'max_results': give 1 to 50000") }
            let offset = try RunSearch.offset(pageToken: try m.string("page_token"))
            var experiments = try await tracking.store.experiments(try m.viewType("view_type"))
            if let filter = try m.string("filter"), !filter.isEmpty { experiments = try Self.filterExperiments(experiments, filter) }
            // MLflow's default order: newest first, then by id; `order_by` clauses before it.
            experiments.sort { ($0.creationTime, Int64($1.id) ?? 0) > ($1.creationTime, Int64($0.id) ?? 0) }
            experiments = try Self.ordered(experiments, try m.strings("order_by"), keys: [
                "name": { .text($0.name) }, "experiment_id": { .number(Int64($0.id) ?? 0) },
                "creation_time": { .number($0.creationTime) }, "last_update_time": { .number($0.lastUpdateTime) },
            ])
            let page = experiments.dropFirst(offset).prefix(max)
            var out: [String: JSONValue] = ["experiments": .array(page.map(MLflowJSON.experiment))]
            if offset + page.count < experiments.count { out["next_page_token"] = .string(RunSearch.pageToken(offset: offset + page.count)) }
            return MLflowJSON.response(.object(out))
        }
        api.post("/experiments/search", use: search)
        api.get("/experiments/search", use: search)
        api.post("/experiments/update") { request, _ in
            let m = try await MLflowMessage.read(request)
            _ = try await tracking.updateExperiment(id: try m.required("experiment_id"), name: try m.string("new_name"))
            return MLflowJSON.empty
        }
        api.post("/experiments/delete") { request, _ in
            _ = try await tracking.updateExperiment(id: try await MLflowMessage.read(request).required("experiment_id"), stage: .deleted)
            return MLflowJSON.empty
        }
        api.post("/experiments/restore") { request, _ in
            _ = try await tracking.updateExperiment(id: try await MLflowMessage.read(request).required("experiment_id"), stage: .active)
            return MLflowJSON.empty
        }
        api.post("/experiments/set-experiment-tag") { request, _ in
            let m = try await MLflowMessage.read(request)
            _ = try await tracking.updateExperiment(id: try m.required("experiment_id"), tags: [try m.required("key"): try m.string("value") ?? ""])
            return MLflowJSON.empty
        }
    }

    /// Experiment search filters: `name = '...'`, `name LIKE '...'` and `tags.<key> = '...'`, joined by `and`.
    /// A value `order_by` compares.
    enum SortValue: Comparable {
        case number(Int64)
        case text(String)
    }

    /// `items` sorted by MLflow `order_by` clauses (`key`, `key ASC`, `key DESC`), the first deciding first; ties keep
    /// the order `items` came in. An unknown key is refused, naming the ones there are.
    static func ordered<T>(_ items: [T], _ clauses: [String], keys: [String: (T) -> SortValue]) throws -> [T] {
        guard !clauses.isEmpty else { return items }
        let rules = try clauses.map { clause -> ((T) -> SortValue, Bool) in
            let words = clause.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard (1...2).contains(words.count), let key = keys[words[0]] else {
                throw FerryError.invalid("Invalid order_by clause '\(clause)': order by one of \(keys.keys.sorted().joined(separator: ", ")), then ASC or DESC")
            }
            guard words.count == 1 || ["ASC", "DESC"].contains(words[1].uppercased()) else {
                throw FerryError.invalid("Invalid order_by clause '\(clause)': the direction is ASC or DESC")
            }
            return (key, words.count == 2 && words[1].uppercased() == "DESC")
        }
        return items.enumerated().sorted { a, b in
            for (key, descending) in rules {
                let (x, y) = (key(a.element), key(b.element))
                if x != y { return descending ? x > y : x < y }
            }
            return a.offset < b.offset
        }.map(\.element)
    }

    static func filterExperiments(_ experiments: [Experiment], _ filter: String) throws -> [Experiment] {
        let clauses = try RunSearch.parseFilter(filter)
        return try experiments.filter { e in
            try clauses.allSatisfy { clause in
                let subject: String?
                switch clause.field {
                case .attribute(.runName): subject = e.name
                case .tag(let key): subject = e.tags[key]
                default: throw FerryError.invalid("filter '\(filter)': experiments are filtered by name and tags.<key> only")
                }
                // A missing tag differs from every value (MLflow's clients exclude prompts with `tags.x != 'true'`).
                guard let subject else { return clause.comparison == .notEqual }
                switch (clause.comparison, clause.value) {
                case (.equal, .string(let s)): return subject == s
                case (.notEqual, .string(let s)): return subject != s
                case (.like, .string(let p)): return Self.like(subject, p, caseSensitive: true)
                case (.ilike, .string(let p)): return Self.like(subject, p, caseSensitive: false)
                default: throw FerryError.invalid("filter '\(filter)': compare experiment names and tags with =, !=, LIKE or ILIKE")
                }
            }
        }
    }

    /// SQL LIKE: `%` any run of characters, `_` one character.
    static func like(_ text: String, _ pattern: String, caseSensitive: Bool) -> Bool {
        let t = Array(caseSensitive ? text : text.lowercased()), p = Array(caseSensitive ? pattern : pattern.lowercased())
        func match(_ i: Int, _ j: Int) -> Bool {
            if j == p.count { return i == t.count }
            if p[j] == "%" { return (i...t.count).contains { match($0, j + 1) } }
            return i < t.count && (p[j] == "_" || p[j] == t[i]) && match(i + 1, j + 1)
        }
        return match(0, 0)
    }

    // MARK: Runs

    private func addRuns(_ api: RouterGroup<Context>) {
        api.post("/runs/create") { request, context in
            let m = try await MLflowMessage.read(request)
            let run = try await tracking.createRun(
                experimentID: try m.string("experiment_id"), userID: try m.string("user_id") ?? context.actor, runName: try m.string("run_name"),
                startTime: try m.int64("start_time"), tags: try m.keyValues("tags"))
            return MLflowJSON.response(["run": MLflowJSON.run(run)])
        }
        api.get("/runs/get") { request, _ in
            MLflowJSON.response(["run": MLflowJSON.run(try await tracking.run(id: try await MLflowMessage.read(request).runID()))])
        }
        api.post("/runs/update") { request, _ in
            let m = try await MLflowMessage.read(request)
            let status = try m.string("status").map { text -> RunStatus in
                guard let status = RunStatus(rawValue: text) else {
                    throw FerryError.invalid("Invalid value '\(text)' for parameter 'status': use RUNNING, SCHEDULED, FINISHED, FAILED or KILLED")
                }
                return status
            }
            let info = try await tracking.updateRun(
                id: try m.runID(), RunUpdate(status: status, endTime: try m.int64("end_time"), runName: try m.string("run_name")))
            return MLflowJSON.response(["run_info": MLflowJSON.runInfo(info)])
        }
        api.post("/runs/delete") { request, _ in
            _ = try await tracking.updateRun(id: try await MLflowMessage.read(request).runID(), RunUpdate(lifecycleStage: .deleted))
            return MLflowJSON.empty
        }
        api.post("/runs/restore") { request, _ in
            _ = try await tracking.updateRun(id: try await MLflowMessage.read(request).runID(), RunUpdate(lifecycleStage: .active))
            return MLflowJSON.empty
        }
        api.post("/runs/log-metric") { request, _ in
            let m = try await MLflowMessage.read(request)
            try await tracking.log(runID: try m.runID(), metrics: [try Self.metric(m)], params: [:], tags: [:])
            return MLflowJSON.empty
        }
        api.post("/runs/log-parameter") { request, _ in
            let m = try await MLflowMessage.read(request)
            try await tracking.log(runID: try m.runID(), metrics: [], params: [try m.required("key"): try m.string("value") ?? ""], tags: [:])
            return MLflowJSON.empty
        }
        api.post("/runs/set-tag") { request, _ in
            let m = try await MLflowMessage.read(request)
            let key = try m.required("key"), value = try m.string("value") ?? ""
            let id = try m.runID()
            try await tracking.log(runID: id, metrics: [], params: [:], tags: [key: value])
            if key == "mlflow.runName" { _ = try await tracking.updateRun(id: id, RunUpdate(runName: value)) }
            return MLflowJSON.empty
        }
        api.post("/runs/delete-tag") { request, _ in
            let m = try await MLflowMessage.read(request)
            try await tracking.store.deleteTag(runID: try m.runID(), key: try m.required("key"))
            return MLflowJSON.empty
        }
        api.post("/runs/log-batch") { request, _ in
            let m = try await MLflowMessage.read(request)
            let metrics = try m.messages("metrics").map(Self.metric)
            try await tracking.log(runID: try m.runID(), metrics: metrics, params: try m.keyValues("params", unique: true), tags: try m.keyValues("tags"))
            return MLflowJSON.empty
        }
        api.post("/runs/search") { request, _ in
            let m = try await MLflowMessage.read(request)
            let search = RunSearch(
                experimentIDs: try m.strings("experiment_ids"), filter: try RunSearch.parseFilter(try m.string("filter") ?? ""),
                orderBy: try RunSearch.parseOrder(try m.strings("order_by")), view: try m.viewType("run_view_type"),
                maxResults: Int(try m.int64("max_results") ?? Int64(RunSearch.defaultMaxResults)),
                offset: try RunSearch.offset(pageToken: try m.string("page_token")))
            let page = try await tracking.search(search)
            var out: [String: JSONValue] = ["runs": .array(page.runs.map(MLflowJSON.run))]
            if let token = page.nextPageToken { out["next_page_token"] = .string(token) }
            return MLflowJSON.response(.object(out))
        }
        api.get("/metrics/get-history") { request, _ in
            let m = try await MLflowMessage.read(request)
            let id = try m.runID()
            _ = try await tracking.run(id: id)
            let history = try await tracking.store.metricHistory(runID: id, key: try m.required("metric_key"))
            return MLflowJSON.response(["metrics": .array(history.map(MLflowJSON.metric))])
        }
        // MLflow 2 clients record the logged model's MLmodel on the run; the files themselves go through the artifact
        // routes. Kept as the run's `mlflow.log-model.history` tag, as MLflow does.
        api.post("/runs/log-model") { request, _ in
            let m = try await MLflowMessage.read(request)
            let id = try m.runID()
            let model = try m.required("model_json")
            let run = try await tracking.run(id: id)
            let history = run.tags["mlflow.log-model.history"].map { String($0.dropLast()) + "," + model + "]" } ?? "[\(model)]"
            try await tracking.log(runID: id, metrics: [], params: [:], tags: ["mlflow.log-model.history": history])
            return MLflowJSON.empty
        }
        // Dataset inputs are accepted and not kept (Ferry's lineage records the training data of a version instead).
        api.post("/runs/log-inputs") { request, _ in
            _ = try await tracking.run(id: try await MLflowMessage.read(request).runID())
            return MLflowJSON.empty
        }
        api.post("/runs/outputs") { request, _ in
            let m = try await MLflowMessage.read(request)
            let outputs = try m.messages("models").map { RunOutput(modelID: try $0.required("model_id"), step: try $0.int64("step") ?? 0) }
            try await tracking.store.logOutputs(runID: try m.runID(), outputs)
            return MLflowJSON.empty
        }
        api.get("/artifacts/list") { request, _ in
            let m = try await MLflowMessage.read(request)
            let run = try await tracking.run(id: try m.runID())
            let root = try TrackingService.path(ofURI: run.info.artifactURI)
            let sub = try m.string("path").flatMap { $0.isEmpty ? nil : $0 }
            let entries = try await tracking.listFolder(path: sub.map { "\(root)/\($0)" } ?? root)
            return MLflowJSON.response([
                "root_uri": .string(run.info.artifactURI),
                "files": .array(entries.map { Self.fileInfo(name: sub.map { "\($0)/" } ?? "", $0) }),
            ])
        }
    }

    static func metric(_ m: MLflowMessage) throws -> Metric {
        guard let value = try m.double("value") else { throw FerryError.invalid("Missing value for required parameter 'value'.") }
        guard let timestamp = try m.int64("timestamp") else { throw FerryError.invalid("Missing value for required parameter 'timestamp'.") }
        return Metric(key: try m.required("key"), value: value, timestamp: timestamp, step: try m.int64("step") ?? 0)
    }

    static func fileInfo(name prefix: String, _ entry: (name: String, isFolder: Bool, size: Int?)) -> JSONValue {
        var o: [String: JSONValue] = ["path": .string(prefix + entry.name), "is_dir": .bool(entry.isFolder)]
        if let size = entry.size { o["file_size"] = .number(Double(size)) }
        return .object(o)
    }

    // MARK: Logged models

    private func addLoggedModels(_ api: RouterGroup<Context>) {
        api.post("/logged-models") { request, _ in
            let m = try await MLflowMessage.read(request)
            let model = try await tracking.createLoggedModel(
                experimentID: try m.required("experiment_id"), name: try m.string("name"), modelType: try m.string("model_type") ?? "",
                sourceRunID: try m.string("source_run_id") ?? "", params: try m.keyValues("params"), tags: try m.keyValues("tags"))
            return MLflowJSON.response(["model": MLflowJSON.loggedModel(model)])
        }
        api.get("/logged-models/{model_id}") { _, context in
            MLflowJSON.response(["model": MLflowJSON.loggedModel(try await tracking.loggedModel(id: try context.parameters.require("model_id")))])
        }
        api.patch("/logged-models/{model_id}") { request, context in
            let m = try await MLflowMessage.read(request)
            let status = try m.string("status").map { text -> LoggedModel.Status in
                guard let status = LoggedModel.Status(rawValue: text) else {
                    throw FerryError.invalid("Invalid value '\(text)' for parameter 'status': use LOGGED_MODEL_PENDING, LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED")
                }
                return status
            }
            let model = try await tracking.updateLoggedModel(id: try context.parameters.require("model_id")) { model in
                if let status { model.status = status }
            }
            return MLflowJSON.response(["model": MLflowJSON.loggedModel(model)])
        }
        api.delete("/logged-models/{model_id}") { _, context in
            _ = try await tracking.updateLoggedModel(id: try context.parameters.require("model_id")) { $0.lifecycleStage = .deleted }
            return MLflowJSON.empty
        }
        api.patch("/logged-models/{model_id}/tags") { request, context in
            let tags = try await MLflowMessage.read(request).keyValues("tags")
            _ = try await tracking.updateLoggedModel(id: try context.parameters.require("model_id")) { $0.tags.merge(tags) { $1 } }
            return MLflowJSON.empty
        }
        api.post("/logged-models/{model_id}/params") { request, context in
            let params = try await MLflowMessage.read(request).keyValues("params")
            _ = try await tracking.updateLoggedModel(id: try context.parameters.require("model_id")) { $0.params.merge(params) { $1 } }
            return MLflowJSON.empty
        }
        // The client resolves `runs:/<run>/<name>` through this search with `name = '<name>'`.
        api.post("/logged-models/search") { request, _ in
            let m = try await MLflowMessage.read(request)
            var name: String?
            for clause in try RunSearch.parseFilter(try m.string("filter") ?? "") {
                guard case .attribute(.runName) = clause.field, clause.comparison == .equal, case .string(let s) = clause.value else {
                    throw FerryError.invalid("logged models are searched by name = '<name>' only")
                }
                name = s
            }
            let models = try await tracking.store.loggedModels(experimentIDs: try m.strings("experiment_ids"), name: name)
            return MLflowJSON.response(["models": .array(models.map(MLflowJSON.loggedModel))])
        }
    }

    // MARK: Registry

    /// MLflow's clients know no "accepted": a protected alias files an approval request and the call fails saying so.
    private func clearAlias(_ model: String, _ alias: String, _ version: Int?, _ context: Context, reason: String) async throws {
        guard case .pending(let request)? = try await approvals?.clearAlias(
            model: model, alias: alias, version: version, by: context.principal ?? .anonymous, reason: reason) else { return }
        throw FerryError(.failedPrecondition, API.PendingApprovalBody(request).message + "; a second principal approves it with `ferry approvals approve \(request.id)`")
    }

    private func addRegistry(_ api: RouterGroup<Context>) {
        api.post("/registered-models/create") { request, context in
            let m = try await MLflowMessage.read(request)
            let name = try m.required("name")
            if try await registry.store.model(named: name) != nil {
                throw FerryError(.alreadyExists, "Registered Model (name=\(name)) already exists.")
            }
            let model = try await registry.createModel(
                name: name, description: try m.string("description") ?? "", tags: try m.keyValues("tags"), by: context.actor)
            return MLflowJSON.response(["registered_model": try await registeredModel(model)])
        }
        api.get("/registered-models/get") { request, _ in
            let model = try await self.model(try await MLflowMessage.read(request).required("name"))
            return MLflowJSON.response(["registered_model": try await registeredModel(model)])
        }
        api.patch("/registered-models/update") { request, context in
            let m = try await MLflowMessage.read(request)
            let model = try await self.model(try m.required("name"))
            let updated = try await registry.updateModel(name: model.name, description: try m.string("description"), tags: nil, by: context.actor)
            return MLflowJSON.response(["registered_model": try await registeredModel(updated)])
        }
        api.post("/registered-models/set-tag") { request, context in
            let m = try await MLflowMessage.read(request)
            let model = try await self.model(try m.required("name"))
            var tags = model.tags
            tags[try m.required("key")] = try m.string("value") ?? ""
            _ = try await registry.updateModel(name: model.name, description: nil, tags: tags, by: context.actor)
            return MLflowJSON.empty
        }
        let searchModels: @Sendable (Request, Context) async throws -> Response = { request, _ in
            let m = try await MLflowMessage.read(request)
            let max = Int(try m.int64("max_results") ?? 100)
            guard (1...1000).contains(max) else { throw FerryError.invalid("Invalid value \(max) for parameter 'max_results': give 1 to 1000") }
            let offset = try RunSearch.offset(pageToken: try m.string("page_token"))
            var models = try await registry.models()
            if let filter = try m.string("filter"), !filter.isEmpty {
                let named = models.map { Experiment(id: $0.name, name: $0.name, creationTime: 0, tags: $0.tags) }
                let kept = Set(try Self.filterExperiments(named, filter).map(\.name))
                models = models.filter { kept.contains($0.name) }
            }
            // MLflow's default order is by name; `order_by` clauses before it.
            models.sort { $0.name < $1.name }
            let created: (Model) -> SortValue = { .number(Int64(($0.createdAt.timeIntervalSince1970 * 1000).rounded())) }
            models = try Self.ordered(models, try m.strings("order_by"), keys: [
                "name": { .text($0.name) }, "creation_timestamp": created, "timestamp": created, "last_updated_timestamp": created,
            ])
            let page = models.dropFirst(offset).prefix(max)
            var out: [JSONValue] = []
            for model in page { out.append(try await registeredModel(model)) }
            var answer: [String: JSONValue] = ["registered_models": .array(out)]
            if offset + page.count < models.count { answer["next_page_token"] = .string(RunSearch.pageToken(offset: offset + page.count)) }
            return MLflowJSON.response(.object(answer))
        }
        api.get("/registered-models/search", use: searchModels)
        api.post("/registered-models/search", use: searchModels)
        api.post("/registered-models/get-latest-versions") { request, _ in
            let m = try await MLflowMessage.read(request)
            let model = try await self.model(try m.required("name"))
            let stages = try m.strings("stages")
            let aliases = try await registry.aliases(model: model.name)
            // The newest version in each stage asked for (all stages when none is named).
            var latest: [String: ModelVersion] = [:]
            for version in try await registry.versions(model: model.name) {
                let stage = MLflowJSON.stage(version, aliases: aliases.filter { $0.version == version.version }.map(\.name))
                if stages.isEmpty || stages.contains(where: { $0.lowercased() == stage.lowercased() }) { latest[stage] = version }
            }
            let versions = latest.values.sorted { $0.version < $1.version }
            return MLflowJSON.response(["model_versions": .array(try await versions.asyncMap { try await modelVersion($0) })])
        }
        api.post("/registered-models/alias") { request, context in
            let m = try await MLflowMessage.read(request)
            let name = try m.required("name"), alias = try m.required("alias")
            guard let version = Int(try m.required("version")) else { throw FerryError.invalid("version must be a version number") }
            // As MLflow: `models:/name/latest` and `models:/name/v3` mean versions, so no alias may be named so.
            let lowered = alias.lowercased()
            if lowered == "latest" || (lowered.hasPrefix("v") && lowered.count > 1 && lowered.dropFirst().allSatisfy(\.isNumber)) {
                throw FerryError.invalid("'\(alias)' alias name (alias) is reserved and cannot be used as an alias: 'latest' and 'v' followed by digits name versions")
            }
            try await clearAlias(name, alias, version, context, reason: "set through MLflow's API")
            _ = try await registry.setAlias(model: name, alias: alias, version: version, by: context.actor, reason: "set through MLflow's API")
            return MLflowJSON.empty
        }
        api.delete("/registered-models/alias") { request, context in
            let m = try await MLflowMessage.read(request)
            let name = try m.required("name"), alias = try m.required("alias")
            try await clearAlias(name, alias, nil, context, reason: "removed through MLflow's API")
            _ = try await registry.removeAlias(model: name, alias: alias, by: context.actor, reason: "removed through MLflow's API")
            return MLflowJSON.empty
        }
        api.get("/registered-models/alias") { request, _ in
            let m = try await MLflowMessage.read(request)
            let name = try m.required("name"), alias = try m.required("alias")
            guard let target = try await registry.aliases(model: name).first(where: { $0.name == alias }) else {
                throw FerryError.invalid("Registered model alias \(alias) not found.")
            }
            return MLflowJSON.response(["model_version": try await modelVersion(try await registry.version(model: name, number: target.version))])
        }
        // Stages are aliases: Production moves `production` (what the model name serves), Staging moves `staging`,
        // Archived archives the version, None takes both aliases off it.
        api.post("/model-versions/transition-stage") { request, context in
            let m = try await MLflowMessage.read(request)
            let version = try await version(m)
            let stage = try m.required("stage")
            let reason = "stage \(stage) set through MLflow's API"
            let archiveOthers = try m.bool("archive_existing_versions") ?? false
            /// Takes the stage aliases (production, staging) off the version: it leaves its stage.
            func leaveStages() async throws {
                for alias in try await registry.aliases(model: version.model)
                where alias.version == version.version && MLflowJSON.stageAliases.values.contains(alias.name) {
                    try await clearAlias(version.model, alias.name, nil, context, reason: reason)
                    _ = try await registry.removeAlias(model: version.model, alias: alias.name, by: context.actor, reason: reason)
                }
            }
            switch stage.lowercased() {
            case "production", "staging":
                let alias = MLflowJSON.stageAliases[stage.capitalized]!
                if version.archived { _ = try await registry.unarchive(model: version.model, number: version.version, by: context.actor) }
                let previous = try await registry.aliases(model: version.model).first { $0.name == alias && $0.version != version.version }?.version
                try await clearAlias(version.model, alias, version.version, context, reason: reason)
                _ = try await registry.setAlias(model: version.model, alias: alias, version: version.version, by: context.actor, reason: reason)
                // MLflow's archive_existing_versions: the version that was in this stage is archived.
                if archiveOthers, let previous {
                    _ = try await registry.archive(model: version.model, number: previous, by: context.actor)
                }
            case "archived":
                guard !archiveOthers else {
                    throw FerryError.invalid("archive_existing_versions applies only to the Staging and Production stages")
                }
                // An archived version is in no stage: Production and Staging leave it (as in MLflow).
                try await leaveStages()
                _ = try await registry.archive(model: version.model, number: version.version, by: context.actor)
            case "none":
                guard !archiveOthers else {
                    throw FerryError.invalid("archive_existing_versions applies only to the Staging and Production stages")
                }
                if version.archived { _ = try await registry.unarchive(model: version.model, number: version.version, by: context.actor) }
                try await leaveStages()
            default:
                throw FerryError.invalid("Invalid Model Version stage: \(stage). Value must be one of None, Staging, Production, Archived.")
            }
            return MLflowJSON.response(["model_version": try await modelVersion(try await registry.version(model: version.model, number: version.version))])
        }
        api.post("/model-versions/create") { request, context in
            let m = try await MLflowMessage.read(request)
            let version = try await tracking.registerVersion(
                model: try m.required("name"), source: try m.required("source"), runID: try m.string("run_id"),
                description: try m.string("description") ?? "", by: context.actor)
            return MLflowJSON.response(["model_version": try await modelVersion(version)])
        }
        api.get("/model-versions/get") { request, _ in
            let m = try await MLflowMessage.read(request)
            return MLflowJSON.response(["model_version": try await modelVersion(try await version(m))])
        }
        api.get("/model-versions/get-download-uri") { request, _ in
            let version = try await version(try await MLflowMessage.read(request))
            guard let source = version.lineage.source else {
                throw FerryError.invalid("version \(version.version) of '\(version.model)' was registered through Ferry's API, not from MLflow model files; download its artifact from /api/v1/models/\(version.model)/versions/\(version.version)")
            }
            return MLflowJSON.response(["artifact_uri": .string(source)])
        }
        let searchVersions: @Sendable (Request, Context) async throws -> Response = { request, _ in
            let m = try await MLflowMessage.read(request)
            var names: [String]?
            var runs: [String]?
            for clause in try RunSearch.parseFilter(try m.string("filter") ?? "") {
                switch (clause.field, clause.comparison, clause.value) {
                case (.attribute(.runName), .equal, .string(let s)): names = [s]
                case (.attribute(.runName), .in, .list(let l)): names = l
                case (.attribute(.runID), .equal, .string(let s)): runs = [s]
                case (.attribute(.runID), .in, .list(let l)): runs = l
                default: throw FerryError.invalid("model versions are searched by name and run_id (= or IN) only")
                }
            }
            var out: [JSONValue] = []
            for model in try await registry.models() where names?.contains(model.name) ?? true {
                for version in try await registry.versions(model: model.name) {
                    let run = version.lineage.run.map { $0.hasPrefix("mlflow:") ? String($0.dropFirst(7)) : $0 }
                    if let runs, !runs.contains(run ?? "") { continue }
                    out.append(try await modelVersion(version))
                }
            }
            return MLflowJSON.response(["model_versions": .array(out)])
        }
        api.get("/model-versions/search", use: searchVersions)
        api.post("/model-versions/search", use: searchVersions)
    }

    private func model(_ name: String) async throws -> Model {
        guard let model = try await registry.store.model(named: name) else {
            throw FerryError.notFound("Registered Model with name=\(name) not found")
        }
        return model
    }

    private func version(_ m: MLflowMessage) async throws -> ModelVersion {
        let name = try m.required("name"), text = try m.required("version")
        guard let number = Int(text), let version = try await registry.store.version(model: name, number: number) else {
            throw FerryError.notFound("Model Version (name=\(name), version=\(text)) not found")
        }
        return version
    }

    private func registeredModel(_ model: Model) async throws -> JSONValue {
        MLflowJSON.registeredModel(model, versions: try await registry.versions(model: model.name), aliases: try await registry.aliases(model: model.name))
    }

    private func modelVersion(_ version: ModelVersion) async throws -> JSONValue {
        let aliases = try await registry.aliases(model: version.model).filter { $0.version == version.version }.map(\.name)
        return MLflowJSON.modelVersion(version, aliases: aliases)
    }

    // MARK: Artifacts

    private func addArtifacts(_ router: Router<Context>) {
        router.put(RouterPath(Self.artifactsPrefix + "/**")) { request, context in
            let data = Data(buffer: try await request.body.collect(upTo: maxArtifactBytes))
            _ = try await tracking.putFile(path: Self.path(context), data)
            return Response(status: .ok)
        }
        router.get(RouterPath(Self.artifactsPrefix + "/**")) { _, context in
            let path = try Self.path(context)
            let data = try await tracking.file(path: path)
            let name = path.split(separator: "/").last.map(String.init) ?? path
            let text = name == "MLmodel" || [".txt", ".json", ".yaml", ".yml", ".csv", ".md"].contains { name.hasSuffix($0) }
            return Response(
                status: .ok, headers: [.contentType: text ? "text/plain" : "application/octet-stream"],
                body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        // A folder's entries; a file, a missing path or an empty folder answer `{}` (the client tells files by it).
        router.get(RouterPath(Self.artifactsPrefix)) { request, _ in
            let path = try await MLflowMessage.read(request).string("path") ?? ""
            let entries = try await tracking.listFolder(path: path)
            guard !entries.isEmpty else { return MLflowJSON.empty }
            return MLflowJSON.response(["files": .array(entries.map { Self.fileInfo(name: "", $0) })])
        }
        router.get("/api/3.0/mlflow/server-info") { _, _ in
            MLflowJSON.response([
                "store_type": "SqlStore", "workspaces_enabled": false, "multipart_uploads_enabled": false, "multipart_downloads_enabled": false,
            ])
        }
    }

    static func path(_ context: Context) throws -> String {
        context.parameters.getCatchAll().map { String($0).removingPercentEncoding ?? String($0) }.joined(separator: "/")
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for element in self { out.append(try await transform(element)) }
        return out
    }
}
