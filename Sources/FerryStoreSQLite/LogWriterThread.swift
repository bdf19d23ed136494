import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The OS thread the SQLite prediction log writes on, below serving's priority for as long as it can afford to be.
///
/// A job that may wait runs under Linux's SCHED_IDLE policy: when a request's thread wants the core, it gets it at
/// once. A batch of records written at the normal policy took cores from requests (measured at one connection: p99
/// 1.9 ms with the writes, 0.3 ms without them). A job still running after its `patience` is raised to the normal
/// policy, and a job with no patience (a backlog) runs at the normal policy from the start, so under saturation,
/// where an idle thread would hardly run, the log keeps up as before instead of dropping records. Raising a thread
/// back from SCHED_IDLE needs CAP_SYS_NICE or an RLIMIT_NICE of 20; a process without either runs every job at the
/// normal policy (`lowersPriority` is false).
final class LogWriterThread: Sendable {
    private struct State {
        var jobs: [(number: UInt64, idle: Bool, run: @Sendable () -> Void)] = []
        var stopped = false
        var thread: pthread_t?
        /// Number of the job being run (0: none), of the last one queued, and of the last one raised (it and the
        /// jobs queued before it run at the normal policy).
        var running: UInt64 = 0
        var queued: UInt64 = 0
        var raisedUpTo: UInt64 = 0
    }

    /// What the thread shares with its owner (the thread holds this, not the owner, so releasing the owner stops it).
    private final class Shared: Sendable {
        let state = Mutex(State())
        let ready = DispatchSemaphore(value: 0)
        let lowersPriority: Bool
        /// Whether the thread runs at SCHED_IDLE now. The thread never holds `state` while it goes idle: an idle
        /// thread can lose its core at any moment, and whoever waited for the lock would wait with it.
        let idle = Atomic(false)

        init(lowersPriority: Bool) { self.lowersPriority = lowersPriority }

        /// Raises job `number` and those queued before it to the normal policy: the thread at once if it runs one of
        /// them or is about to pick one (an idle thread between jobs may itself wait for a core to pick it up).
        func raise(upTo number: UInt64) {
            state.withLock { s in
                s.raisedUpTo = max(s.raisedUpTo, number)
                guard idle.load(ordering: .acquiring), let current = s.running != 0 ? s.running : s.jobs.first?.number, current <= number,
                    let thread = s.thread
                else { return }
                if LogWriterThread.setPolicy(thread, LogWriterThread.normal) { idle.store(false, ordering: .releasing) }
            }
        }
    }

    private let shared: Shared
    var lowersPriority: Bool { shared.lowersPriority }

    init(name: String) {
        shared = Shared(lowersPriority: Self.mayRaiseBack)
        let thread = Thread { [shared] in
            let me = pthread_self()
            shared.state.withLock { $0.thread = me }
            while true {
                shared.ready.wait()
                let picked = shared.state.withLock { s -> (number: UInt64, idle: Bool, run: @Sendable () -> Void)? in
                    guard !s.jobs.isEmpty else { return nil }
                    let job = s.jobs.removeFirst()
                    s.running = job.number
                    return (job.number, job.idle && job.number > s.raisedUpTo, job.run)
                }
                guard let picked else { return }   // woken with no job: stopped
                if shared.lowersPriority {
                    if picked.idle, !shared.idle.load(ordering: .acquiring) {
                        // Marked first, so a raise from now on sets the policy back; one that came before is seen below.
                        shared.idle.store(true, ordering: .releasing)
                        if !Self.setPolicy(me, Self.idlePolicy) { shared.idle.store(false, ordering: .releasing) }
                        if shared.state.withLock({ $0.raisedUpTo >= picked.number }), Self.setPolicy(me, Self.normal) {
                            shared.idle.store(false, ordering: .releasing)
                        }
                    } else if !picked.idle, shared.idle.load(ordering: .acquiring), Self.setPolicy(me, Self.normal) {
                        shared.idle.store(false, ordering: .releasing)
                    }
                }
                picked.run()
                shared.state.withLock { $0.running = 0 }
            }
        }
        thread.name = name
        thread.start()
    }

    /// Called by a job between pieces of its work: while the job runs idle, the thread sleeps for a moment, so a
    /// thread of another process waiting for this core gets it. SCHED_IDLE alone does not do that: the scheduler
    /// weighs processes (sessions) against each other first, and once this process's turn on a core came, the
    /// writer kept the core for the rest of its slice (about 2 ms at one connection, the whole p99) while the
    /// benchmark's client in another session waited.
    func giveWay() {
        guard shared.idle.load(ordering: .acquiring) else { return }
        usleep(50)
    }

    deinit {
        shared.state.withLock { $0.stopped = true }
        shared.ready.signal()
    }

    /// Runs `body` on the thread and returns its result; after `patience` (at once when it is zero) it runs at the
    /// normal policy.
    func run<T: Sendable>(patience: Duration, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        let number = shared.state.withLock { s in
            s.queued += 1
            return s.queued
        }
        let idle = patience > .zero
        let raise = Task { [shared] in
            guard idle else { return }
            try await Task.sleep(for: patience)
            shared.raise(upTo: number)
        }
        defer { raise.cancel() }
        return try await withCheckedThrowingContinuation { continuation in
            shared.state.withLock { $0.jobs.append((number, idle, { continuation.resume(with: Result { try body() }) })) }
            shared.ready.signal()
        }
    }

    static let normal: Int32 = 0   // SCHED_OTHER
    static let idlePolicy: Int32 = 5   // SCHED_IDLE

    static func setPolicy(_ thread: pthread_t, _ policy: Int32) -> Bool {
        var parameters = sched_param()
        return pthread_setschedparam(thread, policy, &parameters) == 0
    }

    /// Whether a thread of this process may come back from SCHED_IDLE: the kernel allows it with CAP_SYS_NICE or an
    /// RLIMIT_NICE of 20 or more (the limit for nice 0). Read, not tried: a thread that goes idle to try may wait long
    /// for a core on a busy machine, and whoever waits for its answer with it (this ran on the concurrency pool at
    /// start: PostgreSQL tests timed out behind it while the suite ran).
    static let mayRaiseBack: Bool = {
        var limit = rlimit()
        if getrlimit(__rlimit_resource_t(13 /* RLIMIT_NICE */), &limit) == 0, limit.rlim_cur >= 20 { return true }
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
              let mask = UInt64(line.dropFirst("CapEff:".count).trimmingCharacters(in: .whitespaces), radix: 16)
        else { return false }
        return mask & (1 << 23 /* CAP_SYS_NICE */) != 0
    }()
}
