import FerryEngine
import Logging
import ServiceLifecycle

/// Runs the prediction log's writer; on shutdown it writes what is still queued, then returns.
struct PredictionLogService: Service {
    let logger: PredictionLogger

    func run() async throws {
        await withGracefulShutdownHandler {
            await logger.run()
        } onGracefulShutdown: {
            logger.finish()
        }
    }
}

/// Evaluates the alert rules on a schedule until shutdown.
struct AlertService: Service {
    let alerts: AlertManager
    let interval: Duration

    func run() async throws {
        await withGracefulShutdownHandler {
            await alerts.run(interval: interval)
        } onGracefulShutdown: {
            alerts.finish()
        }
    }
}

/// Evaluates running rollouts' gates on a schedule until shutdown.
struct RolloutService: Service {
    let endpoints: Endpoints
    let interval: Duration

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await endpoints.tick()
                try? await Task.sleep(for: interval)
            }
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
