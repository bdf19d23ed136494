import FerryCore
import Foundation

// Feature store tables (feature_entity.spec, feature_view.spec, feature_online.feature_values)

/// `feature_entity.spec`: a `FeatureEntity`.
package struct FeatureEntityRecord: Codable, Sendable, Equatable {
    static let currentSchemaVersion = 1

    struct Key: Codable, Sendable, Equatable {
        var name: String
        var type: String
    }

    var schemaVersion: Int
    var name: String
    var joinKeys: [Key]
    var description: String
    var version: Int
    var updatedBy: String
    var updatedAt: Double

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version", joinKeys = "join_keys", updatedBy = "updated_by", updatedAt = "updated_at"
        case name, description, version
    }

    package init(_ domain: FeatureEntity) {
        schemaVersion = Self.currentSchemaVersion
        name = domain.name
        joinKeys = domain.joinKeys.map { Key(name: $0.name, type: $0.type.rawValue) }
        description = domain.description
        version = domain.version
        updatedBy = domain.updatedBy
        updatedAt = Records.seconds(domain.updatedAt)
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schemaVersion = try Records.schemaVersion(in: c, forKey: .schemaVersion, record: "FeatureEntityRecord", current: Self.currentSchemaVersion)
        name = try c.decode(String.self, forKey: .name)
        joinKeys = try c.decode([Key].self, forKey: .joinKeys)
        description = try c.decode(String.self, forKey: .description)
        version = try c.decode(Int.self, forKey: .version)
        updatedBy = try c.decode(String.self, forKey: .updatedBy)
        updatedAt = try c.decode(Double.self, forKey: .updatedAt)
    }

    package func domain() throws -> FeatureEntity {
        FeatureEntity(
            name: name,
            joinKeys: try joinKeys.map { JoinKey(name: $0.name, type: try Records.parse($0.type, as: FeatureType.self, field: "join key type", in: "FeatureEntityRecord")) },
            description: description, version: version, updatedBy: updatedBy, updatedAt: Records.date(updatedAt))
    }
}

/// `feature_view.spec`: a `FeatureView`.
package struct FeatureViewRecord: Codable, Sendable, Equatable {
    static let currentSchemaVersion = 1

    struct Field: Codable, Sendable, Equatable {
        var name: String
        var type: String
        var description: String
    }

    struct Source: Codable, Sendable, Equatable {
        /// "file" or "postgres".
        var type: String
        var path: String?
        var format: String?
        var url: String?
        var table: String?
        var query: String?
        var timestampField: String
        var createdTimestampField: String?

        enum CodingKeys: String, CodingKey {
            case type, path, format, url, table, query
            case timestampField = "timestamp_field", createdTimestampField = "created_timestamp_field"
        }
    }

    var schemaVersion: Int
    var name: String
    var entities: [String]
    var features: [Field]
    var source: Source
    var ttlSeconds: Int64
    var owner: String
    var description: String
    var tags: [String: String]
    var version: Int
    var updatedBy: String
    var updatedAt: Double

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version", ttlSeconds = "ttl_seconds", updatedBy = "updated_by", updatedAt = "updated_at"
        case name, entities, features, source, owner, description, tags, version
    }

    package init(_ domain: FeatureView) {
        schemaVersion = Self.currentSchemaVersion
        name = domain.name
        entities = domain.entities
        features = domain.features.map { Field(name: $0.name, type: $0.type.rawValue, description: $0.description) }
        let s = domain.source
        switch s.kind {
        case .file(let path, let format):
            source = Source(type: "file", path: path, format: format.rawValue, timestampField: s.timestampField, createdTimestampField: s.createdTimestampField)
        case .postgres(let url, let table, let query):
            source = Source(type: "postgres", url: url, table: table, query: query, timestampField: s.timestampField, createdTimestampField: s.createdTimestampField)
        }
        ttlSeconds = domain.ttlSeconds
        owner = domain.owner
        description = domain.description
        tags = domain.tags
        version = domain.version
        updatedBy = domain.updatedBy
        updatedAt = Records.seconds(domain.updatedAt)
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schemaVersion = try Records.schemaVersion(in: c, forKey: .schemaVersion, record: "FeatureViewRecord", current: Self.currentSchemaVersion)
        name = try c.decode(String.self, forKey: .name)
        entities = try c.decode([String].self, forKey: .entities)
        features = try c.decode([Field].self, forKey: .features)
        source = try c.decode(Source.self, forKey: .source)
        ttlSeconds = try c.decode(Int64.self, forKey: .ttlSeconds)
        owner = try c.decode(String.self, forKey: .owner)
        description = try c.decode(String.self, forKey: .description)
        tags = try c.decode([String: String].self, forKey: .tags)
        version = try c.decode(Int.self, forKey: .version)
        updatedBy = try c.decode(String.self, forKey: .updatedBy)
        updatedAt = try c.decode(Double.self, forKey: .updatedAt)
    }

    package func domain() throws -> FeatureView {
        let record = "FeatureViewRecord"
        let kind: FeatureSource.Kind
        switch source.type {
        case "file":
            kind = .file(
                path: source.path ?? "",
                format: try Records.parse(source.format ?? "csv", as: FeatureSource.FileFormat.self, field: "source format", in: record))
        case "postgres":
            kind = .postgres(url: source.url ?? "", table: source.table, query: source.query)
        default:
            throw FerryError(.internal, "a stored \(record) has an unknown source type '\(source.type)' (written by a newer Ferry, or damaged)")
        }
        return FeatureView(
            name: name, entities: entities,
            features: try features.map {
                FeatureField(name: $0.name, type: try Records.parse($0.type, as: FeatureType.self, field: "feature type", in: record), description: $0.description)
            },
            source: FeatureSource(kind: kind, timestampField: source.timestampField, createdTimestampField: source.createdTimestampField),
            ttlSeconds: ttlSeconds, owner: owner, description: description, tags: tags, version: version, updatedBy: updatedBy,
            updatedAt: Records.date(updatedAt))
    }
}

/// `feature_online.feature_values`: one entity's values by feature name, in a compact typed text form that reads
/// back without a JSON parser (the online read is a hot path): per value `name US type value RS`, where type is
/// `i` (int), `d` (double), `s` (string), `b` (bool, `1`/`0`) or `n` (null); `\`, US and RS inside names and strings
/// are escaped as `\\`, `\u` and `\r`.
package enum OnlineValuesCodec {
    static let unit: UInt8 = 0x1F
    static let record: UInt8 = 0x1E

    package static func encode(_ values: FeatureValues) -> String {
        var out: [UInt8] = []
        for (name, value) in zip(values.names, values.data) {
            escape(name, into: &out)
            out.append(unit)
            switch value {
            case .int(let i): out.append(UInt8(ascii: "i")); out.append(contentsOf: String(i).utf8)
            case .double(let d): out.append(UInt8(ascii: "d")); out.append(contentsOf: "\(d)".utf8)
            case .string(let s): out.append(UInt8(ascii: "s")); escape(s, into: &out)
            case .bool(let b): out.append(UInt8(ascii: "b")); out.append(UInt8(ascii: b ? "1" : "0"))
            case .null: out.append(UInt8(ascii: "n"))
            }
            out.append(record)
        }
        return String(decoding: out, as: UTF8.self)
    }

    package static func decode(_ text: String) throws -> FeatureValues {
        var text = text
        return try text.withUTF8 { try decode(utf8: UnsafeRawBufferPointer($0)) }
    }

    /// The same, from the stored text's bytes (as SQLite hands them over, without making a `String` first). Values
    /// come in name order, as `encode` writes them; a row that is not (none should be) is sorted.
    package static func decode(utf8 bytes: UnsafeRawBufferPointer) throws -> FeatureValues {
        var values = FeatureValues()
        values.reserveCapacity(bytes.reduce(0) { $1 == record ? $0 + 1 : $0 })
        var unordered: [(String, FeatureDatum)] = []
        var i = 0
        while i < bytes.count {
            guard let u = bytes[i...].firstIndex(of: unit), let r = bytes[u...].firstIndex(of: record), r > u + 1 else {
                throw FerryError(.internal, "a stored online feature row could not be read (damaged)")
            }
            let name = unescape(bytes[i..<u])
            let payload = UnsafeRawBufferPointer(rebasing: bytes[(u + 2)..<r]).assumingMemoryBound(to: UInt8.self)
            let value: FeatureDatum
            switch bytes[u + 1] {
            case UInt8(ascii: "i"): value = DecimalText.integer(payload).map(FeatureDatum.int) ?? .null
            case UInt8(ascii: "d"):
                value = (DecimalText.parse(payload) ?? Double(String(decoding: payload, as: UTF8.self))).map(FeatureDatum.double) ?? .null
            case UInt8(ascii: "s"): value = .string(unescape(bytes[(u + 2)..<r]))
            case UInt8(ascii: "b"): value = .bool(payload.first == UInt8(ascii: "1"))
            default: value = .null
            }
            if !unordered.isEmpty || !values.append(name, value) { unordered.append((name, value)) }
            i = r + 1
        }
        guard !unordered.isEmpty else { return values }
        return FeatureValues(zip(values.names, values.data).map { ($0, $1) } + unordered)
    }

    private static func escape(_ text: String, into out: inout [UInt8]) {
        guard text.utf8.contains(where: { $0 == 0x5C || $0 == unit || $0 == record }) else {
            out.append(contentsOf: text.utf8)
            return
        }
        for b in text.utf8 {
            switch b {
            case 0x5C: out += [0x5C, 0x5C]
            case unit: out += [0x5C, UInt8(ascii: "u")]
            case record: out += [0x5C, UInt8(ascii: "r")]
            default: out.append(b)
            }
        }
    }

    private static func unescape(_ bytes: Slice<UnsafeRawBufferPointer>) -> String {
        guard bytes.contains(0x5C) else { return String(decoding: bytes, as: UTF8.self) }
        var out: [UInt8] = []
        var escaped = false
        for b in bytes {
            if escaped {
                out.append(b == UInt8(ascii: "u") ? unit : b == UInt8(ascii: "r") ? record : b)
                escaped = false
            } else if b == 0x5C {
                escaped = true
            } else {
                out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
