import FerryCore
@testable import FerryEngine
import Foundation
import Testing

/// A source read in parts on several threads, one join per part merged, gives what one pass gives, ties included.
struct PointInTimeJoinTests {
    /// In time order (the ttl 0 cases) every row beats the older ones in its window; in random order few do.
    @Test(arguments: [(2, 3000, 7200), (3, 300, 0), (7, 300, 0)] as [(Int, Int, Int64)])
    func readingInPartsEqualsOnePass(_ parts: Int, _ entityRows: Int, _ ttl: Int64) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-pit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var generator = SystemRandomNumberGenerator()
        var csv = "card_id,event_timestamp,created,v\n"
        // Few cards and coarse times, so many rows tie on event time and on created time: which of tied rows wins
        // depends on the file order across the parts' boundaries.
        for i in 0..<20_000 {
            let card = Int.random(in: 0..<40, using: &generator)
            let hour = ttl == 0 ? i / 400 : Int.random(in: 0..<50, using: &generator)
            let event = FeatureTime.format(Int64(hour) * 3_600_000_000)
            let created = Bool.random(using: &generator) ? FeatureTime.format(Int64(Int.random(in: 0..<3, using: &generator)) * 1_000_000) : ""
            csv += "\(card),\(event),\(created),\(i)\n"
        }
        let path = folder.appendingPathComponent("source.csv").path
        try csv.write(toFile: path, atomically: true, encoding: .utf8)
        let view = FeatureView(
            name: "v", entities: ["card"], features: [FeatureField(name: "v", type: .int64)],
            source: FeatureSource(kind: .file(path: path, format: .csv), createdTimestampField: "created"), ttlSeconds: ttl)
        let reader = FeatureSourceReader(view: view, joinKeys: [JoinKey(name: "card_id", type: .int64)], features: view.features)
        let keys: [String?] = (0..<entityRows).map { _ in Int.random(in: 0..<45, using: &generator) }.map { $0 == 44 ? nil : String($0) }
        let times = keys.map { _ in Int64(Int.random(in: 0..<55, using: &generator)) * 3_600_000_000 }
        var single = PointInTimeJoin(keys: keys, times: times, ttlSeconds: ttl)
        try await reader.forEach { single.offer(key: $0.key, event: $0.event, created: $0.created, values: $0.values) }
        let split = try #require(try FeatureService.joinInParts(reader, keys: keys, times: times, ttlSeconds: ttl, parts: parts, minimumBytes: 0))
        let expected = single.results()
        #expect(expected.contains { $0 != nil } && expected.contains { $0 == nil }, "the case has matches and misses")
        let got = split.results()
        let differing = expected.indices.filter { got[$0] != expected[$0] }
        #expect(differing.isEmpty, "\(differing.count) rows differ, e.g. row \(differing.first ?? -1)")
    }
}
