import Foundation

/// The type of a feature or join key, as declared in a definition.
public enum FeatureType: String, Sendable, Codable, CaseIterable {
    case int64, int32, float64, float32, string, bool

    /// Types a join key may have.
    public static let keyTypes: [FeatureType] = [.int64, .int32, .string]
}

/// One column that identifies an entity (`card_id`).
public struct JoinKey: Sendable, Equatable, Codable {
    public var name: String
    public var type: FeatureType
    public init(name: String, type: FeatureType) {
        self.name = name
        self.type = type
    }
}

/// What features describe (a card, a merchant), identified by its join keys.
public struct FeatureEntity: Sendable, Equatable, Codable {
    public var name: String
    public var joinKeys: [JoinKey]
    public var description: String
    /// 1 when first applied, one more at every change.
    public var version: Int
    public var updatedBy: String
    public var updatedAt: Date

    public init(name: String, joinKeys: [JoinKey], description: String = "", version: Int = 0, updatedBy: String = "", updatedAt: Date = Date(timeIntervalSince1970: 0)) {
        self.name = name
        self.joinKeys = joinKeys
        self.description = description
        self.version = version
        self.updatedBy = updatedBy
        self.updatedAt = updatedAt
    }

    /// Whether `other` defines the same entity (ignoring version and who applied it).
    public func sameDefinition(as other: FeatureEntity) -> Bool {
        name == other.name && joinKeys == other.joinKeys && description == other.description
    }
}

/// One feature of a view.
public struct FeatureField: Sendable, Equatable, Codable {
    public var name: String
    public var type: FeatureType
    public var description: String
    public init(name: String, type: FeatureType, description: String = "") {
        self.name = name
        self.type = type
        self.description = description
    }
}

/// Where a view's rows come from: each row has the join keys, an event timestamp, optionally a created timestamp,
/// and the features.
public struct FeatureSource: Sendable, Equatable, Codable {
    public enum Kind: Sendable, Equatable, Codable {
        /// A CSV or JSON Lines file the server can read.
        case file(path: String, format: FileFormat)
        /// A PostgreSQL table or query.
        case postgres(url: String, table: String?, query: String?)
    }

    public enum FileFormat: String, Sendable, Codable { case csv, jsonl }

    public var kind: Kind
    public var timestampField: String
    public var createdTimestampField: String?

    public init(kind: Kind, timestampField: String = "event_timestamp", createdTimestampField: String? = nil) {
        self.kind = kind
        self.timestampField = timestampField
        self.createdTimestampField = createdTimestampField
    }
}

/// A named group of features of one or more entities, read from one source, valid for `ttl` after their event time.
public struct FeatureView: Sendable, Equatable, Codable {
    public var name: String
    public var entities: [String]
    public var features: [FeatureField]
    public var source: FeatureSource
    /// How long a value stays valid after its event time, in seconds; 0 means forever.
    public var ttlSeconds: Int64
    public var owner: String
    public var description: String
    public var tags: [String: String]
    public var version: Int
    public var updatedBy: String
    public var updatedAt: Date

    public init(
        name: String, entities: [String], features: [FeatureField], source: FeatureSource, ttlSeconds: Int64 = 0,
        owner: String = "", description: String = "", tags: [String: String] = [:], version: Int = 0, updatedBy: String = "",
        updatedAt: Date = Date(timeIntervalSince1970: 0)
    ) {
        self.name = name
        self.entities = entities
        self.features = features
        self.source = source
        self.ttlSeconds = ttlSeconds
        self.owner = owner
        self.description = description
        self.tags = tags
        self.version = version
        self.updatedBy = updatedBy
        self.updatedAt = updatedAt
    }

    public func sameDefinition(as other: FeatureView) -> Bool {
        var a = self, b = other
        (a.version, a.updatedBy, a.updatedAt) = (0, "", Date(timeIntervalSince1970: 0))
        (b.version, b.updatedBy, b.updatedAt) = (0, "", Date(timeIntervalSince1970: 0))
        return a == b
    }

    public func feature(named name: String) -> FeatureField? { features.first { $0.name == name } }

    /// The longest ttl (1000 years, so that any ttl in microseconds fits an Int64 with room to spare).
    public static let maxTTLSeconds: Int64 = 1000 * 366 * 86_400
}

/// A set of entities and views applied together.
public struct FeatureDefinitions: Sendable, Equatable {
    public var entities: [FeatureEntity]
    public var views: [FeatureView]

    public init(entities: [FeatureEntity] = [], views: [FeatureView] = []) {
        self.entities = entities
        self.views = views
    }

    /// Checks names, types and references; `known` are entities stored already (a view may use them).
    /// Errors name the field (`feature_views[1].entities[0]`).
    public func validate(known: [FeatureEntity]) throws {
        var entityNames = Set<String>()
        for (i, entity) in entities.enumerated() {
            let field = "entities[\(i)]"
            try Model.validate(name: entity.name, field: "\(field).name")
            guard entityNames.insert(entity.name).inserted else { throw FerryError.invalid("\(field).name '\(entity.name)' is defined twice") }
            guard !entity.joinKeys.isEmpty else { throw FerryError.invalid("\(field).join_keys is empty; an entity needs at least one join key") }
            var keys = Set<String>()
            for (k, key) in entity.joinKeys.enumerated() {
                try FeatureDefinitions.validateColumn(key.name, field: "\(field).join_keys[\(k)].name")
                guard keys.insert(key.name).inserted else { throw FerryError.invalid("\(field).join_keys[\(k)].name '\(key.name)' is named twice") }
                guard FeatureType.keyTypes.contains(key.type) else {
                    throw FerryError.invalid("\(field).join_keys[\(k)].type '\(key.type.rawValue)' cannot be a join key type (use int64, int32 or string)")
                }
            }
        }
        var all = Dictionary(known.map { ($0.name, $0) }, uniquingKeysWith: { $1 })
        for entity in entities { all[entity.name] = entity }
        var viewNames = Set<String>()
        for (i, view) in views.enumerated() {
            let field = "feature_views[\(i)]"
            try Model.validate(name: view.name, field: "\(field).name")
            guard !view.name.contains(":") else { throw FerryError.invalid("\(field).name '\(view.name)' must not contain ':'") }
            guard viewNames.insert(view.name).inserted else { throw FerryError.invalid("\(field).name '\(view.name)' is defined twice") }
            guard !view.entities.isEmpty else { throw FerryError.invalid("\(field).entities is empty; a view needs at least one entity") }
            var columns = Set<String>()
            for (e, name) in view.entities.enumerated() {
                guard let entity = all[name] else {
                    throw FerryError.invalid("\(field).entities[\(e)] '\(name)' is not a defined entity (define it under 'entities')")
                }
                for key in entity.joinKeys where !columns.insert(key.name).inserted {
                    throw FerryError.invalid("\(field).entities[\(e)] '\(name)' repeats the join key '\(key.name)'")
                }
            }
            guard view.ttlSeconds >= 0 else { throw FerryError.invalid("\(field).ttl must not be negative") }
            guard view.ttlSeconds <= FeatureView.maxTTLSeconds else {
                throw FerryError.invalid("\(field).ttl is over 1000 years; use 0 for values that never expire")
            }
            guard !view.features.isEmpty else { throw FerryError.invalid("\(field).features is empty; a view needs at least one feature") }
            for (f, feature) in view.features.enumerated() {
                try FeatureDefinitions.validateColumn(feature.name, field: "\(field).features[\(f)].name")
                guard columns.insert(feature.name).inserted else {
                    throw FerryError.invalid("\(field).features[\(f)].name '\(feature.name)' is also a join key or another feature of the view")
                }
            }
            let source = view.source
            try FeatureDefinitions.validateColumn(source.timestampField, field: "\(field).source.timestamp_field")
            if let created = source.createdTimestampField {
                try FeatureDefinitions.validateColumn(created, field: "\(field).source.created_timestamp_field")
            }
            for name in [source.timestampField] + (source.createdTimestampField.map { [$0] } ?? []) where columns.contains(name) {
                throw FerryError.invalid("\(field).source names '\(name)' as a timestamp column, but it is a join key or feature")
            }
            switch source.kind {
            case .file(let path, _):
                guard !path.isEmpty else { throw FerryError.invalid("\(field).source.path is empty") }
            case .postgres(let url, let table, let query):
                guard url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") else {
                    throw FerryError.invalid("\(field).source.url must be a postgres:// URL")
                }
                guard (table == nil) != (query == nil) else {
                    throw FerryError.invalid("\(field).source needs exactly one of 'table' or 'query'")
                }
            }
        }
    }

    static func validateColumn(_ name: String, field: String) throws {
        guard !name.isEmpty, name.count <= 128, !name.contains(":"),
              name.unicodeScalars.allSatisfy({ !CharacterSet.controlCharacters.contains($0) && $0 != "," && $0 != "\"" })
        else {
            throw FerryError.invalid("\(field) '\(name)' is not a usable column name (1-128 characters, no ':', ',', quotes or control characters)")
        }
    }
}

/// `view:feature`, how requests and training sets name one feature (as JSON, that text).
public struct FeatureRef: Sendable, Hashable, CustomStringConvertible, Codable {
    public var view: String
    public var feature: String

    public init(view: String, feature: String) {
        self.view = view
        self.feature = feature
    }

    /// Reads `view:feature`; `field` names the input in errors.
    public init(parsing text: String, field: String) throws {
        // On the UTF-8 bytes: splitting the String by Character was 7% of an online read.
        let bytes = text.utf8
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")), colon != bytes.startIndex,
              bytes.index(after: colon) != bytes.endIndex, !bytes[bytes.index(after: colon)...].contains(UInt8(ascii: ":"))
        else {
            throw FerryError.invalid("\(field) '\(text)' is not a feature reference; write it as view:feature")
        }
        view = String(text[..<colon])
        feature = String(text[bytes.index(after: colon)...])
    }

    public var description: String { "\(view):\(feature)" }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        try self.init(parsing: text, field: decoder.codingPath.map(\.stringValue).joined(separator: "."))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
    /// The column name with `full_feature_names`: `view__feature`.
    public var fullName: String { "\(view)__\(feature)" }
}

extension FeatureDefinitions {
    /// The view and feature each reference names, in order; errors name the reference and what exists.
    public static func resolve(_ refs: [FeatureRef], views: [FeatureView], field: String = "features") throws -> [(view: FeatureView, feature: FeatureField)] {
        let byName = Dictionary(views.map { ($0.name, $0) }, uniquingKeysWith: { $1 })
        return try refs.enumerated().map { i, ref in
            guard let view = byName[ref.view] else {
                let known = views.map(\.name).sorted().joined(separator: ", ")
                throw FerryError.notFound("\(field)[\(i)] '\(ref)' names no feature view '\(ref.view)' (views: \(known.isEmpty ? "none" : known))")
            }
            guard let feature = view.feature(named: ref.feature) else {
                throw FerryError.notFound("\(field)[\(i)] '\(ref)': view '\(ref.view)' has no feature '\(ref.feature)' (it has \(view.features.map(\.name).joined(separator: ", ")))")
            }
            return (view, feature)
        }
    }

    /// The join keys of a view, in the order of its entities.
    public static func joinKeys(of view: FeatureView, entities: [FeatureEntity]) throws -> [JoinKey] {
        try view.entities.flatMap { name -> [JoinKey] in
            guard let entity = entities.first(where: { $0.name == name }) else {
                throw FerryError(.internal, "feature view '\(view.name)' names entity '\(name)', which is not stored")
            }
            return entity.joinKeys
        }
    }
}

/// Parses a ttl: a number of seconds, or a number with a unit (`90s`, `30m`, `2h`, `7d`, `1w`); `0` means none.
public func parseDuration(_ text: String, field: String) throws -> Int64 {
    let t = text.trimmingCharacters(in: .whitespaces)
    if let n = Int64(t) {
        guard n >= 0 else { throw FerryError.invalid("\(field) '\(text)' must not be negative") }
        return n
    }
    let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800]
    guard let unit = t.last, let scale = units[unit], let n = Int64(t.dropLast()), n >= 0 else {
        throw FerryError.invalid("\(field) '\(text)' is not a duration; write seconds (7200) or a number with s, m, h, d or w (2h)")
    }
    let (seconds, overflow) = n.multipliedReportingOverflow(by: scale)
    guard !overflow else { throw FerryError.invalid("\(field) '\(text)' is too long") }
    return seconds
}

/// What applying definitions changes, decided from what is stored (stores call this inside their transaction).
public struct FeatureApplication: Sendable, Equatable {
    /// Every given definition as it is to be stored: unchanged ones as stored, changed ones one version up.
    public var result: FeatureDefinitions
    /// The definitions to write (new or changed).
    public var changed: FeatureDefinitions
    /// Views whose join keys, or one of whose features' types, changed: their online rows (keyed, or typed, the old
    /// way) and materialization mark are dropped.
    public var reset: [String]

    /// Decides the application of `given` onto the stored entities and views.
    public init(given: FeatureDefinitions, entities stored: [FeatureEntity], views storedViews: [FeatureView], by actor: String, at: Date) throws {
        let entityByName = Dictionary(stored.map { ($0.name, $0) }, uniquingKeysWith: { $1 })
        let viewByName = Dictionary(storedViews.map { ($0.name, $0) }, uniquingKeysWith: { $1 })
        var result = FeatureDefinitions()
        var changed = FeatureDefinitions()
        for entity in given.entities {
            if let old = entityByName[entity.name], old.sameDefinition(as: entity) {
                result.entities.append(old)
            } else {
                var new = entity
                new.version = (entityByName[entity.name]?.version ?? 0) + 1
                new.updatedBy = actor
                new.updatedAt = at
                result.entities.append(new)
                changed.entities.append(new)
            }
        }
        var after = entityByName
        for entity in result.entities { after[entity.name] = entity }
        func keys(_ view: FeatureView, _ entities: [String: FeatureEntity]) -> [JoinKey] {
            view.entities.flatMap { entities[$0]?.joinKeys ?? [] }
        }
        var reset: [String] = []
        for view in given.views {
            let old = viewByName[view.name]
            if let old, old.sameDefinition(as: view) {
                result.views.append(old)
            } else {
                var new = view
                new.version = (old?.version ?? 0) + 1
                new.updatedBy = actor
                new.updatedAt = at
                result.views.append(new)
                changed.views.append(new)
            }
        }
        // A view's key also changes when one of its entities' join keys does, even if the view itself is unchanged.
        for view in storedViews where keys(view, entityByName) != keys(result.views.first { $0.name == view.name } ?? view, after) {
            reset.append(view.name)
        }
        // A feature kept under a new type: its stored values are of the old one (a number served for a string).
        for view in result.views where !reset.contains(view.name) {
            guard let old = viewByName[view.name] else { continue }
            let oldTypes = Dictionary(old.features.map { ($0.name, $0.type) }, uniquingKeysWith: { first, _ in first })
            if view.features.contains(where: { feature in oldTypes[feature.name].map { $0 != feature.type } ?? false }) { reset.append(view.name) }
        }
        self.result = result
        self.changed = changed
        self.reset = reset
    }
}
