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
    /// The most entities one online read may name.
    let maxOnlineEntities: Int
    private let now: @Sendable () -> Date
    /// The stored definitions, read once and again after every change (here or, through the change follower, on
    /// another replica), so online reads cost no definition lookup.
    private let definitions = Mutex<Loaded?>(nil)

    /// The definitions and, per view, what an online read needs of it, found once when they are read.
    struct Loaded {
        let all: FeatureDefinitions
        let views: [String: OnlineView]
        /// The shape of the last online read: callers name the same refs read after read (a model's features),
        /// and resolving them again cost three dictionary lookups per ref.
        private let lastShape = LastShape()

        init(_ all: FeatureDefinitions) {
            self.all = all
            views = Dictionary(all.views.map { ($0.name, OnlineView($0, entities: all.entities)) }, uniquingKeysWith: { $1 })
        }

        /// How `refs` map onto view reads: the last read's shape when it named the same refs.
        func shape(of refs: [FeatureRef]) throws -> OnlinePlan.Shape {
            if let last = lastShape.last.withLock({ $0 }), last.refs == refs { return last }
            let shape = try OnlinePlan.Shape(refs, self)
            lastShape.last.withLock { $0 = shape }
            return shape
        }
    }

    private final class LastShape: Sendable {
        let last = Mutex<OnlinePlan.Shape?>(nil)
    }

    /// A view with its join keys (nil when an entity is missing) and feature names; a class, so that looking it up
    /// copies no view.
    final class OnlineView: Sendable {
        let view: FeatureView
        let joinKeys: [JoinKey]?
        let features: Set<String>

        init(_ view: FeatureView, entities: [FeatureEntity]) {
            self.view = view
            joinKeys = try? FeatureDefinitions.joinKeys(of: view, entities: entities)
            features = Set(view.features.map(\.name))
        }
    }

    public init(
        store: any FeatureStore, database: (any FeatureSourceDatabase)? = nil, sourceFolders: ReadableFolders, logger: Logger,
        maxOnlineEntities: Int = InferenceLimits().maxRows, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.store = store
        self.maxOnlineEntities = maxOnlineEntities
        self.database = database
        self.sourceFolders = sourceFolders
        self.logger = logger
        self.now = now
    }

    // MARK: Definitions

    /// Validates and stores definitions in one transaction; returns what is stored for each.
    public func apply(_ given: FeatureDefinitions, by actor: String) async throws -> FeatureDefinitions {
        let stored = try await store.featureEntities()
        try given.validate(known: stored)
        let entities = given.entities + stored.filter { old in !given.entities.contains { $0.name == old.name } }
        for (i, view) in given.views.enumerated() {
            try readable(view, field: "feature_views[\(i)].source.path")
            try Self.checkHeader(view, joinKeys: try FeatureDefinitions.joinKeys(of: view, entities: entities), field: "feature_views[\(i)].source")
        }
        // Stored views not given here whose entity gets new join keys are checked against them too: a key named like
        // one of their features, or missing from their source, was found only at the next materialization.
        let rekeyed = Set(given.entities.filter { entity in stored.first { $0.name == entity.name }.map { $0.joinKeys != entity.joinKeys } ?? false }.map(\.name))
        if !rekeyed.isEmpty {
            for view in try await store.featureViews() where !given.views.contains(where: { $0.name == view.name }) && view.entities.contains(where: rekeyed.contains) {
                do {
                    try FeatureDefinitions(entities: given.entities, views: [view]).validate(known: stored)
                    try Self.checkHeader(view, joinKeys: try FeatureDefinitions.joinKeys(of: view, entities: entities), field: "source")
                } catch let error as FerryError {
                    throw FerryError.invalid("the new join keys do not fit the stored feature view '\(view.name)', which uses them: \(error.message)")
                }
            }
        }
        let time = now()
        // The entry names what changed (a definition given as it is stored is not), and the views whose online rows
        // were dropped (new join keys, a feature's new type).
        let applied = try await store.applyFeatures(given, by: actor, at: time, audit: { application in
            AuditDraft(
                at: time, actor: actor, action: "features.apply", target: "features",
                after: .object([
                    "entities": .array(application.changed.entities.map { .string("\($0.name) v\($0.version)") }),
                    "feature_views": .array(application.changed.views.map { .string("\($0.name) v\($0.version)") }),
                    "online_rows_dropped": .array(application.reset.map { .string($0) }),
                ]))
        })
        try await reload()
        return applied
    }

    /// Refuses a view whose CSV source file is there but lacks a column the view reads (a join key, the timestamps,
    /// a feature): found when the view is applied, not at its first materialization. A file not there yet is
    /// checked when it is read.
    static func checkHeader(_ view: FeatureView, joinKeys: [JoinKey], field: String) throws {
        guard case .file(let path, .csv) = view.source.kind,
              (try? FileManager.default.attributesOfItem(atPath: path))?[.type] as? FileAttributeType == .typeRegular
        else { return }
        let name = "\(field) '\(path)' (view '\(view.name)')"
        let file = try SourceFile(path: path, name: name)
        defer { file.close() }
        guard let (header, _, line) = try file.header() else { return }
        let reader = FeatureSourceReader(view: view, joinKeys: joinKeys, features: view.features)
        _ = try reader.csvColumns(header: CSVTable.fields(Substring(String(decoding: header, as: UTF8.self)), source: name, line: line), name: name)
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
        let loaded = Loaded(current)
        definitions.withLock { $0 = loaded }
    }

    /// The stored definitions (read from the store the first time).
    public func current() async throws -> FeatureDefinitions {
        try await loaded().all
    }

    private func loaded() async throws -> Loaded {
        if let cached = definitions.withLock({ $0 }) { return cached }
        try await reload()
        return definitions.withLock { $0 } ?? Loaded(FeatureDefinitions())
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

    /// The views `names` names, or every view when nil; an empty list is refused (it materialized nothing, silently).
    static func views(named names: [String]?, in all: FeatureDefinitions) throws -> [FeatureView] {
        guard let names else { return all.views }
        guard !names.isEmpty else { throw FerryError.invalid("views is empty; name at least one feature view, or leave views out for all of them") }
        return try names.map { try view(named: $0, in: all) }
    }

    // MARK: Online store

    /// Reads each view's source rows with `start <= event time <= end`, keeps the latest per entity, and writes them
    /// to the online store (older rows never replace newer ones). Records `end` as the view's materialization mark.
    public func materialize(start: Int64, end: Int64, views names: [String]? = nil) async throws -> [MaterializationResult] {
        guard start <= end else { throw FerryError.invalid("start must not be after end") }
        let all = try await current()
        let views = try Self.views(named: names, in: all)
        return try await materialize(views.map { ($0, start) }, end: end, entities: all.entities)
    }

    /// Materializes each view in turn from its start. A view that fails stops the rest; the error says which views
    /// were loaded before it (each view is loaded whole or not at all, but the views are not one transaction).
    private func materialize(_ views: [(FeatureView, start: Int64)], end: Int64, entities: [FeatureEntity]) async throws -> [MaterializationResult] {
        var results: [MaterializationResult] = []
        for (view, start) in views {
            do {
                results.append(try await materialize(view, start: min(start, end), end: end, entities: entities))
            } catch let error as FerryError where !results.isEmpty {
                let done = results.map { "'\($0.view)'" }.joined(separator: ", ")
                throw FerryError(error.code, "\(error.message) (feature view\(results.count == 1 ? " \(done) was" : "s \(done) were") materialized before it; '\(view.name)' and any after it were not)")
            }
        }
        return results
    }

    /// Materializes each view from where its last materialization ended (or, the first time, from `end - ttl`,
    /// or from the beginning when it has no ttl) to `end`.
    public func materializeIncremental(end: Int64, views names: [String]? = nil) async throws -> [MaterializationResult] {
        let all = try await current()
        let views = try Self.views(named: names, in: all)
        // An end before where a view was loaded through would move its mark back: refused, before any view is loaded.
        var starts: [Int64] = []
        for view in views {
            let through = try await store.materializedThrough(view: view.name)
            if let through, end < through {
                throw FerryError.invalid(
                    "end \(FeatureTime.format(end)) is before \(FeatureTime.format(through)), where feature view '\(view.name)' is materialized through; "
                        + "to load an earlier window, use materialize with start and end")
            }
            starts.append(through ?? (view.ttlSeconds > 0 ? end - view.ttlSeconds * 1_000_000 : Int64.min))
        }
        return try await materialize(Array(zip(views, starts)), end: end, entities: all.entities)
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
        let order = FeatureValues.Order(view.features.map(\.name))
        for (key, kept) in latest.sorted(by: { $0.key < $1.key }) {
            let values = FeatureValues(kept.row.values, in: order)
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
            var values = FeatureValues()
            for feature in view.features { values[feature.name] = try datum(feature.name, feature.type) }
            let created = try view.source.createdTimestampField.flatMap { row[$0] == nil || row[$0] == .null ? nil : try time($0) }
            return OnlineFeatureRow(key: key, eventTime: try time(view.source.timestampField), createdTime: created, values: values)
        }
        return try await store.writeOnline(view: view.name, rows: parsed)
    }

    /// The online values of `refs` for each entity (join key values by name), with ttl applied: a row older than its
    /// view's ttl is reported `outside_ttl` and served as null.
    public func online(features refs: [FeatureRef], entities: [[String: JSONValue]]) async throws -> [[OnlineFeatureValue]] {
        let plan = try OnlinePlan(refs, entities, try await loaded(), maxEntities: maxOnlineEntities)
        var rows: [[OnlineFeatureRow?]] = []
        for (view, keys) in plan.reads { rows.append(try await store.readOnline(view: view.name, keys: keys)) }
        return plan.values(rows, nowMicros: FeatureTime.micros(now()))
    }

    /// `online` without suspending, or nil when that cannot be: the definitions are not read yet, or the store's
    /// reads suspend (PostgreSQL).
    public func onlineNow(features refs: [FeatureRef], entities: [[String: JSONValue]]) throws -> [[OnlineFeatureValue]]? {
        guard let loaded = definitions.withLock({ $0 }), let reader = store as? any SynchronousOnlineReads else { return nil }
        let plan = try OnlinePlan(refs, entities, loaded, maxEntities: maxOnlineEntities)
        let rows = try plan.reads.map { view, keys in try reader.readOnlineNow(view: view.name, keys: keys) }
        return plan.values(rows, nowMicros: FeatureTime.micros(now()))
    }

    /// Whether `onlineNow` can answer (errors aside).
    public var answersOnlineNow: Bool { store is any SynchronousOnlineReads && definitions.withLock { $0 != nil } }
}

/// An online read: each view's entity keys to read, and how the rows read become each ref's values.
struct OnlinePlan {
    /// How refs map onto view reads, whatever the entities.
    struct Shape: Sendable {
        let refs: [FeatureRef]
        /// Per view read (in the order of the refs' first mention): the view and its join keys.
        var views: [(view: FeatureView, joinKeys: [JoinKey])] = []
        /// Per view read, the refs (by index) and feature names it answers.
        var columns: [[(index: Int, name: String)]] = []

        init(_ refs: [FeatureRef], _ loaded: FeatureService.Loaded) throws {
            guard !refs.isEmpty else { throw FerryError.invalid("features is empty; name at least one view:feature") }
            self.refs = refs
            // Every ref is checked before any entity, as `FeatureDefinitions.resolve` (which names the bad one) did.
            let found = try refs.map { ref in
                guard let found = loaded.views[ref.view], found.features.contains(ref.feature) else {
                    _ = try FeatureDefinitions.resolve(refs, views: loaded.all.views)
                    throw FerryError(.internal, "feature ref '\(ref)' was not resolved")
                }
                return found
            }
            var byView: [String: Int] = [:]
            for (i, ref) in refs.enumerated() {
                if let read = byView[ref.view] {
                    columns[read].append((i, ref.feature))
                    continue
                }
                let joinKeys = try found[i].joinKeys ?? FeatureDefinitions.joinKeys(of: found[i].view, entities: loaded.all.entities)
                byView[ref.view] = views.count
                views.append((found[i].view, joinKeys))
                columns.append([(i, ref.feature)])
            }
        }
    }

    let shape: Shape
    var refs: [FeatureRef] { shape.refs }
    let entityCount: Int
    /// Per view read: the view and its entity keys, one per entity.
    let reads: [(view: FeatureView, keys: [String])]

    init(_ refs: [FeatureRef], _ entities: [[String: JSONValue]], _ loaded: FeatureService.Loaded, maxEntities: Int) throws {
        // As an inference request's rows are bounded (`--max-rows`): one read is not a bulk export.
        guard entities.count <= maxEntities else {
            throw FerryError(.tooLarge, "entities has \(entities.count) entities; the limit is \(maxEntities) per request (the server's --max-rows); read them in several requests, or build a training set for a bulk read")
        }
        shape = try loaded.shape(of: refs)
        entityCount = entities.count
        reads = try shape.views.map { view, joinKeys in
            let keys = try entities.enumerated().map { r, entity in
                try FeatureService.entityKey(entity, joinKeys: joinKeys, label: "entities[\(r)]", view: view.name)
            }
            return (view, keys)
        }
    }

    /// The values per entity, in the refs' order, with ttl applied: a row older than its view's ttl is reported
    /// `outside_ttl` and served as null.
    func values(_ rowsPerRead: [[OnlineFeatureRow?]], nowMicros: Int64) -> [[OnlineFeatureValue]] {
        let missing = OnlineFeatureValue(value: .null, status: .notFound, eventTime: nil)
        var answer = Array(repeating: Array(repeating: missing, count: refs.count), count: entityCount)
        for (read, rows) in rowsPerRead.enumerated() {
            let ttl = reads[read].view.ttlSeconds
            for (r, row) in rows.enumerated() {
                guard let row else { continue }
                let stale = ttl > 0 && nowMicros - row.eventTime > ttl * 1_000_000
                for (index, name) in shape.columns[read] {
                    if stale {
                        answer[r][index] = OnlineFeatureValue(value: .null, status: .outsideTTL, eventTime: row.eventTime)
                    } else if let value = row.values[name] {
                        answer[r][index] = OnlineFeatureValue(value: value, status: value == .null ? .nullValue : .present, eventTime: row.eventTime)
                    } else {
                        // A feature added to the view after this row was written: never loaded, not a stored null.
                        answer[r][index] = OnlineFeatureValue(value: .null, status: .notFound, eventTime: nil)
                    }
                }
            }
        }
        return answer
    }
}

extension FeatureService {
    /// The entity key of a JSON object holding a view's join keys (a pushed row, an entity to read); errors name
    /// the object by `label` (made only for an error) and the join key.
    static func entityKey(_ object: [String: JSONValue], joinKeys: [JoinKey], label: @autoclosure () -> String, view: String) throws -> String {
        let values = try joinKeys.map { key -> FeatureDatum in
            guard let value = object[key.name] else {
                throw FerryError.invalid("\(label()) has no '\(key.name)', the join key of feature view '\(view)'")
            }
            do {
                return try FeatureDatum.from(value, as: key.type)
            } catch let error as FerryError {
                throw FerryError.invalid("\(label()).\(key.name): \(error.message)")
            }
        }
        do {
            return try EntityKey.make(values, keys: joinKeys)
        } catch let error as FerryError {
            throw FerryError.invalid("\(label()): \(error.message)")
        }
    }
}
