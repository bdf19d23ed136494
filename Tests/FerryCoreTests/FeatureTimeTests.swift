import FerryCore
import Foundation
import Testing

/// Feature timestamps: ISO 8601 in, microseconds since 1970 UTC, ISO 8601 out.
struct FeatureTimeTests {
    @Test(arguments: [
        ("2024-01-01T05:00:00Z", "2024-01-01T05:00:00Z"),
        ("2024-01-01 05:00:00", "2024-01-01T05:00:00Z"),
        ("2024-01-01T05:00:00.123456+01:00", "2024-01-01T04:00:00.123456Z"),
        ("2024-02-29T23:59:59.5-0230", "2024-03-01T02:29:59.5Z"),
        ("2024-01-01 05:00:00+00", "2024-01-01T05:00:00Z"),
        ("1969-12-31T23:59:59.000001Z", "1969-12-31T23:59:59.000001Z"),
        ("2024-01-01", "2024-01-01T00:00:00Z"),
    ])
    func parsesAndFormats(_ pair: (text: String, formatted: String)) throws {
        let micros = try #require(FeatureTime.parse(pair.text), "\(pair.text) parses")
        #expect(FeatureTime.format(micros) == pair.formatted)
        #expect(FeatureTime.parse(pair.formatted) == micros, "the formatted text reads back")
    }

    @Test func agreesWithFoundationOverManyInstants() throws {
        let formatter = ISO8601DateFormatter()
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let seconds = Int64.random(in: -2_000_000_000...4_000_000_000, using: &generator)
            let text = formatter.string(from: Date(timeIntervalSince1970: Double(seconds)))
            #expect(FeatureTime.parse(text) == seconds * 1_000_000, "\(text)")
            #expect(FeatureTime.format(seconds * 1_000_000) == text)
        }
    }

    /// Every day of the four-digit years near the calendar's edges (years 0, 1, 1900, 2000, 2100, 9999) and every
    /// 13th day of the rest: formatting (days to a date) and parsing (a date to days) undo each other, in both forms.
    @Test func daysOfEveryFourDigitYearReadBack() throws {
        let first = try #require(FeatureTime.parse("0000-01-01T00:00:00Z")) / 86_400_000_000
        let last = try #require(FeatureTime.parse("9999-12-31T00:00:00Z")) / 86_400_000_000
        #expect(last - first == 3_652_424, "10,000 years of 365.2425 days, less a day")
        #expect(FeatureTime.parse("1970-01-01") == 0 && FeatureTime.parse("2000-03-01T00:00:00Z") == 951_868_800_000_000)
        let edges = [0, 1, 1899, 1900, 1999, 2000, 2099, 2100, 9998, 9999].map { year in
            (year * 3_652_425 / 10_000 + first)...(year * 3_652_425 / 10_000 + first + 366)
        }
        var day = first
        while day <= last {
            let text = FeatureTime.format(day * 86_400_000_000)
            #expect(FeatureTime.parse(text) == day * 86_400_000_000, "\(text)")
            #expect(FeatureTime.parse(String(text.prefix(10))) == day * 86_400_000_000, "\(text.prefix(10))")
            day += edges.contains { $0.contains(day) } ? 1 : 13
        }
    }

    @Test(arguments: [
        "", "2024", "2024-13-01", "2024-01-01T25:00:00Z", "yesterday", "2024-01-01T05:00:00Zjunk", "2024-01-01T05",
        "2024-00-01T05:00:00Z", "2024-01-32T05:00:00Z", "2024-01-01T05:60:00Z", "2024-01-0xT05:00:00Z", "2024-01-01T05:00:61Z", "2024-01-01T05:00:00z0",
        "2024-01-01T05:00:0:Z", "/024-01-01T05:00:00Z", "2024-0 -01T05:00:00Z", "2024-01-01T 5:00:00Z",
        // Days a month does not have, a 60th second (Python's datetime and pandas refuse both), offsets of a day or more.
        "2026-02-30T00:00:00Z", "2026-02-29T00:00:00Z", "2026-02-29", "1900-02-29T00:00:00Z", "2024-04-31T00:00:00Z", "2024-11-31",
        "2026-11-25T08:00:60Z", "2026-11-25T08:00:60+00:00", "2026-11-25T08:00:00+25:00", "2026-11-25T08:00:00-24:00", "2026-11-25T08:00:00+01:60",
    ])
    func refusesWhatIsNotATimestamp(_ text: String) {
        #expect(FeatureTime.parse(text) == nil)
    }

    @Test func theLastDayOfEachMonthIsADay() throws {
        for (text, days) in [("2024-02-29", 19_782), ("2000-02-29", 11_016), ("2026-04-30", 20_573), ("2026-12-31", 20_818), ("2026-11-25T08:00:00+23:59", 20_781)] {
            let micros = try #require(FeatureTime.parse(text), "\(text) parses")
            #expect(micros / 86_400_000_000 == days, "\(text)")
        }
    }

    /// The usual form (`...T05:00:00Z`) has a fast path of its own; with any one byte changed, it reads as the same
    /// text with `+00:00` for `Z` does on the general path (a value, or nil).
    @Test func theUsualFormReadsAsTheGeneralPathDoes() throws {
        let formatter = ISO8601DateFormatter()
        var generator = SystemRandomNumberGenerator()
        let bytes: [UInt8] = Array("0123456789:-/ T.tZz+a\u{7F}".utf8) + [0xB0, 0x00]
        for _ in 0..<3000 {
            let seconds = Int64.random(in: -2_000_000_000...4_000_000_000, using: &generator)
            var text = Array(formatter.string(from: Date(timeIntervalSince1970: Double(seconds))).utf8)
            try #require(text.count == 20 && text[19] == 0x5A)
            text[Int.random(in: 0..<19, using: &generator)] = bytes.randomElement(using: &generator)!
            let general = Array(text.dropLast()) + Array("+00:00".utf8)
            let fast = text.withUnsafeBufferPointer { FeatureTime.parse(bytes: $0) }
            #expect(fast == general.withUnsafeBufferPointer { FeatureTime.parse(bytes: $0) }, "\(String(decoding: text, as: UTF8.self))")
        }
    }
}
