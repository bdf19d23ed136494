import Foundation

/// One typed feature value, as read from a source, stored online and served.
public enum FeatureDatum: Sendable, Equatable, Hashable {
    case int(Int64)
    case double(Double)
    case string(String)
    case bool(Bool)
    case null

    /// A value as JSON: numbers, strings, booleans, `null` (a NaN or infinite double is `null`).
    public var json: JSONValue {
        switch self {
        case .int(let i): .number(Double(i))
        case .double(let d): d.isFinite ? .number(d) : .null
        case .string(let s): .string(s)
        case .bool(let b): .bool(b)
        case .null: .null
        }
    }

    /// The value as a model reads it: numbers and booleans as numbers, missing as NaN; strings stay names.
    public var featureValue: FeatureValue {
        switch self {
        case .int(let i): .number(Double(i))
        case .double(let d): d.isNaN ? .missing : .number(d)
        case .string(let s): .string(s)
        case .bool(let b): .bool(b)
        case .null: .missing
        }
    }

    /// Text for a CSV field: empty for null, the shortest round-trip form for doubles.
    public var csvText: String {
        switch self {
        case .int(let i): String(i)
        case .double(let d): d.isNaN ? "" : "\(d)"
        case .string(let s): s
        case .bool(let b): b ? "true" : "false"
        case .null: ""
        }
    }

    /// Whether a number's text (a CSV field, trimmed) is already what `parse(text, as: type).csvText` gives, so a
    /// writer may copy it as it is: an integer without a plus sign or leading zeros; a decimal as Swift prints a
    /// double (a point, at most 15 significant digits so that it is the shortest text of its double, no trailing
    /// zero but the one of `2.0`, magnitude from 0.0001 up to 10^15, which Swift prints without an exponent).
    /// False for anything else (floats, which are rounded to 32 bits, included): the caller parses those.
    public static func isOwnCSVText(_ t: UnsafeBufferPointer<UInt8>, as type: FeatureType) -> Bool {
        let count = t.count
        var i = 0
        if count > 0, t[0] == 0x2D { i = 1 }
        let integerStart = i
        while i < count, t[i] &- 0x30 <= 9 { i += 1 }
        let integerDigits = i - integerStart
        guard integerDigits > 0, t[integerStart] != 0x30 || integerDigits == 1 else { return false }
        switch type {
        case .int64, .int32:
            return i == count && integerDigits <= (type == .int32 ? 9 : 18) && !(t[integerStart] == 0x30 && integerStart == 1)
        case .float64:
            guard integerDigits <= 15, i < count, t[i] == 0x2E else { return false }
            i += 1
            let fractionStart = i
            while i < count, t[i] &- 0x30 <= 9 { i += 1 }
            let fractionDigits = i - fractionStart
            guard i == count, fractionDigits > 0 else { return false }
            if fractionDigits == 1 && t[fractionStart] == 0x30 { return true }
            guard t[count - 1] != 0x30 else { return false }
            if t[integerStart] == 0x30 {
                var zeros = 0
                while t[fractionStart + zeros] == 0x30 { zeros += 1 }
                return zeros < 4 && fractionDigits - zeros <= 15
            }
            return integerDigits + fractionDigits <= 15
        default:
            return false
        }
    }

    /// Reads text (a CSV field) as `type`; empty, `NA`, `NaN` or `null` is null. Numbers are decimal and finite:
    /// `inf` (which no model input takes, so an entity holding it could not be scored) and hexadecimal (`0x10`,
    /// which `Double` reads) are refused. Throws a message without location.
    public static func parse(_ text: Substring, as type: FeatureType) throws -> FeatureDatum {
        if text.isEmpty { return .null }
        let hexadecimal = text.contains { $0 == "x" || $0 == "X" }
        switch type {
        case .int64, .int32:
            if let i = Int64(text) { return try checked(i, type) }
            if !hexadecimal, let d = Double(text), d == d.rounded(), abs(d) < 9.2e18 { return try checked(Int64(d), type) }
            if isMissing(text) { return .null }
            throw FerryError.invalid("'\(text)' is not an integer (\(type.rawValue))")
        case .float64, .float32:
            if isMissing(text) { return .null }
            guard !hexadecimal, let d = Double(text) else { throw FerryError.invalid("'\(text)' is not a number (\(type.rawValue))") }
            return try finite(d, type, text)
        case .string:
            return .string(String(text))
        case .bool:
            switch text.lowercased() {
            case "true", "1": return .bool(true)
            case "false", "0": return .bool(false)
            default:
                if isMissing(text) { return .null }
                throw FerryError.invalid("'\(text)' is not a boolean (true or false)")
            }
        }
    }

    /// Reads a JSON value as `type`; `null` is null.
    public static func from(_ value: JSONValue, as type: FeatureType) throws -> FeatureDatum {
        switch (value, type) {
        case (.null, _): return .null
        case (.number(let d), .int64), (.number(let d), .int32):
            guard d == d.rounded() else { throw FerryError.invalid("\(d) is not an integer (\(type.rawValue))") }
            // A JSON number is read as a double, exact only below 2^53: a larger one may already be another integer
            // (9007199254740993 reads as 9007199254740992), so it is refused rather than rounded.
            guard abs(d) < 9_007_199_254_740_992 else {
                throw FerryError.invalid("\(String(format: "%.0f", d)) is too large to be read exactly as a JSON number (2^53 or more); send it as a string, e.g. \"\(String(format: "%.0f", d))\"")
            }
            return try checked(Int64(d), type)
        case (.number(let d), .float64), (.number(let d), .float32): return try finite(d, type, d)
        case (.string(let s), .string): return .string(s)
        case (.bool(let b), .bool): return .bool(b)
        case (.string(let s), _): return try parse(Substring(s), as: type)
        default: throw FerryError.invalid("\(describe(value)) is not a \(type.rawValue)")
        }
    }

    /// Reads an integer known exactly (a JSON integer read as one) as `type`.
    public static func from(integer n: Int64, as type: FeatureType) throws -> FeatureDatum {
        switch type {
        case .int64, .int32: return try checked(n, type)
        default: return try from(.number(Double(n)), as: type)
        }
    }

    /// A float feature's value, refused when it is not finite (as `type`: 1e39 overflows a float32).
    private static func finite(_ d: Double, _ type: FeatureType, _ given: some CustomStringConvertible) throws -> FeatureDatum {
        let value = type == .float32 ? Double(Float(d)) : d
        guard value.isFinite else { throw FerryError.invalid("'\(given)' is not a finite \(type.rawValue)") }
        return .double(value)
    }

    private static func checked(_ i: Int64, _ type: FeatureType) throws -> FeatureDatum {
        if type == .int32, i < Int64(Int32.min) || i > Int64(Int32.max) { throw FerryError.invalid("\(i) does not fit an int32") }
        return .int(i)
    }

    private static func isMissing(_ text: Substring) -> Bool {
        let l = text.lowercased()
        return l == "na" || l == "nan" || l == "null" || l == "none"
    }

    /// A JSON value as an error message quotes it.
    public static func describe(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool(let b): "\(b)"
        case .number(let n): n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : "\(n)"
        case .string(let s): "\"\(s)\""
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// Feature timestamps: microseconds since 1970 UTC, the precision Feast keeps.
public enum FeatureTime {
    /// Parses ISO 8601 / RFC 3339 text: `2024-01-01T05:00:00Z`, `2024-01-01 05:00:00.123456+01:00`, `2024-01-01`;
    /// a time without an offset is UTC. Returns nil when the text is not a timestamp.
    public static func parse<S: StringProtocol>(_ text: S) -> Int64? {
        var copy = String(text)
        return copy.withUTF8 { parse(bytes: $0) }
    }

    /// The same, from UTF-8 bytes (no allocation: the hot path of reading sources).
    public static func parse(bytes text: UnsafeBufferPointer<UInt8>) -> Int64? {
        // The usual form, `2024-01-05T18:42:43Z`, read in one go: sources hold tens of millions of them.
        if text.count == 20, text[19] == 0x5A, text[4] == 0x2D, text[7] == 0x2D, text[10] == 0x54 || text[10] == 0x20,
           text[13] == 0x3A, text[16] == 0x3A {
            var bad: UInt8 = 0
            @inline(__always) func digit(_ i: Int) -> Int64 {
                let d = text[i] &- 0x30
                bad |= d > 9 ? 1 : 0
                return Int64(d)
            }
            let year = digit(0) * 1000 + digit(1) * 100 + digit(2) * 10 + digit(3)
            let month = digit(5) * 10 + digit(6), day = digit(8) * 10 + digit(9)
            let h = digit(11) * 10 + digit(12), m = digit(14) * 10 + digit(15), s = digit(17) * 10 + digit(18)
            guard bad == 0, (1...12).contains(month), day >= 1, day <= daysIn(month, of: year), h < 24, m < 60, s < 60 else { return nil }
            return (daysFromCivil(year, month, day) * 86_400 + h * 3600 + m * 60 + s) * 1_000_000
        }
        var end = text.count
        while end > 0, text[end - 1] == 0x20 { end -= 1 }
        let u = UnsafeBufferPointer(rebasing: text[0..<end])
        func digits(_ at: Int, _ n: Int) -> Int64? {
            guard at + n <= u.count else { return nil }
            var v: Int64 = 0
            for i in at..<(at + n) {
                let c = u[i]
                guard c >= 0x30 && c <= 0x39 else { return nil }
                v = v * 10 + Int64(c - 0x30)
            }
            return v
        }
        guard let year = digits(0, 4), u.count >= 10, u[4] == 0x2D, let month = digits(5, 2), u[7] == 0x2D, let day = digits(8, 2),
              (1...12).contains(month), day >= 1, day <= daysIn(month, of: year)
        else { return nil }
        var seconds: Int64 = 0
        var micros: Int64 = 0
        var i = 10
        if i < u.count {
            guard u[i] == 0x54 || u[i] == 0x20 || u[i] == 0x74, let h = digits(i + 1, 2), i + 3 < u.count, u[i + 3] == 0x3A,
                  let m = digits(i + 4, 2), h < 24, m < 60
            else { return nil }
            seconds = h * 3600 + m * 60
            i += 6
            if i < u.count, u[i] == 0x3A {
                guard let s = digits(i + 1, 2), s < 60 else { return nil }
                seconds += s
                i += 3
                if i < u.count, u[i] == 0x2E {
                    i += 1
                    var scale: Int64 = 100_000
                    let start = i
                    while i < u.count, u[i] >= 0x30 && u[i] <= 0x39 {
                        micros += Int64(u[i] - 0x30) * scale
                        scale /= 10
                        i += 1
                    }
                    guard i > start else { return nil }
                }
            }
            if i < u.count {
                if u[i] == 0x5A || u[i] == 0x7A {
                    i += 1
                } else if u[i] == 0x2B || u[i] == 0x2D {
                    let sign: Int64 = u[i] == 0x2B ? 1 : -1
                    guard let oh = digits(i + 1, 2), oh < 24 else { return nil }
                    var om: Int64 = 0
                    i += 3
                    if i < u.count, u[i] == 0x3A { i += 1 }
                    if i < u.count {
                        guard let m = digits(i, 2), m < 60 else { return nil }
                        om = m
                        i += 2
                    }
                    seconds -= sign * (oh * 3600 + om * 60)
                }
                guard i == u.count else { return nil }
            }
        }
        return (daysFromCivil(year, month, day) * 86_400 + seconds) * 1_000_000 + micros
    }

    /// The days of `month` (1-12) in `year` of the proleptic Gregorian calendar.
    @inline(__always) static func daysIn(_ month: Int64, of year: Int64) -> Int64 {
        if month == 2 { return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28 }
        return month == 4 || month == 6 || month == 9 || month == 11 ? 30 : 31
    }

    /// `2024-01-01T05:00:00Z`, with a fraction only when there is one.
    public static func format(_ micros: Int64) -> String {
        let seconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        let fraction = micros - seconds * 1_000_000
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let rest = seconds - days * 86_400
        let (y, m, d) = civilFromDays(days)
        // Written digit by digit: String(format:) goes through Foundation's formatter on every online answer.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(28)
        func digits(_ value: Int64, _ width: Int) {
            let start = bytes.count
            bytes.append(contentsOf: repeatElement(0x30, count: width))
            var v = value
            for i in stride(from: start + width - 1, through: start, by: -1) {
                bytes[i] = 0x30 + UInt8(v % 10)
                v /= 10
            }
        }
        digits(y, 4); bytes.append(0x2D); digits(m, 2); bytes.append(0x2D); digits(d, 2); bytes.append(0x54)
        digits(rest / 3600, 2); bytes.append(0x3A); digits(rest / 60 % 60, 2); bytes.append(0x3A); digits(rest % 60, 2)
        if fraction != 0 {
            var width = 6
            var f = fraction
            while f % 10 == 0 {
                f /= 10
                width -= 1
            }
            bytes.append(0x2E)
            digits(f, width)
        }
        bytes.append(0x5A)
        return String(decoding: bytes, as: UTF8.self)
    }

    public static func micros(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1_000_000).rounded()) }
    public static func date(_ micros: Int64) -> Date { Date(timeIntervalSince1970: Double(micros) / 1_000_000) }

    /// Days from 1970-01-01 to a date of a four-digit year (0...9999; proleptic Gregorian calendar), by Howard
    /// Hinnant's days-from-civil algorithm on a year counted from March. The year is moved on by 400 (146,097 days)
    /// so that every division is of a number that is not negative: unsigned, each is a multiplication (signed, they
    /// and the era's rounding were 4% of a training set's CPU).
    @inline(__always)
    static func daysFromCivil(_ year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = UInt64(year + (month <= 2 ? 399 : 400))
        let mp = UInt64(month <= 2 ? month + 9 : month - 3)
        let doy = (153 * mp + 2) / 5 + UInt64(day) - 1
        return Int64(y * 365 + y / 4 - y / 100 + y / 400 + doy) - 719_468 - 146_097
    }

    static func civilFromDays(_ days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? yoe + era * 400 + 1 : yoe + era * 400, m, d)
    }
}

/// The key of one entity in the online store and in joins: its join key values, normalized by type, joined by
/// the unit separator (so `7` from a CSV and `7` from JSON are the same card).
public enum EntityKey {
    public static let separator: Character = "\u{1F}"

    /// The key of `values` (one per join key, in order); throws naming the join key when a value is missing or of
    /// the wrong type.
    public static func make(_ values: [FeatureDatum], keys: [JoinKey]) throws -> String {
        var text = ""
        for (i, (value, key)) in zip(values, keys).enumerated() {
            if i > 0 { text.append(separator) }
            switch value {
            case .int(let n): text += String(n)
            case .string(let s):
                guard !s.contains(separator) else { throw FerryError.invalid("join key '\(key.name)' holds a control character") }
                text += s
            case .null: throw FerryError.invalid("join key '\(key.name)' is missing")
            default: throw FerryError.invalid("join key '\(key.name)' must be \(key.type.rawValue)")
            }
        }
        return text
    }

    /// The key values of a stored key, typed by the join keys.
    public static func values(_ key: String, keys: [JoinKey]) -> [FeatureDatum] {
        zip(key.split(separator: separator, omittingEmptySubsequences: false), keys).map { text, key in
            (try? FeatureDatum.parse(text, as: key.type)) ?? .string(String(text))
        }
    }
}

/// One entity's values by feature name, kept in ascending order of name (`String`'s `<`), each name once.
///
/// Online reads decode a stored row (written in this order) by appending, and find a view's few features by
/// binary search: a dictionary hashed every name twice, about a sixth of a one-entity read.
public struct FeatureValues: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    public private(set) var names: [String] = []
    public private(set) var data: [FeatureDatum] = []

    public init() {}

    /// From pairs in any order; a name given twice keeps its last value, as a dictionary would.
    @inlinable
    public init(_ pairs: some Sequence<(String, FeatureDatum)>) {
        for (name, value) in pairs { self[name] = value }
    }

    /// Where each name of a fixed list goes, found once for many rows of values in the list's order (a view's
    /// features, materialized row after row).
    public struct Order: Sendable {
        let names: [String]
        /// Per kept name (ascending), its position in the list; the last one of a name given twice.
        let positions: [Int]

        public init(_ list: [String]) {
            var last: [String: Int] = [:]
            for (i, name) in list.enumerated() { last[name] = i }
            names = last.keys.sorted()
            positions = names.map { last[$0]! }
        }
    }

    /// Values given in the order of `order`'s list.
    public init(_ values: [FeatureDatum], in order: Order) {
        names = order.names
        data = order.positions.map { values[$0] }
    }

    public init(dictionaryLiteral elements: (String, FeatureDatum)...) {
        self.init(elements)
    }

    public var count: Int { names.count }

    public mutating func reserveCapacity(_ n: Int) {
        names.reserveCapacity(n)
        data.reserveCapacity(n)
    }

    /// Adds a value whose name sorts after every name held, as a stored row lists them; false (nothing added)
    /// when it does not.
    public mutating func append(_ name: String, _ value: FeatureDatum) -> Bool {
        if let last = names.last, !(last < name) { return false }
        names.append(name)
        data.append(value)
        return true
    }

    public subscript(name: String) -> FeatureDatum? {
        get {
            let i = position(of: name)
            return i < names.count && names[i] == name ? data[i] : nil
        }
        set {
            let i = position(of: name)
            let held = i < names.count && names[i] == name
            switch (held, newValue) {
            case (true, let value?): data[i] = value
            case (true, nil): names.remove(at: i); data.remove(at: i)
            case (false, let value?): names.insert(name, at: i); data.insert(value, at: i)
            case (false, nil): break
            }
        }
    }

    /// The first position whose name is not below `name`.
    private func position(of name: String) -> Int {
        var (low, high) = (0, names.count)
        while low < high {
            let middle = (low + high) / 2
            if names[middle] < name { low = middle + 1 } else { high = middle }
        }
        return low
    }
}

/// A view's latest values for one entity, as the online store keeps them.
public struct OnlineFeatureRow: Sendable, Equatable {
    public var key: String
    public var eventTime: Int64
    public var createdTime: Int64?
    /// Values by feature name.
    public var values: FeatureValues

    public init(key: String, eventTime: Int64, createdTime: Int64? = nil, values: FeatureValues) {
        self.key = key
        self.eventTime = eventTime
        self.createdTime = createdTime
        self.values = values
    }

    /// Whether this row should replace `stored`: a newer event, or the same event created later (or equally late:
    /// a rewrite of the same row).
    public func supersedes(_ stored: OnlineFeatureRow) -> Bool {
        if eventTime != stored.eventTime { return eventTime > stored.eventTime }
        return (createdTime ?? Int64.min) >= (stored.createdTime ?? Int64.min)
    }
}

/// What an online write did.
public struct OnlineWriteResult: Sendable, Equatable {
    public var written: Int
    /// Rows older than what was stored, left out.
    public var ignoredOlder: Int
    public init(written: Int = 0, ignoredOlder: Int = 0) {
        self.written = written
        self.ignoredOlder = ignoredOlder
    }
}

/// Feature definitions and the online store: entities, views (versioned, audited), the latest values per entity,
/// A feature store whose online rows can be read without suspending (an embedded database), so an online read can
/// be answered on the connection's I/O thread. The rows are those `readOnline` gives.
public protocol SynchronousOnlineReads: Sendable {
    func readOnlineNow(view: String, keys: [String]) throws -> [OnlineFeatureRow?]
}

/// and how far each view was materialized.
///
/// Every implementation must pass `FeatureStoreConformance` in `FerryTesting`.
public protocol FeatureStore: Sendable {
    /// Stores the given entities and views (new ones at version 1, changed ones one version up, unchanged ones as
    /// they were) in one transaction, with one audit entry built from what the apply changed. A view whose join
    /// keys, or a feature's type, changed loses its online rows and materialization mark. Returns what is stored for
    /// each given definition.
    func applyFeatures(_ definitions: FeatureDefinitions, by: String, at: Date, audit: AuditBuilder<FeatureApplication>?) async throws -> FeatureDefinitions
    /// All entities, by name.
    func featureEntities() async throws -> [FeatureEntity]
    /// All views, by name.
    func featureViews() async throws -> [FeatureView]
    /// Writes rows of a view; a row older than the stored one of its entity is left out (see `supersedes`).
    func writeOnline(view: String, rows: [OnlineFeatureRow]) async throws -> OnlineWriteResult
    /// The stored row of each key (nil when none), in the order of `keys`.
    func readOnline(view: String, keys: [String]) async throws -> [OnlineFeatureRow?]
    /// The latest end of a materialization of a view (microseconds), if any.
    func materializedThrough(view: String) async throws -> Int64?
    /// Moves the mark to `micros` when that is later: a back-fill of an older window does not move it back (the next
    /// incremental run would read the whole gap again).
    func setMaterializedThrough(view: String, _ micros: Int64) async throws
}

/// Reads rows of a feature view's database source (a PostgreSQL table or query), streaming: each row's asked
/// columns as text (nil for NULL), in order. Adapters live with their database driver.
public protocol FeatureSourceDatabase: Sendable {
    /// Calls `body` with every row; `columns` are selected by name from the table or the query's result.
    func rows(url: String, table: String?, query: String?, columns: [String], _ body: ([String?]) throws -> Void) async throws
}
