import FerryCore
import Foundation
import Testing

@testable import FerryEngine

/// The number parser of batch jobs, data validation and the online store (`DecimalText`) is exactly the C library's
/// (Swift's `Double(String)`): the fast paths may only skip work, never change a value.
struct BatchChunkTests {
    static func parse(_ text: String) -> Double? {
        Array(text.utf8).withUnsafeBufferPointer { DecimalText.parse($0) }
    }

    @Test func integersParseWithinInt64AndTheDigitLimit() {
        func integer(_ text: String, digits: Int = 19) -> Int64? {
            Array(text.utf8).withUnsafeBufferPointer { DecimalText.integer($0, digits: digits) }
        }
        #expect(integer("0") == 0 && integer("-0") == 0 && integer("-42") == -42 && integer("007") == 7)
        #expect(integer("9223372036854775807") == .max && integer("-9223372036854775808") == .min)
        #expect(integer("9223372036854775808") == nil && integer("-9223372036854775809") == nil && integer("99999999999999999999") == nil)
        #expect(integer("123456789", digits: 9) == 123_456_789 && integer("1234567890", digits: 9) == nil)
        #expect(integer("") == nil && integer("-") == nil && integer("+1") == nil && integer("1.0") == nil && integer(" 1") == nil)
        // Digits are read eight at a time where eight are digits: any one byte changed anywhere gives what Swift's
        // own parser gives.
        var rng = SystemRandomNumberGenerator()
        let odd = Array("/:.-+ aZ".utf8) + [0x00, 0x7F, 0xB0]
        for _ in 0..<20_000 {
            var bytes = (0..<Int.random(in: 1...19, using: &rng)).map { _ in UInt8.random(in: 0x30...0x39, using: &rng) }
            if Bool.random(using: &rng) { bytes[0] = 0x2D }
            if Bool.random(using: &rng) { bytes[Int.random(in: 0..<bytes.count, using: &rng)] = odd.randomElement(using: &rng)! }
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(integer(text) == (bytes.first == 0x2B ? nil : Int64(text)), "\(text)")
        }
    }

    /// `DecimalText.isPlain` (the feature store's scan checks values with it) answers exactly "an optional `-`, then up
    /// to `digits` bytes (16 at most) of digits with, when dots are allowed, one dot neither first nor last", for
    /// fields ending at the end of their buffer (so a byte read past the field would be outside it) after a prefix of
    /// the same bytes.
    @Test func plainNumbersAreKnownEightBytesAtATime() {
        func reference(_ field: ArraySlice<UInt8>, dot: Bool, digits: Int) -> Bool {
            let body = field.first == 0x2D ? field.dropFirst() : field
            guard !body.isEmpty, body.count <= min(digits, 16), body.allSatisfy({ $0 &- 0x30 < 10 || $0 == 0x2E }) else { return false }
            let dots = body.filter { $0 == 0x2E }.count
            return dots == 0 || (dot && dots == 1 && body.first != 0x2E && body.last != 0x2E)
        }
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789".utf8) + Array("0123456789.-e+ /:,".utf8) + [0x00, 0x7F, 0xB9, 0x3A, 0x2F]
        var plain = 0
        for round in 0..<60_000 {
            let length = Int.random(in: 0...18, using: &rng)
            let prefix = (0..<Int.random(in: 8...12, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
            var field = (0..<length).map { _ in alphabet.randomElement(using: &rng)! }
            // Mostly numbers, so both answers are common: digits with a dot and a sign now and then.
            if round % 2 == 0 {
                field = field.map { _ in UInt8.random(in: 0x30...0x39, using: &rng) }
                if length > 0, Bool.random(using: &rng) { field[Int.random(in: 0..<length, using: &rng)] = 0x2E }
                if length > 0, Int.random(in: 0..<4, using: &rng) == 0 { field[0] = 0x2D }
            }
            let line = prefix + field
            for (dot, digits) in [(true, 16), (false, 16), (false, 9)] {
                let expected = reference(line[prefix.count...], dot: dot, digits: digits)
                let got = line.withUnsafeBufferPointer { DecimalText.isPlain($0.baseAddress!, prefix.count, line.count, dot: dot, digits: digits) }
                #expect(got == expected, "\(String(decoding: field, as: UTF8.self)) dot \(dot) digits \(digits)")
                if expected { plain += 1 }
            }
        }
        #expect(plain > 30_000, "enough plain fields to test both answers")
    }

    /// `DecimalText.wholePart` (the data checker judges plain numbers well inside their range by it) answers only for
    /// what `isPlain`'s rule allows up to 24 bytes, with at most 15 digits before the dot, and then the value the C
    /// library reads lies in [whole, whole + 1) (negated for a `-`), equal to whole without a fraction. Fields end at
    /// the end of their buffer, after a prefix of the same bytes.
    @Test func wholePartsBoundTheValue() {
        func plain(_ field: ArraySlice<UInt8>) -> Bool {
            let body = field.first == 0x2D ? field.dropFirst() : field
            guard !body.isEmpty, body.count <= 24, body.allSatisfy({ $0 &- 0x30 < 10 || $0 == 0x2E }) else { return false }
            let dots = body.filter { $0 == 0x2E }.count
            return dots == 0 ? body.count <= 15 : dots == 1 && body.first != 0x2E && body.last != 0x2E && body.firstIndex(of: 0x2E)! - body.startIndex <= 15
        }
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789".utf8) + Array("0123456789.-e+ /:,".utf8) + [0x00, 0x7F, 0xB9, 0x3A, 0x2F]
        var known = 0
        for round in 0..<60_000 {
            let length = Int.random(in: 0...26, using: &rng)
            let prefix = (0..<Int.random(in: 8...12, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
            var field = (0..<length).map { _ in alphabet.randomElement(using: &rng)! }
            if round % 2 == 0 {
                field = field.map { _ in UInt8.random(in: 0x30...0x39, using: &rng) }
                if length > 0, Int.random(in: 0..<4, using: &rng) > 0 { field[Int.random(in: 0..<length, using: &rng)] = 0x2E }
                if length > 0, Int.random(in: 0..<4, using: &rng) == 0 { field[0] = 0x2D }
            }
            let line = prefix + field
            let got = line.withUnsafeBufferPointer { DecimalText.wholePart($0.baseAddress!, prefix.count, line.count) }
            let text = String(decoding: field, as: UTF8.self)
            #expect((got != nil) == plain(line[prefix.count...]), "\(text)")
            guard let (whole, negative, fraction) = got, let value = Double(text) else { continue }
            known += 1
            let magnitude = abs(value)
            #expect(negative == (field.first == 0x2D) && fraction == field.contains(0x2E), "\(text)")
            #expect(fraction ? magnitude >= whole && magnitude <= whole + 1 : magnitude == whole, "\(text): whole \(whole)")
        }
        #expect(known > 10_000, "enough plain fields")
    }

    @Test func numbersParseExactlyAsTheCLibraryDoes() {
        var rng = SystemRandomNumberGenerator()
        var texts = ["0", "-0", "1", "+2.5", ".25", "1.", "1e5", "1E-5", "-3.75e+2", "123456789012345678", "0.1", "0.30000000000000004",
                     "9007199254740993", "1.7976931348623157e308", "5e-324", "2.2250738585072014e-308", "1234567890123456789012",
                     "0.000000000000000000000000000001", "12345678901234567.5"]
        // Every power of ten of both fast paths (up to 16 digits: 64 bits; 17 to 19: 80 bits), both signs of exponent.
        for k in 0...28 {
            for mantissa in ["1", "7.25", "-9.5", "4503599627370497", "12345678901234567", "9999999999999999999"] {
                texts += ["\(mantissa)e\(k)", "\(mantissa)e-\(k)"]
            }
        }
        for _ in 0..<20_000 {
            let d = Double(bitPattern: rng.next() & 0x7FEF_FFFF_FFFF_FFFF)  // finite
            texts.append("\(d)")
            texts.append(String(format: "%.17g", Double.random(in: -1e6...1e6, using: &rng)))
            texts.append(String(format: "%.19g", Double.random(in: 0...1, using: &rng)))
            texts.append(String(format: "%.6f", Double.random(in: -1000...1000, using: &rng)))
            // Runs of digits of every length, with leading zeros, around the eight read at once.
            let digits = { (count: Int) in String((0..<count).map { _ in Character(String(Int.random(in: 0...9, using: &rng))) }) }
            texts.append(String(repeating: "0", count: Int.random(in: 0...9, using: &rng)) + digits(Int.random(in: 0...20, using: &rng))
                + "." + String(repeating: "0", count: Int.random(in: 0...9, using: &rng)) + digits(Int.random(in: 1...20, using: &rng)))
        }
        for text in texts {
            let expected = Double(text)
            let got = Self.parse(text)
            #expect(got?.bitPattern == expected?.bitPattern, "\(text): \(String(describing: got)) vs \(String(describing: expected))")
        }
        // Hexadecimal, which C and Swift read, is not a decimal field (a V1 request refuses it too).
        for text in ["0x1p3", "0x1A", "-0X10", "0x" + String(repeating: "1", count: 45)] {
            #expect(Self.parse(text) == nil, "\(text)")
        }
        for text in ["", "-", ".", "e5", "1e", "abc", "1,5", "nan", "inf", "1.2.3"] {
            #expect(Self.parse(text) == nil || Double(text)?.isFinite == true, "\(text)")
        }
    }

    @Test func rowsAreParsedWithTheirErrorsAndKeys() throws {
        let schema = InputSchema(features: [
            FeatureSpec(name: "a", datatype: .fp32, nullable: true), FeatureSpec(name: "b", datatype: .fp32, nullable: false),
        ])
        let layout = try BatchLayout(format: .csv, header: "id,b,a", schema: schema, keys: ["id"], source: "the input")
        let text = "x1,1.5,2\n\nx2,3,\n\"x,3\",4,5\nx4,,1\nx5,abc,1\nx6,1\n"
        let parsed = Array(text.utf8).withUnsafeBufferPointer { layout.parse($0, firstRow: 10) }
        #expect(parsed.rows == [10, 11, 12] && parsed.count == 6)
        #expect(parsed.keys == ["x1", "x2", "x,3"])
        #expect(parsed.values[0] == 2 && parsed.values[1] == 1.5 && parsed.values[2].isNaN && parsed.values[3] == 3)
        #expect(parsed.errors.map(\.row) == [13, 14, 15])
        #expect(parsed.errors[0].message.contains("'b': a value is required") && parsed.errors[1].message.contains("expected a number, got \"abc\""))
        #expect(parsed.errors[2].message.contains("has 2 fields; the header has 3"))
    }

    /// Echoes each row's first feature, so a result line says which input line it came from.
    struct Echo: Predictor {
        var featureCount: Int { 2 }
        var outputSchema: OutputSchema { OutputSchema(outputs: [OutputSpec(name: "echo", datatype: .fp64, shape: [])]) }
        func predict(_ batch: FeatureMatrix) throws -> [Tensor] {
            [Tensor(name: "echo", datatype: .fp64, shape: [batch.rows], data: .float64((0..<batch.rows).map { batch.values[$0 * 2] }))]
        }
    }

    @Test func aChunkOfManyPiecesIsScoredAndNumberedInOrder() async throws {
        let schema = InputSchema(features: [
            FeatureSpec(name: "a", datatype: .fp64, nullable: false), FeatureSpec(name: "b", datatype: .fp64, nullable: true),
        ])
        let layout = try BatchLayout(format: .csv, header: "id,a,b", schema: schema, keys: ["id"], source: "the input")
        // About 1.3 MB: twenty 64 KiB pieces and more, with a blank line and bad rows here and there.
        var text = ""
        var expectedLines: [String] = []
        var expectedErrors: [Int] = []
        var row = 7
        for i in 0..<60_000 {
            if i % 9_999 == 5 { text += "\n" }
            if i % 7_777 == 3 {
                text += "k\(i),oops,1\n"
                expectedErrors.append(row)
            } else {
                text += "k\(i),\(i),\(i % 3 == 0 ? "" : "0.5")\n"
                expectedLines.append("\(row),k\(i),\(i)")
            }
            row += 1
        }
        let scored = try await BatchScoring.score(Array(text.utf8), layout: layout, firstRow: 7, predictor: Echo())
        #expect(scored.count == 60_000 && scored.rows == expectedLines.count && scored.failed == expectedErrors.count)
        #expect(scored.columns == ["row", "id", "echo"])
        let lines = String(decoding: scored.lines ?? Data(), as: UTF8.self).split(separator: "\n").map(String.init)
        // The first line out of place (comparing whole arrays would print 60,000 lines when they differ).
        let misplaced = zip(lines, expectedLines).first { $0 != $1 }
        #expect(lines.count == expectedLines.count && misplaced == nil, "\(lines.count) lines; first out of place: \(String(describing: misplaced))")
        let errors = String(decoding: scored.errors ?? Data(), as: UTF8.self).split(separator: "\n").map { Int($0.split(separator: ",")[0]) }
        #expect(errors == expectedErrors)
    }
}
