import FerryCore
import Foundation

/// Checks a CSV or JSON Lines file against `Expectations`, a block of whole lines at a time, so a file of any size
/// is read once without being held in memory: each row is checked against the row rules (type, range, categories,
/// not_null, unique, unique_key, duplicate_row, parse), a row that breaks any goes to the quarantine with the rules
/// it broke, and the file-wide rules (null_rate, drift, row_count) are judged at the end.
///
/// A block is checked in three steps, so that it runs on every core and still gives what a plain reading gives:
/// 1. Its rows are checked in parts, one per core: the row rules (which only note that a row broke one), the counts
///    the file-wide rules need, and the 64-bit hashes uniqueness is judged by.
/// 2. Each uniqueness rule's hashes go into its own table in row order, the tables at once (`HashSet64`).
/// 3. The rows that broke a rule are gone through again in row order: each rule they broke (step 1 noted which
///    values broke which rule, so they are not read again) is tallied, with examples, and the row is quarantined
///    with its rules.
/// Step 1 (`Rules.scan`) reads only the rules, so one block is scanned while the block before it goes through steps 2
/// and 3 (`finish`): the cores are not left idle where one part of a step ends before the other.
///
/// Uniqueness is tracked by 64-bit hashes of the values, keys and lines seen (12 to 23 bytes each in `HashSet64`, not the values): two
/// different values share a hash with a probability of about n²/2⁶⁵ (under 3·10⁻⁶ for 10 million rows).
struct DataChecker: Sendable {
    /// A rule's tally: rows that broke it and up to five examples.
    struct Tally {
        var failures = 0
        var examples: [ValidationReport.Example] = []

        mutating func add(_ row: Int, _ value: @autoclosure () -> String) {
            failures += 1
            if examples.count < 5 { examples.append(.init(row: row, value: String(value().prefix(80)))) }
        }

        /// Adds a tally of later rows.
        mutating func add(_ later: Tally) {
            failures += later.failures
            examples += later.examples.prefix(max(0, 5 - examples.count))
        }
    }

    /// What step 3 tallies: per column, per row-wide rule, and the rows quarantined. Each part keeps its own; they
    /// are added up in row order.
    struct Tallies: Sendable {
        var type: [Tally], range: [Tally], categories: [Tally], notNull: [Tally], unique: [Tally]
        var parse = Tally(), uniqueKey = Tally(), duplicateRow = Tally()
        var quarantined = 0

        init(columns: Int) {
            (type, range, categories, notNull, unique) = ([Tally](repeating: .init(), count: columns), [], [], [], [])
            (range, categories, notNull, unique) = (type, type, type, type)
        }

        mutating func add(_ later: Tallies) {
            for c in type.indices {
                type[c].add(later.type[c])
                range[c].add(later.range[c])
                categories[c].add(later.categories[c])
                notNull[c].add(later.notNull[c])
                unique[c].add(later.unique[c])
            }
            parse.add(later.parse)
            uniqueKey.add(later.uniqueKey)
            duplicateRow.add(later.duplicateRow)
            quarantined += later.quarantined
        }
    }

    /// What step 3 found in one part.
    final class Rechecked: @unchecked Sendable {
        var tallies: Tallies
        var quarantine: [UInt8] = []
        init(columns: Int) { tallies = Tallies(columns: columns) }
    }

    /// What every row is checked against, read by every part at once.
    struct Rules: Sendable {
        struct Column: Sendable {
            let spec: Expectations.Column
            /// Where the column's value is among a row's fields: CSV, its index in the header (nil when the header
            /// lacks it); JSON Lines, its place among the expectations' columns.
            let slot: Int?
            let allowed: Set<String>?
            /// The reference's bin edges (for the PSI), and how many bins they make.
            let edges: [Double]?
            let bins: Int
            /// Its uniqueness table (`unique` columns).
            let table: Int?
        }

        /// What checking a value reads of its column, with nothing to retain: the hot path's copy of `columns`.
        struct Check {
            /// The column's slot and uniqueness table, -1 for none.
            let slot: Int, table: Int
            let numeric: Bool
            /// Whether a missing value breaks `not_null`.
            let notNull: Bool
            /// The range, infinite where open.
            let min: Double, max: Double
            let binned: Bool

            init(_ column: Column) {
                (slot, table) = (column.slot ?? -1, column.table ?? -1)
                numeric = column.spec.kind == .numeric
                notNull = column.spec.maxNullRate == 0
                (min, max) = (column.spec.min ?? -.infinity, column.spec.max ?? .infinity)
                binned = column.edges != nil
            }
        }

        let format: BatchJob.Format
        /// CSV: the header's fields.
        let header: [String]
        let columns: [Column]
        let checks: [Check]
        /// The unique key's fields: CSV, header indices; JSON Lines, slots after the columns'.
        let keySlots: [Int]
        /// JSON Lines: the unique key's names.
        let keyNames: [String]
        /// The uniqueness tables: the lines (`no_duplicate_rows`), the key, then the unique columns.
        let lineTable: Int?, keyTable: Int?
        let tables: Int
        /// The uniqueness hashes' seed, random per check (`HashSet64.hash`).
        let seed: UInt64
    }

    /// What a value is, by the row rules other than uniqueness.
    enum Verdict: UInt8 { case missing, fine, wrongType, outOfRange, notAllowed }

    /// A value that broke a rule: its row (of the part), column and verdict in one integer, which orders by row.
    static func cell(row: Int, column: Int, _ verdict: Verdict) -> UInt64 {
        UInt64(row) << 32 | UInt64(column) << 8 | UInt64(verdict.rawValue)
    }

    /// A row's fields as ranges of its line or, when they had to be rewritten (quoted CSV fields, JSON Lines values),
    /// of a copy. Reused from row to row.
    struct Fields {
        var copy: [UInt8] = []
        var copied = false
        var starts: [Int] = []
        var ends: [Int] = []
        /// JSON Lines: per column, whether its value is a JSON string in a numeric column (a type error even when it
        /// spells a number).
        var strings: [Bool] = []

        /// Calls `body` with the bytes the ranges are in.
        func with<R>(_ line: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
            copied ? copy.withUnsafeBufferPointer(body) : body(line)
        }

        func field(_ slot: Int, in bytes: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
            UnsafeBufferPointer(rebasing: bytes[starts[slot]..<ends[slot]])
        }

        /// Adds a field of the line, trimmed as `FieldBounds` trims it.
        @inline(__always)
        mutating func add(_ line: UnsafeBufferPointer<UInt8>, _ from: Int, _ to: Int) {
            let (a, b) = FieldBounds.trim(line, from, to)
            starts.append(a)
            ends.append(b)
        }

        /// Adds a field written into the copy.
        mutating func add<S: Sequence>(copying bytes: S) where S.Element == UInt8 {
            starts.append(copy.count)
            copy.append(contentsOf: bytes)
            ends.append(copy.count)
        }
    }

    /// What step 1 found in one part of a block.
    final class Part: @unchecked Sendable {
        var rows = 0
        /// Each row's line, as offsets in the block.
        var lineStarts: [Int] = []
        var lineEnds: [Int] = []
        /// Rows (of the part) that broke a row rule.
        var noted: [Int] = []
        /// The values that broke a rule in rows that were read (`cell`): row, column and verdict, in row order, so
        /// that step 3 need not read those rows again.
        var cells: [UInt64] = []
        /// Noted rows that could not be read (the wrong number of fields, a line that is not a JSON object): step 3
        /// reads them again for the reason.
        var unread: [Int] = []
        /// Per uniqueness table, a member per row (0 for none: a missing value, a row that does not parse).
        var members: [[UInt64]]
        /// Per column, missing values and the counts per reference bin.
        var nulls: [Int]
        var bins: [[Int]]

        init(_ rules: Rules) {
            members = [[UInt64]](repeating: [], count: rules.tables)
            nulls = [Int](repeating: 0, count: rules.columns.count)
            bins = rules.columns.map { [Int](repeating: 0, count: $0.bins) }
        }
    }

    final class Table: @unchecked Sendable {
        var set = HashSet64(capacity: 8)
        /// Rows of the block being checked whose member was there already.
        var repeated: [Int] = []
    }

    /// A column's counts for the file-wide rules.
    struct ColumnState {
        var nulls = 0
        var referenceShares: [Double] = []
        var bins: [Int] = []
    }

    let rules: Rules
    let expectations: Expectations
    var columns: [ColumnState]
    var rows = 0
    var tallies: Tallies
    let tables: [Table]

    var format: BatchJob.Format { rules.format }

    /// `header` is the CSV header line (nil for JSON Lines); `reference` gives the bins for drift.
    init(format: BatchJob.Format, header headerLine: String?, expectations: Expectations, reference: ReferenceProfile?, source: String) throws {
        self.expectations = expectations
        var header: [String] = []
        if format == .csv {
            guard let headerLine else { throw FerryError.invalid("\(source) is empty; it needs a header line and rows") }
            header = try CSVTable.fields(Substring(headerLine), source: source, line: 1)
        }
        let profiles = Dictionary((reference?.features ?? []).map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var tables = 0
        func table() -> Int {
            tables += 1
            return tables - 1
        }
        let lineTable = expectations.noDuplicateRows ? table() : nil
        let keyNames = expectations.uniqueKey ?? []
        let keySlots = format == .csv
            ? keyNames.compactMap { header.firstIndex(of: $0) }
            : keyNames.indices.map { expectations.columns.count + $0 }
        let keyTable = keySlots.isEmpty ? nil : table()
        var states: [ColumnState] = []
        var columns: [Rules.Column] = []
        for (c, spec) in expectations.columns.enumerated() {
            var state = ColumnState()
            var edges: [Double]?
            if spec.maxPSI != nil, let profile = profiles[spec.name], let e = profile.edges, let counts = profile.binCounts {
                let total = Double(counts.reduce(0, +))
                edges = e
                state.referenceShares = counts.map { total > 0 ? Double($0) / total : 0 }
                state.bins = [Int](repeating: 0, count: counts.count)
            }
            states.append(state)
            columns.append(.init(
                spec: spec, slot: format == .csv ? header.firstIndex(of: spec.name) : c, allowed: spec.categories.map(Set.init), edges: edges, bins: state.bins.count,
                table: spec.unique ? table() : nil))
        }
        self.columns = states
        tallies = Tallies(columns: states.count)
        rules = Rules(
            format: format, header: header, columns: columns, checks: columns.map(Rules.Check.init), keySlots: keySlots, keyNames: format == .csv ? [] : keyNames,
            lineTable: lineTable, keyTable: keyTable, tables: tables, seed: .random(in: .min ... .max))
        self.tables = (0..<tables).map { _ in Table() }
    }

    /// Sizes the uniqueness tables for `rows` rows in all.
    func reserve(rows: Int) {
        for table in tables { table.set.reserve(rows) }
    }

    /// Columns the expectations name that a CSV file's header lacks.
    var missingColumns: [String] { format == .csv ? rules.columns.filter { $0.slot == nil }.map(\.spec.name) : [] }

    /// Steps 2 and 3 for the whole lines in `bytes` (the last may lack its line end), which `Rules.scan` split into
    /// `found`; blocks come in file order. Appends each quarantined row to `quarantine`.
    mutating func finish(_ bytes: UnsafeBufferPointer<UInt8>, _ found: [Part], quarantine: inout Data) {
        let rules = self.rules, count = found.count
        let shared = SharedPointer(base: bytes)
        // Step 2: the uniqueness tables, each in row order, all at once.
        let tables = self.tables
        let insert = { @Sendable (t: Int) in
            let table = tables[t]
            table.repeated.removeAll(keepingCapacity: true)
            var base = 0
            for part in found {
                part.members[t].withUnsafeBufferPointer { members in table.set.insert(members) { table.repeated.append(base + $0) } }
                base += part.rows
            }
        }
        if tables.count == 1 { insert(0) } else if tables.count > 1 { DispatchQueue.concurrentPerform(iterations: tables.count, execute: insert) }

        // Step 3: the counts, then the rows that broke a rule gone through again, each part's in row order, the parts at
        // once; their tallies and quarantines are added up in row order.
        var bases = [0]
        for part in found {
            for c in columns.indices {
                columns[c].nulls += part.nulls[c]
                for b in columns[c].bins.indices { columns[c].bins[b] += part.bins[c][b] }
            }
            bases.append(bases.last! + part.rows)
        }
        let repeated = tables.map(\.repeated), starts = bases, first = rows
        let results = found.map { _ in Rechecked(columns: rules.columns.count) }
        let recheck = { @Sendable (p: Int) in
            rules.recheck(shared.base, found[p], rows: starts[p]..<starts[p + 1], before: first, repeated: repeated, into: results[p])
        }
        if count == 1 { recheck(0) } else { DispatchQueue.concurrentPerform(iterations: count, execute: recheck) }
        for result in results {
            tallies.add(result.tallies)
            quarantine.append(contentsOf: result.quarantine)
        }
        rows += bases.last!
    }

    /// Appends a quarantined row: CSV `row,rule;rule,line`, JSON Lines `{"row":…,"rules":[…],"record":line}`. Byte by
    /// byte into a growing array, not through interpolated strings (those took 8% of the check's CPU, perf).
    static func quarantine(_ line: UnsafeBufferPointer<UInt8>, row: Int, rules: [String], format: BatchJob.Format, into out: inout [UInt8]) {
        let csv = format == .csv
        out.append(contentsOf: (csv ? "" : "{\"row\":").utf8)
        out.append(contentsOf: String(row).utf8)
        out.append(contentsOf: (csv ? "," : ",\"rules\":[").utf8)
        for (i, rule) in rules.enumerated() {
            if i > 0 { out.append(csv ? UInt8(ascii: ";") : UInt8(ascii: ",")) }
            if !csv { out.append(UInt8(ascii: "\"")) }
            out.append(contentsOf: rule.utf8)
            if !csv { out.append(UInt8(ascii: "\"")) }
        }
        out.append(contentsOf: (csv ? "," : "],\"record\":").utf8)
        if rules.contains("parse") && (csv ? line.contains(0x22) : true) {
            // A line that could not be read (a quote never closed, text that is not JSON) is kept whole as one
            // quoted field or one JSON string: pasted as it was, it made the quarantine itself unreadable.
            quoted(line, json: !csv, into: &out)
        } else {
            out.append(contentsOf: line)
        }
        if !csv { out.append(UInt8(ascii: "}")) }
        out.append(0x0A)
    }

    /// `line` as one CSV field in quotes (a quote doubled) or as a JSON string (quotes, backslashes and control
    /// characters escaped).
    static func quoted(_ line: UnsafeBufferPointer<UInt8>, json: Bool, into out: inout [UInt8]) {
        out.append(0x22)
        for byte in line {
            switch byte {
            case 0x22: out.append(contentsOf: json ? [0x5C, 0x22] : [0x22, 0x22])
            case 0x5C where json: out.append(contentsOf: [0x5C, 0x5C])
            case 0..<0x20 where json: out.append(contentsOf: Array(String(format: "\\u%04x", byte).utf8))
            default: out.append(byte)
            }
        }
        out.append(0x22)
    }

    /// Whether a field spells a missing value: empty, NA or NaN (any case).
    static func isMissing(_ f: UnsafeBufferPointer<UInt8>) -> Bool {
        switch f.count {
        case 0: return true
        case 2: return f[0] | 0x20 == 0x6E && f[1] | 0x20 == 0x61
        case 3: return f[0] | 0x20 == 0x6E && f[1] | 0x20 == 0x61 && f[2] | 0x20 == 0x6E
        default: return false
        }
    }

    /// The verdicts, row rules first (in column order), then the file-wide ones.
    func report() -> ValidationReport {
        var results: [ValidationReport.Result] = []
        func number(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(format: "%.6g", v) }
        for name in missingColumns {
            results.append(.init(rule: "column", column: name, expected: "the file has the column", passed: false))
        }
        let parse = tallies.parse, uniqueKey = tallies.uniqueKey, duplicateRow = tallies.duplicateRow
        if parse.failures > 0 || format == .jsonl {
            results.append(.init(rule: "parse", column: nil, expected: "every row is well-formed", passed: parse.failures == 0, failures: parse.failures, examples: parse.examples))
        }
        for (c, (column, state)) in zip(rules.columns, columns).enumerated() where column.slot != nil || format == .jsonl {
            let s = column.spec, name = s.name
            func row(_ rule: String, _ expected: String, _ t: Tally) {
                results.append(.init(rule: rule, column: name, expected: expected, passed: t.failures == 0, failures: t.failures, examples: t.examples))
            }
            switch s.kind {
            case .numeric: row("type", "a number", tallies.type[c])
            case .categorical: if let names = s.categories { row("categories", "one of \(names.prefix(20).joined(separator: ", "))\(names.count > 20 ? ", …" : "")", tallies.categories[c]) }
            }
            if s.min != nil || s.max != nil {
                let expected = switch (s.min, s.max) {
                case let (lo?, hi?): "between \(number(lo)) and \(number(hi))"
                case let (lo?, nil): "at least \(number(lo))"
                case let (nil, hi?): "at most \(number(hi))"
                default: ""
                }
                row("range", expected, tallies.range[c])
            }
            if s.maxNullRate == 0 { row("not_null", "no missing value", tallies.notNull[c]) }
            if s.unique { row("unique", "no value twice", tallies.unique[c]) }
            if let rate = s.maxNullRate, rate > 0 {
                // Of the rows that could be read: one that could not (`parse`) has no value to be missing.
                let read = rows - parse.failures
                let observed = read == 0 ? 0 : Double(state.nulls) / Double(read)
                results.append(.init(
                    rule: "null_rate", column: name, expected: "at most \(number(rate * 100))% missing", passed: observed <= rate,
                    failures: observed <= rate ? 0 : state.nulls, observed: observed))
            }
            if let limit = s.maxPSI {
                let total = Double(state.bins.reduce(0, +))
                if column.edges != nil, total >= Double(Expectations.minDriftValues) {
                    let psi = Statistics.psi(reference: state.referenceShares, current: state.bins.map { Double($0) / total })
                    results.append(.init(rule: "drift", column: name, expected: "PSI against the reference at most \(number(limit))", passed: psi <= limit, observed: psi))
                } else if column.edges != nil {
                    // A handful of values' shares say nothing of a distribution: five rows gave PSIs above 1.
                    results.append(.init(
                        rule: "drift", column: name,
                        expected: "PSI against the reference at most \(number(limit)), judged from \(Expectations.minDriftValues) values (this file has \(Int(total)): not judged)",
                        passed: true))
                }
            }
        }
        if let key = expectations.uniqueKey, !key.isEmpty {
            results.append(.init(rule: "unique_key", column: key.joined(separator: ","), expected: "no key twice", passed: uniqueKey.failures == 0, failures: uniqueKey.failures, examples: uniqueKey.examples))
        }
        if expectations.noDuplicateRows {
            results.append(.init(rule: "duplicate_row", column: nil, expected: "no row twice", passed: duplicateRow.failures == 0, failures: duplicateRow.failures, examples: duplicateRow.examples))
        }
        if expectations.minRows != nil || expectations.maxRows != nil {
            let passed = rows >= (expectations.minRows ?? 0) && rows <= (expectations.maxRows ?? Int.max)
            let expected = [expectations.minRows.map { "at least \($0)" }, expectations.maxRows.map { "at most \($0)" }].compactMap { $0 }.joined(separator: " and ")
            results.append(.init(rule: "row_count", column: nil, expected: "rows: \(expected)", passed: passed, observed: Double(rows)))
        }
        return ValidationReport(rows: rows, quarantinedRows: tallies.quarantined, results: results)
    }
}

extension DataChecker.Rules {
    /// Splits `line` into `fields`; the message when the row is malformed.
    func read(_ line: UnsafeBufferPointer<UInt8>, into fields: inout DataChecker.Fields) -> String? {
        fields.starts.removeAll(keepingCapacity: true)
        fields.ends.removeAll(keepingCapacity: true)
        fields.copied = false
        switch format {
        case .csv:
            if !CSVTable.unquotedFields(line, { fields.add(line, $0, $1) }) {
                let parsed: [String]
                do {
                    parsed = try CSVTable.fields(Substring(String(decoding: line, as: UTF8.self)), source: "the row", line: 0)
                } catch {
                    return (error as? FerryError)?.message ?? "\(error)"
                }
                fields.starts.removeAll(keepingCapacity: true)
                fields.ends.removeAll(keepingCapacity: true)
                fields.copy.removeAll(keepingCapacity: true)
                fields.copied = true
                for field in parsed { fields.add(copying: field.trimmingCharacters(in: .whitespaces).utf8) }
            }
            guard fields.starts.count == header.count else { return "the row has \(fields.starts.count) fields; the header has \(header.count)" }
        case .jsonl:
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] else {
                return "the line is not a JSON object"
            }
            func text(_ value: Any?) -> String {
                switch value {
                case nil, is NSNull: ""
                case let s as String: s
                case let n as NSNumber: ModelMonitor.number(n.doubleValue)
                case let other?: Self.json(other)
                }
            }
            fields.copy.removeAll(keepingCapacity: true)
            fields.strings.removeAll(keepingCapacity: true)
            fields.copied = true
            for column in columns {
                let value = object[column.spec.name]
                fields.strings.append(column.spec.kind == .numeric && (value as? String).map { !$0.isEmpty } == true)
                fields.add(copying: text(value).utf8)
            }
            for name in keyNames { fields.add(copying: ((object[name] as? NSNumber)?.keyText ?? text(object[name])).utf8) }
        }
        return nil
    }

    /// A JSON array or object as compact JSON (its keys sorted), as a report's example or a result's key shows it.
    static func json(_ value: Any) -> String {
        (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes]))
            .map { String(decoding: $0, as: UTF8.self) } ?? "\(value)"
    }

    /// Step 3 for one part, whose rows are `rows` of the block (`before` rows came before it): the rows it noted and
    /// those the tables found `repeated`, checked again in row order.
    func recheck(
        _ bytes: UnsafeBufferPointer<UInt8>, _ part: DataChecker.Part, rows: Range<Int>, before: Int, repeated: [[Int]], into result: DataChecker.Rechecked
    ) {
        // This part's repeats: slices of the tables' lists.
        let slices: [ArraySlice<Int>] = repeated.map { list in
            let low = list.firstIndex { $0 >= rows.lowerBound } ?? list.endIndex
            let high = list[low...].firstIndex { $0 >= rows.upperBound } ?? list.endIndex
            return list[low..<high]
        }
        var again = part.noted
        for slice in slices { again += slice.map { $0 - rows.lowerBound } }
        again.sort()
        var cursors = slices.map(\.startIndex)
        var fields = DataChecker.Fields()
        var broken: [String] = []
        var tallies = result.tallies
        var quarantine: [UInt8] = []
        // Room for every row's line and its rules, so the quarantine is not copied as it grows.
        quarantine.reserveCapacity(again.reduce(0) { $0 + part.lineEnds[$1] - part.lineStarts[$1] + 48 })
        // What step 1 found of each value of the row at hand (`.fine` unless it broke a rule), from the part's cells.
        var verdicts = [DataChecker.Verdict](repeating: .fine, count: checks.count)
        var (cell, unread) = (part.cells.startIndex, part.unread.startIndex)
        var last = -1
        for i in again where i != last {
            last = i
            let r = rows.lowerBound + i
            let line = UnsafeBufferPointer(rebasing: bytes[part.lineStarts[i]..<part.lineEnds[i]])
            // Every noted row is gone through, in order, so the row's cells are the next ones.
            let first = cell
            while cell < part.cells.endIndex, Int(part.cells[cell] >> 32) == i {
                verdicts[Int(part.cells[cell] >> 8 & 0xFF_FFFF)] = DataChecker.Verdict(rawValue: UInt8(truncatingIfNeeded: part.cells[cell]))!
                cell += 1
            }
            while unread < part.unread.endIndex, part.unread[unread] < i { unread += 1 }
            let wasUnread = unread < part.unread.endIndex && part.unread[unread] == i
            recheck(line, row: before + r + 1, unread: wasUnread, verdicts: verdicts, into: &tallies, fields: &fields, broken: &broken) { t in
                while cursors[t] < slices[t].endIndex, slices[t][cursors[t]] < r { cursors[t] += 1 }
                return cursors[t] < slices[t].endIndex && slices[t][cursors[t]] == r
            }
            for done in part.cells[first..<cell] { verdicts[Int(done >> 8 & 0xFF_FFFF)] = .fine }
            if !broken.isEmpty {
                tallies.quarantined += 1
                DataChecker.quarantine(line, row: before + r + 1, rules: broken, format: format, into: &quarantine)
            }
        }
        (result.tallies, result.quarantine) = (tallies, quarantine)
    }

    /// Step 3 for one row: every rule it broke tallied and listed in `broken`, `repeated(t)` telling whether its
    /// member of uniqueness table t was seen before. A row step 1 could not read (`unread`) is read again for the
    /// reason; for the others `verdicts[c]` is what step 1 found of column c's value, and the row's fields are read
    /// again only when a tally keeps an example of a value's text (its first five).
    func recheck(
        _ line: UnsafeBufferPointer<UInt8>, row: Int, unread: Bool, verdicts: [DataChecker.Verdict], into tallies: inout DataChecker.Tallies,
        fields: inout DataChecker.Fields, broken: inout [String], repeated: (Int) -> Bool
    ) {
        broken.removeAll(keepingCapacity: true)
        if let t = lineTable, repeated(t) {
            tallies.duplicateRow.add(row, String(decoding: line, as: UTF8.self))
            broken.append("duplicate_row")
        }
        if unread {
            tallies.parse.add(row, read(line, into: &fields) ?? "the row could not be read")
            broken.append("parse")
            return
        }
        var fieldsRead = false
        func text(_ slot: Int) -> String {
            if !fieldsRead {
                _ = read(line, into: &fields)
                fieldsRead = true
            }
            return fields.with(line) { [fields] bytes in String(decoding: fields.field(slot, in: bytes), as: UTF8.self) }
        }
        // `checks`, not `columns`: a column's copy would retain its name, categories and bins.
        for (c, check) in checks.enumerated() where check.slot >= 0 {
            var name: String { columns[c].spec.name }
            let verdict = verdicts[c]
            if verdict == .missing {
                // Noted only where a missing value breaks `not_null`.
                tallies.notNull[c].add(row, text(check.slot))
                broken.append("not_null:\(name)")
                continue
            }
            // A missing value or a JSON string has no member, so it is never repeated.
            if check.table >= 0, repeated(check.table) {
                tallies.unique[c].add(row, text(check.slot))
                broken.append("unique:\(name)")
            }
            switch verdict {
            case .missing, .fine: break
            case .wrongType:
                tallies.type[c].add(row, text(check.slot))
                broken.append("type:\(name)")
            case .outOfRange:
                tallies.range[c].add(row, text(check.slot))
                broken.append("range:\(name)")
            case .notAllowed:
                tallies.categories[c].add(row, text(check.slot))
                broken.append("categories:\(name)")
            }
        }
        if let t = keyTable, repeated(t) {
            tallies.uniqueKey.add(row, keySlots.map { text($0) }.joined(separator: ","))
            broken.append("unique_key")
        }
    }

    /// What the row rules other than uniqueness say of a value, and the number it spells (numeric columns; nil when
    /// it was not needed). `string`: a JSON string in a numeric column. `floor`: where the bytes before the field
    /// that may be read start (the block's), letting a plain number well inside its range be judged by its whole
    /// part, without reading its fraction's digits into a number.
    @inline(__always)
    func verdict(_ c: Int, _ field: UnsafeBufferPointer<UInt8>, string: Bool, floor: UnsafePointer<UInt8>? = nil) -> (DataChecker.Verdict, Double?) {
        if string { return (.wrongType, nil) }
        if DataChecker.isMissing(field) { return (.missing, nil) }
        let check = checks[c]
        guard check.numeric else {
            if let allowed = columns[c].allowed, !allowed.contains(String(decoding: field, as: UTF8.self)) { return (.notAllowed, nil) }
            return (.fine, nil)
        }
        if let floor, !check.binned, let base = field.baseAddress {
            let start = base - floor
            if let (whole, negative, fraction) = DecimalText.wholePart(floor, start, start + field.count) {
                // The value lies in [whole, whole + 1), or is whole itself; negated for a `-`.
                let step: Double = fraction ? 1 : 0
                let (low, high) = negative ? (-(whole + step), -whole) : (whole, whole + step)
                if low >= check.min && high <= check.max { return (.fine, nil) }
            }
        }
        guard let value = DecimalText.finite(field) else {
            return (.wrongType, nil)
        }
        return (value < check.min || value > check.max ? .outOfRange : .fine, value)
    }

    /// Step 1 for the whole lines in `bytes` (the last may lack its line end): in up to `parts` parts at once, none
    /// under `minimumPartBytes`, split at line ends. It reads only the rules, so a block is scanned while the block
    /// before it goes through steps 2 and 3 (`DataChecker.finish`).
    func scan(
        _ bytes: UnsafeBufferPointer<UInt8>, parts: Int = ProcessInfo.processInfo.activeProcessorCount, minimumPartBytes: Int = 256 << 10
    ) -> [DataChecker.Part] {
        let count = max(1, min(parts, bytes.count / max(1, minimumPartBytes)))
        var bounds = [0]
        for i in 1..<count {
            var at = max(bytes.count * i / count, bounds.last!)
            while at < bytes.count, bytes[at - 1] != 0x0A { at += 1 }
            bounds.append(at)
        }
        bounds.append(bytes.count)
        let found = (0..<count).map { _ in DataChecker.Part(self) }
        let shared = SharedPointer(base: bytes), cuts = bounds
        let scan = { @Sendable (p: Int) in self.scan(shared.base, cuts[p]..<cuts[p + 1], into: found[p]) }
        if count == 1 { scan(0) } else { DispatchQueue.concurrentPerform(iterations: count, execute: scan) }
        return found
    }

    /// Step 1 for the lines in `range` of `bytes`.
    func scan(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, into part: DataChecker.Part) {
        guard let origin = bytes.baseAddress else { return }
        var fields = DataChecker.Fields()
        // Unquoted CSV lines are split into these, with no array growing per field; other lines are read by `read`.
        let bounds = FieldBounds(capacity: format == .csv ? header.count : 0)
        defer { bounds.deallocate() }
        // Locals while the part is read, not the class's properties (each access to those is checked).
        var (rows, lineStarts, lineEnds, noted) = (0, [Int](), [Int](), [Int]())
        var (members, nulls, bins, cells, unread) = (part.members, part.nulls, part.bins, [UInt64](), [Int]())
        defer {
            (part.rows, part.lineStarts, part.lineEnds, part.noted) = (rows, lineStarts, lineEnds, noted)
            (part.members, part.nulls, part.bins, part.cells, part.unread) = (members, nulls, bins, cells, unread)
        }
        /// The row rules and the uniqueness members of row `row`, whose fields `field` gives (`string(c)`: column c's
        /// value is a JSON string; `floor`: the block's start when the fields lie in it, not in a copy); whether the
        /// row broke a rule, each value that broke one noted in `cells`. It takes the part's counts as arguments:
        /// captured, they would be checked for exclusive access at run time on every use (6% of the check, perf).
        @inline(__always)
        func check(
            _ row: Int, _ field: (Int) -> UnsafeBufferPointer<UInt8>, string: (Int) -> Bool, floor: UnsafePointer<UInt8>?, members: inout [[UInt64]],
            nulls: inout [Int], bins: inout [[Int]], cells: inout [UInt64]
        ) -> Bool {
            var broke = false
            for c in checks.indices {
                let check = checks[c]
                guard check.slot >= 0 else {
                    if check.table >= 0 { members[check.table].append(0) }
                    continue
                }
                let value = field(check.slot)
                let string = string(c)
                let (verdict, number) = verdict(c, value, string: string, floor: floor)
                if check.table >= 0 {
                    members[check.table].append(verdict == .missing || string ? 0 : HashSet64.member(HashSet64.hash(value, seed: seed)))
                }
                switch verdict {
                case .missing:
                    nulls[c] += 1
                    if check.notNull {
                        broke = true
                        cells.append(DataChecker.cell(row: row, column: c, verdict))
                    }
                case .fine, .outOfRange, .wrongType, .notAllowed:
                    if verdict != .fine {
                        broke = true
                        cells.append(DataChecker.cell(row: row, column: c, verdict))
                    }
                    if check.binned, let edges = columns[c].edges, let number {
                        // The bin is the number of edges strictly below the value (as the reference was binned).
                        var lo = 0, hi = edges.count
                        while lo < hi {
                            let mid = (lo + hi) / 2
                            if edges[mid] < number { lo = mid + 1 } else { hi = mid }
                        }
                        bins[c][lo] += 1
                    }
                }
            }
            if let t = keyTable {
                var h = seed
                for k in keySlots { h = HashSet64.hash(field(k), seed: h) }
                members[t].append(HashSet64.member(h))
            }
            return broke
        }
        BatchLayout.forEachLine(UnsafeBufferPointer(rebasing: bytes[range])) { line in
            let row = rows
            rows += 1
            let start = line.baseAddress! - origin
            lineStarts.append(start)
            lineEnds.append(start + line.count)
            if let t = lineTable { members[t].append(HashSet64.member(HashSet64.hash(line, seed: seed))) }
            var (broke, parsed) = (true, false)
            if format == .csv, let found = bounds.split(line) {
                if found == header.count {
                    parsed = true
                    broke = check(
                        row, { bounds.field($0, of: line) }, string: { _ in false }, floor: origin, members: &members, nulls: &nulls, bins: &bins,
                        cells: &cells)
                }
            } else if read(line, into: &fields) == nil {
                parsed = true
                let jsonl = format == .jsonl
                broke = fields.with(line) { [fields] bytes in
                    check(
                        row, { fields.field($0, in: bytes) }, string: { jsonl && fields.strings[$0] }, floor: nil, members: &members, nulls: &nulls,
                        bins: &bins, cells: &cells)
                }
            }
            if !parsed {
                unread.append(row)
                // A row that does not parse has no members.
                if let t = keyTable { members[t].append(0) }
                for check in checks where check.table >= 0 { members[check.table].append(0) }
            }
            if broke { noted.append(row) }
        }
    }
}
