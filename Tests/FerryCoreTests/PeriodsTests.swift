import FerryCore
import Foundation
import Testing

struct PeriodsTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)   // a multiple of 60

    @Test func itemsGroupByAlignedPeriodsOldestFirst() throws {
        let times = [130.0, 5, 59.999, 60, 3600].map { t0.addingTimeInterval($0) }
        let groups = Periods.group(times, every: 60, at: { $0 })
        #expect(groups.map { $0.start.timeIntervalSince(t0) } == [0, 60, 120, 3600])
        #expect(groups.map { $0.items.count } == [2, 1, 1, 1])
        #expect(groups[0].items == [t0.addingTimeInterval(5), t0.addingTimeInterval(59.999)], "order kept within a period")
        #expect(groups[0].end == t0.addingTimeInterval(60))
        #expect(throws: FerryError.self) { try Periods.check(0) }
        #expect(throws: FerryError.self) { try Periods.check(400 * 86_400) }
    }

    /// Quantiles from bucket counts, checked by hand: 10 observations, 4 in (0, 1], 4 in (1, 2], 2 past 4.
    @Test func histogramQuantilesInterpolateWithinTheirBucket() {
        let bounds = [1.0, 2, 4]
        let counts: [Int64] = [4, 4, 0, 2]
        #expect(RequestCountSample.histogramQuantile(0.2, counts, bounds: bounds) == 0.5)    // rank 2 of 4 in (0, 1]
        #expect(RequestCountSample.histogramQuantile(0.6, counts, bounds: bounds) == 1.5)    // rank 6: 2 of 4 in (1, 2]
        #expect(RequestCountSample.histogramQuantile(0.8, counts, bounds: bounds) == 2)      // rank 8: the top of (1, 2]
        #expect(RequestCountSample.histogramQuantile(0.99, counts, bounds: bounds) == 4, "past the last bound: that bound")
        #expect(RequestCountSample.histogramQuantile(0.5, [0, 0, 0, 0], bounds: bounds) == nil)
    }

    /// Two replicas' running totals: each period gets what the samples taken in it added since the replica's
    /// previous sample; a replica that restarted (its totals went down) counts from zero.
    @Test func trafficSumsEveryReplicasIncreasesPerPeriod() {
        func sample(_ replica: String, _ seconds: Double, _ requests: Int64, _ errors: Int64, _ latency: [Int64]) -> RequestCountSample {
            RequestCountSample(
                replica: replica, model: "m", at: t0.addingTimeInterval(seconds), requests: requests, errors: errors,
                predictions: requests * 2, cpuSeconds: Double(requests) / 1000, latencyCounts: latency)
        }
        let bounds = [0.001, 0.01]
        let samples = [
            sample("a", -30, 100, 1, [90, 10, 0]),   // before the window: the base
            sample("a", 10, 150, 3, [130, 20, 0]),
            sample("a", 40, 160, 3, [139, 21, 0]),
            sample("b", 20, 40, 0, [40, 0, 0]),      // b's first sample: counted from zero
            sample("b", 70, 45, 5, [40, 0, 5]),
            sample("a", 80, 7, 0, [7, 0, 0]),         // a restarted
            sample("a", 200, 9, 0, [9, 0, 0]),        // after the window
        ]
        let periods = RequestCountSample.traffic(samples, since: t0.addingTimeInterval(5), until: t0.addingTimeInterval(150), every: 60, bounds: bounds)
        #expect(periods.map { $0.start.timeIntervalSince(t0) } == [0, 60, 120], "aligned, empty periods present")
        #expect(periods.map(\.requests) == [60 + 40, 5 + 7, 0])
        #expect(periods.map(\.errors) == [2, 5, 0])
        #expect(periods[0].latencyCounts == [49 + 40, 11, 0])
        #expect(periods[1].latencyCounts == [7, 0, 5])
        #expect(periods.map(\.predictions) == [200, 24, 0])
        #expect(abs(periods[0].cpuSeconds - 0.1) < 1e-12)
        #expect(periods[0].errorRate == 0.02 && periods[2].errorRate == nil)
        #expect(periods[0].p50Seconds == RequestCountSample.histogramQuantile(0.5, [89, 11, 0], bounds: bounds))
        #expect(periods[1].p99Seconds == 0.01, "5 of 12 past the last bound")
        #expect(periods[2].p50Seconds == nil)
    }
}
