import FerryCore
import FerryEngine
import Foundation
import HTTPTypes
import Hummingbird

/// Reference profiles, drift, performance, fairness and traffic over time under `/api/v1`.
struct MonitoringRoutes {
    typealias Context = FerryRequestContext
    let monitor: ModelMonitor?
    let alerts: AlertManager?
    let maxBodyBytes: Int

    func add(to router: Router<Context>) {
        let api = router.group("/api/v1")
        api.put("/models/{name}/versions/{version}/reference") { request, context in
            let monitor = try requireMonitor()
            let buffer = try await request.body.collect(upTo: maxBodyBytes)
            let instances: [Instance]
            if request.headers[.contentType]?.hasPrefix("text/csv") == true {
                instances = try CSVTable(parsing: String(buffer: buffer), source: "the CSV body").instances()
            } else {
                instances = try buffer.withUnsafeReadableBytes { try V1Codec.decodeInstances($0) }
            }
            let profile = try await monitor.setReference(
                model: try context.parameters.require("name"), version: try Self.number(context.parameters.require("version"), "version"),
                instances: instances, by: context.actor)
            return try API.response(API.ReferenceProfileBody(profile))
        }
        api.get("/models/{name}/versions/{version}/reference") { _, context in
            try API.response(API.ReferenceProfileBody(try await requireMonitor().reference(
                model: try context.parameters.require("name"), version: try Self.number(context.parameters.require("version"), "version"))))
        }
        api.post("/feedback") { request, context in
            // 100,000 labels take a few MiB: not the artifacts' 512 MiB held in memory.
            let buffer = try await request.body.collect(upTo: min(maxBodyBytes, 32 << 20))
            let items = try FeedbackBody.items(Data(buffer: buffer))
            // A key limited to some models labels only their predictions: another model's ground truth would move its
            // accuracy, alerts and retraining data. (A prediction that was never logged cannot be checked; it stays
            // unmatched.)
            if let allowed = context.principal?.models {
                let monitor = try requireMonitor()
                for id in Set(items.map(\.predictionID)) {
                    guard let record = try? await monitor.prediction(id: id), !allowed.contains(record.model) else { continue }
                    throw FerryError(.permissionDenied, "prediction '\(id)' is of model '\(record.model)'; this key is restricted to models \(allowed.joined(separator: ", "))")
                }
            }
            let now = Date()
            let (matched, unmatched) = try await requireMonitor().addFeedback(items.map {
                Feedback(predictionID: $0.predictionID, row: $0.row ?? 0, label: $0.label, receivedAt: now)
            })
            return jsonResponse(Array(#"{"accepted":\#(items.count),"matched":\#(matched),"unmatched":\#(unmatched)}"#.utf8))
        }
        api.get("/models/{name}/performance") { request, context in
            let window = try Self.window(request, prefix: "") ?? .last(100_000)
            let q = request.uri.queryParameters
            let version = try q["version"].map { try Self.number(String($0), "version") }
            let summary = try await requireMonitor().performance(
                model: try context.parameters.require("name"), version: version, window: window,
                segmentBy: q["segment_by"].map(String.init), every: try Self.every(request))
            return try API.response(API.PerformanceSummaryBody(summary))
        }
        api.get("/models/{name}/data") { request, context in
            let q = request.uri.queryParameters
            let version = try q["version"].map { try Self.number(String($0), "version") }
            let labelled = try q["labelled"].map { text -> Bool in
                guard let value = Bool(String(text)) else { throw FerryError.invalid("query 'labelled' must be true or false") }
                return value
            } ?? false
            let (served, csv) = try await requireMonitor().export(
                model: try context.parameters.require("name"), version: version, window: try Self.window(request, prefix: "") ?? .last(100_000),
                labelledOnly: labelled)
            return Response(
                status: .ok, headers: [.contentType: "text/csv; charset=utf-8", .init("Ferry-Model-Version")!: String(served)],
                body: .init(byteBuffer: ByteBuffer(string: csv)))
        }
        api.get("/models/{name}/fairness") { request, context in
            let window = try Self.window(request, prefix: "") ?? .last(100_000)
            let q = request.uri.queryParameters
            guard let attribute = q["attribute"], !attribute.isEmpty else {
                throw FerryError.invalid("query 'attribute' is required: the sensitive feature whose groups are compared")
            }
            let threshold = try q["threshold"].map { text -> Double in
                guard let t = Double(String(text)) else { throw FerryError.invalid("query 'threshold' must be a number between 0 and 1") }
                return t
            } ?? 0.5
            let every = try Self.every(request)
            let name = try context.parameters.require("name")
            let (version, report, series) = try await requireMonitor().fairness(
                model: name, version: try q["version"].map { try Self.number(String($0), "version") }, window: window,
                attribute: String(attribute), threshold: threshold, every: every)
            var body = API.FairnessBody(model: name, version: version, attribute: String(attribute), threshold: threshold, report)
            if every != nil { body.series = series.map(API.FairnessBody.Period.init) }
            return try API.response(body)
        }
        api.get("/models/{name}/drift") { request, context in
            let window = try Self.window(request, prefix: "") ?? .last(10_000)
            let baseline = try Self.window(request, prefix: "baseline_")
            let version = try request.uri.queryParameters["version"].map { try Self.number(String($0), "version") }
            let report = try await requireMonitor().drift(
                model: try context.parameters.require("name"), version: version, window: window, against: baseline, every: try Self.every(request))
            return try API.response(API.DriftReportBody(report))
        }
        api.get("/models/{name}/traffic") { request, context in
            guard let alerts else { throw FerryError(.failedPrecondition, "traffic over time needs the alert evaluator, which is off on this server") }
            let q = request.uri.queryParameters
            let every = try Self.every(request) ?? 60
            let (since, until, periods) = try await alerts.traffic(
                model: try context.parameters.require("name"), since: try ControlPlaneRoutes.date(q["since"], "since"),
                until: try ControlPlaneRoutes.date(q["until"], "until"), every: every)
            return try API.response(API.TrafficBody(
                model: try context.parameters.require("name"), since: since, until: until, every: every, periods: periods))
        }
    }

    /// `every=` seconds (figures per period), nil when not given.
    static func every(_ request: Request) throws -> TimeInterval? {
        try request.uri.queryParameters["every"].map { text -> Double in
            guard let seconds = Double(String(text)), seconds.isFinite else { throw FerryError.invalid("query 'every' must be a number of seconds, got '\(text)'") }
            try Periods.check(seconds)
            return seconds
        }
    }

    private func requireMonitor() throws -> ModelMonitor {
        guard let monitor else { throw FerryError(.failedPrecondition, "drift needs the prediction log, which is off on this server") }
        return monitor
    }

    static func number(_ text: String, _ name: String) throws -> Int {
        guard let n = Int(text), n > 0 else { throw FerryError.invalid("'\(name)' must be a positive whole number, got '\(text)'") }
        return n
    }

    /// `last=N`, or `since=` / `until=` (ISO 8601); nil when none is given.
    static func window(_ request: Request, prefix: String) throws -> ModelMonitor.Window? {
        let q = request.uri.queryParameters
        let last = q["\(prefix)last"]
        let since = try ControlPlaneRoutes.date(q["\(prefix)since"], "\(prefix)since")
        let until = try ControlPlaneRoutes.date(q["\(prefix)until"], "\(prefix)until")
        if let last {
            guard since == nil, until == nil else {
                throw FerryError.invalid("give either '\(prefix)last' or '\(prefix)since'/'\(prefix)until', not both")
            }
            return .last(try number(String(last), "\(prefix)last"))
        }
        if since != nil || until != nil { return .range(since: since, until: until) }
        return nil
    }

}

/// Feedback bodies: one item, a list of items, or `{"items": [...]}`; an item is
/// `{"prediction_id": "...", "row": 0, "label": 1}` (`row` defaults to 0).
struct FeedbackBody: Decodable {
    struct Item: Decodable {
        var predictionID: String
        var row: Int?
        var label: Double

        enum CodingKeys: String, CodingKey { case predictionID = "prediction_id", row, label }
    }

    var items: [Item]

    static func items(_ data: Data) throws -> [Item] {
        guard !data.isEmpty else { throw FerryError.invalid("request body is empty; send {\"items\": [{\"prediction_id\": ..., \"label\": ...}]}") }
        let trimmed = data.first { ![0x20, 0x0A, 0x0D, 0x09].contains($0) }
        let items: [Item]
        if trimmed == UInt8(ascii: "[") {
            items = try API.decode([Item].self, from: data)
        } else if (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["items"] != nil {
            items = try API.decode(FeedbackBody.self, from: data).items
        } else {
            items = [try API.decode(Item.self, from: data)]
        }
        guard !items.isEmpty else { throw FerryError.invalid("feedback has no items") }
        guard items.count <= 100_000 else { throw FerryError(.tooLarge, "feedback has \(items.count) items; send at most 100000 per request") }
        return items
    }
}
