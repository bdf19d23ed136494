import FerryCore
import Foundation
import Logging
import Synchronization

/// One served feature value: what the online store holds for an entity, judged against the view's ttl.
public struct OnlineFeatureValue: Sendable, Equatable {
    public enum Status: String, Sendable {
        case present
        /// The store has the entity, but this value is null.
        case nullValue = "null_value"
        /// The store has no row for the entity.
        case notFound = "not_found"
        /// The row is older than the view's ttl: served as missing.
        case outsideTTL = "outside_ttl"
    }

    public var value: FeatureDatum
    public var status: Status
    /// The event time of the stored row (microseconds), when there is one.
    public var eventTime: Int64?
}

/// What one view's materialization read and wrote.
public struct MaterializationResult: Sendable, Equatable {
    public var view: String
    public var start: Int64
    public var end: Int64
    public var rowsRead: Int
    public var rowsWritten: Int
}

/// The feature store: definitions (applied, versioned, audited), point-in-time training sets from the sources,
/// materialization and pushes into the online store, and online reads with ttl applied.
public final class FeatureService: Sendable {
    public let store: any FeatureStore
    /// Reads views whose source is a database table or query.
    let database: (any FeatureSourceDatabase)?
    /// Folders whose files a view's source may be (the operator's `--feature-source-dir`); checked when definitions
    /// are applied and again before a source is read, since another replica may have applied them.
    public let sourceFolders: ReadableFolders
    private let logger: Logger
    private let now: @Sendable () -> Date
    /// The stored definitions, read once and again after every change (here or, through the change follower, on
    /// another replica), so online reads cost no definition lookup.
    private let definitions = Mutex<FeatureDefinitions?>(nil)

    public init(
        store: any FeatureStore, database: (any FeatureSourceDatabase)? = nil, sourceFolders: ReadableFolders, logger: Logger,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.store = store
        self.database = database
        self.sourceFolders = sourceFolders
        self.logger = logger
        self.now = now
    }

    // MARK: Definitions

    /// Validates and stores definitions in one transaction; returns what is stored for each.
    public func apply(_ given: FeatureDefinitions, by actor: String) async throws -> FeatureDefinitions {
        try given.validate(known: try await store.featureEntities())
        for (i, view) in given.views.enumerated() { try readable(view, field: "feature_views[\(i)].source.path") }
        let applied = try await store.applyFeatures(given, by: actor, at: now(), audit: { stored in
            AuditDraft(
                at: stored.views.first?.updatedAt ?? stored.entities.first?.updatedAt ?? Date(), actor: actor, action: "features.apply",
                target: "features",
                after: .object([
                    "entities": .array(stored.entities.map { .string("\($0.name) v\($0.version)") }),
                    "feature_views": .array(stored.views.map { .string("\($0.name) v\($0.version)") }),
                ]))
        })
        try await reload()
        return applied
    }

    /// Refuses a view whose source is a file outside the operator's folders, naming `field`.
    func readable(_ view: FeatureView, field: String) throws {
        guard case .file(let path, _) = view.source.kind, sourceFolders.resolve(path) == nil else { return }
        guard !sourceFolders.folders.isEmpty else {
            throw FerryError(.permissionDenied, "\(field) '\(path)' (view '\(view.name)'): this server reads no feature source files (its operator allows folders with `ferry serve --feature-source-dir DIR`); use a PostgreSQL source or push rows instead")
        }
        throw FerryError(.permissionDenied, "\(field) '\(path)' (view '\(view.name)') is outside the folders this server reads feature sources from (\(sourceFolders.description))")
    }

    /// Re-reads the definitions from the store.
    public func reload() async throws {
        let current = FeatureDefinitions(entities: try await store.featureEntities(), views: try await store.featureViews())
        definitions.withLock { $0 = current }
    }

    /// The stored definitions (read from the store the first time).
    public func current() async throws -> FeatureDefinitions {
        if let cached = definitions.withLock({ $0 }) { return cached }
        try await reload()
        return definitions.withLock { $0 } ?? FeatureDefinitions()
    }

    public func view(named name: String) async throws -> FeatureView {
        try Self.view(named: name, in: try await current())
    }

    static func view(named name: String, in all: FeatureDefinitions) throws -> FeatureView {
        guard let view = all.views.first(where: { $0.name == name }) else {
            let known = all.views.map(\.name).joined(separator: ", ")
            throw FerryError.notFound("no feature view named '\(name)' (views: \(known.isEmpty ? "none" : known))")
        }
        return view
    }

    // MARK: Training sets

    /// The point-in-time-correct training set for `entities` (a CSV table with the views' join keys and a
    /// timestamp column): the entity columns as given, then one column per feature reference. Reads each view's
    /// source once, row by row.
    public func trainingSet(
        entities: CSVLines, features refs: [FeatureRef], fullFeatureNames: Bool = false, timestampColumn: String = "event_timestamp",
        source: String = "the entity CSV"
    ) async throws -> [UInt8] {
        guard !refs.isEmpty else { throw FerryError.invalid("features is empty; name at least one view:feature") }
        let all = try await current()
        let resolved = try FeatureDefinitions.resolve(refs, views: all.views)
        let timeIndex = try entities.column(timestampColumn)
        let times = try entities.rows.indices.map { r -> Int64 in
            let text = try entities.fields(r, [timeIndex])[0]
            guard let t = FeatureTime.parse(text) else {
                throw FerryError.invalid("\(source) line \(entities.lines[r]), column '\(timestampColumn)': '\(text)' is not an ISO 8601 timestamp")
            }
            return t
        }
        // One pass per view, however many of its features are asked for; each ref reads its view's results.
        var viewNames: [String] = []
        var slots: [(view: Int, position: Int)] = []
        var byView: [String: [Int]] = [:]
        for (i, ref) in refs.enumerated() {
            if byView[ref.view] == nil { viewNames.append(ref.view) }
            byView[ref.view, default: []].append(i)
            slots.append((viewNames.firstIndex(of: ref.view)!, byView[ref.view]!.count - 1))
        }
        var results: [[[FeatureDatum]?]] = []
        for viewName in viewNames {
            let indices = byView[viewName]!
            let view = resolved[indices[0]].view
            let joinKeys = try FeatureDefinitions.joinKeys(of: view, entities: all.entities)
            let keyColumns = try joinKeys.map { key -> Int in
                guard let i = entities.header.firstIndex(of: key.name) else {
                    throw FerryError.invalid("\(source) has no column '\(key.name)', the join key of feature view '\(viewName)' (its header is \(entities.header.joined(separator: ",")))")
                }
                return i
            }
            let keys = try entities.rows.indices.map { r -> String? in
                var values: [FeatureDatum] = []
                for (text, key) in zip(try entities.fields(r, keyColumns), joinKeys) {
                    do {
                        values.append(try FeatureDatum.parse(Substring(text), as: key.type))
                    } catch let error as FerryError {
                        throw FerryError.invalid("\(source) line \(entities.lines[r]), column '\(key.name)': \(error.message)")
                    }
                }
                return values.contains(.null) ? nil : try EntityKey.make(values, keys: joinKeys)
            }
            let fields = indices.map { resolved[$0].feature }
            try readable(view, field: "source.path")
            let reader = FeatureSourceReader(view: view, joinKeys: joinKeys, features: fields, database: database)
            results.append(try await Self.join(reader, keys: keys, times: times, ttlSeconds: view.ttlSeconds).results())
        }
        // Each entity row as it came, then the features.
        var out = CSVWriter()
        out.row(entities.header + refs.map { fullFeatureNames ? $0.fullName : $0.feature })
        for r in entities.rows.indices {
            out.raw(entities.bytes[entities.rows[r]])
            for slot in slots {
                out.field(results[slot.view][r]?[slot.position].csvText ?? "", first: false)
            }
            out.endRow()
        }
        return out.bytes
    }

    /// One view's point-in-time join: a large CSV source is read in parts on every core, one join per part, merged.
    static func join(
        _ reader: FeatureSourceReader, keys: [String?], times: [Int64], ttlSeconds: Int64,
        parts: Int = ProcessInfo.processInfo.activeProcessorCount, minimumBytes: UInt64 = 8 << 20
    ) async throws -> PointInTimeJoin {
        // A failing part is read again in one pass, for an error naming the exact line.
        if let join = try? joinInParts(reader, keys: keys, times: times, ttlSeconds: ttlSeconds, parts: parts, minimumBytes: minimumBytes) {
            return join
        }
        var join = PointInTimeJoin(keys: keys, times: times, ttlSeconds: ttlSeconds)
        try await reader.forEach { row in join.offer(key: row.key, event: row.event, created: row.created, values: row.values) }
        return join
    }

    /// The join read in parts, or nil when the source cannot be split.
    static func joinInParts(
        _ reader: FeatureSourceReader, keys: [String?], times: [Int64], ttlSeconds: Int64, parts: Int, minimumBytes: UInt64
    ) throws -> PointInTimeJoin? {
        let boxes = (0..<parts).map { part in
            let box = JoinPart(PointInTimeJoin(keys: keys, times: times, ttlSeconds: ttlSeconds))
            box.join.sequenceBase = part << 40
            return box
        }
        guard try reader.forEachInParts(parts, minimumBytes: minimumBytes, { part, row in
            boxes[part].join.offer(key: row.key, event: row.event, created: row.created, values: row.values)
        }) else { return nil }
        var merged = boxes[0].join
        for part in 1..<parts { merged.merge(boxes[part].join) }
        return merged
    }

    // MARK: Online store

    /// Reads each view's source rows with `start <= event time <= end`, keeps the latest per entity, and writes them
    /// to the online store (older rows never replace newer ones). Records `end` as the view's materialization mark.
    public func materialize(start: Int64, end: Int64, views names: [String]? = nil) async throws -> [MaterializationResult] {
        guard start <= end else { throw FerryError.invalid("start must not be after end") }
        let all = try await current()
        let views = try names.map { try $0.map { name in try Self.view(named: name, in: all) } } ?? all.views
        var results: [MaterializationResult] = []
        for view in views {
            results.append(try await materialize(view, start: start, end: end, entities: all.entities))
        }
        return results
    }

    /// Materializes each view from where its last materialization ended (or, the first time, from `end - ttl`,
    /// or from the beginning when it has no ttl) to `end`.
    public func materializeIncremental(end: Int64, views names: [String]? = nil) async throws -> [MaterializationResult] {
        let all = try await current()
        let views = try names.map { try $0.map { name in try Self.view(named: name, in: all) } } ?? all.views
        var results: [MaterializationResult] = []
        for view in views {
            let start = try await store.materializedThrough(view: view.name)
                ?? (view.ttlSeconds > 0 ? end - view.ttlSeconds * 1_000_000 : Int64.min)
            results.append(try await materialize(view, start: min(start, end), end: end, entities: all.entities))
        }
        return results
    }

    private func materialize(_ view: FeatureView, start: Int64, end: Int64, entities: [FeatureEntity]) async throws -> MaterializationResult {
        let joinKeys = try FeatureDefinitions.joinKeys(of: view, entities: entities)
        var latest: [String: (row: FeatureSourceRow, sequence: Int)] = [:]
        var read = 0
        try readable(view, field: "source.path")
        try await FeatureSourceReader(view: view, joinKeys: joinKeys, features: view.features, database: database).forEach { row in
            read += 1
            guard row.event >= start, row.event <= end else { return }
            if let kept = latest[row.key] {
                let newer = row.event != kept.row.event ? row.event > kept.row.event : (row.created ?? .min) >= (kept.row.created ?? .min)
                guard newer else { return }
            }
            latest[row.key] = (row, read)
        }
        var written = 0
        var batch: [OnlineFeatureRow] = []
        batch.reserveCapacity(10_000)
        // In key order, the store's index is filled page by page instead of all over at every batch.
        for (key, kept) in latest.sorted(by: { $0.key < $1.key }) {
            var values: [String: FeatureDatum] = [:]
            for (feature, value) in zip(view.features, kept.row.values) { values[feature.name] = value }
            batch.append(OnlineFeatureRow(key: key, eventTime: kept.row.event, createdTime: kept.row.created, values: values))
            if batch.count == 10_000 {
                written += try await store.writeOnline(view: view.name, rows: batch).written
                batch.removeAll(keepingCapacity: true)
            }
        }
        if !batch.isEmpty { written += try await store.writeOnline(view: view.name, rows: batch).written }
        try await store.setMaterializedThrough(view: view.name, end)
        logger.info("materialized", metadata: ["view": "\(view.name)", "read": "\(read)", "written": "\(written)"])
        return MaterializationResult(view: view.name, start: start, end: end, rowsRead: read, rowsWritten: written)
    }

    /// Writes rows sent by a client (streaming updates) into a view's online store. Each row has the join keys, the
    /// view's timestamp field, optionally its created field, and every feature; rows are checked before any is written.
    public func push(view name: String, rows: [[String: JSONValue]]) async throws -> OnlineWriteResult {
        let all = try await current()
        let view = try Self.view(named: name, in: all)
        let joinKeys = try FeatureDefinitions.joinKeys(of: view, entities: all.entities)
        guard !rows.isEmpty else { throw FerryError.invalid("rows is empty; send at least one row") }
        let parsed = try rows.enumerated().map { i, row -> OnlineFeatureRow in
            func field(_ name: String) throws -> JSONValue {
                guard let value = row[name] else { throw FerryError.invalid("rows[\(i)] has no field '\(name)'") }
                return value
            }
            func datum(_ name: String, _ type: FeatureType) throws -> FeatureDatum {
                do {
                    return try FeatureDatum.from(try field(name), as: type)
                } catch let error as FerryError where error.code == .invalidArgument && !error.message.hasPrefix("rows[") {
                    throw FerryError.invalid("rows[\(i)].\(name): \(error.message)")
                }
            }
            func time(_ name: String) throws -> Int64 {
                guard case .string(let text) = try field(name), let t = FeatureTime.parse(text) else {
                    throw FerryError.invalid("rows[\(i)].\(name) must be an ISO 8601 timestamp string")
                }
                return t
            }
            let key = try Self.entityKey(row, joinKeys: joinKeys, label: "rows[\(i)]", view: view.name)
            let known = Set(joinKeys.map(\.name) + view.features.map(\.name) + [view.source.timestampField] + (view.source.createdTimestampField.map { [$0] } ?? []))
            if let unknown = row.keys.sorted().first(where: { !known.contains($0) }) {
                throw FerryError.invalid("rows[\(i)].\(unknown) is not a join key, timestamp or feature of view '\(view.name)'")
            }
            var values: [String: FeatureDatum] = [:]
            for feature in view.features { values[feature.name] = try datum(feature.name, feature.type) }
            let created = try view.source.createdTimestampField.flatMap { row[$0] == nil || row[$0] == .null ? nil : try time($0) }
            return OnlineFeatureRow(key: key, eventTime: try time(view.source.timestampField), createdTime: created, values: values)
        }
        return try await store.writeOnline(view: view.name, rows: parsed)
    }

    /// The online values of `refs` for each entity (join key values by name), with ttl applied: a row older than its
    /// view's ttl is reported `outside_ttl` and served as null.
    public func online(features refs: [FeatureRef], entities: [[String: JSONValue]]) async throws -> [[OnlineFeatureValue]] {
        guard !refs.isEmpty else { throw FerryError.invalid("features is empty; name at least one view:feature") }
        let all = try await current()
        let resolved = try FeatureDefinitions.resolve(refs, views: all.views)
        let nowMicros = FeatureTime.micros(now())
        var out = Array(repeating: [OnlineFeatureValue](), count: entities.count)
        var byView: [String: [Int]] = [:]
        var viewOrder: [String] = []
        for (i, ref) in refs.enumerated() {
            if byView[ref.view] == nil { viewOrder.append(ref.view) }
            byView[ref.view, default: []].append(i)
        }
        var columns = Array(repeating: [OnlineFeatureValue](), count: refs.count)
        for viewName in viewOrder {
            let indices = byView[viewName]!
            let view = resolved[indices[0]].view
            let joinKeys = try FeatureDefinitions.joinKeys(of: view, entities: all.entities)
            let keys = try entities.enumerated().map { r, entity in
                try Self.entityKey(entity, joinKeys: joinKeys, label: "entities[\(r)]", view: viewName)
            }
            let rows = try await store.readOnline(view: viewName, keys: keys)
            let stale: (OnlineFeatureRow) -> Bool = { row in view.ttlSeconds > 0 && nowMicros - row.eventTime > view.ttlSeconds * 1_000_000 }
            for index in indices {
                let name = resolved[index].feature.name
                columns[index] = rows.map { row in
                    guard let row else { return OnlineFeatureValue(value: .null, status: .notFound, eventTime: nil) }
                    if stale(row) { return OnlineFeatureValue(value: .null, status: .outsideTTL, eventTime: row.eventTime) }
                    let value = row.values[name] ?? .null
                    return OnlineFeatureValue(value: value, status: value == .null ? .nullValue : .present, eventTime: row.eventTime)
                }
            }
        }
        for r in entities.indices { out[r] = columns.map { $0[r] } }
        return out
    }
}

extension FeatureService {
    /// The entity key of a JSON object holding a view's join keys (a pushed row, an entity to read); errors name
    /// the object by `label` and the join key.
    static func entityKey(_ object: [String: JSONValue], joinKeys: [JoinKey], label: String, view: String) throws -> String {
        let values = try joinKeys.map { key -> FeatureDatum in
            guard let value = object[key.name] else {
                throw FerryError.invalid("\(label) has no '\(key.name)', the join key of feature view '\(view)'")
            }
            do {
                return try FeatureDatum.from(value, as: key.type)
            } catch let error as FerryError {
                throw FerryError.invalid("\(label).\(key.name): \(error.message)")
            }
        }
        do {
            return try EntityKey.make(values, keys: joinKeys)
        } catch let error as FerryError {
            throw FerryError.invalid("\(label): \(error.message)")
        }
    }
}

/// Writes CSV rows, quoting fields that need it.
struct CSVWriter {
    private(set) var bytes: [UInt8] = []

    mutating func row(_ fields: [String]) {
        for (i, field) in fields.enumerated() { self.field(field, first: i == 0) }
        endRow()
    }

    /// Bytes copied as they are (a row of the input, already CSV).
    mutating func raw(_ slice: ArraySlice<UInt8>) { bytes.append(contentsOf: slice) }

    mutating func field(_ field: String, first: Bool) {
        if !first { bytes.append(0x2C) }
        if field.utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) || field.first == " " || field.last == " " {
            bytes.append(0x22)
            for b in field.utf8 {
                if b == 0x22 { bytes.append(0x22) }
                bytes.append(b)
            }
            bytes.append(0x22)
        } else {
            bytes.append(contentsOf: field.utf8)
        }
    }

    mutating func endRow() { bytes.append(0x0A) }
}

/// The join of one part of a source. Each part's rows are offered by that part's thread alone, and the joins are
/// read only after every part finished, so no two threads ever touch one.
private final class JoinPart: @unchecked Sendable {
    var join: PointInTimeJoin
    init(_ join: PointInTimeJoin) { self.join = join }
}
