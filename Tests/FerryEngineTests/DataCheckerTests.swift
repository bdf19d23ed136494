import FerryCore
import Foundation
import Testing

@testable import FerryEngine

/// The data checker gives the same report and quarantine however a file is cut: one block or many, checked on one
/// thread or in several parts at once. Uniqueness depends on row order across the parts, and the examples and the
/// quarantine must stay in row order.
struct DataCheckerTests {
    static let expectations = Expectations(
        model: "m", version: 1,
        columns: [
            .init(name: "id", kind: .numeric, maxNullRate: 0),
            .init(name: "amount", kind: .numeric, min: 0, max: 500, maxNullRate: 0.5, maxPSI: 0.25),
            .init(name: "country", kind: .categorical, categories: ["DE", "FR", "IT"]),
            .init(name: "code", kind: .categorical, unique: true),
            .init(name: "absent", kind: .numeric),
        ],
        uniqueKey: ["id", "country"], noDuplicateRows: true, updatedBy: "t", updatedAt: Date(timeIntervalSince1970: 0))

    static let reference = ReferenceProfile(
        rows: 400, features: [.numeric("amount", (0..<400).map { Double($0) })], outputs: [], createdBy: "t", createdAt: Date(timeIntervalSince1970: 0))

    /// A few thousand rows that break every rule now and then: repeated lines, keys and codes (near and far apart),
    /// missing, unparsable and out-of-range values, unknown categories, quoted fields, wrong field counts, blank lines.
    static func csv() -> String {
        var generator = SystemRandomNumberGenerator()
        var lines = ["id,amount,country,code"]
        let countries = ["DE", "FR", "IT", "US", "", "\"FR\"", "\"D,E\""]
        for i in 0..<6_000 {
            let roll = Int.random(in: 0..<100, using: &generator)
            if roll < 3, let earlier = lines.dropFirst().randomElement(using: &generator) {
                lines.append(earlier)
                continue
            }
            if roll == 3 { lines.append("") }
            if roll == 4 { lines.append("\(i),1,DE") }
            if roll == 5 { lines.append("\(i),\"unclosed,DE,c") }
            let id = roll == 6 ? "" : String(roll == 7 ? i / 2 : i)
            let amount = ["12.5", "-3", "700", "", "NA", "abc", " 250 ", "1e2", "99"].randomElement(using: &generator)!
            let code = roll < 20 ? "c\(Int.random(in: 0..<50, using: &generator))" : "c\(i + 1_000)"
            lines.append("\(id),\(amount),\(countries.randomElement(using: &generator)!),\(code)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func jsonl() -> String {
        var generator = SystemRandomNumberGenerator()
        var lines: [String] = []
        for i in 0..<4_000 {
            let roll = Int.random(in: 0..<100, using: &generator)
            if roll < 3, let earlier = lines.randomElement(using: &generator) {
                lines.append(earlier)
                continue
            }
            if roll == 3 { lines.append("not json") }
            let amount = ["12.5", "-3", "700", "null", "\"42\"", "true"].randomElement(using: &generator)!
            let id = roll == 6 ? "null" : String(roll == 7 ? i / 2 : i)
            lines.append(#"{"id": \#(id), "amount": \#(amount), "country": "\#(["DE", "US", ""].randomElement(using: &generator)!)", "code": "c\#(roll < 20 ? roll : i + 100)"}"#)
        }
        return lines.joined(separator: "\n")
    }

    /// Checks `text` in blocks of `blockBytes` (whole lines each), each scanned in up to `parts` parts, and each block
    /// finished only after the next one was scanned, as `DataValidation` does.
    static func check(_ text: String, format: BatchJob.Format, blockBytes: Int, parts: Int) throws -> (ValidationReport, String) {
        var body = Array(text.utf8)
        var header: String?
        if format == .csv {
            let end = body.firstIndex(of: 0x0A)!
            header = String(decoding: body[..<end], as: UTF8.self)
            body.removeFirst(end + 1)
        }
        var checker = try DataChecker(format: format, header: header, expectations: expectations, reference: reference, source: "t")
        var quarantine = Data()
        var start = 0
        var scanned: (range: Range<Int>, parts: [DataChecker.Part])?
        func finish() {
            guard let (range, found) = scanned else { return }
            body.withUnsafeBufferPointer { all in checker.finish(UnsafeBufferPointer(rebasing: all[range]), found, quarantine: &quarantine) }
        }
        while start < body.count {
            var end = min(start + blockBytes, body.count)
            while end < body.count, body[end - 1] != 0x0A { end += 1 }
            let found = body.withUnsafeBufferPointer { all in
                checker.rules.scan(UnsafeBufferPointer(rebasing: all[start..<end]), parts: parts, minimumPartBytes: 0)
            }
            finish()
            scanned = (start..<end, found)
            start = end
        }
        finish()
        return (checker.report(), String(decoding: quarantine, as: UTF8.self))
    }

    @Test(arguments: [BatchJob.Format.csv, .jsonl])
    func anyCutGivesWhatOnePlainPassGives(_ format: BatchJob.Format) throws {
        let text = format == .csv ? Self.csv() : Self.jsonl()
        let (report, quarantine) = try Self.check(text, format: format, blockBytes: .max / 2, parts: 1)
        // The case breaks every rule, so every step has something to do.
        let failing = Set(report.results.filter { $0.failures > 0 }.map(\.rule))
        #expect(failing.isSuperset(of: ["parse", "not_null", "type", "range", "categories", "unique", "unique_key", "duplicate_row"]), "\(failing)")
        #expect(report.results.contains { $0.rule == "drift" } && report.results.contains { $0.rule == "null_rate" })
        #expect(report.quarantinedRows > 0 && report.quarantinedRows < report.rows)
        for (blockBytes, parts) in [(.max / 2, 2), (.max / 2, 7), (4_096, 3), (100, 2), (1, 1)] {
            let (other, otherQuarantine) = try Self.check(text, format: format, blockBytes: blockBytes, parts: parts)
            #expect(other == report, "blocks of \(blockBytes) bytes in \(parts) parts: the report differs")
            #expect(otherQuarantine == quarantine, "blocks of \(blockBytes) bytes in \(parts) parts: the quarantine differs")
        }
    }

    /// The file-wide rules count what they can judge: a row that could not be read has no value to be missing (so
    /// it is not in the null rate's denominator), and a handful of values is too few to judge drift from.
    @Test func fileWideRulesCountWhatTheyCanJudge() throws {
        // 4 rows read (2 of them missing `amount`: 50%, the limit), 4 that could not be.
        let lines = ["id,amount,country,code", "1,,DE,a", "2,,DE,b", "3,10,DE,c", "4,20,DE,d", "5", "6", "7,\"x", "8,1,DE,e,extra"]
        let (report, _) = try Self.check(lines.joined(separator: "\n") + "\n", format: .csv, blockBytes: .max / 2, parts: 1)
        let nulls = try #require(report.results.first { $0.rule == "null_rate" && $0.column == "amount" })
        #expect(nulls.observed == 0.5 && nulls.passed, "\(nulls)")
        let drift = try #require(report.results.first { $0.rule == "drift" && $0.column == "amount" })
        #expect(drift.passed && drift.observed == nil && drift.expected.contains("judged from 100 values (this file has 2: not judged)"), "\(drift)")
        // From 100 values on, drift is judged: all of them at one end of the reference's range is drift.
        let many = ["id,amount,country,code"] + (0..<100).map { "\($0),399,DE,c\($0)" }
        let (judged, _) = try Self.check(many.joined(separator: "\n") + "\n", format: .csv, blockBytes: .max / 2, parts: 1)
        let shifted = try #require(judged.results.first { $0.rule == "drift" && $0.column == "amount" })
        #expect(!shifted.passed && (shifted.observed ?? 0) > 1, "\(shifted)")
    }

    /// A JSON array or object where a value was expected is shown as JSON in examples, not as a Swift dictionary.
    @Test func jsonValuesInExamplesAreJSON() throws {
        let text = #"{"id": 1, "amount": {"b": [1, "x/y"], "a": null}, "country": "DE", "code": "c"}"# + "\n"
        let (report, quarantine) = try Self.check(text, format: .jsonl, blockBytes: .max / 2, parts: 1)
        let type = try #require(report.results.first { $0.rule == "type" && $0.column == "amount" })
        #expect(type.examples.map(\.value) == [#"{"a":null,"b":[1,"x/y"]}"#], "\(type)")
        #expect(quarantine.contains(#""amount": {"b": [1, "x/y"], "a": null}"#), "the record as it was: \(quarantine)")
    }

    /// Values near a limit are judged on their exact value, to the last bit.
    @Test func valuesNearALimitAreJudgedExactly() throws {
        var generator = SystemRandomNumberGenerator()
        let limits = [0.01, 500, 0.1 + 0.2, 1e-7, 123456.789, 3, 1e9]
        var values: [String] = [
            "0", "-0", "500", "500.0", "0.010000000000000000208", "0.0099999999999999999", "3", "3.5", "5.999999999999999999", "6",
            "6.000000000000000001", "-3.5", "2.9999999999999999999", "1000000000", "1999999999.9999999", "2000000000.0000001",
            "2000000000.5", "6.5", "1000.5", "-0.5",
        ]
        for limit in limits {
            for ulps in -3...3 {
                var v = limit
                for _ in 0..<abs(ulps) { v = ulps < 0 ? v.nextDown : v.nextUp }
                values += [String(format: "%.17g", v), String(format: "%.19f", v), "\(v)"]
            }
            values.append(String(format: "%.16f", limit * (1 + Double.random(in: -1e-15...1e-15, using: &generator))))
        }
        for limit in limits {
            let spec = Expectations(
                model: "m", version: 1, columns: [.init(name: "x", kind: .numeric, min: limit, max: limit * 2)], noDuplicateRows: false,
                updatedBy: "t", updatedAt: Date(timeIntervalSince1970: 0))
            let rules = try DataChecker(format: .csv, header: "x", expectations: spec, reference: nil, source: "t").rules
            for text in values {
                let exact = try #require(Double(text))
                let expected: DataChecker.Verdict = exact < limit || exact > limit * 2 ? .outOfRange : .fine
                let verdict = Array(text.utf8).withUnsafeBufferPointer { rules.verdict(0, $0, string: false).0 }
                #expect(verdict == expected, "\(text) against [\(limit), \(limit * 2)]")
                // The same value in a line, where a plain number may be judged by its whole part.
                let line = Array("12345678,".utf8) + Array(text.utf8)
                let inLine = line.withUnsafeBufferPointer { all in
                    rules.verdict(0, UnsafeBufferPointer(rebasing: all[9...]), string: false, floor: all.baseAddress).0
                }
                #expect(inLine == expected, "\(text) in a line against [\(limit), \(limit * 2)]")
            }
        }
    }

    /// A row's rules in the quarantine come in a fixed order: the duplicate line, then each column's (not_null, or
    /// unique before the value's own), then the key; each rule's examples are the values that broke it.
    @Test func aRowsRulesComeInTheirOrder() throws {
        let text = "id,amount,country,code\n1,5,DE,c1\n1,-5,US,c1\n1,5,DE,c1\n,1,FR,c2\n"
        let (report, quarantine) = try Self.check(text, format: .csv, blockBytes: .max / 2, parts: 2)
        func examples(_ rule: String, _ column: String?) -> [String] {
            report.results.first { $0.rule == rule && $0.column == column }?.examples.map { "\($0.row):\($0.value)" } ?? []
        }
        #expect(examples("range", "amount") == ["2:-5"] && examples("categories", "country") == ["2:US"])
        #expect(examples("unique", "code") == ["2:c1", "3:c1"] && examples("unique_key", "id,country") == ["3:1,DE"])
        #expect(examples("not_null", "id") == ["4:"] && examples("duplicate_row", nil) == ["3:1,5,DE,c1"])
        #expect(quarantine == """
            2,range:amount;categories:country;unique:code,1,-5,US,c1
            3,duplicate_row;unique:code;unique_key,1,5,DE,c1
            4,not_null:id,,1,FR,c2

            """)
    }
}
