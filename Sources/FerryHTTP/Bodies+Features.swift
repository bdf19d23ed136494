import FerryCore
import FerryEngine
import Foundation
import NIOCore

// Feature store requests and answers (see `FeatureRoutes`).
extension API {
    /// `POST /api/v1/features/apply`: entities and feature views, as in `features.yaml`.
    struct FeatureDefinitionsBody: Codable, Sendable {
        struct KeyBody: Codable, Sendable {
            var name: String
            var type: String
        }

        struct EntityBody: Codable, Sendable {
            var name: String
            var joinKeys: [KeyBody]
            var description: String?
            var version: Int?
            var updatedBy: String?
            var updatedAt: Date?

            enum CodingKeys: String, CodingKey {
                case name, description, version
                case joinKeys = "join_keys", updatedBy = "updated_by", updatedAt = "updated_at"
            }
        }

        struct FieldBody: Codable, Sendable {
            var name: String
            var type: String
            var description: String?
        }

        struct SourceBody: Codable, Sendable {
            var type: String?
            var path: String?
            var format: String?
            var url: String?
            var table: String?
            var query: String?
            var timestampField: String?
            var createdTimestampField: String?

            enum CodingKeys: String, CodingKey {
                case type, path, format, url, table, query
                case timestampField = "timestamp_field", createdTimestampField = "created_timestamp_field"
            }
        }

        /// A ttl is a number of seconds or a duration string ("2h").
        enum TTL: Codable, Sendable {
            case seconds(Int64)
            case text(String)

            init(from decoder: any Decoder) throws {
                let c = try decoder.singleValueContainer()
                if let n = try? c.decode(Int64.self) {
                    self = .seconds(n)
                } else if let text = try? c.decode(String.self) {
                    self = .text(text)
                } else {
                    throw DecodingError.dataCorruptedError(in: c, debugDescription: "must be whole seconds (86400) or a duration (\"1d\", \"2h\")")
                }
            }

            func encode(to encoder: any Encoder) throws {
                var c = encoder.singleValueContainer()
                switch self {
                case .seconds(let n): try c.encode(n)
                case .text(let t): try c.encode(t)
                }
            }
        }

        struct ViewBody: Codable, Sendable {
            var name: String
            var entities: [String]
            var features: [FieldBody]
            var source: SourceBody
            var ttl: TTL?
            var owner: String?
            var description: String?
            var tags: [String: String]?
            var version: Int?
            var updatedBy: String?
            var updatedAt: Date?

            enum CodingKeys: String, CodingKey {
                case name, entities, features, source, ttl, owner, description, tags, version
                case updatedBy = "updated_by", updatedAt = "updated_at"
            }
        }

        var entities: [EntityBody]?
        var featureViews: [ViewBody]?

        enum CodingKeys: String, CodingKey {
            case entities
            case featureViews = "feature_views"
        }

        init(_ domain: FeatureDefinitions) {
            entities = domain.entities.map { e in
                EntityBody(
                    name: e.name, joinKeys: e.joinKeys.map { KeyBody(name: $0.name, type: $0.type.rawValue) }, description: e.description,
                    version: e.version, updatedBy: e.updatedBy, updatedAt: e.updatedAt)
            }
            featureViews = domain.views.map { v in
                var source = SourceBody(timestampField: v.source.timestampField, createdTimestampField: v.source.createdTimestampField)
                switch v.source.kind {
                case .file(let path, let format):
                    source.type = "file"
                    source.path = path
                    source.format = format.rawValue
                case .postgres(let url, let table, let query):
                    source.type = "postgres"
                    // Any reader may list views: the password is not theirs to read (errors mask it too).
                    source.url = url.maskingPassword
                    source.table = table
                    source.query = query
                }
                return ViewBody(
                    name: v.name, entities: v.entities, features: v.features.map { FieldBody(name: $0.name, type: $0.type.rawValue, description: $0.description) },
                    source: source, ttl: .seconds(v.ttlSeconds), owner: v.owner, description: v.description, tags: v.tags, version: v.version,
                    updatedBy: v.updatedBy, updatedAt: v.updatedAt)
            }
        }

        /// The fields of a definitions file (`tags` holds any).
        static let shape = Shape(what: "a definitions file", fields: ["entities", "feature_views"], inner: [
            "entities": Shape(
                what: "an entity", fields: ["name", "join_keys", "description", "version", "updated_by", "updated_at"],
                inner: ["join_keys": Shape(what: "a join key", fields: ["name", "type"])]),
            "feature_views": Shape(
                what: "a feature view",
                fields: ["name", "entities", "features", "source", "ttl", "owner", "description", "tags", "version", "updated_by", "updated_at"],
                inner: [
                    "features": Shape(what: "a feature", fields: ["name", "type", "description"]),
                    "source": Shape(what: "a source", fields: ["type", "path", "format", "url", "table", "query", "timestamp_field", "created_timestamp_field"]),
                ]),
        ])

        /// The definitions, with errors naming the field (`feature_views[0].features[1].type`).
        func domain() throws -> FeatureDefinitions {
            func type(_ text: String, _ field: String) throws -> FeatureType {
                guard let t = FeatureType(rawValue: text) else {
                    throw FerryError.invalid("\(field) '\(text)' is not a type (use \(FeatureType.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                return t
            }
            guard entities != nil || featureViews != nil else {
                throw FerryError.invalid("the body defines nothing: give 'entities' and/or 'feature_views'")
            }
            let entities = try (entities ?? []).enumerated().map { i, e in
                FeatureEntity(
                    name: e.name,
                    joinKeys: try e.joinKeys.enumerated().map { k, key in
                        JoinKey(name: key.name, type: try type(key.type, "entities[\(i)].join_keys[\(k)].type"))
                    },
                    description: e.description ?? "")
            }
            let views = try (featureViews ?? []).enumerated().map { i, v -> FeatureView in
                let field = "feature_views[\(i)]"
                let ttl: Int64 = switch v.ttl {
                case nil: 0
                case .seconds(let n)?: n
                case .text(let t)?: try parseDuration(t, field: "\(field).ttl")
                }
                let s = v.source
                let kind: FeatureSource.Kind
                switch s.type ?? (s.path != nil ? "file" : s.url != nil ? "postgres" : "") {
                case "file":
                    guard let path = s.path else { throw FerryError.invalid("\(field).source.path is required for a file source") }
                    let format: FeatureSource.FileFormat
                    if let f = s.format {
                        guard let known = FeatureSource.FileFormat(rawValue: f) else {
                            throw FerryError.invalid("\(field).source.format '\(f)' is not a file format (use csv or jsonl)")
                        }
                        format = known
                    } else {
                        format = path.hasSuffix(".jsonl") || path.hasSuffix(".ndjson") ? .jsonl : .csv
                    }
                    kind = .file(path: path, format: format)
                case "postgres":
                    kind = .postgres(url: s.url ?? "", table: s.table, query: s.query)
                case "":
                    throw FerryError.invalid("\(field).source needs a 'path' (a CSV or JSON Lines file) or a PostgreSQL 'url' with a 'table' or 'query'")
                case let other:
                    throw FerryError.invalid("\(field).source.type '\(other)' is not a source type (use file or postgres)")
                }
                return FeatureView(
                    name: v.name, entities: v.entities,
                    features: try v.features.enumerated().map { f, feature in
                        FeatureField(name: feature.name, type: try type(feature.type, "\(field).features[\(f)].type"), description: feature.description ?? "")
                    },
                    source: FeatureSource(kind: kind, timestampField: s.timestampField ?? "event_timestamp", createdTimestampField: s.createdTimestampField),
                    ttlSeconds: ttl, owner: v.owner ?? "", description: v.description ?? "", tags: v.tags ?? [:])
            }
            return FeatureDefinitions(entities: entities, views: views)
        }
    }

    /// `POST /api/v1/features/materialize` and `/materialize-incremental`.
    struct MaterializeRequest: Decodable, Sendable {
        var start: String?
        var end: String
        var views: [String]?
    }

    struct MaterializeResponse: Encodable, Sendable {
        struct ViewResult: Encodable, Sendable {
            var name: String
            var start: String?
            var end: String
            var rowsRead: Int
            var rowsWritten: Int

            enum CodingKeys: String, CodingKey {
                case name, start, end
                case rowsRead = "rows_read", rowsWritten = "rows_written"
            }
        }

        var views: [ViewResult]

        init(_ results: [MaterializationResult]) {
            views = results.map {
                ViewResult(
                    name: $0.view, start: $0.start == Int64.min ? nil : FeatureTime.format($0.start), end: FeatureTime.format($0.end),
                    rowsRead: $0.rowsRead, rowsWritten: $0.rowsWritten)
            }
        }
    }

    /// `POST /api/v1/features/push`: rows of one view, each with the join keys, the timestamp and every feature.
    struct PushRequest: Decodable, Sendable {
        var view: String
        var rows: [[String: JSONValue]]
    }

    struct PushResponse: Encodable, Sendable {
        var written: Int
        var ignoredOlder: Int
        enum CodingKeys: String, CodingKey {
            case written
            case ignoredOlder = "ignored_older"
        }
    }

    /// `POST /api/v1/features/online` (and Feast's `/get-online-features`): entity key columns and feature refs.
    /// Read with `JSONReader`: Foundation's decoder was 14% of an online read's CPU. As a decoder would, it skips
    /// unknown members and takes null as absent.
    struct OnlineFeaturesRequest: Sendable {
        var features: [String]?
        var featureService: String?
        var entities: [String: [JSONValue]]
        var fullFeatureNames: Bool?

        init(json body: ByteBuffer) throws {
            guard body.readableBytes > 0 else { throw FerryError.invalid("request body is empty; send a JSON object") }
            var features: [String]?, featureService: String?, entities: [String: [JSONValue]]?, fullFeatureNames: Bool?
            try body.withUnsafeReadableBytes { bytes in
                var reader = JSONReader(bytes)
                try reader.object(at: "") { r, key in
                    let null = r.peek() == UInt8(ascii: "n") && r.literal() == .some(.none)
                    switch key {
                    case "features":
                        features = nil
                        guard !null else { return }
                        var list: [String] = []
                        try r.array(at: "features") { r, i in list.append(try r.string(at: "features[\(i)]")) }
                        features = list
                    case "entities":
                        guard !null else { throw FerryError.invalid("field 'entities' must not be null: expected an object of lists") }
                        var columns: [String: [JSONValue]] = [:]
                        try r.object(at: "entities") { r, name in
                            var values: [JSONValue] = []
                            try r.array(at: "entities.\(name)") { r, i in values.append(try r.value(at: "entities.\(name)[\(i)]")) }
                            columns[name] = values
                        }
                        entities = columns
                    case "feature_service":
                        featureService = try null ? nil : r.string(at: "feature_service")
                    case "full_feature_names":
                        guard !null else { fullFeatureNames = nil; return }
                        guard case .some(.some(let flag)) = r.literal() else { throw r.fail("true or false", at: "full_feature_names") }
                        fullFeatureNames = flag
                    default:
                        if !null { try r.skipValue(at: key) }
                    }
                }
                try reader.finish()
            }
            guard let entities else { throw FerryError.invalid("field 'entities' is required") }
            self.features = features
            self.featureService = featureService
            self.entities = entities
            self.fullFeatureNames = fullFeatureNames
        }

        /// The refs and one entity per row; errors name the field.
        func parsed() throws -> (refs: [FeatureRef], rows: [[String: JSONValue]]) {
            if featureService != nil {
                throw FerryError.invalid("feature_service is not supported by Ferry; list the features as view:feature in 'features'")
            }
            guard let features, !features.isEmpty else { throw FerryError.invalid("features is required: a list of view:feature references") }
            let refs = try features.enumerated().map { try FeatureRef(parsing: $1, field: "features[\($0)]") }
            // Measured against the first join key by name, so the message does not depend on the dictionary's order.
            let byName = entities.sorted(by: { $0.key < $1.key })
            guard let count = byName.first?.value.count, count > 0 else {
                throw FerryError.invalid("entities must map each join key to a non-empty list of values")
            }
            for (name, values) in byName where values.count != count {
                throw FerryError.invalid("entities.\(name) has \(values.count) values; every join key needs the same number (\(count))")
            }
            let rows = (0..<count).map { r in entities.mapValues { $0[r] } }
            return (refs, rows)
        }
    }
}
