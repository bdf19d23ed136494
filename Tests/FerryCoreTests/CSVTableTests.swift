import FerryCore
import Testing

/// The one CSV reader's rules, as the server and the CLI both apply them.
struct CSVTableTests {
    @Test func headerRowsQuotesBlankLinesAndCRLF() throws {
        let text = "a, b ,c\r\n\n1, 2 ,\"x, \"\"y\"\"\"\r\n  \nNA,nan,\n"
        let table = try CSVTable(parsing: text, source: "t")
        #expect(table.header == ["a", "b", "c"])
        #expect(table.rows == [["1", "2", "x, \"y\""], ["NA", "nan", ""]])
        #expect(table.lines == [3, 5])
    }

    @Test(arguments: [
        ("", .missing), ("NA", .missing), ("na", .missing), ("NaN", .missing), ("1.5", .number(1.5)),
        ("-2e3", .number(-2000)), ("inf", .string("inf")), ("gold", .string("gold")),
    ] as [(String, FeatureValue)])
    func fieldsAsFeatureValues(_ field: String, _ expected: FeatureValue) {
        #expect(CSVTable.value(field) == expected)
    }

    @Test(arguments: [
        ("", "t is empty"),
        ("a,b\n1\n", "t line 2 has 1 fields; the header has 2"),
        ("a,b\n1,\"2\n", "t line 2 has a quote that is never closed"),
        ("a,b\n1,5\" screen\n", "t line 2 has a quote inside a field that does not start with one"),
        // A quoted field over two lines: its second line is not read as a row of its own.
        ("a,b\n1,2\n3,4\n", nil), ("a,b,c\nx,\"y,\nz\",w\n", "t line 2 has a quote that is never closed"),
        ("a,b\nnote,z\"\n", "t line 2 has a quote inside a field that does not start with one"),
        ("a,a\n1,2\n", "t names the column 'a' twice"),
    ] as [(String, String?)])
    func badDocumentsNameTheLine(_ text: String, _ message: String?) throws {
        guard let message else { return #expect(try CSVTable(parsing: text, source: "t").rows.count == 2) }
        #expect {
            _ = try CSVTable(parsing: text, source: "t")
        } throws: { error in
            (error as? FerryError)?.message.hasPrefix(message) == true
        }
    }

    @Test func instancesAreKeyedByTheHeader() throws {
        let table = try CSVTable(parsing: "x,colour\n1,red\n,\n", source: "t")
        #expect(table.instances() == [.named(["x": .number(1), "colour": .string("red")]), .named(["x": .missing, "colour": .missing])])
    }

    /// Numbers are decimal and finite, as in a V1 request: `0x1A` and `inf` are text (which a numeric feature
    /// refuses), however many digits a decimal has.
    @Test func onlyDecimalFieldsAreNumbers() {
        for (field, value) in [
            ("0x1A", FeatureValue.string("0x1A")), ("0X1p4", .string("0X1p4")), ("inf", .string("inf")), ("-Infinity", .string("-Infinity")),
            ("1e999", .string("1e999")), ("NaN", .missing), ("2.5e-3", .number(0.0025)), ("-7", .number(-7)),
            ("0.1000000000000000000000000000000000000000001", .number(0.1)),
        ] {
            #expect(CSVTable.value(field) == value, "\(field)")
        }
        for text in ["0x1A", "inf", "1e999", "0x" + String(repeating: "1", count: 45)] {
            #expect(Array(text.utf8).withUnsafeBufferPointer { DecimalText.finite($0) } == nil, "\(text)")
        }
    }

    @Test func unquotedFieldsAreFoundAtEveryPlaceInAWord() {
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("ab,,, 9\t".utf8)
        for _ in 0..<5_000 {
            var line = (0..<Int.random(in: 0...40, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
            if Bool.random(using: &rng), !line.isEmpty { line[Int.random(in: 0..<line.count, using: &rng)] = 0x22 }
            var expected: [Range<Int>] = []
            var start = 0
            for (i, byte) in line.enumerated() where byte == 0x2C {
                expected.append(start..<i)
                start = i + 1
            }
            expected.append(start..<line.count)
            var found: [Range<Int>] = []
            let unquoted = line.withUnsafeBufferPointer { CSVTable.unquotedFields($0) { found.append($0..<$1) } }
            if line.contains(0x22) {
                #expect(!unquoted, "\(line)")
            } else {
                #expect(unquoted && found == expected, "\(line): \(found)")
            }
        }
    }
}
