import FerryCore
import Foundation
import Logging
import PostgresNIO
import Synchronization

/// One replica's seat among those sharing a PostgreSQL database, on a connection of its own (outside the pool):
///
/// - **Leadership**: a session advisory lock. The replica holding it runs the singletons; PostgreSQL releases it
///   when the session ends, so a replica killed outright hands over as soon as its connection drops. Others try
///   to take it every `interval`; the leader checks its connection as often and steps down when it fails.
/// - **Change hints**: LISTEN on the channel every committed change is announced on. A hint only makes the
///   replica read the audit trail sooner; the trail, polled, stays the truth (a notification sent while nobody
///   listened is lost).
public final class PostgresCoordinator: Leadership, Sendable {
    static let leaderLockKey: Int64 = 0x4665_7272_7902

    private let url: String
    private let logger: Logger
    private let interval: Duration
    private let leading = Atomic<Bool>(false)
    private let stopping = Atomic<Bool>(false)
    private let hintContinuation: AsyncStream<Void>.Continuation
    /// Yields when another replica (or this one) committed a change.
    public let hints: AsyncStream<Void>

    public init(url: String, logger: Logger, interval: Duration = .seconds(1)) {
        self.url = url
        self.logger = logger
        self.interval = interval
        (hints, hintContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    public var isLeader: Bool { leading.load(ordering: .acquiring) }

    /// Campaigns for leadership and listens for changes until `release()` or cancellation, reconnecting after a
    /// failure.
    public func run() async {
        while !stopping.load(ordering: .acquiring) && !Task.isCancelled {
            do {
                let connection = try await PostgresDatabase.connect(url, logger: logger)
                do {
                    try await session(connection)
                } catch {
                    step(down: "the coordination connection failed: \(error)")
                }
                try? await connection.close()
            } catch {
                logger.warning("cannot open the coordination connection to PostgreSQL", metadata: ["error": "\(error)"])
            }
            step(down: "the coordination connection closed")
            await pause(for: interval, step: .milliseconds(100), unless: { stopping.load(ordering: .acquiring) })
        }
        hintContinuation.finish()
    }

    /// Gives leadership up now (on shutdown), so another replica takes over without waiting for this one to exit.
    public func release() {
        stopping.store(true, ordering: .releasing)
    }

    private func session(_ connection: PostgresConnection) async throws {
        try await connection.listen(on: PostgresMetadataStore.changeChannel) { notifications in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for try await _ in notifications { self.hintContinuation.yield() }
                }
                group.addTask { try await self.campaign(connection) }
                try await group.next()
                group.cancelAll()
            }
        }
    }

    /// Takes the lock when it is free and keeps checking the connection; returns once released.
    private func campaign(_ connection: PostgresConnection) async throws {
        while !Task.isCancelled {
            if stopping.load(ordering: .acquiring) {
                if isLeader {
                    // Stop acting as the leader before the lock is free, so no two replicas ever both believe they lead.
                    step(down: "shutting down")
                    try await PostgresDatabase.execute(connection, "SELECT pg_advisory_unlock(\(Self.leaderLockKey))", logger)
                }
                return
            }
            if isLeader {
                try await PostgresDatabase.execute(connection, "SELECT 1", logger)
            } else {
                let rows = try await PostgresDatabase.rows(connection, "SELECT pg_try_advisory_lock(\(Self.leaderLockKey)) AS taken", logger)
                if try rows.first?["taken"].decode(Bool.self) == true {
                    leading.store(true, ordering: .releasing)
                    logger.notice("this replica now leads: it runs rollouts, alert evaluation, retention and webhooks")
                }
            }
            // Short sleeps, so a release is acted on at once.
            await pause(for: interval, step: .milliseconds(100), unless: { stopping.load(ordering: .acquiring) })
            try Task.checkCancellation()
        }
    }

    private func step(down reason: String) {
        if leading.exchange(false, ordering: .acquiringAndReleasing) {
            logger.notice("this replica no longer leads", metadata: ["reason": "\(reason)"])
        }
    }
}
