import FerryCore

/// A small, strict JSON scanner over bytes, used on the inference path where Foundation's decoders are too slow
/// and their errors too vague. Every error names the byte offset and what was expected.
struct JSONReader {
    let bytes: UnsafeRawBufferPointer
    var index = 0
    var depth = 0
    static let maxDepth = 64

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var isAtEnd: Bool { index >= bytes.count }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    mutating func peek() -> UInt8? {
        skipWhitespace()
        return index < bytes.count ? bytes[index] : nil
    }

    func fail(_ what: String, at field: @autoclosure () -> String) -> FerryError {
        let found: String
        if index >= bytes.count { found = "the end of the body" } else {
            let c = bytes[index]
            found = c >= 0x20 && c < 0x7F ? "'\(Character(UnicodeScalar(c)))'" : "byte 0x\(String(c, radix: 16))"
        }
        let location = field().isEmpty ? "" : " in \(field())"
        return FerryError.invalid("malformed JSON\(location): expected \(what) at byte \(index), found \(found)")
    }

    mutating func expect(_ c: UInt8, _ what: String, at field: @autoclosure () -> String) throws {
        guard peek() == c else { throw fail(what, at: field()) }
        index += 1
    }

    /// Reads the members of an object, calling `body` with each key; `body` must consume the value.
    mutating func object(at field: @autoclosure () -> String, _ body: (inout JSONReader, String) throws -> Void) throws {
        try expect(UInt8(ascii: "{"), "an object", at: field())
        depth += 1
        guard depth <= Self.maxDepth else { throw FerryError.invalid("JSON nests deeper than \(Self.maxDepth) levels") }
        if peek() == UInt8(ascii: "}") {
            index += 1
            depth -= 1
            return
        }
        while true {
            guard peek() == UInt8(ascii: "\"") else { throw fail("a quoted key", at: field()) }
            let key = try string(at: field())
            try expect(UInt8(ascii: ":"), "':'", at: field())
            try body(&self, key)
            guard let c = peek() else { throw fail("',' or '}'", at: field()) }
            index += 1
            if c == UInt8(ascii: "}") { break }
            guard c == UInt8(ascii: ",") else {
                index -= 1
                throw fail("',' or '}'", at: field())
            }
        }
        depth -= 1
    }

    /// Reads the elements of an array, calling `body` with each position; `body` must consume the element.
    mutating func array(at field: @autoclosure () -> String, _ body: (inout JSONReader, Int) throws -> Void) throws {
        try expect(UInt8(ascii: "["), "an array", at: field())
        depth += 1
        guard depth <= Self.maxDepth else { throw FerryError.invalid("JSON nests deeper than \(Self.maxDepth) levels") }
        if peek() == UInt8(ascii: "]") {
            index += 1
            depth -= 1
            return
        }
        var position = 0
        while true {
            try body(&self, position)
            position += 1
            guard let c = peek() else { throw fail("',' or ']'", at: field()) }
            index += 1
            if c == UInt8(ascii: "]") { break }
            guard c == UInt8(ascii: ",") else {
                index -= 1
                throw fail("',' or ']'", at: field())
            }
        }
        depth -= 1
    }

    mutating func string(at field: @autoclosure () -> String) throws -> String {
        try expect(UInt8(ascii: "\""), "a string", at: field())
        let start = index
        var plain = true
        while index < bytes.count {
            let c = bytes[index]
            if c == UInt8(ascii: "\"") {
                if plain {
                    let s = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                    index += 1
                    return s
                }
                break
            }
            if c == UInt8(ascii: "\\") { plain = false; index += 2; continue }
            if c < 0x20 { throw fail("no control characters inside a string", at: field()) }
            index += 1
        }
        guard index < bytes.count else { throw fail("the closing '\"' of a string", at: field()) }
        // Slow path with escapes.
        index = start
        var out: [UInt8] = []
        while index < bytes.count {
            let c = bytes[index]
            index += 1
            if c == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
            guard c == UInt8(ascii: "\\") else { out.append(c); continue }
            guard index < bytes.count else { break }
            let e = bytes[index]
            index += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4(at: field())
                if (0xD800..<0xDC00).contains(scalar), index + 1 < bytes.count,
                   bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") {
                    index += 2
                    let low = try hex4(at: field())
                    guard (0xDC00..<0xE000).contains(low) else { throw fail("a low surrogate", at: field()) }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                let u = UnicodeScalar(scalar) ?? "\u{FFFD}"
                out.append(contentsOf: Array(String(Character(u)).utf8))
            default:
                index -= 1
                throw fail("a valid escape", at: field())
            }
        }
        throw fail("the closing '\"' of a string", at: field())
    }

    private mutating func hex4(at field: @autoclosure () -> String) throws -> UInt32 {
        guard index + 4 <= bytes.count else { throw fail("4 hex digits", at: field()) }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[index]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw fail("a hex digit", at: field())
            }
            v = v << 4 | d
            index += 1
        }
        return v
    }

    private static let exactPowers: [Double] = (0...22).map { p in (0..<p).reduce(1.0) { acc, _ in acc * 10 } }

    /// Reads a JSON number. Fast exact path for up to 15 significant digits and small exponents (Clinger);
    /// otherwise the standard library's correctly rounded parser.
    mutating func number(at field: @autoclosure () -> String) throws -> Double {
        skipWhitespace()
        // Python's json module (and so many clients, tritonclient among them) writes NaN and ±Infinity.
        if let special = nonFinite() { return special }
        let start = index
        var negative = false
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { negative = true; index += 1 }
        var mantissa: UInt64 = 0
        var digits = 0
        var exponent = 0
        let intStart = index
        while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
            if digits < 19 { mantissa = mantissa * 10 + UInt64(bytes[index] - 0x30); digits += mantissa == 0 ? 0 : 1 }
            else { exponent += 1 }
            index += 1
        }
        guard index > intStart else { index = start; throw fail("a number", at: field()) }
        if index - intStart > 1 && bytes[intStart] == 0x30 { index = intStart; throw fail("a number without leading zeros", at: field()) }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            let fracStart = index
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
                if digits < 19 {
                    mantissa = mantissa * 10 + UInt64(bytes[index] - 0x30)
                    digits += mantissa == 0 ? 0 : 1
                    exponent -= 1
                }
                index += 1
            }
            guard index > fracStart else { throw fail("digits after '.'", at: field()) }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            var expNegative = false
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                expNegative = bytes[index] == UInt8(ascii: "-")
                index += 1
            }
            let expStart = index
            var e = 0
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
                if e < 100_000 { e = e * 10 + Int(bytes[index] - 0x30) }
                index += 1
            }
            guard index > expStart else { throw fail("exponent digits", at: field()) }
            exponent += expNegative ? -e : e
        }
        if digits <= 15 && mantissa < (1 << 53) && exponent >= -22 && exponent <= 22 {
            var value = Double(mantissa)
            value = exponent < 0 ? value / Self.exactPowers[-exponent] : value * Self.exactPowers[exponent]
            return negative ? -value : value
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        guard let value = Double(text) else { throw FerryError.invalid("number \(text) in \(field()) is out of range") }
        return value
    }

    private mutating func nonFinite() -> Double? {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "N") || bytes[index] == UInt8(ascii: "I")
            || bytes[index] == UInt8(ascii: "-") else { return nil }
        if consume("NaN") { return .nan }
        if consume("Infinity") { return .infinity }
        if consume("-Infinity") { return -.infinity }
        return nil
    }

    /// Reads `true`, `false` or `null` when present; returns nil otherwise without consuming anything.
    mutating func literal() -> Bool?? {
        skipWhitespace()
        if consume("true") { return .some(true) }
        if consume("false") { return .some(false) }
        if consume("null") { return .some(nil) }
        return nil
    }

    /// Consumes `word` if the input continues with it.
    private mutating func consume(_ word: StaticString) -> Bool {
        let matched = word.withUTF8Buffer { w in
            guard index + w.count <= bytes.count else { return false }
            for k in 0..<w.count where bytes[index + k] != w[k] { return false }
            return true
        }
        if matched { index += word.utf8CodeUnitCount }
        return matched
    }

    /// Skips any value.
    mutating func skipValue(at field: @autoclosure () -> String) throws {
        switch peek() {
        case UInt8(ascii: "{"): try object(at: field()) { r, _ in try r.skipValue(at: field()) }
        case UInt8(ascii: "["): try array(at: field()) { r, _ in try r.skipValue(at: field()) }
        case UInt8(ascii: "\""): _ = try string(at: field())
        case UInt8(ascii: "-"), .some(0x30...0x39): _ = try number(at: field())
        default:
            guard literal() != nil else { throw fail("a JSON value", at: field()) }
        }
    }

    /// Reads any value as a `JSONValue`.
    mutating func value(at field: @autoclosure () -> String) throws -> JSONValue {
        switch peek() {
        case UInt8(ascii: "{"):
            var members: [String: JSONValue] = [:]
            try object(at: field()) { r, key in members[key] = try r.value(at: "\(field()).\(key)") }
            return .object(members)
        case UInt8(ascii: "["):
            var items: [JSONValue] = []
            try array(at: field()) { r, i in items.append(try r.value(at: "\(field())[\(i)]")) }
            return .array(items)
        case UInt8(ascii: "\""): return .string(try string(at: field()))
        case UInt8(ascii: "-"), .some(0x30...0x39): return .number(try number(at: field()))
        default:
            switch literal() {
            case .some(.some(let b)): return .bool(b)
            case .some(.none): return .null
            case .none: throw fail("a JSON value", at: field())
            }
        }
    }

    /// Fails unless only white space remains.
    mutating func finish() throws {
        skipWhitespace()
        guard index == bytes.count else { throw fail("the end of the JSON document", at: "") }
    }
}
