/// Ferry's one CSV reader: the server (reference samples, `text/csv` bodies) and the CLI (`ferry predict --csv`,
/// `ferry monitor feedback --input`) read CSV through it, with the same rules:
///
/// - the first non-blank line is the header; blank lines are skipped; every row has as many fields as the header;
/// - fields are separated by commas; a field may be quoted with double quotes (then it may hold commas, and `""`
///   is a quote); unquoted fields are trimmed of surrounding spaces;
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

    /// A field as a feature value: empty, NA or NaN is missing; a number is a number; anything else a category.
    public static func value(_ field: String) -> FeatureValue {
        if field.isEmpty { return .missing }
        let lower = field.lowercased()
        if lower == "na" || lower == "nan" { return .missing }
        if let d = Double(field), d.isFinite { return .number(d) }
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
            } else {
                field.append(c)
            }
            i = line.index(after: i)
        }
        guard !quoted else { throw FerryError.invalid("\(source) line \(number) has a quote that is never closed") }
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
