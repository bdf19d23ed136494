import FerryCore
import Foundation
import Logging
import Synchronization

/// Endpoints and their rollouts: the traffic table the data plane reads on every endpoint request, the per-variant
/// figures the rollout gates judge, and the controller that carries the pure `Rollout.decide` out.
///
/// Every change is persisted (with its audit entry and, for rollouts, its event) before the in-memory table
/// switches, and every version an endpoint may route to is loaded and warmed before it gets traffic.
///
/// With several replicas, each counts the requests it serves and stores its figures per rollout step
/// (`publish`), and the replica that leads judges the gates on the sum (`tick`). Changes other replicas commit
/// arrive through `reload(names:)`.
public final class Endpoints: Sendable {
    struct State: Sendable {
        var endpoints: [String: Endpoint] = [:]
        var rollouts: [String: Rollout] = [:]
        var lastGates: [String: [GateResult]] = [:]
        var lastObservation: [String: RolloutObservation] = [:]
    }

    struct StatsKey: Hashable, Sendable {
        var endpoint: String
        var version: VersionRef
    }

    private let store: any EndpointStore & ObservationStore
    /// Where protected endpoints are recorded: they change only through `Approvals`.
    private let protections: (any ApprovalStore)?
    var observations: any ObservationStore { store }
    /// Names this replica's figures in the store.
    private let replica: String
    let models: ModelManager
    /// Feedback-based accuracy for the gates; nil when the prediction log is off.
    private let monitor: ModelMonitor?
    private let now: @Sendable () -> Date
    private let logger: Logger
    private let state = Mutex(State())
    private let stats = Mutex<[StatsKey: VariantCounter]>([:])
    /// Requests counted in each figure last stored, so unchanged figures are not written again.
    private let published = Mutex<[StatsKey: Int]>([:])
    /// Comparisons counted in each shadow figure last stored.
    private let publishedShadows = Mutex<[ShadowRecorder.Key: Int]>([:])
    private let caches = Mutex<[String: PredictionCache]>([:])
    let shadows: ShadowRecorder

    public init(
        store: any EndpointStore & ObservationStore, models: ModelManager, monitor: ModelMonitor?, logger: Logger,
        replica: String = "local", protections: (any ApprovalStore)? = nil, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.store = store
        self.protections = protections
        self.replica = replica
        self.models = models
        self.monitor = monitor
        self.logger = logger
        // Times kept at the store's precision, so a rollout read back from the store equals the one in memory.
        self.now = { now().roundedToMilliseconds }
        self.shadows = ShadowRecorder(replica: replica)
    }

    /// Reads endpoints and rollouts from the store and warms every version they route to. A running rollout
    /// carries on where it was: its step's figures are in the store.
    public func load() async throws {
        let endpoints = try await store.endpoints()
        let rollouts = Dictionary(try await store.rollouts().map { ($0.endpoint, $0) }, uniquingKeysWith: { _, last in last })
        await warm(endpoints)
        state.withLock { state in
            state.endpoints = Dictionary(uniqueKeysWithValues: endpoints.map { ($0.name, $0) })
            state.rollouts = rollouts
        }
    }

    /// Re-reads the named endpoints and their rollouts after a change committed elsewhere (another replica),
    /// warming the versions they now route to before switching. A rollout that moved to another step starts
    /// counting the candidate afresh, as the replica that moved it did.
    public func reload(names: Set<String>) async throws {
        let endpoints = try await store.endpoints().filter { names.contains($0.name) }
        let rollouts = try await store.rollouts().filter { names.contains($0.endpoint) }
        await warm(endpoints)
        var resets: [(String, keepStable: Bool)] = []
        state.withLock { state in
            for name in names {
                let before = state.rollouts[name]
                let after = rollouts.last { $0.endpoint == name }
                state.endpoints[name] = endpoints.first { $0.name == name }
                state.rollouts[name] = after
                guard before != after else { continue }
                if before?.startedAt != after?.startedAt {
                    resets.append((name, false))
                } else if before?.stepStartedAt != after?.stepStartedAt {
                    resets.append((name, true))
                }
            }
        }
        for (name, keepStable) in resets { resetStats(name, keepStable: keepStable) }
    }

    private func warm(_ endpoints: [Endpoint]) async {
        for endpoint in endpoints {
            for ref in endpoint.variants.map(\.ref) + endpoint.shadows.map(\.ref) {
                do {
                    _ = try await models.served(model: ref.model, selector: .number(ref.version))
                } catch {
                    logger.error("endpoint version failed to load", metadata: ["endpoint": "\(endpoint.name)", "version": "\(ref)", "error": "\(error)"])
                }
            }
        }
    }

    // MARK: Reading (request path)

    /// The endpoint named `name`, if any (one lock, no I/O).
    public func endpoint(named name: String) -> Endpoint? {
        state.withLock { $0.endpoints[name] }
    }

    public func all() -> [Endpoint] {
        state.withLock { $0.endpoints.values.sorted { $0.name < $1.name } }
    }

    /// The variant a failed request falls back to: a rollout's stable version, else the heaviest variant.
    public func primary(of endpoint: Endpoint) -> Endpoint.Variant {
        if let rollout = state.withLock({ $0.rollouts[endpoint.name] }), !rollout.status.isFinished,
           let stable = endpoint.variants.first(where: { $0.ref == rollout.stable }) {
            return stable
        }
        return endpoint.variants.max { $0.weight < $1.weight }!
    }

    /// Counts one request answered (or failed) by `version` through `endpoint`, with its first output per row.
    public func record(endpoint: String, version: VersionRef, seconds: Double, failed: Bool, outputs: [Double]) {
        counter(StatsKey(endpoint: endpoint, version: version)).record(seconds: seconds, failed: failed, outputs: outputs)
    }

    private func counter(_ key: StatsKey) -> VariantCounter {
        stats.withLock { all in
            if let existing = all[key] { return existing }
            let created = VariantCounter()
            all[key] = created
            return created
        }
    }

    /// The endpoint's answer cache, when it has one (rebuilt empty when its settings change).
    func cache(for endpoint: Endpoint) -> PredictionCache? {
        guard let spec = endpoint.cache else { return nil }
        return caches.withLock { all in
            if let existing = all[endpoint.name], existing.spec == spec { return existing }
            let created = PredictionCache(spec: spec)
            all[endpoint.name] = created
            return created
        }
    }

    /// Cache figures per endpoint: hits, misses, entries and their estimated bytes.
    public var cacheCounts: [(endpoint: String, hits: UInt64, misses: UInt64, entries: Int, bytes: Int)] {
        caches.withLock { all in all.map { name, cache in
            let c = cache.counts
            return (name, c.hits, c.misses, c.entries, c.bytes)
        } }.sorted { $0.endpoint < $1.endpoint }
    }

    // MARK: Endpoint changes

    /// Creates or replaces an endpoint after loading and warming every version it names. A protected endpoint
    /// changes only `approved` (through `Approvals`), here and in `delete` and `startRollout`.
    @discardableResult
    public func put(_ spec: Endpoint, by actor: String, approved: Bool = false) async throws -> Endpoint {
        try await Approvals.refuseIfProtected(protections, .endpoint(spec.name), approved: approved)
        var endpoint = spec
        endpoint.createdBy = actor
        endpoint.updatedAt = now()
        try endpoint.validate()
        if let rollout = rollout(endpoint: endpoint.name), !rollout.status.isFinished {
            throw FerryError(.failedPrecondition, "endpoint '\(endpoint.name)' has a \(rollout.status.rawValue) rollout; promote or roll it back before changing its variants")
        }
        if let existing = self.endpoint(named: endpoint.name) {
            endpoint.createdBy = existing.createdBy
        } else if try await models.store.model(named: endpoint.name) != nil {
            // A name answers as the endpoint first: a new endpoint named like a model would take over its requests
            // (past its aliases and their protections), answering in its name with another model's outputs.
            throw FerryError(
                .alreadyExists,
                "'\(endpoint.name)' is a model; an endpoint of that name would take over its requests. Name the endpoint differently (e.g. '\(endpoint.name)-ep')")
        }
        try await prepare(endpoint.variants.map(\.ref) + endpoint.shadows.map(\.ref) + (endpoint.fallback?.ref.map { [$0] } ?? []))
        let before = self.endpoint(named: endpoint.name)
        let time = endpoint.updatedAt
        try await store.putEndpoint(endpoint) { stored in
            AuditDraft(
                at: time, actor: actor, action: "endpoint.put", target: "endpoint:\(stored.name)",
                before: try before.map { try JSONValue(encoding: $0) }, after: try JSONValue(encoding: stored))
        }
        state.withLock { $0.endpoints[endpoint.name] = endpoint }
        logger.info("endpoint saved", metadata: ["endpoint": "\(endpoint.name)", "by": "\(actor)"])
        return endpoint
    }

    public func delete(name: String, by actor: String, approved: Bool = false) async throws {
        try await Approvals.refuseIfProtected(protections, .endpoint(name), approved: approved)
        if let rollout = rollout(endpoint: name), !rollout.status.isFinished {
            throw FerryError(.failedPrecondition, "endpoint '\(name)' has a \(rollout.status.rawValue) rollout; promote or roll it back first")
        }
        let time = now()
        try await store.deleteEndpoint(name: name) { endpoint in
            AuditDraft(at: time, actor: actor, action: "endpoint.delete", target: "endpoint:\(name)", before: try JSONValue(encoding: endpoint))
        }
        state.withLock { state in
            state.endpoints[name] = nil
            state.rollouts[name] = nil
        }
    }

    /// Loads and warms versions, refusing archived or unknown ones by name.
    private func prepare(_ refs: [VersionRef]) async throws {
        for ref in Set(refs) {
            guard let version = try await models.store.version(model: ref.model, number: ref.version) else {
                throw FerryError.notFound("model '\(ref.model)' has no version \(ref.version)")
            }
            guard !version.archived else {
                throw FerryError(.failedPrecondition, "version \(ref.version) of model '\(ref.model)' is archived and cannot take traffic")
            }
            try await models.prepare(version)
        }
    }

    // MARK: Rollouts

    public func rollout(endpoint: String) -> Rollout? {
        state.withLock { $0.rollouts[endpoint] }
    }

    /// The latest gate verdicts and observation of an endpoint's rollout (from the last evaluation).
    public func lastEvaluation(endpoint: String) -> (gates: [GateResult], observation: RolloutObservation?) {
        state.withLock { ($0.lastGates[endpoint] ?? [], $0.lastObservation[endpoint]) }
    }

    public func events(endpoint: String, limit: Int = 100) async throws -> [RolloutEvent] {
        guard self.endpoint(named: endpoint) != nil else { throw FerryError.notFound("no endpoint named '\(endpoint)'") }
        return try await store.rolloutEvents(endpoint: endpoint, limit: limit)
    }

    /// Starts a rollout by strategy (`canary`, the default, or `blue-green`); what is not given takes the
    /// strategy's defaults (`RolloutPlan.make`).
    @discardableResult
    public func startRollout(
        endpoint name: String, to candidate: VersionRef, strategy: String?, steps: [Double]?, bakeSeconds: Double?,
        gates: RolloutGates?, by actor: String, approved: Bool = false
    ) async throws -> Rollout {
        let plan = try RolloutPlan.make(strategy: strategy, steps: steps, bakeSeconds: bakeSeconds, gates: gates)
        return try await startRollout(endpoint: name, to: candidate, plan: plan, by: actor, approved: approved)
    }

    /// Starts moving `endpoint` from its current version to `candidate` along `plan`. The candidate is loaded and
    /// warmed first; the stable version is the endpoint's heaviest variant.
    @discardableResult
    public func startRollout(
        endpoint name: String, to candidate: VersionRef, plan: RolloutPlan, by actor: String, approved: Bool = false
    ) async throws -> Rollout {
        try plan.validate()
        try await Approvals.refuseIfProtected(protections, .endpoint(name), approved: approved)
        guard var endpoint = self.endpoint(named: name) else { throw FerryError.notFound("no endpoint named '\(name)'") }
        if let existing = rollout(endpoint: name), !existing.status.isFinished {
            throw FerryError(.failedPrecondition, "endpoint '\(name)' already has a \(existing.status.rawValue) rollout to \(existing.candidate); promote or roll it back first")
        }
        let stable = primary(of: endpoint).ref
        guard candidate != stable else {
            throw FerryError(.failedPrecondition, "\(candidate) already serves endpoint '\(name)'")
        }
        try await prepare([candidate])
        // The fairness gate compares the candidate's groups with the stable version's: both must have them.
        if let attribute = plan.gates.fairnessAttribute {
            for ref in [stable, candidate] {
                guard let version = try await models.store.version(model: ref.model, number: ref.version) else { continue }
                try version.inputSchema.checkFairnessAttribute(attribute, field: "field 'gates.fairness_attribute'", model: ref.model, version: ref.version)
            }
        }
        let time = now()
        let rollout = Rollout(endpoint: name, stable: stable, candidate: candidate, plan: plan, by: actor, at: time)
        endpoint.variants = Self.traffic(rollout)
        endpoint.updatedAt = time
        resetStats(name, keepStable: false)
        // The previous rollout's verdicts are not this one's: a fresh rollout has none until its first evaluation.
        state.withLock { state in
            state.lastGates[name] = nil
            state.lastObservation[name] = nil
        }
        try await save(rollout, endpoint, RolloutEvent(
            endpoint: name, at: time, action: "started", stable: stable, candidate: candidate, fromPercent: 0,
            toPercent: rollout.candidatePercent, by: actor, reason: "plan \(plan.steps.map { Rollout.format($0) }.joined(separator: "→"))%, bake \(Rollout.format(plan.bakeSeconds)) s"))
        return rollout
    }

    /// Pause, resume, promote or roll back by hand.
    @discardableResult
    public func command(_ command: Rollout.Command, endpoint name: String, by actor: String) async throws -> Rollout {
        guard var rollout = rollout(endpoint: name), var endpoint = self.endpoint(named: name) else {
            throw FerryError.notFound("endpoint '\(name)' has no rollout")
        }
        let before = rollout.candidatePercent
        let time = now()
        try rollout.apply(command, by: actor, at: time)
        Self.apply(rollout, to: &endpoint, at: time)
        if command == .resume { resetStats(name, keepStable: true) }
        let action = switch command {
        case .pause: "paused"
        case .resume: "resumed"
        case .promote: "promoted"
        case .rollback: "rolled_back"
        }
        try await save(rollout, endpoint, RolloutEvent(
            endpoint: name, at: time, action: action, stable: rollout.stable, candidate: rollout.candidate,
            fromPercent: before, toPercent: rollout.candidatePercent, by: actor, reason: rollout.reason))
        return rollout
    }

    /// Evaluates every running rollout once: observes its step (every replica's figures), decides, and carries
    /// the decision out. Only the leading replica calls it.
    public func tick() async {
        await publish()
        let running = state.withLock { $0.rollouts.values.filter { $0.status == .running } }
        for rollout in running {
            do {
                try await evaluate(rollout)
            } catch {
                logger.error("rollout evaluation failed", metadata: ["endpoint": "\(rollout.endpoint)", "error": "\(error)"])
            }
        }
    }

    private func evaluate(_ snapshot: Rollout) async throws {
        let observation = try await observe(snapshot)
        let time = now()
        let (decision, gates) = snapshot.decide(observation, now: time)
        state.withLock { state in
            state.lastGates[snapshot.endpoint] = gates
            state.lastObservation[snapshot.endpoint] = observation
        }
        guard case .wait = decision else {
            // Re-read: an operator command may have landed while this evaluation observed.
            guard var rollout = rollout(endpoint: snapshot.endpoint), rollout == snapshot,
                  var endpoint = endpoint(named: snapshot.endpoint) else { return }
            // And the store: a replica that just took the lead may not have read the last step its predecessor
            // saved; acting on the older state would repeat that step.
            guard try await store.rollouts().first(where: { $0.endpoint == snapshot.endpoint }) == snapshot else {
                logger.notice("rollout changed in the store since it was read; deciding again at the next evaluation", metadata: [
                    "endpoint": "\(snapshot.endpoint)"])
                return
            }
            let before = rollout.candidatePercent
            rollout.apply(decision, at: time)
            Self.apply(rollout, to: &endpoint, at: time)
            let action = switch decision {
            case .advance: "advanced"
            case .promote: "promoted"
            case .rollback: "rolled_back"
            case .wait: "waited"
            }
            if case .advance = decision { resetStats(rollout.endpoint, keepStable: true) }
            try await save(rollout, endpoint, RolloutEvent(
                endpoint: rollout.endpoint, at: time, action: action, stable: rollout.stable, candidate: rollout.candidate,
                fromPercent: before, toPercent: rollout.candidatePercent, gates: gates, observation: observation, by: "ferry",
                reason: { if case .rollback(let why) = decision { return why } else { return nil } }()))
            return
        }
    }

    /// Stores this replica's figures that changed since the last call: of every unfinished rollout (the stable
    /// version's since the rollout began, the candidate's since its step began) and of every shadow.
    public func publish() async {
        await publishShadows()
        let rollouts = state.withLock { $0.rollouts.values.filter { !$0.status.isFinished } }
        var tallies: [VariantTally] = []
        var counts: [StatsKey: Int] = [:]
        for rollout in rollouts {
            for (version, epoch) in [(rollout.stable, rollout.startedAt), (rollout.candidate, rollout.stepStartedAt)] {
                let key = StatsKey(endpoint: rollout.endpoint, version: version)
                let snapshot = counter(key).snapshot()
                guard snapshot.stats.requests > 0, published.withLock({ $0[key] }) != snapshot.stats.requests else { continue }
                counts[key] = snapshot.stats.requests
                tallies.append(VariantTally(
                    endpoint: rollout.endpoint, version: version, epoch: epoch, replica: replica, requests: snapshot.stats.requests,
                    errors: snapshot.stats.errors, outputCount: snapshot.stats.outputs, latencies: snapshot.latencies, outputs: snapshot.outputs))
            }
        }
        guard !tallies.isEmpty else { return }
        do {
            try await store.putTallies(tallies)
            published.withLock { all in all.merge(counts) { _, new in new } }
        } catch {
            logger.warning("could not store rollout figures; retrying at the next interval", metadata: ["error": "\(error)"])
        }
    }

    private func publishShadows() async {
        let changed = shadows.tallies().filter { t in
            publishedShadows.withLock { $0[ShadowRecorder.Key(endpoint: t.endpoint, shadow: t.shadow)] } != t.compared + t.errors + t.skipped
        }
        guard !changed.isEmpty else { return }
        do {
            try await store.putShadowTallies(changed)
            publishedShadows.withLock { all in
                for t in changed { all[ShadowRecorder.Key(endpoint: t.endpoint, shadow: t.shadow)] = t.compared + t.errors + t.skipped }
            }
        } catch {
            logger.warning("could not store shadow figures; retrying at the next interval", metadata: ["error": "\(error)"])
        }
    }

    /// What the gates judge, summed over every replica's stored figures: the candidate's in this step, the stable
    /// version's since the rollout began, the shift between their outputs, and accuracy on feedback when the
    /// prediction log has labels.
    func observe(_ rollout: Rollout) async throws -> RolloutObservation {
        let stable = VariantTally.sum(try await store.tallies(endpoint: rollout.endpoint, version: rollout.stable, epoch: rollout.startedAt))
        let candidate = VariantTally.sum(try await store.tallies(endpoint: rollout.endpoint, version: rollout.candidate, epoch: rollout.stepStartedAt))
        var observation = RolloutObservation(stable: stable.stats, candidate: candidate.stats)
        let minimum = rollout.plan.gates.minOutputs
        if stable.stats.outputs >= minimum, candidate.stats.outputs >= minimum {
            let psi = DriftAnalysis.numeric(reference: DistributionProfile.numeric("output", stable.outputs), current: candidate.outputs).psi
            observation.outputPSI = psi.isNaN ? nil : psi
        }
        if let monitor {
            let window = ModelMonitor.Window.range(since: rollout.stepStartedAt, until: now().addingTimeInterval(1))
            let since = ModelMonitor.Window.range(since: rollout.startedAt, until: now().addingTimeInterval(1))
            if let c = try? await monitor.performance(model: rollout.candidate.model, version: rollout.candidate.version, window: window).overall,
               let s = try? await monitor.performance(model: rollout.stable.model, version: rollout.stable.version, window: since).overall {
                observation.candidate.accuracy = c.accuracy
                observation.candidate.labelled = c.count
                observation.stable.accuracy = s.accuracy
                observation.stable.labelled = s.count
            }
            if let attribute = rollout.plan.gates.fairnessAttribute {
                observation.candidate.parityDifference = try? await monitor.fairness(
                    model: rollout.candidate.model, version: rollout.candidate.version, window: window, attribute: attribute).report.demographicParityDifference
                observation.stable.parityDifference = try? await monitor.fairness(
                    model: rollout.stable.model, version: rollout.stable.version, window: since, attribute: attribute).report.demographicParityDifference
            }
        }
        return observation
    }

    /// Persists a rollout step (state, traffic, event, audit entry together), then switches the live table.
    private func save(_ rollout: Rollout, _ endpoint: Endpoint, _ event: RolloutEvent) async throws {
        let stored = try await store.saveRollout(rollout, endpoint: endpoint, event: event) { event in
            AuditDraft(
                at: event.at, actor: event.by, action: "rollout.\(event.action)", target: "endpoint:\(event.endpoint)",
                before: ["candidate_percent": .number(event.fromPercent)],
                after: ["candidate_percent": .number(event.toPercent), "candidate": .string(event.candidate.description),
                        "stable": .string(event.stable.description), "reason": event.reason.map { .string($0) } ?? .null])
        }
        state.withLock { state in
            state.rollouts[rollout.endpoint] = rollout
            state.endpoints[endpoint.name] = endpoint
        }
        logger.notice("rollout \(stored.action)", metadata: [
            "endpoint": "\(rollout.endpoint)", "candidate": "\(rollout.candidate)", "from": "\(stored.fromPercent)",
            "to": "\(stored.toPercent)", "reason": "\(stored.reason ?? "-")"])
    }

    /// The endpoint once a rollout's state is applied: its traffic, and no shadow of a version it now serves
    /// (a promoted candidate that was shadowed before would be compared with itself).
    static func apply(_ rollout: Rollout, to endpoint: inout Endpoint, at time: Date) {
        endpoint.variants = traffic(rollout)
        endpoint.updatedAt = time
        if rollout.status == .promoted { endpoint.shadows.removeAll { $0.ref == rollout.candidate } }
    }

    /// The endpoint's variants for a rollout's state: candidate first, so sticky callers only ever move onto it.
    static func traffic(_ rollout: Rollout) -> [Endpoint.Variant] {
        let p = rollout.candidatePercent
        let candidate = Endpoint.Variant(model: rollout.candidate.model, version: rollout.candidate.version, weight: p)
        let stable = Endpoint.Variant(model: rollout.stable.model, version: rollout.stable.version, weight: 100 - p)
        if p >= 100 { return [candidate] }
        if p <= 0 { return [stable] }
        return [candidate, stable]
    }

    private func resetStats(_ endpoint: String, keepStable: Bool) {
        let stable = rollout(endpoint: endpoint)?.stable
        let drop: @Sendable (StatsKey) -> Bool = { $0.endpoint == endpoint && !(keepStable && $0.version == stable) }
        stats.withLock { all in
            for key in all.keys where drop(key) { all[key] = nil }
        }
        published.withLock { all in
            for key in all.keys where drop(key) { all[key] = nil }
        }
    }
}

/// Per-variant figures of one endpoint: counts, and recent latencies and outputs (bounded rings).
final class VariantCounter: Sendable {
    struct Snapshot {
        var stats: VariantStats
        var latencies: [Double]
        var outputs: [Double]
    }

    private struct State {
        var requests = 0
        var errors = 0
        var outputCount = 0
        // Bounded samples, stored with each replica's figures.
        var latencies = Ring(capacity: 1024)
        var outputs = Ring(capacity: 1024)
    }

    private let state = Mutex(State())

    func record(seconds: Double, failed: Bool, outputs: [Double]) {
        state.withLock { s in
            s.requests += 1
            if failed { s.errors += 1 }
            s.latencies.append(seconds)
            for value in outputs.prefix(64) { s.outputs.append(value) }
            s.outputCount += min(outputs.count, 64)
        }
    }

    func snapshot() -> Snapshot {
        let s = state.withLock { $0 }
        let latencies = s.latencies.values.sorted()
        return Snapshot(
            stats: VariantStats(
                requests: s.requests, errors: s.errors,
                p99Seconds: latencies.isEmpty ? nil : Statistics.quantile(sorted: latencies, 0.99), outputs: s.outputCount),
            latencies: s.latencies.values, outputs: s.outputs.values)
    }
}

/// The newest `capacity` values.
struct Ring: Sendable {
    let capacity: Int
    private(set) var values: [Double] = []
    private var next = 0

    init(capacity: Int) { self.capacity = capacity }

    mutating func append(_ value: Double) {
        if values.count < capacity {
            values.append(value)
        } else {
            values[next] = value
            next = (next + 1) % capacity
        }
    }
}
