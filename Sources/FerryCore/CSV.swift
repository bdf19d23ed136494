/// Ferry's one CSV reader: the server (reference samples, `text/csv` bodies) and the CLI (`ferry predict --csv`,
/// `ferry monitor feedback --input`) read CSV through it, with the same rules:
///
/// - the first non-blank line is the header; blank lines are skipped; every row has as many fields as the header;
/// - fields are separated by commas; a field may be quoted with double quotes (then it may hold commas, and `""`
///   is a quote); unquoted fields are trimmed of surrounding spaces and may not hold a quote (RFC 4180). One row is
///   one line: a quoted field may not span lines, and the rule on quotes makes sure the lines of one that does are
///   refused rather than read as rows of their own;
/// - as a feature value (`value(_:)`), an empty field, `NA` or `NaN` (any case) is a missing value, a number is a
///   number, and anything else is a category name.
public struct CSVTable: Sendable, Equatable {
    public let header: [String]
    /// Each row's fields, in header order.
    public let rows: [[String]]
    /// The line of the file each row came from (1-based, the header is line `lines[0] - 1` or earlier).
    public let lines: [Int]

    /// Parses `text`; `source` names it in errors ("CSV file 'rows.csv'", "the CSV body").
    public init(parsing text: String, source: String) throws {
        var header: [String]?
        var rows: [[String]] = []
        var lines: [Int] = []
        var number = 0
        // "\r\n" is one Character in Swift.
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            number += 1
            if line.allSatisfy(\.isWhitespace) { continue }
            let fields = try Self.fields(line, source: source, line: number)
            if let header {
                guard fields.count == header.count else {
                    throw FerryError.invalid("\(source) line \(number) has \(fields.count) fields; the header has \(header.count)")
                }
                rows.append(fields)
                lines.append(number)
            } else {
                header = fields
            }
        }
        guard let header else { throw FerryError.invalid("\(source) is empty; it needs a header line and rows") }
        if let duplicate = Dictionary(header.map { ($0, 1) }, uniquingKeysWith: +).first(where: { $0.value > 1 })?.key {
            throw FerryError.invalid("\(source) names the column '\(duplicate)' twice in its header")
        }
        self.header = header
        self.rows = rows
        self.lines = lines
    }

    /// A field as a feature value: empty, NA or NaN is missing; a decimal number is a number (`DecimalText.finite`:
    /// not `0x1A`); anything else a category.
    public static func value(_ field: String) -> FeatureValue {
        if field.isEmpty { return .missing }
        let lower = field.lowercased()
        if lower == "na" || lower == "nan" { return .missing }
        var text = field
        if let d = text.withUTF8({ DecimalText.finite($0) }) { return .number(d) }
        return .string(field)
    }

    /// The rows as V1 instances keyed by the header's names.
    public func instances() -> [Instance] {
        rows.map { fields in .named(Dictionary(uniqueKeysWithValues: zip(header, fields.map(Self.value)))) }
    }

    /// The index of a column, or an error naming what is missing.
    public func column(_ name: String, source: String) throws -> Int {
        guard let i = header.firstIndex(of: name) else {
            throw FerryError.invalid("\(source) has no column '\(name)' (its header is \(header.joined(separator: ",")))")
        }
        return i
    }

    /// The fields of one line (the rules above); `source` and `number` name it in errors.
    public static func fields(_ line: Substring, source: String, line number: Int) throws -> [String] {
        var fields: [String] = []
        var field = ""
        var quoted = false
        var wasQuoted = false
        // Line 0: a row whose line number the caller gives apart ("the row has ...", not "the row line 0 has ...").
        let place = number > 0 ? " line \(number)" : ""
        var i = line.startIndex
        while i < line.endIndex {
            let c = line[i]
            if quoted {
                if c == "\"" {
                    let next = line.index(after: i)
                    if next < line.endIndex, line[next] == "\"" {
                        field.append("\"")
                        i = next
                    } else {
                        quoted = false
                    }
                } else {
                    field.append(c)
                }
            } else if c == "," {
                fields.append(wasQuoted ? field : field.trimmingSpaces)
                field = ""
                wasQuoted = false
            } else if c == "\"" && field.allSatisfy(\.isWhitespace) {
                field = ""
                quoted = true
                wasQuoted = true
            } else if c == "\"" && !wasQuoted {
                // `5" screen`, or the end of a quoted field that began on an earlier line.
                throw FerryError.invalid(
                    "\(source)\(place) has a quote inside a field that does not start with one: quote the whole field and double its quotes (\"5\"\" screen\"); a quoted field may not span lines")
            } else {
                field.append(c)
            }
            i = line.index(after: i)
        }
        guard !quoted else {
            throw FerryError.invalid("\(source)\(place) has a quote that is never closed (a quoted field may not span lines)")
        }
        fields.append(wasQuoted ? field : field.trimmingSpaces)
        return fields
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s = s.dropFirst() }
        while s.last?.isWhitespace == true { s = s.dropLast() }
        return String(s)
    }
}

/// A CSV file kept as its bytes, with the position of each row: for large tables (a training set's entity rows)
/// whose rows are copied to the output as they are and of which only a few columns are read. The rules are
/// `CSVTable`'s (a header line, blank lines skipped, every row as wide as the header, quotes).
public struct CSVLines: Sendable {
    public let bytes: [UInt8]
    public let header: [String]
    /// Each row's bytes, without its line end.
    public let rows: [Range<Int>]
    /// Each row's line number in the file.
    public let lines: [Int]
    let source: String

    /// Reads `bytes`: the header line, then rows; or, with `header`, rows only (a block of a longer file whose
    /// first line is line `firstLine`).
    public init(bytes: [UInt8], source: String, header given: [String]? = nil, firstLine: Int = 1) throws {
        self.bytes = bytes
        self.source = source
        var header = given
        var rows: [Range<Int>] = []
        var lines: [Int] = []
        var number = firstLine - 1
        var start = 0
        try bytes.withUnsafeBufferPointer { bytes in
            while start <= bytes.count {
                var end = CSVTable.lineFeed(in: bytes, from: start) ?? bytes.count
                let next = end + 1
                number += 1
                if end > start, bytes[end - 1] == 0x0D { end -= 1 }
                if start == 0 && given == nil { start = CSVTable.byteOrderMarkLength(bytes[..<end]) }
                if bytes[start..<end].contains(where: { $0 != 0x20 && $0 != 0x09 }) {
                    if header == nil {
                        let fields = try CSVTable.fields(Substring(String(decoding: bytes[start..<end], as: UTF8.self)), source: source, line: number)
                        if let duplicate = Dictionary(fields.map { ($0, 1) }, uniquingKeysWith: +).first(where: { $0.value > 1 })?.key {
                            throw FerryError.invalid("\(source) names the column '\(duplicate)' twice in its header")
                        }
                        header = fields
                    } else {
                        if rows.isEmpty {
                            // Room for the rows, guessed from the first one's length: the arrays grew by doubling.
                            let guess = (bytes.count - start) / (next - start) + 1
                            rows.reserveCapacity(guess)
                            lines.reserveCapacity(guess)
                        }
                        rows.append(start..<end)
                        lines.append(number)
                    }
                }
                start = next
            }
        }
        guard let header else { throw FerryError.invalid("\(source) is empty; it needs a header line and rows") }
        self.header = header
        self.rows = rows
        self.lines = lines
    }

    /// The index of a column, or an error naming what is missing.
    public func column(_ name: String) throws -> Int {
        guard let i = header.firstIndex(of: name) else {
            throw FerryError.invalid("\(source) has no column '\(name)' (its header is \(header.joined(separator: ",")))")
        }
        return i
    }

    /// The fields of row `row` at `columns` (a line without quotes is split on its bytes; one with quotes by
    /// `CSVTable`'s rules); throws naming the line when the row is not as wide as the header.
    public func fields(_ row: Int, _ columns: [Int]) throws -> [String] {
        let range = rows[row]
        if !bytes[range].contains(0x22) {
            var starts: [Int] = [range.lowerBound]
            for i in range where bytes[i] == 0x2C { starts.append(i + 1) }
            guard starts.count == header.count else {
                throw FerryError.invalid("\(source) line \(lines[row]) has \(starts.count) fields; the header has \(header.count)")
            }
            return columns.map { c in
                var a = starts[c], b = c + 1 < starts.count ? starts[c + 1] - 1 : range.upperBound
                while a < b, bytes[a] == 0x20 || bytes[a] == 0x09 { a += 1 }
                while b > a, bytes[b - 1] == 0x20 || bytes[b - 1] == 0x09 { b -= 1 }
                return String(decoding: bytes[a..<b], as: UTF8.self)
            }
        }
        let all = try CSVTable.fields(Substring(String(decoding: bytes[range], as: UTF8.self)), source: source, line: lines[row])
        guard all.count == header.count else {
            throw FerryError.invalid("\(source) line \(lines[row]) has \(all.count) fields; the header has \(header.count)")
        }
        return columns.map { all[$0] }
    }
}

extension CSVTable {
    /// Calls `field` with the bounds of each comma-separated field of `line`, untrimmed, reading eight bytes at a
    /// time. Returns false at the first quote (`field` may have been called for fields before it): such a line is read
    /// by `fields(_:source:line:)`'s quoting rules instead.
    @inlinable
    public static func unquotedFields(_ line: UnsafeBufferPointer<UInt8>, _ field: (_ start: Int, _ end: Int) -> Void) -> Bool {
        // The high bit of each byte of `x` that is zero, and nothing else (no carry crosses a byte).
        @inline(__always) func zeros(_ x: UInt64) -> UInt64 {
            ~(((x & 0x7F7F_7F7F_7F7F_7F7F) &+ 0x7F7F_7F7F_7F7F_7F7F) | x | 0x7F7F_7F7F_7F7F_7F7F)
        }
        var start = 0
        var i = 0
        if let base = line.baseAddress {
            while i + 8 <= line.count {
                let word = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                if zeros(word ^ 0x2222_2222_2222_2222) != 0 { return false }
                var commas = zeros(word ^ 0x2C2C_2C2C_2C2C_2C2C)
                while commas != 0 {
                    let at = i + commas.trailingZeroBitCount >> 3
                    field(start, at)
                    start = at + 1
                    commas &= commas &- 1
                }
                i += 8
            }
        }
        while i < line.count {
            if line[i] == 0x22 { return false }
            if line[i] == 0x2C {
                field(start, i)
                start = i + 1
            }
            i += 1
        }
        field(start, line.count)
        return true
    }
}

extension CSVTable {
    /// The UTF-8 byte order mark, which spreadsheet programs write before a CSV file's first line: not part of it.
    public static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

    /// How many bytes of a file's first line, at its start, are a byte order mark (0 or 3).
    @inlinable
    public static func byteOrderMarkLength<C: Collection<UInt8>>(_ firstLine: C) -> Int {
        firstLine.starts(with: byteOrderMark) ? byteOrderMark.count : 0
    }

    /// The index of the first line feed in `bytes` at or after `from`, eight bytes at a time; nil when there is none.
    @inlinable
    public static func lineFeed(in bytes: UnsafeBufferPointer<UInt8>, from: Int) -> Int? {
        var i = from
        if let base = bytes.baseAddress {
            while i + 8 <= bytes.count {
                let x = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self) ^ 0x0A0A_0A0A_0A0A_0A0A
                let zeros = ~(((x & 0x7F7F_7F7F_7F7F_7F7F) &+ 0x7F7F_7F7F_7F7F_7F7F) | x | 0x7F7F_7F7F_7F7F_7F7F)
                if zeros != 0 { return i + zeros.trailingZeroBitCount >> 3 }
                i += 8
            }
        }
        while i < bytes.count {
            if bytes[i] == 0x0A { return i }
            i += 1
        }
        return nil
    }

    /// The line feeds in `raw`, eight bytes at a time (a byte at a time read about 450 MB/s).
    public static func lineFeeds(_ raw: UnsafeRawBufferPointer) -> Int {
        var count = 0
        var i = 0
        if let base = raw.baseAddress {
            while i + 8 <= raw.count {
                let x = base.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ 0x0A0A_0A0A_0A0A_0A0A
                // The high bit of each zero byte of x, and nothing else.
                count += (~(((x & 0x7F7F_7F7F_7F7F_7F7F) &+ 0x7F7F_7F7F_7F7F_7F7F) | x | 0x7F7F_7F7F_7F7F_7F7F)).nonzeroBitCount
                i += 8
            }
        }
        while i < raw.count {
            if raw[i] == 0x0A { count += 1 }
            i += 1
        }
        return count
    }
}
