import FerryCore
import FerryEngine
import FerryStorePostgres
import Foundation
import Logging
import ServiceLifecycle

/// Runs the prediction log's writer (every replica) and its retention (the leader); on shutdown it writes what is
/// still queued, then returns.
struct PredictionLogService: Service {
    let logger: PredictionLogger
    let leadership: any Leadership

    func run() async throws {
        await withGracefulShutdownHandler {
            await logger.run(retentionWhen: { leadership.isLeader })
        } onGracefulShutdown: {
            logger.finish()
        }
    }
}

/// Evaluates the alert rules on a schedule while this replica leads, until shutdown.
struct AlertService: Service {
    let alerts: AlertManager
    let interval: Duration
    let leadership: any Leadership

    func run() async throws {
        await withGracefulShutdownHandler {
            await alerts.run(interval: interval, when: { leadership.isLeader })
        } onGracefulShutdown: {
            alerts.finish()
        }
    }
}

/// Runs retraining jobs while this replica leads (one runner for the cluster), until shutdown.
struct RetrainService: Service {
    let retrainer: Retrainer
    let interval: Duration
    let leadership: any Leadership

    func run() async throws {
        await withGracefulShutdownHandler {
            await retrainer.run(interval: interval, when: { leadership.isLeader })
        } onGracefulShutdown: {
            retrainer.finish()
        }
    }
}

/// On the leader, records approval requests that expired without a decision (audited when they expire).
struct ApprovalExpiryService: Service {
    let approvals: Approvals
    let leadership: any Leadership

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await approvals.run(interval: .seconds(10), when: { leadership.isLeader })
        }
    }
}

/// On every replica, adds each loaded version's memory over time to the cost figures.
struct CostService: Service {
    let cost: CostMeter
    let interval: Duration

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                cost.tick()
                try? await Task.sleep(for: interval)
            }
        }
    }
}

/// Runs batch jobs while this replica leads (one at a time for the cluster), until shutdown; a job cut short
/// resumes from its checkpoint on the next leader or start.
struct BatchJobService: Service {
    let jobs: BatchScoring
    let interval: Duration
    let leadership: any Leadership

    func run() async throws {
        await withGracefulShutdownHandler {
            await jobs.run(interval: interval, when: { leadership.isLeader })
        } onGracefulShutdown: {
            jobs.finish()
        }
    }
}

/// On every replica, stores the figures of running rollouts; on the leader, also evaluates their gates and, once
/// an hour, deletes figures of rollouts that began more than 30 days ago.
struct RolloutService: Service {
    let endpoints: Endpoints
    let store: any ObservationStore
    let interval: Duration
    let leadership: any Leadership

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var lastPurge = ContinuousClock.now - .seconds(3600)
            while !Task.isCancelled {
                if leadership.isLeader {
                    await endpoints.tick()
                    if ContinuousClock.now - lastPurge >= .seconds(3600) {
                        _ = try? await store.purgeTallies(before: Date().addingTimeInterval(-30 * 86400))
                        lastPurge = ContinuousClock.now
                    }
                } else {
                    await endpoints.publish()
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}

/// Takes part in leadership among replicas; on shutdown gives the lead up at once.
struct CoordinatorService: Service {
    let coordinator: PostgresCoordinator

    func run() async throws {
        await withGracefulShutdownHandler {
            await coordinator.run()
        } onGracefulShutdown: {
            coordinator.release()
        }
    }
}

/// Applies the changes other replicas commit, until shutdown.
struct FollowerService: Service {
    let follower: ChangeFollower
    let interval: Duration
    let hints: AsyncStream<Void>?

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await follower.run(interval: interval, hints: hints)
        }
    }
}

/// Reports not-ready as soon as shutdown begins, so load balancers stop sending traffic while requests drain.
struct ReadinessService: Service {
    let dataPlane: DataPlane
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        dataPlane.setReady(false)
        logger.info("shutting down: readiness is now false, draining in-flight requests")
    }
}
