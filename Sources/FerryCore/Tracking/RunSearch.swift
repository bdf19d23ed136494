import Foundation

/// A search over runs: MLflow's filter language (`metrics.loss < 0.5 and params.depth = '3'`), ordering
/// (`metrics.loss ASC`), the lifecycle stages to include and one page of results.
public struct RunSearch: Sendable, Equatable {
    public var experimentIDs: [String]
    public var filter: [Clause]
    public var orderBy: [Order]
    public var view: ViewType
    public var maxResults: Int
    public var offset: Int

    public init(
        experimentIDs: [String], filter: [Clause] = [], orderBy: [Order] = [], view: ViewType = .activeOnly,
        maxResults: Int = RunSearch.defaultMaxResults, offset: Int = 0
    ) {
        self.experimentIDs = experimentIDs
        self.filter = filter
        self.orderBy = orderBy
        self.view = view
        self.maxResults = maxResults
        self.offset = offset
    }

    public static let defaultMaxResults = 1000
    public static let maxMaxResults = 50_000

    /// What a clause or an ordering names.
    public enum Field: Sendable, Equatable, CustomStringConvertible {
        case metric(String), param(String), tag(String), attribute(Attribute)

        public var description: String {
            switch self {
            case .metric(let k): "metrics.\(k)"
            case .param(let k): "params.\(k)"
            case .tag(let k): "tags.\(k)"
            case .attribute(let a): "attributes.\(a.rawValue)"
            }
        }
    }

    public enum Attribute: String, Sendable, CaseIterable {
        case runID = "run_id", runName = "run_name", status, userID = "user_id", artifactURI = "artifact_uri"
        case startTime = "start_time", endTime = "end_time"

        public var isNumeric: Bool { self == .startTime || self == .endTime }
    }

    public enum Comparison: String, Sendable, CaseIterable {
        case equal = "=", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
        case like = "LIKE", ilike = "ILIKE", `in` = "IN", notIn = "NOT IN"
        /// The run has no such param or tag (only for params and tags).
        case isNull = "IS NULL", isNotNull = "IS NOT NULL"
    }

    public enum Value: Sendable, Equatable {
        case number(Double), string(String), list([String])
    }

    public struct Clause: Sendable, Equatable {
        public var field: Field
        public var comparison: Comparison
        public var value: Value
        public init(_ field: Field, _ comparison: Comparison, _ value: Value) {
            self.field = field
            self.comparison = comparison
            self.value = value
        }
    }

    public struct Order: Sendable, Equatable {
        public var field: Field
        public var ascending: Bool
        public init(_ field: Field, ascending: Bool) {
            self.field = field
            self.ascending = ascending
        }
    }
}

// MARK: Parsing

extension RunSearch {
    /// Parses a filter: clauses joined by `and` (MLflow has no `or`). Errors name the filter and what is wrong.
    public static func parseFilter(_ text: String) throws -> [Clause] {
        var tokens = try Lexer.tokens(text, what: "filter")
        guard !tokens.isEmpty else { return [] }
        var clauses: [Clause] = []
        while true {
            clauses.append(try clause(&tokens, text))
            guard let next = tokens.first else { break }
            guard case .word(let w) = next, w.lowercased() == "and" else {
                throw FerryError.invalid("filter '\(text)': expected 'and' between clauses, found \(next); MLflow filters join clauses with 'and' only")
            }
            tokens.removeFirst()
        }
        return clauses
    }

    /// Parses `order_by` entries: `<field> [ASC|DESC]`, each.
    public static func parseOrder(_ entries: [String]) throws -> [Order] {
        try entries.map { entry in
            var tokens = try Lexer.tokens(entry, what: "order_by")
            guard !tokens.isEmpty else { throw FerryError.invalid("order_by entry is empty") }
            let field = try self.field(&tokens, entry)
            var ascending = true
            if let direction = tokens.first {
                guard case .word(let w) = direction, ["asc", "desc"].contains(w.lowercased()), tokens.count == 1 else {
                    throw FerryError.invalid("order_by '\(entry)': expected ASC or DESC after the field")
                }
                ascending = w.lowercased() == "asc"
            }
            return Order(field, ascending: ascending)
        }
    }

    private static func clause(_ tokens: inout [Lexer.Token], _ text: String) throws -> Clause {
        let field = try self.field(&tokens, text)
        guard let op = tokens.first else { throw FerryError.invalid("filter '\(text)': '\(field)' has no comparison") }
        tokens.removeFirst()
        var comparison: Comparison
        switch op {
        case .symbol(let s):
            guard let c = Comparison(rawValue: s == "==" ? "=" : s == "<>" ? "!=" : s) else {
                throw FerryError.invalid("filter '\(text)': '\(s)' is not a comparison")
            }
            comparison = c
        case .word(let w) where w.lowercased() == "is":
            var negated = false
            if case .word(let n)? = tokens.first, n.lowercased() == "not" {
                negated = true
                tokens.removeFirst()
            }
            guard case .word(let null)? = tokens.first, null.lowercased() == "null" else {
                throw FerryError.invalid("filter '\(text)': 'is' must be followed by 'null' or 'not null'")
            }
            tokens.removeFirst()
            switch field {
            case .param, .tag: return Clause(field, negated ? .isNotNull : .isNull, .list([]))
            default: throw FerryError.invalid("filter '\(text)': IS NULL and IS NOT NULL apply to params and tags only, not to \(field)")
            }
        case .word(let w) where w.lowercased() == "not":
            guard case .word(let w2)? = tokens.first, w2.lowercased() == "in" else {
                throw FerryError.invalid("filter '\(text)': 'not' must be followed by 'in'")
            }
            tokens.removeFirst()
            comparison = .notIn
        case .word(let w) where ["like", "ilike", "in"].contains(w.lowercased()):
            comparison = Comparison(rawValue: w.uppercased())!
        default:
            throw FerryError.invalid("filter '\(text)': expected a comparison after '\(field)', found \(op)")
        }
        let value: Value
        switch tokens.first {
        case .number(let n)?:
            value = .number(n)
            tokens.removeFirst()
        case .string(let s)?:
            value = .string(s)
            tokens.removeFirst()
        case .list(let items)?:
            value = .list(items)
            tokens.removeFirst()
        case let other:
            throw FerryError.invalid("filter '\(text)': '\(field) \(comparison.rawValue)' needs a value, found \(other.map { "\($0)" } ?? "the end")")
        }
        try check(Clause(field, comparison, value), text)
        if case .number(let n) = value, case .attribute(let a) = field, a.isNumeric, n.rounded() != n {
            throw FerryError.invalid("filter '\(text)': \(field) is in milliseconds; compare it with a whole number")
        }
        return Clause(field, comparison, value)
    }

    /// Which comparisons and values each kind of field takes.
    private static func check(_ clause: Clause, _ text: String) throws {
        let numeric: Bool
        switch clause.field {
        case .metric: numeric = true
        case .attribute(let a): numeric = a.isNumeric
        case .param, .tag: numeric = false
        }
        let where_ = "filter '\(text)': \(clause.field)"
        if numeric {
            guard [.equal, .notEqual, .less, .lessOrEqual, .greater, .greaterOrEqual].contains(clause.comparison) else {
                throw FerryError.invalid("\(where_) is numeric; compare it with =, !=, <, <=, > or >=")
            }
            guard case .number = clause.value else { throw FerryError.invalid("\(where_) is numeric; compare it with a number") }
            return
        }
        switch clause.comparison {
        case .in, .notIn:
            guard case .list = clause.value else { throw FerryError.invalid("\(where_) \(clause.comparison.rawValue) needs a list: ('a', 'b')") }
        case .equal, .notEqual, .like, .ilike:
            guard case .string = clause.value else {
                throw FerryError.invalid("\(where_) is a string; quote the value ('...'), e.g. \(clause.field) = '3'")
            }
        default:
            throw FerryError.invalid("\(where_) is a string; compare it with =, !=, LIKE, ILIKE, IN or NOT IN")
        }
    }

    private static func field(_ tokens: inout [Lexer.Token], _ text: String) throws -> Field {
        guard case .identifier(let prefix, let key)? = tokens.first else {
            throw FerryError.invalid("\(text.isEmpty ? "filter" : "'\(text)'"): expected a field such as metrics.loss, params.depth, tags.team or attributes.status, found \(tokens.first.map { "\($0)" } ?? "the end")")
        }
        tokens.removeFirst()
        switch prefix?.lowercased() {
        case "metric", "metrics": return .metric(key)
        case "param", "params", "parameter", "parameters": return .param(key)
        case "tag", "tags": return .tag(key)
        case "attribute", "attributes", "attr", "run", nil:
            // `name` is how experiments, registered models and logged models are searched: the run name's place.
            let name = key == "run_uuid" ? "run_id" : key == "created" || key == "Created" ? "start_time" : key == "name" ? "run_name" : key
            guard let attribute = Attribute(rawValue: name) else {
                throw FerryError.invalid("'\(text)': '\(key)' is not a run attribute; use one of \(Attribute.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return .attribute(attribute)
        case let other?:
            throw FerryError.invalid("'\(text)': '\(other)' is not a field kind; use metrics., params., tags. or attributes.")
        }
    }

    // MARK: Pages

    /// The token of the page after `offset` + `count` rows.
    public static func pageToken(offset: Int) -> String {
        Data("{\"offset\": \(offset)}".utf8).base64EncodedString()
    }

    /// The offset a page token stands for; an empty or absent token is the first page.
    public static func offset(pageToken: String?) throws -> Int {
        guard let pageToken, !pageToken.isEmpty else { return 0 }
        guard let data = Data(base64Encoded: pageToken),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let offset = object["offset"] as? Int, offset >= 0 else {
            throw FerryError.invalid("page_token '\(pageToken)' is not a token this server gave out")
        }
        return offset
    }
}

/// Tokens of MLflow's search language.
private enum Lexer {
    enum Token: CustomStringConvertible {
        /// `prefix.key` (either part may be quoted with backticks or double quotes), or a bare key.
        case identifier(prefix: String?, key: String)
        case word(String)
        case string(String)
        case number(Double)
        case list([String])
        case symbol(String)

        var description: String {
            switch self {
            case .identifier(let p, let k): "'\(p.map { "\($0)." } ?? "")\(k)'"
            case .word(let w): "'\(w)'"
            case .string(let s): "the string '\(s)'"
            case .number(let n): "the number \(n)"
            case .list: "a list"
            case .symbol(let s): "'\(s)'"
            }
        }
    }

    static let keywords: Set<String> = ["and", "not", "in", "like", "ilike", "asc", "desc", "is", "null"]

    static func tokens(_ text: String, what: String) throws -> [Token] {
        let chars = Array(text)
        var i = 0
        var out: [Token] = []
        func fail(_ message: String) -> FerryError { FerryError.invalid("\(what) '\(text)': \(message)") }
        func quoted(_ quote: Character) throws -> String {
            i += 1
            var s = ""
            while i < chars.count, chars[i] != quote {
                if chars[i] == "\\", i + 1 < chars.count { i += 1 }
                s.append(chars[i])
                i += 1
            }
            guard i < chars.count else { throw fail("a \(quote) quote is not closed") }
            i += 1
            return s
        }
        func isWordChar(_ c: Character) -> Bool { c.isLetter || c.isNumber || c == "_" || c == "-" || c == ":" || c == "/" }
        while i < chars.count {
            let c = chars[i]
            if c.isWhitespace {
                i += 1
            } else if c == "'" {
                out.append(.string(try quoted("'")))
            } else if c == "\"" || c == "`" {
                // A quoted identifier: `key` alone, or as the key after a prefix (handled below).
                let name = try quoted(c)
                // A double-quoted word where a field may stand (the start, after 'and') is a key; elsewhere a value.
                var atField = out.isEmpty
                if case .word(let w)? = out.last, w.lowercased() == "and" { atField = true }
                out.append(c == "`" || atField ? .identifier(prefix: nil, key: name) : .string(name))
            } else if c == "(" {
                i += 1
                var items: [String] = []
                while true {
                    while i < chars.count, chars[i].isWhitespace { i += 1 }
                    guard i < chars.count else { throw fail("a '(' list is not closed") }
                    if chars[i] == ")" { i += 1; break }
                    if chars[i] == "," { i += 1; continue }
                    guard chars[i] == "'" || chars[i] == "\"" else { throw fail("list items must be quoted strings: ('a', 'b')") }
                    items.append(try quoted(chars[i]))
                }
                out.append(.list(items))
            } else if "=!<>".contains(c) {
                var s = String(c)
                i += 1
                if i < chars.count, "=>".contains(chars[i]) {
                    s.append(chars[i])
                    i += 1
                }
                out.append(.symbol(s))
            } else if c.isNumber || ((c == "-" || c == "+" || c == ".") && i + 1 < chars.count && (chars[i + 1].isNumber || chars[i + 1] == ".")) {
                var s = ""
                while i < chars.count, chars[i].isNumber || ".eE+-".contains(chars[i]) {
                    if "+-".contains(chars[i]), !s.isEmpty, !"eE".contains(s.last!) { break }
                    s.append(chars[i])
                    i += 1
                }
                guard let n = Double(s) else { throw fail("'\(s)' is not a number") }
                out.append(.number(n))
            } else if isWordChar(c) {
                var word = ""
                while i < chars.count, isWordChar(chars[i]) {
                    word.append(chars[i])
                    i += 1
                }
                if i < chars.count, chars[i] == "." {
                    i += 1
                    guard i < chars.count else { throw fail("'\(word).' names no key") }
                    let key: String
                    if chars[i] == "`" || chars[i] == "\"" {
                        key = try quoted(chars[i])
                    } else {
                        var k = ""
                        while i < chars.count, isWordChar(chars[i]) || chars[i] == "." {
                            k.append(chars[i])
                            i += 1
                        }
                        key = k
                    }
                    guard !key.isEmpty else { throw fail("'\(word).' names no key") }
                    out.append(.identifier(prefix: word, key: key))
                } else if keywords.contains(word.lowercased()) {
                    out.append(.word(word))
                } else if case .symbol? = out.last {
                    throw fail("'\(word)' must be quoted: '\(word)'")
                } else {
                    out.append(.identifier(prefix: nil, key: word))
                }
            } else {
                throw fail("unexpected '\(c)'")
            }
        }
        return out
    }
}
