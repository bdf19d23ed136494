import FerryCore

/// The SQL both stores run for a run search, written once: the two dialects differ only in placeholders and in how
/// LIKE matches case (PostgreSQL's LIKE is case-sensitive, SQLite's is not, so SQLite gets GLOB).
package enum TrackingSQL {
    package enum Dialect: Sendable { case sqlite, postgres }

    package enum Value: Sendable, Equatable {
        case text(String), integer(Int64), real(Double)
    }

    package struct Query: Sendable {
        package var text: String
        package var values: [Value]
    }

    /// Where the first ordering key puts a run: ordered by its value (and not NaN), NaN, or without the key.
    enum Phase: Equatable { case all, present, nan, missing }

    /// Pages through a run search: the ids of the page of runs `search` selects (one more than the page, to tell
    /// whether more follow), in order. A store asks `next()` for the query to run, runs it (for ids, or for a
    /// number), hands the answer back, and repeats until `next()` is nil; then `ids` is the page. (A pager rather
    /// than a function with callbacks: SQLite's connection is synchronous, PostgreSQL's asynchronous.)
    ///
    /// Each filter clause on a metric, param or tag joins that key's row (runs without it never match, as in
    /// MLflow; `IS NULL` selects the runs without it); a NaN metric satisfies only `!=`. When the first ordering key
    /// is a metric, param or tag, the runs come in phases, each one query: those with a value, walked in the order
    /// of the key's (key, value) index so a page needs only its own rows (not a sort of every match); then NaN
    /// metrics; then runs without the key, last in either direction. Later keys and ties (the newest start unless
    /// ordered by start time, then run id) order within each.
    package struct Pager: Sendable {
        package enum Request: Sendable { case rows(Query), count(Query) }

        let search: RunSearch
        let experimentIDs: [Int64]
        let dialect: Dialect
        var phases: [Phase]
        var wanted: Int
        var skip: Int
        var counting = false
        package private(set) var ids: [String] = []

        package init(_ search: RunSearch, experimentIDs: [Int64], dialect: Dialect) {
            self.search = search
            self.experimentIDs = experimentIDs
            self.dialect = dialect
            phases = switch search.orderBy.first?.field {
            case .metric?: [.present, .nan, .missing]
            case .param?, .tag?: [.present, .missing]
            default: [.all]
            }
            wanted = search.maxResults + 1
            skip = search.offset
        }

        package func next() -> Request? {
            guard let phase = phases.first, wanted > 0 else { return nil }
            return counting
                ? .count(TrackingSQL.query(search, experimentIDs, dialect, phase, limit: nil, offset: 0))
                : .rows(TrackingSQL.query(search, experimentIDs, dialect, phase, limit: wanted, offset: skip))
        }

        package mutating func received(rows got: [String]) {
            ids += got
            wanted -= got.count
            // A phase that gave rows ended within this page; one that gave none may have had fewer than `skip`.
            if got.isEmpty && skip > 0 {
                counting = true
            } else {
                skip = 0
                phases.removeFirst()
            }
        }

        package mutating func received(count: Int) {
            skip = max(0, skip - count)
            counting = false
            phases.removeFirst()
        }
    }

    /// One phase's ids (or, with no limit, their count).
    static func query(_ search: RunSearch, _ experimentIDs: [Int64], _ dialect: Dialect, _ phase: Phase, limit: Int?, offset: Int) -> Query {
        var values: [Value] = []
        func bind(_ value: Value) -> String {
            values.append(value)
            // Numbered, since the joins are written before the conditions bound first.
            return dialect == .sqlite ? "?\(values.count)" : "$\(values.count)"
        }
        var joins: [String] = []
        var conditions: [String] = []
        func table(_ field: RunSearch.Field) -> String? {
            switch field {
            case .metric: "tracking_latest_metric"
            case .param: "tracking_param"
            case .tag: "tracking_tag"
            case .attribute: nil
            }
        }
        func key(_ field: RunSearch.Field) -> String? {
            switch field {
            case .metric(let k), .param(let k), .tag(let k): k
            case .attribute: nil
            }
        }
        func column(_ a: RunSearch.Attribute) -> String { "r.\(a.rawValue)" }

        // The first ordering key drives the phases other than `all`: its rows come first (the index walk).
        var from = "tracking_run r"
        var order: [String] = []
        var firstDone = false
        if phase != .all, let first = search.orderBy.first, let table = table(first.field), let k = key(first.field) {
            firstDone = true
            if phase == .missing {
                conditions.append("NOT EXISTS (SELECT 1 FROM \(table) o0 WHERE o0.run_id = r.run_id AND o0.key = \(bind(.text(k))))")
            } else {
                // CROSS JOIN keeps the key's index as SQLite's outer loop (PostgreSQL plans it as an inner join).
                from = "\(table) o0 CROSS JOIN tracking_run r"
                conditions.append("r.run_id = o0.run_id")
                conditions.append("o0.key = \(bind(.text(k)))")
                if case .metric = first.field { conditions.append("o0.is_nan = \(phase == .nan ? 1 : 0)") }
                if phase == .present { order.append("o0.value \(first.ascending ? "ASC" : "DESC")") }
            }
        }

        conditions.append(
            experimentIDs.isEmpty ? "1 = 0" : "r.experiment_id IN (\(experimentIDs.map { bind(.integer($0)) }.joined(separator: ", ")))")
        conditions.append("r.lifecycle_stage IN (\(search.view.stages.map { bind(.text($0.rawValue)) }.joined(separator: ", ")))")
        for (i, clause) in search.filter.enumerated() {
            let subject: String
            if clause.comparison == .isNull || clause.comparison == .isNotNull, let table = table(clause.field), let key = key(clause.field) {
                let exists = "EXISTS (SELECT 1 FROM \(table) n\(i) WHERE n\(i).run_id = r.run_id AND n\(i).key = \(bind(.text(key))))"
                conditions.append(clause.comparison == .isNull ? "NOT \(exists)" : exists)
                continue
            } else if let table = table(clause.field), let key = key(clause.field) {
                if from.hasPrefix("tracking_run") {
                    joins.append("JOIN \(table) f\(i) ON f\(i).run_id = r.run_id AND f\(i).key = \(bind(.text(key)))")
                } else {
                    // Walking the order key's index: each filter is a lookup inside that walk, not a place to start.
                    joins.append("CROSS JOIN \(table) f\(i)")
                    conditions.append("f\(i).run_id = r.run_id AND f\(i).key = \(bind(.text(key)))")
                }
                subject = "f\(i).value"
                if case .metric = clause.field, case .number(let n) = clause.value {
                    conditions.append(
                        clause.comparison == .notEqual
                            ? "(f\(i).is_nan = 1 OR f\(i).value != \(bind(.real(n))))"
                            : "(f\(i).is_nan = 0 AND f\(i).value \(clause.comparison.rawValue) \(bind(.real(n))))")
                    continue
                }
            } else if case .attribute(let a) = clause.field {
                subject = column(a)
            } else {
                continue
            }
            switch (clause.comparison, clause.value) {
            case (.in, .list(let items)), (.notIn, .list(let items)):
                let negate = clause.comparison == .notIn
                if items.isEmpty {
                    conditions.append(negate ? "1 = 1" : "1 = 0")
                } else {
                    conditions.append("\(subject) \(negate ? "NOT IN" : "IN") (\(items.map { bind(.text($0)) }.joined(separator: ", ")))")
                }
            case (.like, .string(let pattern)):
                conditions.append(dialect == .sqlite ? "\(subject) GLOB \(bind(.text(glob(pattern))))" : "\(subject) LIKE \(bind(.text(pattern)))")
            case (.ilike, .string(let pattern)):
                conditions.append(dialect == .sqlite ? "\(subject) LIKE \(bind(.text(pattern)))" : "\(subject) ILIKE \(bind(.text(pattern)))")
            case (let c, .string(let s)):
                conditions.append("\(subject) \(c.rawValue) \(bind(.text(s)))")
            case (let c, .number(let n)):
                if case .attribute = clause.field {
                    conditions.append("\(subject) \(c.rawValue) \(bind(.integer(Int64(n))))")
                } else {
                    conditions.append("\(subject) \(c.rawValue) \(bind(.real(n)))")
                }
            default:
                continue
            }
        }
        for (j, entry) in search.orderBy.enumerated() where !(j == 0 && firstDone) {
            let direction = entry.ascending ? "ASC" : "DESC"
            if let table = table(entry.field), let key = key(entry.field) {
                joins.append("LEFT JOIN \(table) o\(j) ON o\(j).run_id = r.run_id AND o\(j).key = \(bind(.text(key)))")
                order.append("(o\(j).run_id IS NULL) ASC")
                if case .metric = entry.field { order.append("o\(j).is_nan ASC") }
                order.append("o\(j).value \(direction)")
            } else if case .attribute(let a) = entry.field {
                order.append("(\(column(a)) IS NULL) ASC")
                order.append("\(column(a)) \(direction)")
            }
        }
        if !search.orderBy.contains(where: { $0.field == .attribute(.startTime) }) { order.append("r.start_time DESC") }
        order.append("r.run_id ASC")
        let body = "FROM \(from) \(joins.joined(separator: " ")) WHERE \(conditions.joined(separator: " AND "))"
        guard let limit else { return Query(text: "SELECT COUNT(*) \(body)", values: values) }
        let limitMark = bind(.integer(Int64(limit)))
        let offsetMark = bind(.integer(Int64(offset)))
        return Query(
            text: "SELECT r.run_id \(body) ORDER BY \(order.joined(separator: ", ")) LIMIT \(limitMark) OFFSET \(offsetMark)",
            values: values)
    }

    /// A LIKE pattern as a GLOB pattern: `%` and `_` become `*` and `?`; GLOB's own specials are matched literally.
    static func glob(_ pattern: String) -> String {
        var out = ""
        for c in pattern {
            switch c {
            case "%": out += "*"
            case "_": out += "?"
            case "*", "?", "[": out += "[\(c)]"
            default: out.append(c)
            }
        }
        return out
    }
}

/// How both stores keep tracking values in columns.
package enum TrackingColumns {
    /// A metric value as stored: NaN is kept as 0 with a flag (SQLite reads a stored NaN back as NULL); infinities
    /// are stored as they are.
    package static func metricValue(_ value: Double) -> (value: Double, isNaN: Int) {
        value.isNaN ? (0, 1) : (value, 0)
    }

    package static func metric(_ value: Double, isNaN: Int) -> Double { isNaN != 0 ? .nan : value }

    /// The smallest text above every text that starts with `prefix`: `path >= prefix AND path < prefixEnd(prefix)`
    /// selects exactly the paths under it.
    package static func prefixEnd(_ prefix: String) -> String { prefix + "\u{10FFFF}" }

    /// A param logged again with another value (MLflow keeps params immutable).
    package static func paramConflict(key: String, stored: String, given: String, run: String) -> FerryError {
        FerryError.invalid(
            "param '\(key)' of run '\(run)' is already '\(stored)'; a param is logged once and cannot change to '\(given)' (log a new run, or use a tag or metric for values that change)")
    }
}
