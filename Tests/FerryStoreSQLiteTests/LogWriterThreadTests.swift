import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif
@testable import FerryStoreSQLite

/// The prediction log's writer thread: idle priority while it can wait, the normal one once its patience is out.
struct LogWriterThreadTests {
    /// The scheduling policy of the calling thread (0 SCHED_OTHER, 5 SCHED_IDLE).
    static func policy() -> Int32 {
        var policy: Int32 = -1
        var parameters = sched_param()
        _ = pthread_getschedparam(pthread_self(), &policy, &parameters)
        return policy
    }

    @Test func aJobStartsIdleAndIsRaisedOnceItsPatienceIsOutABacklogAtOnce() async throws {
        let thread = LogWriterThread(name: "test-log-writer")
        // This machine (and CI) runs as root, which may raise a thread back; a process that may not runs every job at
        // the normal policy, which this test would then not cover: say so instead of passing quietly.
        try #require(thread.lowersPriority, "this process may not raise a thread back from SCHED_IDLE (no CAP_SYS_NICE, RLIMIT_NICE < 20)")

        let quick = try await thread.run(patience: .seconds(600)) { Self.policy() }
        #expect(quick == LogWriterThread.idlePolicy)

        // A job that outlasts its patience sees its own policy change while it runs (bounded: 10 s).
        let seen = try await thread.run(patience: .milliseconds(20)) { () -> [Int32] in
            var seen = [Self.policy()]
            let deadline = Date().addingTimeInterval(10)
            while Self.policy() == LogWriterThread.idlePolicy, Date() < deadline { usleep(1000) }
            seen.append(Self.policy())
            return seen
        }
        // On a busy machine (the whole suite in parallel) the idle thread may not even start the job within its
        // patience; the raise then reaches it before it starts, and it runs at the normal policy throughout.
        #expect(seen == [LogWriterThread.idlePolicy, LogWriterThread.normal] || seen == [LogWriterThread.normal, LogWriterThread.normal])

        // The next job starts idle again; a job without patience (a backlog) runs at the normal policy from the start,
        // and the one after it idle again; errors reach the caller.
        #expect(try await thread.run(patience: .seconds(600)) { Self.policy() } == LogWriterThread.idlePolicy)
        #expect(try await thread.run(patience: .zero) { Self.policy() } == LogWriterThread.normal)
        #expect(try await thread.run(patience: .seconds(600)) { Self.policy() } == LogWriterThread.idlePolicy)

        struct Failure: Error {}
        await #expect(throws: Failure.self) { try await thread.run(patience: .seconds(600)) { () throws -> Int in throw Failure() } }
    }
}
