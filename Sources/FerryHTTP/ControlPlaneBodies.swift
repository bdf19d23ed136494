import FerryCore
import Foundation
import Hummingbird

// HTTP speaks through its own body types (here and in `Bodies+*.swift`), never through domain or store types:
// a domain type can change without changing the wire, and the wire can change without touching the domain. Each
// body copies one domain type field by field; `OpenAPIBodyTests` checks real answers against `/openapi.json`.
//
// Conventions:
// - Enums are sent as their raw strings, as the domain enums encoded themselves.
// - Optional fields are left out when nil (synthesized `encodeIfPresent`), as the domain types' synthesized coding did.
// - Dates stay `Date`; `API.encoder` writes them as ISO 8601.
// - A few keys are camelCase because the domain type had no coding keys (`ReferenceProfileBody`,
//   `DistributionProfileBody`); they are spelled out so the wire stays as it was.

/// JSON bodies of the control-plane API (`/api/v1`). Keys are snake_case; times are ISO 8601.
enum API {
    struct ModelBody: Codable, Sendable {
        var name: String
        var description: String
        var tags: [String: String]
        var createdBy: String
        var createdAt: Date
        var latestVersion: Int?
        var aliases: [String: Int]?
        /// Aliases the signature policy keeps from serving, with the reason.
        var servingBlocked: [String: String]?

        enum CodingKeys: String, CodingKey {
            case name, description, tags, aliases
            case createdBy = "created_by", createdAt = "created_at", latestVersion = "latest_version"
            case servingBlocked = "serving_blocked"
        }

        init(_ m: Model, latestVersion: Int? = nil, aliases: [Alias]? = nil, blocked: [String: String] = [:]) {
            servingBlocked = blocked.isEmpty ? nil : blocked
            name = m.name
            description = m.description
            tags = m.tags
            createdBy = m.createdBy
            createdAt = m.createdAt
            self.latestVersion = latestVersion
            self.aliases = aliases.map { Dictionary(uniqueKeysWithValues: $0.map { ($0.name, $0.version) }) }
        }
    }

    struct LineageBody: Codable, Sendable {
        var trainingData: String?
        var trainingDataDigest: String?
        var code: String?
        var run: String?
        var source: String?

        enum CodingKeys: String, CodingKey {
            case trainingData = "training_data", trainingDataDigest = "training_data_digest", code, run, source
        }

        init(_ l: Lineage) {
            trainingData = l.trainingData
            trainingDataDigest = l.trainingDataDigest
            code = l.code
            run = l.run
            source = l.source
        }

        var domain: Lineage { Lineage(trainingData: trainingData, trainingDataDigest: trainingDataDigest, code: code, run: run, source: source) }
    }

    struct ArtifactBody: Codable, Sendable {
        var sha256: String
        var size: Int
    }

    struct VersionBody: Encodable, Sendable {
        var model: String
        var version: Int
        var format: String
        var artifact: ArtifactBody
        var inputSchema: InputSchemaBody
        var outputSchema: OutputSchemaBody
        var description: String
        var params: [String: JSONValue]
        var metrics: [String: Double]
        var lineage: LineageBody
        var details: [String: JSONValue]
        var runtimeOptions: [String: String]
        var createdBy: String
        var createdAt: Date
        var archived: Bool
        var aliases: [String]
        var signature: ModelSignatureBody?
        /// Why this version is not served through an alias that points at it (the signature policy), if so.
        var servingBlocked: String?
        var features: [String]?

        enum CodingKeys: String, CodingKey {
            case model, version, format, artifact, description, params, metrics, lineage, details, archived, aliases, signature, features
            case servingBlocked = "serving_blocked"
            case inputSchema = "input_schema", outputSchema = "output_schema", runtimeOptions = "runtime_options"
            case createdBy = "created_by", createdAt = "created_at"
        }

        init(_ v: ModelVersion, aliases: [Alias], blocked: [String: String] = [:]) {
            let reasons = aliases.filter { $0.version == v.version }.compactMap { blocked[$0.name] }.sorted()
            servingBlocked = reasons.isEmpty ? nil : reasons.joined(separator: "; ")
            model = v.model
            version = v.version
            format = v.format.rawValue
            artifact = ArtifactBody(sha256: v.artifact.sha256, size: v.artifact.size)
            inputSchema = InputSchemaBody(v.inputSchema)
            outputSchema = OutputSchemaBody(v.outputSchema)
            description = v.description
            params = v.params
            metrics = v.metrics
            lineage = LineageBody(v.lineage)
            details = v.details
            runtimeOptions = v.runtimeOptions
            createdBy = v.createdBy
            createdAt = v.createdAt
            archived = v.archived
            signature = v.signature.map(ModelSignatureBody.init)
            features = v.features.isEmpty ? nil : v.features.map(\.description)
            self.aliases = aliases.filter { $0.version == v.version }.map(\.name).sorted()
        }
    }

    struct AliasBody: Codable, Sendable {
        var model: String
        var name: String
        var version: Int
        var updatedBy: String
        var updatedAt: Date

        enum CodingKeys: String, CodingKey {
            case model, name, version, updatedBy = "updated_by", updatedAt = "updated_at"
        }

        init(_ a: Alias) {
            model = a.model
            name = a.name
            version = a.version
            updatedBy = a.updatedBy
            updatedAt = a.updatedAt
        }
    }

    struct PredictionBody: Codable, Sendable {
        var id: String
        var model: String
        var version: Int
        var at: Date
        var latencyMicros: Int
        var inputs: [[JSONValue]]
        var outputs: [[Double]]
        /// Per row, what serving noticed of its inputs (absent when nothing was).
        var flags: [[String]]?

        enum CodingKeys: String, CodingKey {
            case id, model, version, at, inputs, outputs, flags, latencyMicros = "latency_us"
        }

        init(_ r: PredictionRecord) {
            id = r.id
            model = r.model
            version = r.version
            at = r.at
            latencyMicros = r.latencyMicros
            inputs = r.inputs
            outputs = r.outputs
            flags = r.flags.isEmpty ? nil : r.flags
        }
    }

    struct CreateModelRequest: Codable, Sendable {
        var name: String
        var description: String?
        var tags: [String: String]?
    }

    struct UpdateModelRequest: Codable, Sendable {
        var description: String?
        var tags: [String: String]?
    }

    struct RegisterVersionRequest: Codable, Sendable {
        var format: String?
        /// The artifact's bytes, base64-encoded.
        var artifact: String
        var description: String?
        var inputSchema: InputSchema?
        var params: [String: JSONValue]?
        var metrics: [String: Double]?
        var lineage: LineageBody?
        /// Aliases to point at the new version once it is registered (e.g. `["staging"]`).
        var aliases: [String]?
        var runtimeOptions: [String: String]?
        /// An Ed25519 signature from `ferry sign` over the artifact's digest.
        var signature: ModelSignature?
        /// `view:feature` references the feature store supplies at inference.
        var features: [String]?
        /// Sensitive inputs and how they are logged: `{"is_night": "hash"}` (`hash` or `redact`).
        var sensitive: [String: String]?

        enum CodingKeys: String, CodingKey {
            case format, artifact, description, params, metrics, lineage, aliases, signature, features, sensitive
            case inputSchema = "input_schema", runtimeOptions = "runtime_options"
        }
    }

    struct SetAliasRequest: Codable, Sendable {
        var version: Int
        var reason: String?
    }

    struct List<Item: Encodable & Sendable>: Encodable, Sendable {
        var items: [Item]
    }

    /// One page of the model list; `next_page_token` asks for the next (absent on the last page).
    struct ModelPage: Encodable, Sendable {
        var items: [ModelBody]
        var nextPageToken: String?

        enum CodingKeys: String, CodingKey {
            case items, nextPageToken = "next_page_token"
        }
    }

    /// A page token: the last name of the page, opaque to clients.
    static func pageToken(_ name: String) -> String {
        Data(name.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func pageName(_ token: String) throws -> String {
        var base64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let data = Data(base64Encoded: base64), let name = String(data: data, encoding: .utf8), (try? Model.validate(name: name)) != nil else {
            throw FerryError.invalid("query 'page_token' '\(token)' is not a token this server gave out")
        }
        return name
    }

    /// A whole number in 1...max from a query parameter.
    static func positive(_ text: String, field: String, max: Int) throws -> Int {
        guard let n = Int(text), n >= 1, n <= max else {
            throw FerryError.invalid("query '\(field)' must be a whole number from 1 to \(max), not '\(text)'")
        }
        return n
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.dateEncodingStrategy = .iso8601
        return e
    }()

    /// A JSON response of an API body.
    static func response<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        jsonResponse(Array(try encoder.encode(value)), status: status)
    }

    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }()

    /// Decodes a body, turning decoding failures into messages that name the field.
    static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        guard !data.isEmpty else { throw FerryError.invalid("request body is empty; send a JSON object") }
        do {
            return try decoder.decode(type, from: data)
        } catch let error as DecodingError {
            // A number that does not fit its field (2.5 for a count) is reported without a path by the decoder.
            if case .dataCorrupted(let c) = error, c.codingPath.isEmpty, (try? JSONSerialization.jsonObject(with: data)) != nil {
                throw FerryError.invalid("the body has a value its field cannot hold: \(c.debugDescription)")
            }
            throw FerryError.invalid(describe(error))
        }
    }

    /// The fields a JSON object of a request may have; `inner` gives the shape of a field that holds an object or a
    /// list of them. A misspelt field is refused, not ignored: ignored, it silently changes what the request means.
    struct Shape: Sendable {
        var what: String
        var fields: Set<String>
        var inner: [String: Shape] = [:]

        /// Refuses `data` when one of its objects has a field its shape does not name, naming it
        /// (`feature_views[0].tll`). Anything else wrong with `data` is left to the decoder.
        func refuseUnknownFields(_ data: Data) throws {
            guard let top = try? JSONSerialization.jsonObject(with: data) else { return }
            try check(top, "")
        }

        private func check(_ value: Any, _ path: String) throws {
            if let list = value as? [Any] {
                for (i, item) in list.enumerated() { try check(item, "\(path)[\(i)]") }
                return
            }
            guard let object = value as? [String: Any] else { return }
            if let unknown = object.keys.sorted().first(where: { !fields.contains($0) }) {
                throw FerryError.invalid("\(path.isEmpty ? "" : path + ".")\(unknown) is not a field of \(what) (its fields: \(fields.sorted().joined(separator: ", ")))")
            }
            for (key, shape) in inner.sorted(by: { $0.key < $1.key }) {
                if let inside = object[key] { try shape.check(inside, path.isEmpty ? key : "\(path).\(key)") }
            }
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ c: DecodingError.Context, _ extra: CodingKey? = nil) -> String {
            let keys = c.codingPath + (extra.map { [$0] } ?? [])
            let text = keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return text.isEmpty ? "the body" : "field '\(text.dropFirst(text.hasPrefix(".") ? 1 : 0))'"
        }
        switch error {
        case .keyNotFound(let key, let c): return "\(path(c, key)) is required"
        case .typeMismatch(let type, let c): return "\(path(c)) has the wrong type: expected \(readable(type))"
        case .valueNotFound(let type, let c): return "\(path(c)) must not be null: expected \(readable(type))"
        case .dataCorrupted(let c):
            if c.codingPath.isEmpty { return "request body is not valid JSON" }
            return "\(path(c)) is invalid: \(c.debugDescription)"
        @unknown default: return "request body is invalid: \(error)"
        }
    }

    private static func readable(_ type: Any.Type) -> String {
        if type is String.Type { return "a string" }
        if type is Int.Type || type is Int64.Type { return "an integer" }
        if type is Double.Type || type is Float.Type { return "a number" }
        if type is Bool.Type { return "a boolean" }
        let name = String(describing: type)
        if name.hasPrefix("Array") { return "an array" }
        if name.hasPrefix("Dictionary") { return "an object" }
        return name
    }
}
