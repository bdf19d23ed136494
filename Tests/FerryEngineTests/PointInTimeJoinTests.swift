@testable import FerryCore
@testable import FerryEngine
import Foundation
import Testing

/// The join's scan of a CSV source (keys and times only, in parts on several threads, winners read again) gives
/// what a plain reading gives: every row parsed by the row-by-row reader, the best candidate picked by brute force.
struct PointInTimeJoinTests {
    /// In time order (the ttl 0 cases) every row beats the older ones in its window; in random order few do.
    @Test(arguments: [(2, 3000, 7200), (3, 300, 0), (7, 300, 0)] as [(Int, Int, Int64)])
    func readingInPartsEqualsAPlainReading(_ parts: Int, _ entityRows: Int, _ ttl: Int64) async throws {
        var generator = SystemRandomNumberGenerator()
        var csv = "card_id,event_timestamp,created,v\n"
        var jsonl = ""
        // Few cards and coarse times, so many rows tie on event time and on created time: which of tied rows wins
        // depends on the file order across the parts' boundaries.
        for i in 0..<20_000 {
            let card = Int.random(in: 0..<40, using: &generator)
            let hour = ttl == 0 ? i / 400 : Int.random(in: 0..<50, using: &generator)
            let event = FeatureTime.format(Int64(hour) * 3_600_000_000)
            let created = Bool.random(using: &generator) ? FeatureTime.format(Int64(Int.random(in: 0..<3, using: &generator)) * 1_000_000) : ""
            csv += "\(card),\(event),\(created),\(i)\n"
            jsonl += "{\"card_id\": \(card), \"event_timestamp\": \"\(event)\"\(created.isEmpty ? "" : ", \"created\": \"\(created)\"") , \"v\": \(i)}\n"
        }
        try await check(csv: csv, jsonl: jsonl, features: [FeatureField(name: "v", type: .int64)], parts: [1, parts], entityRows: entityRows, ttl: ttl)
    }

    /// The entity rows are sorted by the top bits of their keys' mix, then within each stretch of equal bits by the
    /// whole mix, time and row. With many keys, stretches hold several keys (many share their top 20 bits), one key
    /// more than 32 rows, or a single row: every winner must still be the brute-force best.
    @Test(arguments: [(600_000, 300_000), (40_000, 1_000), (5_000, 100)] as [(Int, Int)])
    func entityRowsOfManyKeysGetTheirBestCandidate(_ entityRows: Int, _ distinctKeys: Int) {
        var generator = SystemRandomNumberGenerator()
        let hour: Int64 = 3_600_000_000
        // Random keys: keys in arithmetic progression spread over the mix's top bits without two sharing them.
        let pool = (0..<distinctKeys + 10).map { _ in Int64.random(in: 4_000_000_000..<5_000_000_000, using: &generator) }
        let keys: [Int64?] = (0..<entityRows).map { _ in
            let k = Int.random(in: 0..<distinctKeys, using: &generator)
            return k == 0 ? nil : pool[k]
        }
        let times = keys.map { _ in Int64.random(in: 0..<10, using: &generator) * hour }
        var join = PointInTimeJoin(integerKeys: keys, times: times, ttlSeconds: 3 * 3600)
        var offered: [Int64: [PointInTimeJoin.Candidate]] = [:]
        var rows: [PointInTimeJoin.KeyedRow] = []
        for sequence in 0..<Int64(entityRows) {
            let key = pool[Int.random(in: 1..<pool.count, using: &generator)]
            let candidate = PointInTimeJoin.Candidate(
                event: Int64.random(in: 0..<10, using: &generator) * hour, created: Int64.random(in: 0..<3, using: &generator), sequence: sequence)
            offered[key, default: []].append(candidate)
            rows.append(PointInTimeJoin.KeyedRow(key: key, candidate: candidate))
        }
        rows.withUnsafeBufferPointer { join.offer(integerKeyRows: $0) }
        let got = join.winners()
        let differing = keys.indices.filter { r in
            let window = (offered[keys[r] ?? -1] ?? []).filter { $0.event <= times[r] && $0.event >= times[r] - 3 * hour }
            let best = window.max { ($0.event, $0.created, $0.sequence) < ($1.event, $1.created, $1.sequence) } ?? .none
            return got[r] != best
        }
        #expect(got.contains { !$0.isNone } && got.contains(where: \.isNone), "the case has matches and misses")
        #expect(differing.isEmpty, "\(differing.count) of \(entityRows) rows differ, e.g. row \(differing.first ?? -1)")
    }

    /// The entity table's times and keys read in parts equal one part's: rows the byte path leaves to the row reader
    /// (a quoted key, spaces), missing keys and a text key included; with bad rows in several parts, the error names
    /// the first.
    @Test func entityRowsReadInPartsEqualOnePart() throws {
        var csv = "card_id,event_timestamp,city\n"
        for i in 0..<1_000 {
            let time = FeatureTime.format(Int64(i) * 60_000_000)
            switch i % 7 {
            case 0: csv += "\"\(i)\",\(time),\"Lyon, 2\"\n"
            case 1: csv += ",\(time),\n"
            case 2: csv += " \(i) , \(time) ,Oslo\n"
            default: csv += "\(i),\(time),city\(i % 5)\n"
            }
        }
        let view = FeatureView(
            name: "v", entities: ["card"], features: [FeatureField(name: "f", type: .int64)],
            source: FeatureSource(kind: .file(path: "/nonexistent.csv", format: .csv)), ttlSeconds: 0)
        var plan = FeatureService.TrainingPlan(timestampColumn: "event_timestamp", source: "the entity CSV")
        plan.views = [(view, [JoinKey(name: "card_id", type: .int64)], view.features), (view, [JoinKey(name: "city", type: .string)], view.features)]
        func read(_ text: String, parts: Int) throws -> (times: [Int64], integers: [Int64?], texts: [String?]) {
            let (times, keys) = try FeatureService.entityColumns(CSVLines(bytes: Array(text.utf8), source: "the entity CSV"), plan, parts: parts, minimumRows: 0)
            guard case .integers(let integers) = keys[0], case .texts(let texts) = keys[1] else { throw FerryError.invalid("unexpected key kinds") }
            return (times, integers, texts)
        }
        let one = try read(csv, parts: 1)
        #expect(one.times.count == 1_000 && one.times[999] == 999 * 60_000_000)
        #expect(one.integers[0] == 0 && one.integers[1] == nil && one.integers[2] == 2 && one.integers[3] == 3)
        #expect(one.texts[0] == "Lyon, 2" && one.texts[1] == nil && one.texts[2] == "Oslo" && one.texts[3] == "city3")
        for parts in [2, 3, 8] {
            let got = try read(csv, parts: parts)
            #expect(got.times == one.times && got.integers == one.integers && got.texts == one.texts, "\(parts) parts")
        }
        // Lines 2... hold rows 0...: a bad time in row 800 (a later part) and a bad key in row 300 (an earlier one).
        var lines = csv.split(separator: "\n").map(String.init)
        lines[801] = "801,later,city1"
        lines[301] = "x301,\(FeatureTime.format(0)),city1"
        for parts in [1, 2, 3] {
            #expect { _ = try read(lines.joined(separator: "\n"), parts: parts) } throws: { error in
                (error as? FerryError)?.message.contains("line 302, column 'card_id'") == true
            }
        }
    }

    /// A join's inner nodes exist only once a window of more than 64 rows was offered. Two parts merge the same
    /// whichever of them has them: the part offered only short windows and the part offered a long one, both ways.
    @Test func partsMergeWhicheverHasInnerNodes() {
        let minute: Int64 = 60_000_000
        // One key: 100 rows a minute apart, then 10 rows ten hours apart. With a ttl of two hours a row at time 0 is
        // a candidate for the first 100 rows (the tree's nodes), one at 3000 or 5400 minutes for one later row alone.
        let times = (0..<100).map { Int64($0) * minute } + (1...10).map { Int64($0) * 600 * minute }
        let base = PointInTimeJoin(integerKeys: Array(repeating: 7, count: 110), times: times, ttlSeconds: 7200)
        let offers: [(event: Int64, sequence: Int64, long: Bool)] = [(3000 * minute, 2, false), (0, 1, true), (5400 * minute, 3, false)]
        var short = base.offeredNothing()
        var long = base.offeredNothing()
        var expected = base.offeredNothing()
        for offer in offers {
            if offer.long {
                long.offer(integerKey: 7, event: offer.event, created: nil, sequence: offer.sequence)
            } else {
                short.offer(integerKey: 7, event: offer.event, created: nil, sequence: offer.sequence)
            }
            expected.offer(integerKey: 7, event: offer.event, created: nil, sequence: offer.sequence)
        }
        var want = Array(repeating: Int64(1), count: 100) + Array(repeating: Int64(-1), count: 10)
        want[104] = 2
        want[108] = 3
        #expect(expected.winners().map(\.sequence) == want)
        var a = short, b = long
        a.merge(long)
        b.merge(short)
        #expect(a.winners().map(\.sequence) == want, "short windows, then a long one merged")
        #expect(b.winners().map(\.sequence) == want, "a long window, then short ones merged")
    }

    /// Values the scan cannot check on its bytes, or copy as they are, go through the row parser: quoted fields,
    /// numbers not in their shortest form, missing markers, 32-bit floats, booleans, text that needs quotes, blank
    /// lines and CRLF line ends. Keys with spaces or a tab around them too, read as integers and as text (the
    /// scan reads neither trimmed: it sends such a line to the row parser). A boolean asked for sends every line
    /// there; without it the scan takes the lines it can.
    @Test(arguments: [(FeatureType.int64, true), (.int64, false), (.string, false)])
    func unusualValuesGiveWhatTheRowParserGives(_ keyType: FeatureType, _ withBoolean: Bool) async throws {
        var generator = SystemRandomNumberGenerator()
        let integers = ["7", "007", "-3", "+4", "", "NA", " 12 ", "5.0", "-0", "123456789012345678"]
        let decimals = ["1.5", "2", "1e-05", "0.00001", "12.50", "NaN", "", "-0.0", " 3.25 ", ".5", "1E3", "0.1", "123456789.123456789", "null"]
        let texts = ["plain", "\"with, comma\"", "\"say \"\"hi\"\"\"", " padded ", "", "é"]
        let booleans = ["true", "false", "1", "0", "", "TRUE"]
        var csv = "card_id,event_timestamp,created,i,d,f,t,b\r\n"
        for i in 0..<4_000 {
            let card = Int.random(in: 0..<25, using: &generator)
            let event = FeatureTime.format(Int64(Int.random(in: 0..<30, using: &generator)) * 3_600_000_000)
            let created = Bool.random(using: &generator) ? FeatureTime.format(Int64(i) * 1_000_000) : ""
            let cardText = i % 97 == 0 ? "\"\(card)\"" : (i % 89 == 0 ? " \(card)" : (i % 83 == 0 ? "\(card)\t" : (i % 79 == 0 ? "\(card) " : "\(card)")))
            csv += "\(cardText),\(event),\(created),\(integers.randomElement(using: &generator)!),\(decimals.randomElement(using: &generator)!),"
            csv += "\(decimals.randomElement(using: &generator)!),\(texts.randomElement(using: &generator)!),\(booleans.randomElement(using: &generator)!)\r\n"
            if i % 500 == 0 { csv += "\r\n" }
        }
        let features = [
            FeatureField(name: "i", type: .int64), FeatureField(name: "d", type: .float64), FeatureField(name: "f", type: .float32),
            FeatureField(name: "t", type: .string),
        ] + (withBoolean ? [FeatureField(name: "b", type: .bool)] : [])
        try await check(csv: csv, features: features, parts: [1, 2, 5], entityRows: 2_000, ttl: 36_000, keyType: keyType)
    }

    /// A line the scan must not take is refused as the row parser refuses it, naming the line, in any part: a
    /// 32-bit key that does not fit, a field too many, a field too few.
    @Test(arguments: [
        (1, "3000000000,2024-01-05T18:42:43Z,7", ["card_id", "int32"]), (3, "3000000000,2024-01-05T18:42:43Z,7", ["card_id", "int32"]),
        (1, "7,2024-01-05T18:42:43Z,7,8", ["has 4 fields; the header has 3"]), (3, "7,2024-01-05T18:42:43Z,7,8", ["has 4 fields; the header has 3"]),
        (3, "7,2024-01-05T18:42:43Z", ["has 2 fields; the header has 3"]),
    ] as [(Int, String, [String])])
    func aLineTheScanCannotTakeIsRefusedNamingIt(_ parts: Int, _ bad: String, _ words: [String]) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-pit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("source.csv").path
        var csv = "card_id,event_timestamp,v\n"
        for i in 0..<3_000 { csv += i == 2_500 ? "\(bad)\n" : "\(i % 50),2024-01-05T18:42:43Z,\(i)\n" }
        try csv.write(toFile: path, atomically: true, encoding: .utf8)
        let view = FeatureView(
            name: "v", entities: ["card"], features: [FeatureField(name: "v", type: .int64)],
            source: FeatureSource(kind: .file(path: path, format: .csv)), ttlSeconds: 0)
        let reader = FeatureSourceReader(view: view, joinKeys: [JoinKey(name: "card_id", type: .int32)], features: view.features)
        await #expect { _ = try await FeatureService.join(reader, keys: .integers([1, 2]), times: [0, 0], ttlSeconds: 0, parts: parts, minimumBytes: 0, minimumWinners: 0) } throws: { error in
            let message = (error as? FerryError)?.message ?? "\(error)"
            return message.contains("line 2502") && words.allSatisfy { message.contains($0) }
        }
    }

    /// With `jsonl` (the same rows), a JSON Lines source, whose rows carry their values through the join, gives
    /// the same too; 20,000 rows against a few hundred entity rows make it drop the values that can no longer win.
    func check(csv: String, jsonl: String? = nil, features: [FeatureField], parts: [Int], entityRows: Int, ttl: Int64, keyType: FeatureType = .int64) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-pit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("source.csv").path
        try csv.write(toFile: path, atomically: true, encoding: .utf8)
        let view = FeatureView(
            name: "v", entities: ["card"], features: features,
            source: FeatureSource(kind: .file(path: path, format: .csv), createdTimestampField: "created"), ttlSeconds: ttl)
        let reader = FeatureSourceReader(view: view, joinKeys: [JoinKey(name: "card_id", type: keyType)], features: view.features)
        var generator = SystemRandomNumberGenerator()
        let keys: [String?] = (0..<entityRows).map { _ in Int.random(in: 0..<45, using: &generator) }.map { $0 == 44 ? nil : String($0) }
        let times = keys.map { _ in Int64(Int.random(in: 0..<55, using: &generator)) * 3_600_000_000 }

        // The reference: every row through the row parser, each entity row's best candidate by brute force.
        var rows: [String: [(event: Int64, created: Int64, order: Int, values: [FeatureDatum])]] = [:]
        var order = 0
        try await reader.forEach { row in
            order += 1
            rows[row.key, default: []].append((row.event, row.created ?? .min, order, row.values))
        }
        let expected: [[String]?] = keys.indices.map { r in
            guard let key = keys[r] else { return nil }
            let best = rows[key, default: []].filter { $0.event <= times[r] && (ttl == 0 || $0.event >= times[r] - ttl * 1_000_000) }
                .max { ($0.event, $0.created, $0.order) < ($1.event, $1.created, $1.order) }
            return best.map { $0.values.map { value in
                var field = CSVWriter()
                field.field(value.csvText, first: true)
                return String(decoding: field.bytes, as: UTF8.self)
            } }
        }
        #expect(expected.contains { $0 != nil } && expected.contains { $0 == nil }, "the case has matches and misses")

        func fields(_ joined: JoinedFields) -> [[String]?] {
            keys.indices.map { r in
                guard joined.winner[r] >= 0 else { return nil }
                return features.indices.map { String(decoding: joined.text.bytes[joined.field(row: r, feature: $0)], as: UTF8.self) }
            }
        }
        // Keys as integers (the usual single integer join key) and as text (any other key) take different paths.
        let integers = keys.map { $0.flatMap { Int64($0) } }
        let kinds: [FeatureService.EntityKeys] = keyType == .int64 ? [.integers(integers), .texts(keys)] : [.texts(keys)]
        for (count, entityKeys) in parts.flatMap({ count in kinds.map { (count, $0) } }) {
            let joined = try await FeatureService.join(reader, keys: entityKeys, times: times, ttlSeconds: ttl, parts: count, minimumBytes: 0, minimumWinners: 0)
            let got = fields(joined)
            let differing = expected.indices.filter { got[$0] != expected[$0] }
            #expect(differing.isEmpty, "\(count) parts: \(differing.count) rows differ, e.g. row \(differing.first ?? -1): \(differing.first.map { "\(got[$0] ?? []) instead of \(expected[$0] ?? [])" } ?? "")")
        }
        if let jsonl {
            let jsonPath = folder.appendingPathComponent("source.jsonl").path
            try jsonl.write(toFile: jsonPath, atomically: true, encoding: .utf8)
            var jsonView = view
            jsonView.source = FeatureSource(kind: .file(path: jsonPath, format: .jsonl), createdTimestampField: "created")
            let jsonReader = FeatureSourceReader(view: jsonView, joinKeys: reader.joinKeys, features: features)
            let joined = try await FeatureService.join(jsonReader, keys: .texts(keys), times: times, ttlSeconds: ttl)
            let got = fields(joined)
            let differing = expected.indices.filter { got[$0] != expected[$0] }
            #expect(differing.isEmpty, "JSON Lines: \(differing.count) rows differ")
        }
    }

    /// Winners are read again in file order: by sequence, then row, whether packed into one integer or not.
    @Test(arguments: [Int64(1) << 40, Int64(1) << 61])
    func winnersAreOrderedByLineThenRow(_ largest: Int64) {
        var generator = SystemRandomNumberGenerator()
        let sequences: [Int64] = (0..<50).map { _ in Int64.random(in: 0...largest, using: &generator) }
        var winners: [PointInTimeJoin.Candidate] = []
        var expected: [(sequence: Int64, row: Int32)] = []
        for row in 0..<5_000 {
            guard Int.random(in: 0..<5, using: &generator) > 0 else {
                winners.append(.none)
                continue
            }
            let sequence = sequences.randomElement(using: &generator)!
            winners.append(PointInTimeJoin.Candidate(event: 0, created: .min, sequence: sequence))
            expected.append((sequence, Int32(row)))
        }
        expected.sort { $0.sequence != $1.sequence ? $0.sequence < $1.sequence : $0.row < $1.row }
        let got = FeatureSourceReader.byLine(winners)
        #expect(got.map { $0.sequence } == expected.map { $0.sequence })
        #expect(got.map { $0.row } == expected.map { $0.row })
    }

    /// The entity table's lines are counted eight bytes at a time: every line feed, none of the bytes next to it.
    @Test func lineFeedsAreCountedWhereverTheyFall() {
        var generator = SystemRandomNumberGenerator()
        for length in [0, 1, 7, 8, 9, 63, 64, 1_000] {
            // Bytes around a line feed's value (0x0A), so no neighbour of it is counted by mistake.
            let bytes: [UInt8] = (0..<length).map { _ in [0x0A, 0x0B, 0x09, 0x8A, 0x00, 0xFF, 0x2C].randomElement(using: &generator)! }
            let counted = bytes.withUnsafeBytes { CSVTable.lineFeeds($0) }
            #expect(counted == bytes.filter { $0 == 0x0A }.count, "\(length) bytes")
            // And each found from every place, as a byte-by-byte search finds it.
            for from in 0...length {
                let found = bytes.withUnsafeBufferPointer { CSVTable.lineFeed(in: $0, from: from) }
                #expect(found == bytes[from...].firstIndex(of: 0x0A), "\(length) bytes from \(from)")
            }
        }
    }

    /// The numbers a writer may copy are those that print as themselves.
    @Test func numbersCopiedAsTheyAreAreTheirOwnText() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789.-e+ ")
        var copied = 0
        for _ in 0..<200_000 {
            let text = String((0..<Int.random(in: 1...18, using: &generator)).map { _ in
                Int.random(in: 0..<4, using: &generator) == 0 ? alphabet.randomElement(using: &generator)! : alphabet[Int.random(in: 0..<10, using: &generator)]
            })
            for type in [FeatureType.int64, .int32, .float64, .float32] {
                let own = Array(text.utf8).withUnsafeBufferPointer { FeatureDatum.isOwnCSVText($0, as: type) }
                guard own else { continue }
                copied += 1
                let parsed = try? FeatureDatum.parse(Substring(text), as: type)
                #expect(parsed?.csvText == text, "'\(text)' as \(type) prints as '\(parsed?.csvText ?? "an error")'")
            }
        }
        #expect(copied > 10_000)
        for text in ["0.0001", "196.1104", "-0.5", "2.0", "12345678901234.5", "0", "-12"] {
            #expect(Array(text.utf8).withUnsafeBufferPointer { FeatureDatum.isOwnCSVText($0, as: text.contains(".") ? .float64 : .int64) }, "\(text)")
        }
        for text in ["0.00001", "12.50", "1234567890123456.5", "007", "-0", "+5", "1e5", "2"] {
            #expect(!Array(text.utf8).withUnsafeBufferPointer { FeatureDatum.isOwnCSVText($0, as: text == "007" || text == "-0" || text == "+5" ? .int64 : .float64) }, "\(text)")
        }
    }
}

/// Feature values are what a model input takes: finite decimal numbers.
struct FeatureDatumTests {
    @Test(arguments: [
        ("inf", FeatureType.float64), ("-Infinity", .float64), ("0x10", .float64), ("0x1p3", .float64), ("1e39", .float32), ("1e309", .float64),
        ("0x10", .int64), ("0X1F", .int32),
    ])
    func nonFiniteAndHexadecimalNumbersAreRefused(_ given: (text: String, type: FeatureType)) {
        #expect(throws: FerryError.self, "'\(given.text)' as \(given.type)") { try FeatureDatum.parse(Substring(given.text), as: given.type) }
    }

    @Test func missingSpellingsAreNullAndDecimalsRead() throws {
        for text in ["NaN", "nan", "NA", "null", ""] {
            #expect(try FeatureDatum.parse(Substring(text), as: .float64) == .null, "'\(text)'")
        }
        #expect(try FeatureDatum.parse("1e3", as: .int64) == .int(1000))
        #expect(try FeatureDatum.parse("-2.5e-3", as: .float64) == .double(-0.0025))
        #expect(try FeatureDatum.from(.number(1e39), as: .float64) == .double(1e39))
        #expect(throws: FerryError.self) { try FeatureDatum.from(.number(1e39), as: .float32) }
        #expect(throws: FerryError.self) { try FeatureDatum.from(.string("inf"), as: .float64) }
    }
}
