import FerryCore
import Foundation

/// Reads XGBoost's JSON model document into `XGBoostModelFile` in one pass over the bytes, without Foundation's
/// `JSONDecoder`: a model is loaded on every cold request under a memory budget, and the generic decoder spent most
/// of a 100-tree model's load in per-element dispatch. Numbers keep their text until a field reads them, so a
/// `Float` field is parsed from its text directly (as `strtof` does, never through a `Double`).
struct XGBoostJSONReader {
    /// A parsed value; numbers are byte ranges of the document. (Not `indirect`: that would box every number.)
    enum Value {
        case null
        case bool(Bool)
        case number(Range<Int>)
        case string(String)
        case array([Value])
        case object([String: Value])
    }

    let bytes: UnsafeRawBufferPointer
    var index = 0
    var depth = 0

    static func read(_ data: Data) throws -> XGBoostModelFile {
        try data.withUnsafeBytes { bytes in
            var reader = XGBoostJSONReader(bytes: bytes)
            let root = try reader.document()
            return try reader.file(root)
        }
    }

    // MARK: Parsing

    func fail(_ what: String) -> FerryError {
        FerryError.invalid("not a valid XGBoost JSON model: \(what) at byte \(index)")
    }

    mutating func document() throws -> Value {
        let value = try self.value()
        skipSpace()
        guard index == bytes.count else { throw fail("trailing characters after the document") }
        return value
    }

    mutating func skipSpace() {
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 {
            index += 1
        }
    }

    mutating func value() throws -> Value {
        skipSpace()
        guard index < bytes.count else { throw fail("unexpected end of the document") }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            depth += 1
            guard depth <= 64 else { throw fail("nesting deeper than 64 levels") }
            defer { depth -= 1 }
            index += 1
            var members: [String: Value] = [:]
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
            while true {
                skipSpace()
                let key = try string()
                skipSpace()
                try expect(UInt8(ascii: ":"))
                members[key] = try value()
                skipSpace()
                guard index < bytes.count else { throw fail("unexpected end of the document") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                try expect(UInt8(ascii: "}"))
                return .object(members)
            }
        case UInt8(ascii: "["):
            depth += 1
            guard depth <= 64 else { throw fail("nesting deeper than 64 levels") }
            defer { depth -= 1 }
            index += 1
            var items: [Value] = []
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
            while true {
                items.append(try value())
                skipSpace()
                guard index < bytes.count else { throw fail("unexpected end of the document") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                try expect(UInt8(ascii: "]"))
                return .array(items)
            }
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        default:
            return .number(try number())
        }
    }

    mutating func expect(_ byte: UInt8) throws {
        guard index < bytes.count, bytes[index] == byte else { throw fail("expected '\(Character(Unicode.Scalar(byte)))'") }
        index += 1
    }

    mutating func literal(_ word: String) throws {
        for byte in word.utf8 {
            guard index < bytes.count, bytes[index] == byte else { throw fail("unexpected characters") }
            index += 1
        }
    }

    /// A JSON number's range: `-? int frac? exp?`, checked to the grammar.
    mutating func number() throws -> Range<Int> {
        let start = index
        func digits() -> Int {
            let from = index
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 { index += 1 }
            return index - from
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard digits() > 0 else { throw fail("unexpected characters") }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { throw fail("a number has no digits after its '.'") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { throw fail("a number has no digits in its exponent") }
        }
        return start..<index
    }

    mutating func string() throws -> String {
        try expect(UInt8(ascii: "\""))
        let start = index
        var plain = true
        while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
            if bytes[index] == UInt8(ascii: "\\") { plain = false; index += 1 }
            index += 1
        }
        guard index < bytes.count else { throw fail("a string is not closed") }
        let raw = UnsafeRawBufferPointer(rebasing: bytes[start..<index])
        index += 1
        if plain { return String(decoding: raw, as: UTF8.self) }
        // Escapes are rare in model documents (feature names); let Foundation unescape those strings.
        var quoted = Data([UInt8(ascii: "\"")])
        quoted.append(contentsOf: raw)
        quoted.append(UInt8(ascii: "\""))
        guard let text = try? JSONDecoder().decode(String.self, from: quoted) else { throw fail("a string has an invalid escape") }
        return text
    }

    // MARK: Reading fields

    /// Where a value sits in the document, for messages (`.learner.gradient_booster.model.trees[3]`).
    struct Path {
        var text: String
        func key(_ name: String) -> Path { Path(text: text + "." + name) }
        func item(_ i: Int) -> Path { Path(text: text + "[\(i)]") }
        var shown: String { text.isEmpty ? "top level" : text }
    }

    func object(_ value: Value, _ path: Path) throws -> [String: Value] {
        guard case .object(let members) = value else { throw FerryError.invalid("not a valid XGBoost JSON model: expected an object at \(path.shown)") }
        return members
    }

    func field(_ members: [String: Value], _ key: String, _ path: Path) throws -> Value {
        guard let value = members[key], !isNull(value) else {
            throw FerryError.invalid("not a valid XGBoost JSON model: missing key '\(key)' at \(path.shown)")
        }
        return value
    }

    func isNull(_ value: Value) -> Bool {
        if case .null = value { return true }
        return false
    }

    func string(_ value: Value, _ path: Path) throws -> String {
        guard case .string(let s) = value else { throw FerryError.invalid("not a valid XGBoost JSON model: expected a string at \(path.shown)") }
        return s
    }

    func array(_ value: Value, _ path: Path) throws -> [Value] {
        guard case .array(let items) = value else { throw FerryError.invalid("not a valid XGBoost JSON model: expected an array at \(path.shown)") }
        return items
    }

    func float(_ value: Value, _ path: @autoclosure () -> Path) throws -> Float {
        guard case .number(let range) = value else { throw FerryError.invalid("not a valid XGBoost JSON model: expected a number at \(path().shown)") }
        // The character after a number is a delimiter, so strtof stops exactly at the range's end.
        return strtof(bytes.baseAddress!.assumingMemoryBound(to: CChar.self) + range.lowerBound, nil)
    }

    func integer<T: FixedWidthInteger>(_ value: Value, _ path: @autoclosure () -> Path, as: T.Type = T.self) throws -> T {
        guard case .number(let range) = value else { throw FerryError.invalid("not a valid XGBoost JSON model: expected a number at \(path().shown)") }
        var i = range.lowerBound
        let negative = bytes[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        var n: T = 0
        while i < range.upperBound {
            let d = bytes[i]
            guard d >= 0x30, d <= 0x39 else { throw FerryError.invalid("not a valid XGBoost JSON model: expected a whole number at \(path().shown)") }
            let (times, o1) = n.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(T(d - 0x30))
            guard !o1, !o2 else { throw FerryError.invalid("not a valid XGBoost JSON model: number out of range at \(path().shown)") }
            n = sum
            i += 1
        }
        return negative ? 0 - n : n
    }

    // The element readers build an element's path only for an error message.
    func floats(_ value: Value, _ path: Path) throws -> [Float] {
        let items = try array(value, path)
        var out: [Float] = []
        out.reserveCapacity(items.count)
        for i in items.indices { out.append(try float(items[i], path.item(i))) }
        return out
    }

    func integers<T: FixedWidthInteger>(_ value: Value, _ path: Path, as: T.Type = T.self) throws -> [T] {
        let items = try array(value, path)
        var out: [T] = []
        out.reserveCapacity(items.count)
        for i in items.indices { out.append(try integer(items[i], path.item(i), as: T.self)) }
        return out
    }

    func strings(_ value: Value, _ path: Path) throws -> [String] {
        try array(value, path).enumerated().map { try string($1, path.item($0)) }
    }

    /// XGBoost writes flags as 0/1 integers; some versions write booleans.
    func flags(_ value: Value, _ path: Path) throws -> XGBoostModelFile.FlagArray {
        XGBoostModelFile.FlagArray(values: try array(value, path).enumerated().map { i, item in
            if case .bool(let b) = item { return b }
            return try integer(item, path.item(i), as: Int.self) != 0
        })
    }

    func optional<T>(_ members: [String: Value], _ key: String, _ path: Path, _ read: (Value, Path) throws -> T) throws -> T? {
        guard let value = members[key], !isNull(value) else { return nil }
        return try read(value, path.key(key))
    }

    func required<T>(_ members: [String: Value], _ key: String, _ path: Path, _ read: (Value, Path) throws -> T) throws -> T {
        try read(try field(members, key, path), path.key(key))
    }

    // MARK: The model document

    func file(_ root: Value) throws -> XGBoostModelFile {
        let top = Path(text: "")
        let members = try object(root, top)
        return XGBoostModelFile(
            version: try optional(members, "version", top) { try integers($0, $1) },
            learner: try required(members, "learner", top, learner))
    }

    func learner(_ value: Value, _ path: Path) throws -> XGBoostModelFile.Learner {
        let m = try object(value, path)
        return XGBoostModelFile.Learner(
            feature_names: try optional(m, "feature_names", path, strings),
            feature_types: try optional(m, "feature_types", path, strings),
            gradient_booster: try required(m, "gradient_booster", path, booster),
            learner_model_param: try required(m, "learner_model_param", path) { v, p in
                let param = try object(v, p)
                return XGBoostModelFile.ModelParam(
                    base_score: try required(param, "base_score", p, string), num_class: try optional(param, "num_class", p, string),
                    num_feature: try required(param, "num_feature", p, string), num_target: try optional(param, "num_target", p, string))
            },
            objective: XGBoostModelFile.Objective(name: try required(m, "objective", path) { v, p in try required(try object(v, p), "name", p, string) }),
            attributes: try optional(m, "attributes", path) { v, p in try object(v, p).mapValues { try string($0, p) } })
    }

    func booster(_ value: Value, _ path: Path) throws -> XGBoostModelFile.Booster {
        let m = try object(value, path)
        let name = try required(m, "name", path, string)
        switch name {
        case "gbtree":
            return XGBoostModelFile.Booster(name: name, model: try required(m, "model", path, gbtree))
        case "dart":
            let inner = try required(m, "gbtree", path) { v, p in try required(try object(v, p), "model", p, gbtree) }
            return XGBoostModelFile.Booster(name: name, model: inner, weightDrop: try required(m, "weight_drop", path, floats))
        default:
            return XGBoostModelFile.Booster(name: name, model: nil)
        }
    }

    func gbtree(_ value: Value, _ path: Path) throws -> XGBoostModelFile.GBTree {
        let m = try object(value, path)
        return XGBoostModelFile.GBTree(
            gbtree_model_param: try required(m, "gbtree_model_param", path) { v, p in
                let param = try object(v, p)
                return XGBoostModelFile.TreeModelParam(
                    num_trees: try required(param, "num_trees", p, string), num_parallel_tree: try optional(param, "num_parallel_tree", p, string))
            },
            trees: try required(m, "trees", path) { v, p in try array(v, p).enumerated().map { try tree($1, p.item($0)) } },
            tree_info: try required(m, "tree_info", path) { try integers($0, $1) },
            iteration_indptr: try optional(m, "iteration_indptr", path) { try integers($0, $1) })
    }

    func tree(_ value: Value, _ path: Path) throws -> XGBoostModelFile.Tree {
        let m = try object(value, path)
        return XGBoostModelFile.Tree(
            left_children: try required(m, "left_children", path) { try integers($0, $1) },
            right_children: try required(m, "right_children", path) { try integers($0, $1) },
            split_indices: try required(m, "split_indices", path) { try integers($0, $1) },
            split_conditions: try required(m, "split_conditions", path, floats),
            loss_changes: try optional(m, "loss_changes", path, floats),
            sum_hessian: try optional(m, "sum_hessian", path, floats),
            default_left: try required(m, "default_left", path, flags),
            split_type: try optional(m, "split_type", path, flags),
            tree_param: try required(m, "tree_param", path) { v, p in
                let param = try object(v, p)
                return XGBoostModelFile.TreeParam(
                    num_nodes: try required(param, "num_nodes", p, string), size_leaf_vector: try optional(param, "size_leaf_vector", p, string))
            },
            categories_nodes: try optional(m, "categories_nodes", path) { try integers($0, $1) },
            categories_segments: try optional(m, "categories_segments", path) { try integers($0, $1) },
            categories_sizes: try optional(m, "categories_sizes", path) { try integers($0, $1) },
            categories: try optional(m, "categories", path) { try integers($0, $1) },
            leaf_weights: try optional(m, "leaf_weights", path, floats))
    }
}
