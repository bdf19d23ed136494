import FerryCore
import FerryEngine
import Foundation
import Hummingbird
#if canImport(Glibc)
import Glibc
#endif

/// The feature store under `/api/v1/features`, and Feast's feature-server route `/get-online-features`.
struct FeatureRoutes {
    typealias Context = FerryRequestContext
    let features: FeatureService
    /// The largest push.
    let maxBodyBytes: Int
    /// The largest online read (as an inference request's body).
    let maxOnlineBodyBytes: Int
    /// The largest entity CSV a training set takes (it is kept in a temporary file, not in memory).
    let maxEntityFileBytes: Int

    func add(to router: Router<Context>) {
        let api = router.group("/api/v1/features")
        api.post("/apply") { request, context in
            let data = Data(buffer: try await request.body.collect(upTo: 8 << 20))
            try API.FeatureDefinitionsBody.shape.refuseUnknownFields(data)
            let body = try API.decode(API.FeatureDefinitionsBody.self, from: data)
            let applied = try await features.apply(try body.domain(), by: context.actor)
            return try API.response(API.FeatureDefinitionsBody(applied))
        }
        api.get("/entities") { _, _ in
            try API.response(API.List(items: API.FeatureDefinitionsBody(FeatureDefinitions(entities: try await features.current().entities)).entities ?? []))
        }
        api.get("/views") { _, _ in
            try API.response(API.List(items: API.FeatureDefinitionsBody(FeatureDefinitions(views: try await features.current().views)).featureViews ?? []))
        }
        api.get("/views/{name}") { _, context in
            let view = try await features.view(named: try context.parameters.require("name"))
            return try API.response(API.FeatureDefinitionsBody(FeatureDefinitions(views: [view])).featureViews![0])
        }
        api.post("/materialize") { request, _ in
            let body = try API.decode(API.MaterializeRequest.self, from: Data(buffer: try await request.body.collect(upTo: 1 << 20)))
            guard let startText = body.start else { throw FerryError.invalid("start is required (ISO 8601); materialize-incremental starts where the last run ended") }
            let start = try Self.time(startText, field: "start")
            let results = try await features.materialize(start: start, end: try Self.time(body.end, field: "end"), views: body.views)
            return try API.response(API.MaterializeResponse(results))
        }
        api.post("/materialize-incremental") { request, _ in
            let body = try API.decode(API.MaterializeRequest.self, from: Data(buffer: try await request.body.collect(upTo: 1 << 20)))
            let results = try await features.materializeIncremental(end: try Self.time(body.end, field: "end"), views: body.views)
            return try API.response(API.MaterializeResponse(results))
        }
        api.post("/push") { request, _ in
            let body = try API.decode(API.PushRequest.self, from: Data(buffer: try await request.body.collect(upTo: maxBodyBytes)))
            let result = try await features.push(view: body.view, rows: body.rows)
            return try API.response(API.PushResponse(written: result.written, ignoredOlder: result.ignoredOlder))
        }
        api.post("/online") { request, _ in
            let body = try API.OnlineFeaturesRequest(json: try await request.body.collect(upTo: maxOnlineBodyBytes))
            let (refs, rows) = try body.parsed()
            let values = try await features.online(features: refs, entities: rows)
            return jsonResponse(Self.ferryAnswer(refs, rows, values))
        }
        api.post("/training-set") { request, _ in
            let q = request.uri.queryParameters
            guard let list = q["features"], !list.isEmpty else {
                throw FerryError.invalid("query 'features' is required: comma-separated view:feature references")
            }
            let refs = try list.split(separator: ",").enumerated().map { try FeatureRef(parsing: String($1), field: "features[\($0)]") }
            let full = try q["full_feature_names"].map { text -> Bool in
                guard let b = Bool(String(text)) else { throw FerryError.invalid("query 'full_feature_names' must be true or false") }
                return b
            } ?? false
            // The entity table goes to a temporary file, so a table of any size is joined a block at a time. Its
            // rows are all checked and the first block joined before the answer starts; the rest streams.
            let entities = try await TemporaryFile.receive(request.body, limit: maxEntityFileBytes, what: "the entity CSV")
            let run = try await features.trainingSet(
                entities: entities, features: refs, fullFeatureNames: full, timestampColumn: q["timestamp_column"].map(String.init) ?? "event_timestamp")
            return Response(status: .ok, headers: [.contentType: "text/csv"], body: ResponseBody { writer in
                defer { run.close() }
                // A MiB at a time, so a part of wide rows is not copied into one buffer of its whole size.
                while let part = try await run.next() {
                    var at = 0
                    while at < part.count {
                        let end = min(at + (1 << 20), part.count)
                        try await writer.write(ByteBuffer(bytes: part[at..<end]))
                        at = end
                    }
                }
                try await writer.finish(nil)
            })
        }
        // Feast's feature server, for clients written against `feast serve`: column-major, entity columns first.
        router.post("/get-online-features") { request, _ in
            let body = try API.OnlineFeaturesRequest(json: try await request.body.collect(upTo: maxOnlineBodyBytes))
            let (refs, rows) = try body.parsed()
            try Self.checkFeastColumns(refs, entities: body.entities.keys.sorted(), fullFeatureNames: body.fullFeatureNames ?? false)
            let values = try await features.online(features: refs, entities: rows)
            return jsonResponse(Self.feastAnswer(refs, body.entities, values, fullFeatureNames: body.fullFeatureNames ?? false))
        }
    }

    /// `{"features": [...], "results": [{"entity", "values", "statuses", "event_timestamps"}]}`, one result per entity.
    static func ferryAnswer(_ refs: [FeatureRef], _ rows: [[String: JSONValue]], _ values: [[OnlineFeatureValue]]) -> [UInt8] {
        var w = JSONWriter(capacity: 256 + 64 * refs.count * rows.count)
        w.raw("{\"features\":[")
        for (i, ref) in refs.enumerated() {
            if i > 0 { w.raw(",") }
            w.string(ref.description)
        }
        w.raw("],\"results\":[")
        for (r, row) in rows.enumerated() {
            if r > 0 { w.raw(",") }
            w.raw("{\"entity\":")
            w.value(.object(row))
            w.raw(",\"values\":[")
            for (i, v) in values[r].enumerated() {
                if i > 0 { w.raw(",") }
                w.datum(v.value)
            }
            w.raw("],\"statuses\":[")
            for (i, v) in values[r].enumerated() {
                if i > 0 { w.raw(",") }
                w.string(v.status.rawValue)
            }
            w.raw("],\"event_timestamps\":[")
            for (i, v) in values[r].enumerated() {
                if i > 0 { w.raw(",") }
                if let t = v.eventTime { w.string(FeatureTime.format(t)) } else { w.raw("null") }
            }
            w.raw("]}")
        }
        w.raw("]}")
        return w.bytes
    }

    /// Feast's column-major answer: `{"metadata": {"feature_names"}, "results": [{"values", "statuses", "event_timestamps"}]}`,
    /// the entity columns first (PRESENT, at the epoch), then one column per feature.
    /// Feast's answer names its columns, so two of one name are refused, as Feast refuses them
    /// (`FeatureNameCollisionError`): a client reading the columns by name would keep one and lose the other.
    static func checkFeastColumns(_ refs: [FeatureRef], entities: [String], fullFeatureNames: Bool) throws {
        var seen: [String: String] = Dictionary(entities.map { ($0, "an entity column") }, uniquingKeysWith: { a, _ in a })
        for (i, ref) in refs.enumerated() {
            if let first = refs[..<i].firstIndex(of: ref) {
                throw FerryError.invalid("features[\(i)] '\(ref)' is asked for twice (also features[\(first)])")
            }
            let name = fullFeatureNames ? ref.fullName : ref.feature
            if let other = seen[name] {
                throw FerryError.invalid(
                    "features[\(i)] '\(ref)': its column '\(name)' would repeat \(other)"
                        + (fullFeatureNames ? "" : "; ask for full feature names (full_feature_names: true)"))
            }
            seen[name] = "'\(ref)'"
        }
    }

    static func feastAnswer(
        _ refs: [FeatureRef], _ entities: [String: [JSONValue]], _ values: [[OnlineFeatureValue]], fullFeatureNames: Bool
    ) -> [UInt8] {
        let epoch = "1970-01-01T00:00:00Z"
        let keyNames = entities.keys.sorted()
        var w = JSONWriter(capacity: 256 + 64 * (refs.count + keyNames.count) * values.count)
        w.raw("{\"metadata\":{\"feature_names\":[")
        for (i, name) in (keyNames + refs.map { fullFeatureNames ? $0.fullName : $0.feature }).enumerated() {
            if i > 0 { w.raw(",") }
            w.string(name)
        }
        w.raw("]},\"results\":[")
        func column(_ count: Int, value: (inout JSONWriter, Int) -> Void, status: (Int) -> String, time: (Int) -> String) {
            w.raw("{\"values\":[")
            for r in 0..<count {
                if r > 0 { w.raw(",") }
                value(&w, r)
            }
            w.raw("],\"statuses\":[")
            for r in 0..<count {
                if r > 0 { w.raw(",") }
                w.string(status(r))
            }
            w.raw("],\"event_timestamps\":[")
            for r in 0..<count {
                if r > 0 { w.raw(",") }
                w.string(time(r))
            }
            w.raw("]}")
        }
        for (k, name) in keyNames.enumerated() {
            if k > 0 { w.raw(",") }
            let column_ = entities[name]!
            column(column_.count, value: { $0.value(column_[$1]) }, status: { _ in "PRESENT" }, time: { _ in epoch })
        }
        for i in refs.indices {
            if i > 0 || !keyNames.isEmpty { w.raw(",") }
            column(values.count, value: { $0.datum(values[$1][i].value) }, status: { feastStatus(values[$0][i].status) },
                   time: { values[$0][i].eventTime.map(feastTime) ?? epoch })
        }
        w.raw("]}")
        return w.bytes
    }

    static func time(_ text: String, field: String) throws -> Int64 {
        guard let t = FeatureTime.parse(text) else { throw FerryError.invalid("\(field) '\(text)' is not an ISO 8601 timestamp") }
        return t
    }

    /// Feast's statuses. Feast answers a stored null as PRESENT (it never sends NULL_VALUE), and so does this route.
    static func feastStatus(_ status: OnlineFeatureValue.Status) -> String {
        switch status {
        case .present, .nullValue: "PRESENT"
        case .notFound: "NOT_FOUND"
        case .outsideTTL: "OUTSIDE_MAX_AGE"
        }
    }

    /// Feast prints whole seconds.
    static func feastTime(_ micros: Int64) -> String {
        FeatureTime.format(micros - ((micros % 1_000_000) + 1_000_000) % 1_000_000)
    }
}

/// A file in the system's temporary folder (`TMPDIR`) with no name: it is removed as soon as it is opened, so it
/// goes when its handle is closed, and nothing is left behind when the server is killed while a request uses it.
enum TemporaryFile {
    /// A request body written to a new temporary file, refused past `limit` bytes; the handle reads and writes it.
    static func receive(_ body: RequestBody, limit: Int, what: String) async throws -> FileHandle {
        let folder = FileManager.default.temporaryDirectory.path
        let path = (folder as NSString).appendingPathComponent("ferry-\(UUID().uuidString)")
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw FerryError(.internal, "cannot create a temporary file in \(folder): \(String(cString: strerror(errno)))")
        }
        unlink(path)
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        do {
            var size = 0
            for try await buffer in body {
                size += buffer.readableBytes
                guard size <= limit else { throw FerryError(.tooLarge, "\(what) is larger than this server's limit of \(limit >> 20) MiB") }
                try handle.write(contentsOf: Array(buffer.readableBytesView))
            }
            return handle
        } catch {
            try? handle.close()
            throw error
        }
    }
}
