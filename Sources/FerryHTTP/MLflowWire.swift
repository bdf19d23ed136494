import FerryCore
import FerryEngine
import Foundation
import HTTPTypes
import Hummingbird

/// A request message of MLflow's REST API: the JSON body of a POST, PATCH or DELETE, or the query string of a GET
/// (a repeated key is a repeated field). Fields are read by name with MLflow's messages when missing or mistyped.
struct MLflowMessage {
    var fields: [String: JSONValue]

    static func read(_ request: Request, limit: Int = 16 << 20) async throws -> MLflowMessage {
        if request.method == .get {
            // Form encoding, as Python's requests sends it: '+' is a space, then percent-decoding.
            func decode(_ part: Substring) -> String {
                let spaced = part.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            var fields: [String: JSONValue] = [:]
            for pair in (request.uri.query ?? "").split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = decode(parts[0])
                let text = JSONValue.string(parts.count > 1 ? decode(parts[1]) : "")
                switch fields[key] {
                case nil: fields[key] = text
                case .array(let items)?: fields[key] = .array(items + [text])
                case let one?: fields[key] = .array([one, text])
                }
            }
            return MLflowMessage(fields: fields)
        }
        let buffer = try await request.body.collect(upTo: limit)
        guard buffer.readableBytes > 0 else { return MLflowMessage(fields: [:]) }
        guard case .object(let fields) = try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: buffer)) else {
            throw FerryError.invalid("the request body is not a JSON object")
        }
        return MLflowMessage(fields: fields)
    }

    func string(_ name: String) throws -> String? {
        switch fields[name] {
        case nil, .null?: return nil
        case .string(let s)?: return s
        case .number(let n)? where Int64(exactly: n) != nil: return String(Int64(exactly: n)!)
        case .array(let items)? where items.count == 1: return try MLflowMessage(fields: [name: items[0]]).string(name)
        case let other?: throw Self.invalid(name, other)
        }
    }

    func required(_ name: String) throws -> String {
        guard let value = try string(name), !value.isEmpty else {
            throw FerryError.invalid("Missing value for required parameter '\(name)'. See the API docs for more information about request parameters.")
        }
        return value
    }

    /// The run id, sent as `run_id` or (older clients) `run_uuid`.
    func runID() throws -> String {
        if let id = try string("run_id"), !id.isEmpty { return id }
        if let id = try string("run_uuid"), !id.isEmpty { return id }
        return try required("run_id")
    }

    func int64(_ name: String) throws -> Int64? {
        switch fields[name] {
        case nil, .null?: return nil
        // `exactly`: a number past Int64 (1e20, 2^63) is refused, not a crash of the server.
        case .number(let n)?: if let i = Int64(exactly: n) { return i }
        case .string(let s)?: if let n = Int64(s) { return n }
        default: break
        }
        throw Self.invalid(name, fields[name]!)
    }

    /// A double: a number, or the strings "NaN", "Infinity" and "-Infinity" (protobuf's JSON for them).
    func double(_ name: String) throws -> Double? {
        switch fields[name] {
        case nil, .null?: return nil
        case .number(let n)?: return n
        case .string(let s)?:
            switch s {
            case "NaN", "nan": return .nan
            case "Infinity", "inf": return .infinity
            case "-Infinity", "-inf": return -.infinity
            default: if let n = Double(s) { return n }
            }
        default: break
        }
        throw Self.invalid(name, fields[name]!)
    }

    func bool(_ name: String) throws -> Bool? {
        switch fields[name] {
        case nil, .null?: return nil
        case .bool(let b)?: return b
        case .string("true")?: return true
        case .string("false")?: return false
        default: throw Self.invalid(name, fields[name]!)
        }
    }

    func strings(_ name: String) throws -> [String] {
        switch fields[name] {
        case nil, .null?: return []
        case .string(let s)?: return [s]
        case .array(let items)?:
            return try items.map {
                guard case .string(let s) = $0 else { throw Self.invalid(name, .array(items)) }
                return s
            }
        case let other?: throw Self.invalid(name, other)
        }
    }

    func messages(_ name: String) throws -> [MLflowMessage] {
        switch fields[name] {
        case nil, .null?: return []
        case .array(let items)?:
            return try items.map {
                guard case .object(let o) = $0 else { throw Self.invalid(name, .array(items)) }
                return MLflowMessage(fields: o)
            }
        case let other?: throw Self.invalid(name, other)
        }
    }

    /// `[{"key": ..., "value": ...}]` as a dictionary.
    /// Key-value messages (params, tags); with `unique`, a key sent twice is refused, as MLflow refuses duplicate
    /// param keys in one batch (the last value silently won).
    func keyValues(_ name: String, unique: Bool = false) throws -> [String: String] {
        var out: [String: String] = [:]
        for item in try messages(name) {
            let key = try item.required("key")
            if unique, out[key] != nil {
                throw FerryError.invalid("Duplicate parameter keys have been submitted: ['\(key)']. Please ensure the request contains only one param value per param key.")
            }
            out[key] = try item.string("value") ?? ""
        }
        return out
    }

    func viewType(_ name: String) throws -> ViewType {
        guard let text = try string(name) else { return .activeOnly }
        guard let view = ViewType(rawValue: text) else {
            throw FerryError.invalid("Invalid value '\(text)' for parameter '\(name)': use ACTIVE_ONLY, DELETED_ONLY or ALL")
        }
        return view
    }

    static func invalid(_ name: String, _ value: JSONValue) -> FerryError {
        var w = JSONWriter()
        w.value(value)
        return FerryError.invalid("Invalid value \(String(decoding: w.bytes, as: UTF8.self)) for parameter '\(name)' supplied")
    }
}

/// MLflow's response shapes (proto JSON: snake_case names, int64 as numbers, enums by name, non-finite doubles as
/// strings).
enum MLflowJSON {
    static func response(_ value: JSONValue) -> Response {
        var w = JSONWriter(capacity: 1024)
        w.value(value)
        return jsonResponse(w.bytes)
    }

    static let empty = response([:])

    static func number(_ v: Int64) -> JSONValue { .number(Double(v)) }

    static func double(_ v: Double) -> JSONValue {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "Infinity" : "-Infinity" }
        return .number(v)
    }

    static func keyValues(_ pairs: [String: String]) -> JSONValue {
        .array(pairs.sorted { $0.key < $1.key }.map { ["key": .string($0.key), "value": .string($0.value)] })
    }

    static func experiment(_ e: Experiment) -> JSONValue {
        [
            "experiment_id": .string(e.id), "name": .string(e.name), "artifact_location": .string(e.artifactLocation),
            "lifecycle_stage": .string(e.lifecycleStage.rawValue), "creation_time": number(e.creationTime),
            "last_update_time": number(e.lastUpdateTime), "tags": keyValues(e.tags),
        ]
    }

    static func runInfo(_ i: RunInfo) -> JSONValue {
        var o: [String: JSONValue] = [
            "run_id": .string(i.runID), "run_uuid": .string(i.runID), "experiment_id": .string(i.experimentID),
            "run_name": .string(i.runName), "user_id": .string(i.userID), "status": .string(i.status.rawValue),
            "artifact_uri": .string(i.artifactURI), "lifecycle_stage": .string(i.lifecycleStage.rawValue),
        ]
        if let t = i.startTime { o["start_time"] = number(t) }
        if let t = i.endTime { o["end_time"] = number(t) }
        return .object(o)
    }

    static func metric(_ m: Metric) -> JSONValue {
        ["key": .string(m.key), "value": double(m.value), "timestamp": number(m.timestamp), "step": number(m.step)]
    }

    static func run(_ r: Run) -> JSONValue {
        var outputs: [String: JSONValue] = [:]
        if !r.outputs.isEmpty {
            outputs["model_outputs"] = .array(r.outputs.map { ["model_id": .string($0.modelID), "step": number($0.step)] })
        }
        return [
            "info": runInfo(r.info),
            "data": ["metrics": .array(r.metrics.map(metric)), "params": keyValues(r.params), "tags": keyValues(r.tags)],
            "inputs": [:], "outputs": .object(outputs),
        ]
    }

    static func loggedModel(_ m: LoggedModel) -> JSONValue {
        var info: [String: JSONValue] = [
            "model_id": .string(m.modelID), "experiment_id": .string(m.experimentID), "name": .string(m.name),
            "creation_timestamp_ms": number(m.creationTime), "last_updated_timestamp_ms": number(m.lastUpdatedTime),
            "artifact_uri": .string(m.artifactLocation), "status": .string(m.status.rawValue), "model_type": .string(m.modelType),
            "source_run_id": .string(m.sourceRunID), "tags": keyValues(m.tags),
        ]
        if !m.statusMessage.isEmpty { info["status_message"] = .string(m.statusMessage) }
        return ["info": .object(info), "data": ["params": keyValues(m.params)]]
    }

    static func millis(_ date: Date) -> JSONValue { .number((date.timeIntervalSince1970 * 1000).rounded()) }

    /// MLflow's stages are Ferry's aliases `production` and `staging` (archived versions are "Archived").
    static let stageAliases = ["Production": Alias.production, "Staging": "staging"]

    static func stage(_ v: ModelVersion, aliases: [String]) -> String {
        if v.archived { return "Archived" }
        return stageAliases.sorted { $0.key < $1.key }.first { aliases.contains($0.value) }?.key ?? "None"
    }

    /// A version of Ferry's registry as an MLflow model version: always READY; its stage from its aliases.
    static func modelVersion(_ v: ModelVersion, aliases: [String]) -> JSONValue {
        var o: [String: JSONValue] = [
            "name": .string(v.model), "version": .string(String(v.version)), "creation_timestamp": millis(v.createdAt),
            "last_updated_timestamp": millis(v.createdAt), "current_stage": .string(stage(v, aliases: aliases)),
            "description": .string(v.description), "source": .string(v.lineage.source ?? ""), "status": "READY", "run_link": "",
            "user_id": .string(v.createdBy),
        ]
        if let run = v.lineage.run { o["run_id"] = .string(run.hasPrefix("mlflow:") ? String(run.dropFirst(7)) : run) }
        if !aliases.isEmpty { o["aliases"] = .array(aliases.map { .string($0) }) }
        return .object(o)
    }

    static func registeredModel(_ m: Model, versions: [ModelVersion], aliases: [Alias]) -> JSONValue {
        let updated = versions.map(\.createdAt).max().map { max($0, m.createdAt) } ?? m.createdAt
        var o: [String: JSONValue] = [
            "name": .string(m.name), "creation_timestamp": millis(m.createdAt), "last_updated_timestamp": millis(updated),
            "tags": keyValues(m.tags),
            "aliases": .array(aliases.map { ["alias": .string($0.name), "version": .string(String($0.version))] }),
        ]
        if !m.description.isEmpty { o["description"] = .string(m.description) }
        if let latest = versions.last {
            o["latest_versions"] = [modelVersion(latest, aliases: aliases.filter { $0.version == latest.version }.map(\.name))]
        }
        return .object(o)
    }
}

/// MLflow's error shape, `{"error_code": ..., "message": ...}`, for the routes under `/api/2.0` and `/api/3.0`.
enum MLflowErrors {
    static func applies(to path: String) -> Bool {
        path.hasPrefix("/api/2.0/") || path.hasPrefix("/api/3.0/")
    }

    static func code(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 400, 413: "INVALID_PARAMETER_VALUE"
        case 401: "UNAUTHENTICATED"
        case 403: "PERMISSION_DENIED"
        case 404: "RESOURCE_DOES_NOT_EXIST"
        case 405: "ENDPOINT_NOT_FOUND"
        case 409: "INVALID_STATE"
        case 429: "REQUEST_LIMIT_EXCEEDED"
        case 503: "TEMPORARILY_UNAVAILABLE"
        default: "INTERNAL_ERROR"
        }
    }

    /// The answer to an error: MLflow answers an existing resource with 400 RESOURCE_ALREADY_EXISTS (its client
    /// branches on that code), and a conflict of state with 400 INVALID_STATE.
    static func response(_ status: HTTPResponse.Status, _ message: String, code ferry: FerryError.Code?, routeMissing: Bool) -> Response {
        var status = status
        var code = code(for: status)
        if routeMissing {
            code = "ENDPOINT_NOT_FOUND"
        } else if ferry == .alreadyExists {
            (status, code) = (.badRequest, "RESOURCE_ALREADY_EXISTS")
        } else if ferry == .failedPrecondition {
            (status, code) = (.badRequest, "INVALID_STATE")
        }
        var w = JSONWriter()
        w.raw("{\"error_code\":")
        w.string(code)
        w.raw(",\"message\":")
        w.string(message)
        w.raw("}")
        return jsonResponse(w.bytes, status: status)
    }
}
