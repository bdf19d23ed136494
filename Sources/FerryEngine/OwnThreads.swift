import Foundation
import Synchronization

/// Long CPU-bound work on threads of its own, off the cooperative pool (which it would hold for its whole length, so
/// requests would wait). With `idle`, the threads run only when nothing else wants the CPU (Linux's SCHED_IDLE
/// policy): a batch job's work, so online traffic goes first.
enum OwnThreads {
    /// Runs `body` for each part on its own new thread; returns every part's result, in order.
    static func run<T: Sendable>(parts: Int, idle: Bool, _ body: @escaping @Sendable (Int) -> T) async -> [T] {
        let results = Results<T>(count: parts)
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            for p in 0..<parts {
                let thread = Thread {
                    #if os(Linux)
                    if idle {
                        var parameters = sched_param()
                        _ = pthread_setschedparam(pthread_self(), 5 /* SCHED_IDLE */, &parameters)
                    }
                    #endif
                    if results.set(p, body(p)) { done.resume() }
                }
                thread.start()
            }
        }
        return results.all()
    }

    /// Runs `body` for items `0..<count` on `threads` idle-priority threads, each taking the next item when it is
    /// done with one; returns every item's result, in order.
    static func each<T: Sendable>(_ count: Int, threads: Int, _ body: @escaping @Sendable (Int) -> T) async -> [T] {
        let next = Atomic(0)
        let taken = await run(parts: max(1, min(threads, count)), idle: true) { _ in
            var done: [(Int, T)] = []
            while case let item = next.add(1, ordering: .relaxed).oldValue, item < count { done.append((item, body(item))) }
            return done
        }
        return taken.flatMap { $0 }.sorted { $0.0 < $1.0 }.map(\.1)
    }

    final class Results<T: Sendable>: Sendable {
        private let state: Mutex<(values: [T?], left: Int)>
        init(count: Int) { state = Mutex((Array(repeating: nil, count: count), count)) }
        /// Stores a part's result; true for the last one.
        func set(_ index: Int, _ value: T) -> Bool {
            state.withLock { s in
                s.values[index] = value
                s.left -= 1
                return s.left == 0
            }
        }
        func all() -> [T] { state.withLock { $0.values.map { $0! } } }
    }
}
