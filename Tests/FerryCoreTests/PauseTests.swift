import FerryCore
import Synchronization
import Testing

struct PauseTests {
    /// A pause of an hour ends once its stop condition holds: the loops that run on a schedule stop at shutdown
    /// without waiting for their next tick.
    @Test func aPauseEndsWhenItsConditionHolds() async throws {
        let stop = Mutex(false)
        let paused = Task { await pause(for: .seconds(3600), step: .milliseconds(10), unless: { stop.withLock { $0 } }) }
        try await Task.sleep(for: .milliseconds(50))
        stop.withLock { $0 = true }
        let ended = await withTaskGroup(of: Bool.self) { group in
            group.addTask { await paused.value; return true }
            group.addTask { try? await Task.sleep(for: .seconds(60)); return false }
            let first = await group.next()!
            group.cancelAll()
            return first
        }
        #expect(ended, "the pause ended once its condition held")
    }

    @Test func aPauseEndsWhenItsTaskIsCancelled() async {
        let paused = Task { await pause(for: .seconds(3600), unless: { false }) }
        paused.cancel()
        await paused.value
    }

    @Test func aPauseLastsItsIntervalOtherwise() async {
        let start = ContinuousClock.now
        await pause(for: .milliseconds(30), step: .milliseconds(5), unless: { false })
        #expect(ContinuousClock.now - start >= .milliseconds(30))
    }
}
