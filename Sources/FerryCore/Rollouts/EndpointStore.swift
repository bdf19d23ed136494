import Foundation

/// One recorded step of a rollout: what happened, the traffic before and after, and the numbers behind it.
public struct RolloutEvent: Sendable, Equatable, Codable {
    public var sequence: Int64
    public var endpoint: String
    public var at: Date
    /// `started`, `advanced`, `promoted`, `rolled_back`, `paused`, `resumed`.
    public var action: String
    public var stable: VersionRef
    public var candidate: VersionRef
    public var fromPercent: Double
    public var toPercent: Double
    public var gates: [GateResult]
    public var observation: RolloutObservation?
    public var by: String
    public var reason: String?

    enum CodingKeys: String, CodingKey {
        case sequence, endpoint, at, action, stable, candidate, gates, observation, by, reason
        case fromPercent = "from_percent", toPercent = "to_percent"
    }

    public init(
        endpoint: String, at: Date, action: String, stable: VersionRef, candidate: VersionRef, fromPercent: Double,
        toPercent: Double, gates: [GateResult] = [], observation: RolloutObservation? = nil, by: String, reason: String? = nil
    ) {
        self.sequence = 0
        self.endpoint = endpoint
        self.at = at
        self.action = action
        self.stable = stable
        self.candidate = candidate
        self.fromPercent = fromPercent
        self.toPercent = toPercent
        self.gates = gates
        self.observation = observation
        self.by = by
        self.reason = reason
    }
}

/// Persistent endpoints, their rollouts and the rollouts' events.
public protocol EndpointStore: Sendable {
    /// Creates or replaces an endpoint.
    func putEndpoint(_ endpoint: Endpoint, audit: AuditBuilder<Endpoint>?) async throws
    /// All endpoints, by name.
    func endpoints() async throws -> [Endpoint]
    /// Deletes an endpoint and its rollout history; `.notFound` when it does not exist.
    func deleteEndpoint(name: String, audit: AuditBuilder<Endpoint>?) async throws
    /// Saves a rollout's state, the endpoint's traffic that goes with it and the event, in one transaction;
    /// returns the event with its sequence number.
    @discardableResult
    func saveRollout(_ rollout: Rollout, endpoint: Endpoint, event: RolloutEvent, audit: AuditBuilder<RolloutEvent>?) async throws -> RolloutEvent
    /// The latest rollout of every endpoint that had one.
    func rollouts() async throws -> [Rollout]
    /// An endpoint's rollout events, oldest first, the newest `limit` of them.
    func rolloutEvents(endpoint: String, limit: Int) async throws -> [RolloutEvent]
}
