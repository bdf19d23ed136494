import Crypto
import FerryCore
@testable import FerryEngine
import FerryStoreSQLite
import FerryTesting
import Foundation
import Logging
import Synchronization
import Testing

struct PredictionLoggerTests {
    func record(_ id: String) -> PredictionRecord {
        PredictionRecord(id: id, model: "m", version: 1, at: Fixtures.time, latencyMicros: 5, inputs: [[.number(1)]], outputs: [[0.5]])
    }

    @Test func aFullQueueDropsAndCountsInsteadOfBlocking() async throws {
        let log = try SQLitePredictionLog()
        let logger = PredictionLogger(log: log, configuration: .init(capacity: 3), logger: Logger(label: "t"))
        let accepted = (0..<5).map { logger.submit(record("r\($0)")) }
        #expect(accepted == [true, true, true, false, false])
        #expect(logger.counters.dropped == 2 && logger.counters.queued == 3)
        await logger.flush()
        #expect(try await log.count(model: "m") == 3)
        #expect(logger.counters.written == 3 && logger.counters.queued == 0)
    }

    @Test func runWritesEverythingQueuedBeforeItReturns() async throws {
        let log = try SQLitePredictionLog()
        let logger = PredictionLogger(log: log, configuration: .init(batchSize: 7, flushInterval: .milliseconds(5)), logger: Logger(label: "t"))
        let writer = Task { await logger.run() }
        for i in 0..<100 { logger.submit(record("r\(i)")) }
        logger.finish()
        await writer.value
        #expect(try await log.count(model: "m") == 100)
        #expect(logger.submit(record("late")) == false, "no records after finish")
    }

    /// A log that records how each batch was asked to be written.
    final class PacedLog: PredictionLog, @unchecked Sendable {
        let inner: SQLitePredictionLog
        let calls = Mutex<[String]>([])
        init() throws { inner = try SQLitePredictionLog() }
        func append(_ records: [PredictionRecord]) async throws {
            calls.withLock { $0.append("append \(records.count)") }
            try await inner.append(records)
        }
        func appendUnhurried(_ records: [PredictionRecord]) async throws {
            calls.withLock { $0.append("unhurried \(records.count)") }
            try await inner.appendUnhurried(records)
        }
        func record(id: String) async throws -> PredictionRecord? { try await inner.record(id: id) }
        func records(model: String, version: Int?, since: Date?, until: Date?, limit: Int) async throws -> [PredictionRecord] {
            try await inner.records(model: model, version: version, since: since, until: until, limit: limit)
        }
        func count(model: String?) async throws -> Int { try await inner.count(model: model) }
        func purge(olderThan date: Date) async throws -> Int { try await inner.purge(olderThan: date) }
        func trim(keepNewest count: Int) async throws -> Int { try await inner.trim(keepNewest: count) }
        func addFeedback(_ items: [Feedback]) async throws -> Int { try await inner.addFeedback(items) }
        func labeled(model: String, version: Int?, since: Date?, until: Date?, limit: Int) async throws -> [LabeledPrediction] {
            try await inner.labeled(model: model, version: version, since: since, until: until, limit: limit)
        }
        func unmatchedFeedbackCount() async throws -> Int { try await inner.unmatchedFeedbackCount() }
        func hashKey() async throws -> String { try await inner.hashKey() }
    }

    /// A flush that finds less than a batch queued writes unhurried; a backlog (a whole batch or more) at full speed.
    @Test func aBacklogIsWrittenAtFullSpeedAndTheRestUnhurried() async throws {
        let log = try PacedLog()
        let logger = PredictionLogger(log: log, configuration: .init(batchSize: 4), logger: Logger(label: "t"))
        for i in 0..<3 { logger.submit(record("a\(i)")) }
        await logger.flush()
        for i in 0..<6 { logger.submit(record("b\(i)")) }
        await logger.flush()
        #expect(log.calls.withLock { $0 } == ["unhurried 3", "append 4", "append 2"])
        #expect(try await log.count(model: "m") == 9)
    }

    @Test func sensitiveFeaturesAreRedactedOrHashed() {
        let schema = InputSchema(features: [
            FeatureSpec(name: "amount"), FeatureSpec(name: "card", sensitive: .hash), FeatureSpec(name: "ssn", sensitive: .redact),
        ])
        let batch = FeatureMatrix(rows: 1, columns: 3, values: [12.5, 4242, 123])
        let key = SymmetricKey(size: .bits256)
        let row = PredictionLogger.storedRow(batch, row: 0, schema: schema, key: key)
        #expect(row[0] == .number(12.5))
        #expect(row[1].isHash, "\(row[1])")
        #expect(row[1] != .string("4242.0"))
        #expect(row[2] == .null)
        let again = PredictionLogger.storedRow(batch, row: 0, schema: schema, key: key)
        #expect(again[1] == row[1], "equal values hash equally, so they can still be matched")
        // Keyed: not the plain digest anyone can compute from a guess, and another key gives another value.
        #expect(row[1] != .string("sha256:" + SHA256.hash(data: Data("4242.0".utf8)).hexString))
        #expect(PredictionLogger.storedRow(batch, row: 0, schema: schema, key: SymmetricKey(size: .bits256))[1] != row[1])
    }

    @Test func servedRequestsAreLoggedWithTheirPredictionID() async throws {
        let stack = try await TestStack()
        defer { stack.tearDown() }
        try await stack.registerFake("m", value: 1)
        let response = try await stack.dataPlane.infer(model: "m", version: nil, request: InferenceRequest(
            inputs: [Tensor(name: "input", datatype: .fp32, shape: [2, 3], data: .float32([1, 2, 3, 4, 5, 6]))]))
        guard let id = response.serving.predictionID else {
            Issue.record("no prediction id")
            return
        }
        await stack.predictionLogger.flush()
        let logged = try await stack.predictionLog.record(id: id)
        #expect(logged?.inputs == [[.number(1), .number(2), .number(3)], [.number(4), .number(5), .number(6)]])
        #expect(logged?.outputs == [[7], [16]])
        #expect(logged?.version == 1)
    }
}

extension JSONValue {
    var isHash: Bool {
        if case .string(let s) = self { return s.hasPrefix("hmac:") && s.count == 69 }
        return false
    }
}

struct PredictionIDTests {
    @Test func idsAreTimeOrderedUUIDsInTextForm() {
        let ids = (0..<1000).map { DataPlane.predictionID(now: Date(timeIntervalSince1970: 1_790_000_000 + Double($0))) }
        #expect(ids == ids.sorted(), "later ids sort after earlier ones")
        #expect(Set(ids).count == 1000)
        for id in ids.prefix(50) {
            let uuid = UUID(uuidString: id)
            #expect(uuid != nil && uuid?.uuidString.lowercased() == id, "\(id)")
            #expect(Array(id)[14] == "7", "version 7: \(id)")
        }
    }
}

struct RateLimiterTests {
    /// Eight tasks hammer one principal while a shared simulated clock advances 1 ms per call: the admitted count
    /// equals the bucket's arithmetic within a few percent, whatever the interleaving.
    @Test func limitsHoldUnderConcurrentLoad() async throws {
        let ticks = Mutex(0)
        let limiter = RateLimiter(defaults: [.predictor: 100]) { ticks.withLock { $0 += 1; return Double($0) * 0.001 } }
        let principal = Principal(id: "key:p", name: "p", role: .predictor)
        let admitted = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask { (0..<1000).reduce(0) { n, _ in n + (limiter.admit(principal) == nil ? 1 : 0) } }
            }
            return try await group.reduce(0, +)
        }
        // 8,000 calls span 8 simulated seconds: 100 burst + 8 s x 100/s.
        #expect(abs(Double(admitted) - 900) / 900 < 0.03, "\(admitted) admitted")
        #expect(limiter.rejections["key:p"] == UInt64(8000 - admitted))
        #expect(limiter.admit(Principal(id: "key:v", name: "v", role: .viewer)) == nil, "roles without a limit are not limited")
    }
}

struct VersionGuardTests {
    /// Requests that wait inside a version (a batch queue, a slow dependency) are bounded: the ones over the bound
    /// are refused at once with `.rateLimited` (HTTP 429), not queued.
    @Test func requestsOverTheBoundAreShedAtOnce() async throws {
        let guardian = VersionGuard(label: "version 1 of model 'm'", policy: ServingPolicy(maxConcurrent: 2))
        final class Waiting: Sendable { let list = Mutex<[CheckedContinuation<Void, Never>]>([]) }
        let waiting = Waiting()
        let outcomes = await withTaskGroup(of: String.self) { group in
            for _ in 0..<6 {
                group.addTask {
                    do {
                        return try await guardian.run {
                            await withCheckedContinuation { continuation in waiting.list.withLock { $0.append(continuation) } }
                            return "served"
                        }
                    } catch let error as FerryError {
                        return error.code.rawValue
                    } catch {
                        return "\(error)"
                    }
                }
            }
            // The four callers over the bound come back refused while the two admitted ones are still waiting.
            var results: [String] = []
            for _ in 0..<4 { if let r = await group.next() { results.append(r) } }
            while waiting.list.withLock({ $0.count }) < 2 { await Task.yield() }
            for continuation in waiting.list.withLock({ $0 }) { continuation.resume() }
            for await r in group { results.append(r) }
            return results
        }
        #expect(outcomes.sorted() == ["rate_limited", "rate_limited", "rate_limited", "rate_limited", "served", "served"], "\(outcomes)")
    }
}

struct BatcherTests {
    /// Records the row count of every call and answers `sum(row)` per row.
    final class CountingPredictor: Predictor {
        let calls = Mutex<[Int]>([])
        var featureCount: Int { 2 }
        var outputSchema: OutputSchema { OutputSchema(outputs: [OutputSpec(name: "predict", datatype: .fp64, shape: [])]) }
        func predict(_ batch: FeatureMatrix) throws -> [Tensor] {
            calls.withLock { $0.append(batch.rows) }
            let sums = (0..<batch.rows).map { batch[$0, 0] + batch[$0, 1] }
            return [Tensor(name: "predict", datatype: .fp64, shape: [batch.rows], data: .float64(sums))]
        }
    }

    @Test func concurrentRequestsShareCallsAndGetTheirOwnRows() async throws {
        let predictor = CountingPredictor()
        let batcher = Batcher(predictor: predictor, maxRows: 8, maxDelay: .milliseconds(20))
        let answers = try await withThrowingTaskGroup(of: (Double, [Double]).self) { group in
            for i in 0..<32 {
                group.addTask {
                    let rows = i % 3 + 1   // requests of 1 to 3 rows
                    let values = (0..<rows).flatMap { r in [Double(i), Double(r)] }
                    let out = try await batcher.predict(FeatureMatrix(rows: rows, columns: 2, values: values))
                    guard case .float64(let sums) = out[0].data, out[0].shape == [rows] else { return (Double(i), []) }
                    return (Double(i), sums)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for (i, sums) in answers {
            let rows = Int(i) % 3 + 1
            let expected: [Double] = (0..<rows).map { i + Double($0) }
            #expect(sums == expected, "request \(Int(i)) got \(sums)")
        }
        let calls = predictor.calls.withLock { $0 }
        let totalRows: Int = (0..<32).reduce(0) { $0 + $1 % 3 + 1 }
        #expect(calls.reduce(0, +) == totalRows, "every row predicted once")
        #expect(calls.count < 32, "requests were merged: \(calls)")
        #expect(calls.allSatisfy { $0 <= 8 + 2 }, "a batch closes once it reaches max rows: \(calls)")
    }

    @Test func aFailingBatchFailsEachOfItsCallers() async throws {
        struct Failing: Predictor {
            var featureCount: Int { 1 }
            var outputSchema: OutputSchema { OutputSchema(outputs: []) }
            func predict(_ batch: FeatureMatrix) throws -> [Tensor] { throw FerryError(.internal, "boom") }
        }
        let batcher = Batcher(predictor: Failing(), maxRows: 4, maxDelay: .milliseconds(5))
        let failures = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<6 {
                group.addTask { (try? await batcher.predict(FeatureMatrix(rows: 1, columns: 1, values: [1]))) == nil }
            }
            return await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
        }
        #expect(failures == 6)
    }
}

struct GreedyBatcherTests {
    @Test func greedyBatchingAnswersEveryRowAndMergesUnderLoad() async throws {
        let predictor = BatcherTests.CountingPredictor()
        let batcher = Batcher(predictor: predictor, maxRows: 16, maxDelay: .zero)
        let single = try await batcher.predict(FeatureMatrix(rows: 1, columns: 2, values: [3, 4]))
        #expect(single.first?.data == .float64([7]), "an idle version runs a request at once")
        let answers = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<200 {
                group.addTask {
                    let out = try await batcher.predict(FeatureMatrix(rows: 1, columns: 2, values: [Double(i), 1]))
                    return out.first?.data == .float64([Double(i) + 1])
                }
            }
            return try await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
        }
        #expect(answers == 200)
        let calls = predictor.calls.withLock { $0 }
        #expect(calls.reduce(0, +) == 201 && calls.allSatisfy { $0 <= 16 }, "\(calls)")
    }
}

struct PredictionCacheTests {
    static func response(_ values: Int) -> InferenceResponse {
        InferenceResponse(modelName: "m", modelVersion: "1", id: nil, outputs: [
            Tensor(name: "predict", datatype: .fp64, shape: [values], data: .float64(Array(repeating: 1, count: values)))])
    }

    @Test func entriesAndBytesStayWithinTheirBoundsAndTTLExpires() {
        let clock = Mutex(0.0)
        let cache = PredictionCache(spec: Endpoint.Cache(maxEntries: 100, ttlSeconds: 10, maxBytes: 64 << 10)) { clock.withLock { $0 } }
        let v1 = VersionRef(model: "m", version: 1)
        for i in 0..<1000 {
            cache.put(.init(version: v1, request: Array("req-\(i)".utf8)), Self.response(100))   // ~1.1 KB each
            let counts = cache.counts
            #expect(counts.entries <= 100 && counts.bytes <= 64 << 10, "\(counts)")
        }
        let key = PredictionCache.Key(version: v1, request: Array("req-999".utf8))
        #expect(cache.get(key) != nil, "the newest entry is kept")
        #expect(cache.get(.init(version: VersionRef(model: "m", version: 2), request: Array("req-999".utf8))) == nil, "another version never matches")
        clock.withLock { $0 = 11 }
        #expect(cache.get(key) == nil, "expired after its TTL")
        cache.put(.init(version: v1, request: [1]), Self.response(100_000))
        #expect(cache.get(.init(version: v1, request: [1])) == nil, "an answer over an eighth of the budget is not cached")
    }
}
