import FerryCore
import Foundation

/// Checks a CSV or JSON Lines file against `Expectations`, a block of whole lines at a time, so a file of any size
/// is read once without being held in memory: each row is checked against the row rules (type, range, categories,
/// not_null, unique, unique_key, duplicate_row, parse), a row that breaks any goes to the quarantine with the rules
/// it broke, and the file-wide rules (null_rate, drift, row_count) are judged at the end.
///
/// Uniqueness is tracked by 64-bit hashes of the values, keys and lines seen (12 to 23 bytes each in `HashSet64`, not the values): two
/// different values share a hash with a probability of about n²/2⁶⁵ (under 3·10⁻⁶ for 10 million rows).
struct DataChecker {
    /// A rule's tally: rows that broke it and up to five examples.
    struct Tally {
        var failures = 0
        var examples: [ValidationReport.Example] = []

        mutating func add(_ row: Int, _ value: @autoclosure () -> String) {
            failures += 1
            if examples.count < 5 { examples.append(.init(row: row, value: String(value().prefix(80)))) }
        }
    }

    struct ColumnState {
        var spec: Expectations.Column
        /// CSV: the column's index in the header (nil when the file lacks it).
        var index: Int?
        var nulls = 0
        var type = Tally(), range = Tally(), categories = Tally(), notNull = Tally(), unique = Tally()
        var allowed: Set<String>?
        var seen = HashSet64(capacity: 8)
        /// The reference's bin edges and shares, and the file's counts per bin (for the PSI).
        var edges: [Double]?
        var referenceShares: [Double] = []
        var bins: [Int] = []
    }

    let format: BatchJob.Format
    let expectations: Expectations
    var columns: [ColumnState]
    /// CSV: the header's fields.
    let header: [String]
    let keyColumns: [Int]
    var rows = 0
    var quarantined = 0
    var parse = Tally(), uniqueKey = Tally(), duplicateRow = Tally()
    var keys = HashSet64()
    var lines = HashSet64()
    /// Reused per row.
    private var starts: [Int] = []
    private var broken: [String] = []

    /// `header` is the CSV header line (nil for JSON Lines); `reference` gives the bins for drift.
    init(format: BatchJob.Format, header headerLine: String?, expectations: Expectations, reference: ReferenceProfile?, source: String) throws {
        self.format = format
        self.expectations = expectations
        if format == .csv {
            guard let headerLine else { throw FerryError.invalid("\(source) is empty; it needs a header line and rows") }
            header = try CSVTable.fields(Substring(headerLine), source: source, line: 1)
        } else {
            header = []
        }
        let profiles = Dictionary((reference?.features ?? []).map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let header = self.header
        columns = expectations.columns.map { spec in
            var state = ColumnState(spec: spec)
            state.index = header.firstIndex(of: spec.name)
            state.allowed = spec.categories.map(Set.init)
            if spec.maxPSI != nil, let profile = profiles[spec.name], let edges = profile.edges, let counts = profile.binCounts {
                let total = Double(counts.reduce(0, +))
                state.edges = edges
                state.referenceShares = counts.map { total > 0 ? Double($0) / total : 0 }
                state.bins = [Int](repeating: 0, count: counts.count)
            }
            return state
        }
        keyColumns = (expectations.uniqueKey ?? []).compactMap { key in header.firstIndex(of: key) }
    }

    /// Columns the expectations name that a CSV file's header lacks.
    var missingColumns: [String] { format == .csv ? columns.filter { $0.index == nil }.map(\.spec.name) : [] }

    /// Checks the whole lines in `bytes` (the last may lack its line end), appending each quarantined row to
    /// `quarantine`.
    mutating func check(_ bytes: UnsafeBufferPointer<UInt8>, quarantine: inout Data) {
        BatchLayout.forEachLine(bytes) { line in
            rows += 1
            broken.removeAll(keepingCapacity: true)
            checkRow(line)
            if !broken.isEmpty {
                quarantined += 1
                Self.quarantine(line, row: rows, rules: broken, format: format, into: &quarantine)
            }
        }
    }

    static func quarantine(_ line: UnsafeBufferPointer<UInt8>, row: Int, rules: [String], format: BatchJob.Format, into out: inout Data) {
        if format == .csv {
            out.append(contentsOf: Array("\(row),\(rules.joined(separator: ";")),".utf8))
            out.append(contentsOf: line)
        } else {
            out.append(contentsOf: Array("{\"row\":\(row),\"rules\":[\(rules.map { "\"\($0)\"" }.joined(separator: ","))],\"record\":".utf8))
            out.append(contentsOf: line)
            out.append(UInt8(ascii: "}"))
        }
        out.append(0x0A)
    }

    private mutating func checkRow(_ line: UnsafeBufferPointer<UInt8>) {
        let row = rows
        if expectations.noDuplicateRows {
            var h = Hasher()
            h.combine(bytes: UnsafeRawBufferPointer(line))
            if !lines.insert(h.finalize()) {
                duplicateRow.add(row, String(decoding: line, as: UTF8.self))
                broken.append("duplicate_row")
            }
        }
        if format == .csv { checkCSV(line, row) } else { checkJSON(line, row) }
    }

    private mutating func checkCSV(_ line: UnsafeBufferPointer<UInt8>, _ row: Int) {
        var quoted: [String]?
        if line.contains(0x22) {
            do {
                quoted = try CSVTable.fields(Substring(String(decoding: line, as: UTF8.self)), source: "the row", line: row)
            } catch {
                parse.add(row, (error as? FerryError)?.message ?? "\(error)")
                broken.append("parse")
                return
            }
        } else {
            starts.removeAll(keepingCapacity: true)
            starts.append(0)
            for i in 0..<line.count where line[i] == 0x2C { starts.append(i + 1) }
        }
        let count = quoted?.count ?? starts.count
        guard count == header.count else {
            parse.add(row, "the row has \(count) fields; the header has \(header.count)")
            broken.append("parse")
            return
        }
        if var quoted {
            for c in columns.indices {
                guard let index = columns[c].index else { continue }
                quoted[index] = quoted[index].trimmingCharacters(in: .whitespaces)
                quoted[index].withUTF8 { checkValue(c, $0, row) }
            }
            if !keyColumns.isEmpty {
                var h = Hasher()
                for k in keyColumns { quoted[k].withUTF8 { h.combine(bytes: UnsafeRawBufferPointer($0)) }; h.combine(0x1F as UInt8) }
                if repeatedKey(h.finalize()) { repeatedKey(row, keyColumns.map { quoted[$0] }.joined(separator: ",")) }
            }
            return
        }
        func field(_ c: Int) -> UnsafeBufferPointer<UInt8> {
            var a = starts[c], b = c + 1 < starts.count ? starts[c + 1] - 1 : line.count
            while a < b, line[a] == 0x20 || line[a] == 0x09 { a += 1 }
            while b > a, line[b - 1] == 0x20 || line[b - 1] == 0x09 { b -= 1 }
            return UnsafeBufferPointer(rebasing: line[a..<b])
        }
        for c in columns.indices {
            guard let index = columns[c].index else { continue }
            checkValue(c, field(index), row)
        }
        if !keyColumns.isEmpty {
            var h = Hasher()
            for k in keyColumns { h.combine(bytes: UnsafeRawBufferPointer(field(k))); h.combine(0x1F as UInt8) }
            if repeatedKey(h.finalize()) {
                let text = keyColumns.map { String(decoding: field($0), as: UTF8.self) }.joined(separator: ",")
                repeatedKey(row, text)
            }
        }
    }

    private mutating func checkJSON(_ line: UnsafeBufferPointer<UInt8>, _ row: Int) {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] else {
            parse.add(row, "the line is not a JSON object")
            broken.append("parse")
            return
        }
        func text(_ value: Any?) -> String {
            switch value {
            case nil, is NSNull: ""
            case let s as String: s
            case let n as NSNumber: ModelMonitor.number(n.doubleValue)
            case let other?: "\(other)"
            }
        }
        for c in columns.indices {
            let value = object[columns[c].spec.name]
            // A JSON string in a numeric column is a type error even when it spells a number.
            if columns[c].spec.kind == .numeric, let s = value as? String, !s.isEmpty {
                columns[c].type.add(row, s)
                broken.append("type:\(columns[c].spec.name)")
                continue
            }
            var field = text(value)
            field.withUTF8 { checkValue(c, $0, row) }
        }
        if let key = expectations.uniqueKey, !key.isEmpty {
            let fields = key.map { text(object[$0]) }
            var h = Hasher()
            for var f in fields { f.withUTF8 { h.combine(bytes: UnsafeRawBufferPointer($0)) }; h.combine(0x1F as UInt8) }
            if repeatedKey(h.finalize()) { repeatedKey(row, fields.joined(separator: ",")) }
        }
    }

    /// Whether a key (by its hash) was seen before; records it.
    private mutating func repeatedKey(_ hash: Int) -> Bool { !keys.insert(hash) }

    private mutating func repeatedKey(_ row: Int, _ text: String) {
        uniqueKey.add(row, text)
        broken.append("unique_key")
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

    private mutating func checkValue(_ c: Int, _ field: UnsafeBufferPointer<UInt8>, _ row: Int) {
        func text() -> String { String(decoding: field, as: UTF8.self) }
        if Self.isMissing(field) {
            columns[c].nulls += 1
            if columns[c].spec.maxNullRate == 0 {
                columns[c].notNull.add(row, text())
                broken.append("not_null:\(columns[c].spec.name)")
            }
            return
        }
        if columns[c].spec.unique {
            var h = Hasher()
            h.combine(bytes: UnsafeRawBufferPointer(field))
            if !columns[c].seen.insert(h.finalize()) {
                columns[c].unique.add(row, text())
                broken.append("unique:\(columns[c].spec.name)")
            }
        }
        switch columns[c].spec.kind {
        case .categorical:
            if let allowed = columns[c].allowed, !allowed.contains(text()) {
                columns[c].categories.add(row, text())
                broken.append("categories:\(columns[c].spec.name)")
            }
        case .numeric:
            guard let value = BatchLayout.number(field) ?? Double(text()), value.isFinite else {
                columns[c].type.add(row, text())
                broken.append("type:\(columns[c].spec.name)")
                return
            }
            if let min = columns[c].spec.min, value < min {
                columns[c].range.add(row, text())
                broken.append("range:\(columns[c].spec.name)")
            } else if let max = columns[c].spec.max, value > max {
                columns[c].range.add(row, text())
                broken.append("range:\(columns[c].spec.name)")
            }
            if let edges = columns[c].edges {
                // The bin is the number of edges strictly below the value (as the reference was binned).
                var lo = 0, hi = edges.count
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if edges[mid] < value { lo = mid + 1 } else { hi = mid }
                }
                columns[c].bins[lo] += 1
            }
        }
    }

    /// The verdicts, row rules first (in column order), then the file-wide ones.
    func report() -> ValidationReport {
        var results: [ValidationReport.Result] = []
        func number(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(format: "%.6g", v) }
        for name in missingColumns {
            results.append(.init(rule: "column", column: name, expected: "the file has the column", passed: false))
        }
        if parse.failures > 0 || format == .jsonl {
            results.append(.init(rule: "parse", column: nil, expected: "every row is well-formed", passed: parse.failures == 0, failures: parse.failures, examples: parse.examples))
        }
        for state in columns where state.index != nil || format == .jsonl {
            let s = state.spec, name = s.name
            func row(_ rule: String, _ expected: String, _ t: Tally) {
                results.append(.init(rule: rule, column: name, expected: expected, passed: t.failures == 0, failures: t.failures, examples: t.examples))
            }
            switch s.kind {
            case .numeric: row("type", "a number", state.type)
            case .categorical: if let c = s.categories { row("categories", "one of \(c.prefix(20).joined(separator: ", "))\(c.count > 20 ? ", …" : "")", state.categories) }
            }
            if s.min != nil || s.max != nil {
                let expected = switch (s.min, s.max) {
                case let (lo?, hi?): "between \(number(lo)) and \(number(hi))"
                case let (lo?, nil): "at least \(number(lo))"
                case let (nil, hi?): "at most \(number(hi))"
                default: ""
                }
                row("range", expected, state.range)
            }
            if s.maxNullRate == 0 { row("not_null", "no missing value", state.notNull) }
            if s.unique { row("unique", "no value twice", state.unique) }
            if let rate = s.maxNullRate, rate > 0 {
                let observed = rows == 0 ? 0 : Double(state.nulls) / Double(rows)
                results.append(.init(
                    rule: "null_rate", column: name, expected: "at most \(number(rate * 100))% missing", passed: observed <= rate,
                    failures: observed <= rate ? 0 : state.nulls, observed: observed))
            }
            if let limit = s.maxPSI {
                let total = Double(state.bins.reduce(0, +))
                if state.edges != nil, total > 0 {
                    let psi = Statistics.psi(reference: state.referenceShares, current: state.bins.map { Double($0) / total })
                    results.append(.init(rule: "drift", column: name, expected: "PSI against the reference at most \(number(limit))", passed: psi <= limit, observed: psi))
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
        return ValidationReport(rows: rows, quarantinedRows: quarantined, results: results)
    }
}
