import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One OS thread at a lower CPU priority (nice 10) running jobs one after another. Work that must never delay
/// serving runs here: when a request's thread and this one both want a core, the request's thread gets it.
/// The thread ends when this object is released.
final class BackgroundThread: Sendable {
    private struct Queue {
        var jobs: [@Sendable () -> Void] = []
        var stopped = false
    }

    /// What the thread shares with its owner (the thread holds this, not the owner, so releasing the owner stops it).
    private final class Shared: Sendable {
        let queue = Mutex(Queue())
        let ready = DispatchSemaphore(value: 0)
    }

    private let shared = Shared()

    init(name: String) {
        let thread = Thread { [shared] in
            // On Linux the nice value belongs to the thread; 0 names the calling one.
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
            while true {
                shared.ready.wait()
                let next = shared.queue.withLock { q -> (@Sendable () -> Void)? in q.jobs.isEmpty ? nil : q.jobs.removeFirst() }
                guard let next else { return }   // woken with no job: stopped
                next()
            }
        }
        thread.name = name
        thread.start()
    }

    deinit {
        shared.queue.withLock { $0.stopped = true }
        shared.ready.signal()
    }

    /// Runs `body` on the thread and returns its result.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            shared.queue.withLock { $0.jobs.append { continuation.resume(with: Result { try body() }) } }
            shared.ready.signal()
        }
    }
}
