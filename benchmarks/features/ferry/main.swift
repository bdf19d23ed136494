// In-process online read of Ferry's feature store: one entity, ten features, through `FeatureService.online` on
// the SQLite store `ferry serve` uses (a file in WAL mode), after writing 100,000 entities.
// benchmarks/features/run.sh runs it next to Feast's in-process read; prints {"p50_us", "p99_us", ...}.
import FerryCore
import FerryEngine
import FerryStoreSQLite
import Foundation
import Logging

let entities = 100_000
let reads = 20_000
let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-bench-features-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: folder) }

let store = try SQLiteMetadataStore(path: folder.appendingPathComponent("ferry.sqlite").path)
let service = FeatureService(store: store, sourceFolders: ReadableFolders(["/"]), logger: Logger(label: "bench"))
let names = (0..<10).map { "f\($0)" }
_ = try await service.apply(FeatureDefinitions(
    entities: [FeatureEntity(name: "card", joinKeys: [JoinKey(name: "card_id", type: .int64)])],
    views: [FeatureView(
        name: "card_stats", entities: ["card"],
        features: names.enumerated().map { FeatureField(name: $1, type: $0 % 2 == 0 ? .int64 : .float64) },
        source: FeatureSource(kind: .file(path: "/unused.csv", format: .csv)))]), by: "bench")
let now = FeatureTime.micros(Date())
var batch: [OnlineFeatureRow] = []
for id in 0..<entities {
    var values = FeatureValues()
    for (i, name) in names.enumerated() { values[name] = i % 2 == 0 ? .int(Int64(id * i)) : .double(Double(id) * 0.25 + Double(i)) }
    batch.append(OnlineFeatureRow(key: String(id), eventTime: now, values: values))
    if batch.count == 5000 {
        _ = try await store.writeOnline(view: "card_stats", rows: batch)
        batch.removeAll(keepingCapacity: true)
    }
}
let refs = names.map { FeatureRef(view: "card_stats", feature: $0) }
// Measured off the main actor, as a request handler runs (top-level code here is main-actor isolated, and each
// await from it would hop threads twice).
let samples = try await Task.detached { () async throws -> [Double] in
    var generator = SystemRandomNumberGenerator()
    var samples: [Double] = []
    samples.reserveCapacity(reads)
    for i in 0..<(reads + 2000) {
        let key = Int.random(in: 0..<entities, using: &generator)
        let start = ContinuousClock.now
        let answer = try await service.online(features: refs, entities: [["card_id": .number(Double(key))]])
        let elapsed = ContinuousClock.now - start
        precondition(answer[0][0].status == .present, "entity \(key) not found")
        if i >= 2000 { samples.append(Double(elapsed.components.attoseconds) / 1e12 + Double(elapsed.components.seconds) * 1e6) }
    }
    return samples.sorted()
}.value
let p50 = samples[samples.count / 2]
let p99 = samples[min(samples.count - 1, samples.count * 99 / 100)]
print(#"{"p50_us": \#(p50), "p99_us": \#(p99), "reads": \#(reads), "entities": \#(entities), "features": 10}"#)
