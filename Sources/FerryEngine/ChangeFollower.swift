import FerryCore
import Foundation
import Logging
import Synchronization

/// Keeps a replica's in-memory state (model routes, endpoints and rollouts, API keys) in step with changes other
/// replicas commit to the shared store.
///
/// Every change is committed with its audit entry in one transaction, and entries are numbered in commit order, so
/// the audit trail is the change log: the follower reads the entries after the last one it applied and reloads what
/// each names. It polls (the truth: nothing is missed) and also wakes on hints (PostgreSQL's NOTIFY) to act sooner.
/// Reloading is idempotent, so the replica's own changes, read back, cost a reload and nothing else.
public final class ChangeFollower: Sendable {
    private let audit: any AuditStore
    private let models: ModelManager
    private let endpoints: Endpoints
    private let authenticator: Authenticator
    private let features: FeatureService?
    private let logger: Logger
    private let position: Mutex<Int64>

    /// Follows changes committed after entry `after` (read the head before loading the state it reloads).
    public init(
        audit: any AuditStore, after: Int64, models: ModelManager, endpoints: Endpoints, authenticator: Authenticator,
        features: FeatureService? = nil, logger: Logger
    ) {
        self.features = features
        self.audit = audit
        self.models = models
        self.endpoints = endpoints
        self.authenticator = authenticator
        self.logger = logger
        self.position = Mutex(after)
    }

    /// The number of the last audit entry applied.
    public var applied: Int64 { position.withLock { $0 } }

    /// Applies every change committed since the last call; returns how many entries it read.
    @discardableResult
    public func poll() async -> Int {
        var total = 0
        while true {
            let after = position.withLock { $0 }
            let entries: [AuditEntry]
            do {
                entries = try await audit.auditEntries(after: after, limit: 500)
            } catch {
                logger.warning("could not read changes from the store", metadata: ["error": "\(error)"])
                return total
            }
            guard let last = entries.last else { return total }
            do {
                try await apply(entries)
            } catch {
                // Not marked applied: the next poll tries these entries again.
                logger.warning("could not apply changes from the store; retrying at the next poll", metadata: ["error": "\(error)"])
                return total
            }
            position.withLock { $0 = max($0, last.seq) }
            total += entries.count
            if entries.count < 500 { return total }
        }
    }

    /// Polls every `interval`, and at once on each hint, until cancelled.
    public func run(interval: Duration, hints: AsyncStream<Void>?) async {
        await withTaskGroup(of: Void.self) { group in
            let (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
            if let hints {
                group.addTask {
                    for await _ in hints { wake.yield() }
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    wake.yield()
                }
                wake.finish()
            }
            for await _ in wakeups {
                if Task.isCancelled { break }
                await poll()
            }
            group.cancelAll()
        }
    }

    private func apply(_ entries: [AuditEntry]) async throws {
        var routes = Set<String>()
        var archived: [(String, Int)] = []
        var endpointNames = Set<String>()
        var keys = false
        var featureDefinitions = false
        for entry in entries {
            let domain = entry.action.prefix { $0 != "." }
            switch domain {
            case "model":
                routes.insert(entry.target)
            case "version", "alias":
                // "model/3" or "model@alias"
                let model = String(entry.target.prefix { $0 != "/" && $0 != "@" })
                routes.insert(model)
                if entry.action == "version.archive", let number = Int(entry.target.split(separator: "/").last ?? "") {
                    archived.append((model, number))
                }
            case "endpoint", "rollout":
                if entry.target.hasPrefix("endpoint:") { endpointNames.insert(String(entry.target.dropFirst("endpoint:".count))) }
            case "key":
                keys = true
            case "features":
                featureDefinitions = true
            default:
                break   // alert rules and reference profiles are read from the store when used
            }
        }
        for (model, number) in archived { models.archived(model: model, version: number) }
        for model in routes.sorted() { try await models.refresh(model: model) }
        if !endpointNames.isEmpty { try await endpoints.reload(names: endpointNames) }
        if keys { try await authenticator.reload() }
        if featureDefinitions { try await features?.reload() }
    }
}
