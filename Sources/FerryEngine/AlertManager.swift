import Crypto
import FerryCore
import Foundation
import Logging
import Synchronization

/// Sends a webhook notification; returns the HTTP status.
public protocol WebhookSender: Sendable {
    func post(url: String, body: Data, headers: [String: String]) async throws -> Int
}

extension WebhookSender {
    /// POSTs a JSON body as every Ferry webhook is sent: `Ferry-Timestamp`, `Ferry-Event` and, with a secret,
    /// `Ferry-Signature: sha256=<HMAC>` over `<timestamp>.<body>`; retried after each of `retryDelays` until a 2xx.
    /// Returns nil once delivered, else why the last attempt failed.
    func deliver(url: String, body: Data, event: String, secret: String?, at time: Date, retryDelays: [Duration]) async -> String? {
        let timestamp = String(Int(time.timeIntervalSince1970))
        var headers = ["Content-Type": "application/json", "Ferry-Timestamp": timestamp, "Ferry-Event": event]
        if let secret { headers["Ferry-Signature"] = AlertManager.signature(secret: secret, timestamp: timestamp, body: body) }
        var failure = "not attempted"
        for attempt in 0...retryDelays.count {
            do {
                let status = try await post(url: url, body: body, headers: headers)
                if (200..<300).contains(status) { return nil }
                failure = "it answered HTTP \(status)"
            } catch {
                failure = "\(error)"
            }
            if attempt < retryDelays.count { try? await Task.sleep(for: retryDelays[attempt]) }
        }
        return failure
    }
}

/// Evaluates alert rules on a schedule, keeps their state and history, and notifies webhooks on changes.
///
/// The state machine is `AlertStatus.next` (pure); this class gathers each rule's metric value, applies it,
/// persists the result and delivers notifications (JSON, `Ferry-Signature: sha256=<HMAC>` over
/// `<Ferry-Timestamp>.<body>` when the rule has a secret, retried with backoff).
///
/// A notification is stored with its event (an outbox) and marked done once delivered or given up, so the
/// replica that leads next delivers what a dead leader had not: at least once, with the event's number in
/// `Ferry-Event` for receivers to drop repeats.
public final class AlertManager: Sendable {
    public let store: any AlertStore & ObservationStore
    /// Names this replica's request counts in the store.
    private let replica: String
    private let monitor: ModelMonitor
    private let metrics: ServingMetrics
    /// Costs for budget alerts (`cost_per_1000_predictions`).
    private let cost: CostMeter?
    private let sender: (any WebhookSender)?
    private let logger: Logger
    private let now: @Sendable () -> Date
    private let retryDelays: [Duration]
    private let lastPurge = Mutex<Date?>(nil)
    private let finished = Mutex(false)
    private let deliveries = Mutex<(sent: Int, failed: Int)>((0, 0))
    /// Deliveries in flight, by event number.
    private let inFlight = Mutex<[Int64: Task<Void, Never>]>([:])

    public init(
        store: any AlertStore & ObservationStore, monitor: ModelMonitor, metrics: ServingMetrics, sender: (any WebhookSender)?,
        logger: Logger, replica: String = "local", now: @escaping @Sendable () -> Date = { Date() },
        retryDelays: [Duration] = [.seconds(1), .seconds(4), .seconds(16)], cost: CostMeter? = nil
    ) {
        self.cost = cost
        self.store = store
        self.replica = replica
        self.monitor = monitor
        self.metrics = metrics
        self.sender = sender
        self.logger = logger
        // Times kept at the store's precision, so the counts stored "now" are found by a read "until now".
        self.now = { now().roundedToMilliseconds }
        self.retryDelays = retryDelays
    }

    public var deliveryCounts: (sent: Int, failed: Int) { deliveries.withLock { $0 } }

    /// Checks and stores a rule (its model must exist).
    public func put(_ rule: AlertRule, by actor: String) async throws {
        try rule.validate()
        // A rule that could never be evaluated is refused, not left `inactive` for good.
        if rule.metric == .costPer1000, cost.map({ $0.prices.cpuHour == nil && $0.prices.gibHour == nil }) ?? true {
            throw FerryError(
                .failedPrecondition,
                "field 'metric' cost_per_1000_predictions needs prices: start the server with --cost-per-cpu-hour and/or --cost-per-gib-hour")
        }
        if rule.metric.isFairness, let attribute = rule.feature, let served = try? await monitor.models.served(model: rule.model, selector: .default) {
            try served.version.inputSchema.checkFairnessAttribute(attribute, field: "field 'feature'", model: rule.model, version: served.version.version)
        }
        let before = try await store.rules(model: rule.model).first { $0.name == rule.name }
        let time = now()
        try await store.putRule(rule) { rule in
            AuditDraft(
                at: time, actor: actor, action: "alert.put", target: "\(rule.model)/\(rule.name)",
                before: try before.map { try JSONValue(encoding: Self.masked($0)) }, after: try JSONValue(encoding: Self.masked(rule)))
        }
    }

    /// Deletes a rule; `.notFound` when the model has no such rule.
    public func delete(model: String, name: String, by actor: String) async throws {
        let time = now()
        try await store.deleteRule(model: model, name: name) { rule in
            AuditDraft(at: time, actor: actor, action: "alert.delete", target: "\(model)/\(name)", before: try JSONValue(encoding: Self.masked(rule)))
        }
    }

    /// A rule as the audit trail keeps it: its webhook secret masked (the trail is permanent and exported).
    static func masked(_ rule: AlertRule) -> AlertRule {
        var shown = rule
        if shown.webhookSecret != nil { shown.webhookSecret = "********" }
        return shown
    }

    /// Evaluates every rule once, now; returns the state changes.
    @discardableResult
    public func evaluateAll() async -> [AlertEvent] {
        var changes: [AlertEvent] = []
        let time = now()
        await publishCounts(at: time)
        await purgeCounts(at: time)
        let rules = (try? await store.rules(model: nil)) ?? []
        for rule in rules {
            do {
                let previous = try await store.status(model: rule.model, name: rule.name)
                let value = await self.value(rule, at: time)
                let next = previous.next(rule: rule, value: value, now: time)
                let event = next.state != previous.state
                    ? AlertEvent(rule: rule.name, model: rule.model, from: previous.state, to: next.state, value: value, threshold: rule.threshold, at: time)
                    : nil
                let notify = rule.webhook != nil && event.map { $0.to == .firing || ($0.from == .firing && $0.to == .resolved) } == true
                if let stored = try await store.record(model: rule.model, name: rule.name, status: next, event: event, notify: notify) {
                    changes.append(stored)
                    logger.notice("alert changed", metadata: [
                        "alert": "\(rule.name)", "model": "\(rule.model)", "from": "\(stored.from.rawValue)", "to": "\(stored.to.rawValue)",
                        "value": "\(value.map { String($0) } ?? "none")"])
                }
            } catch {
                logger.error("alert evaluation failed", metadata: ["alert": "\(rule.name)", "model": "\(rule.model)", "error": "\(error)"])
            }
        }
        await deliverPending(rules)
        return changes
    }

    /// Evaluates every `interval` while `when()` holds (this replica leads), else only stores this replica's
    /// request counts for the leader's error rates; until `finish()` (which it notices within a fifth of a second)
    /// or cancellation.
    public func run(interval: Duration, when: @Sendable () -> Bool = { true }) async {
        while !finished.withLock({ $0 }) && !Task.isCancelled {
            if when() {
                await evaluateAll()
            } else {
                await publishCounts(at: now())
            }
            await pause(for: interval, unless: { finished.withLock { $0 } })
        }
    }

    public func finish() { finished.withLock { $0 = true } }

    // MARK: Metric values

    func value(_ rule: AlertRule, at time: Date) async -> Double? {
        let window = ModelMonitor.Window.range(since: time.addingTimeInterval(-Double(rule.windowSeconds)), until: time.addingTimeInterval(0.001))
        switch rule.metric {
        case .errorRate:
            return await errorRate(model: rule.model, windowSeconds: rule.windowSeconds, at: time)
        case .costPer1000:
            // Every replica's figures, from the counts each stores.
            guard let prices = cost?.prices else { return nil }
            let windowStart = time.addingTimeInterval(-Double(rule.windowSeconds))
            guard let samples = try? await store.requestCounts(model: rule.model, since: windowStart.addingTimeInterval(-Double(rule.windowSeconds))) else {
                return nil
            }
            let figures = RequestCountSample.costFigures(samples.filter { $0.at <= time }, windowStart: windowStart)
            var window = CostMeter.Totals()
            (window.predictions, window.cpuSeconds, window.gibHours) = (Int(figures.predictions), figures.cpuSeconds, figures.gibHours)
            return window.costPer1000(prices)
        case .latencyP50, .latencyP99:
            guard case .range(let since, let until) = window,
                  let records = try? await monitor.log.records(model: rule.model, version: nil, since: since, until: until, limit: ModelMonitor.maxWindowRequests),
                  !records.isEmpty else { return nil }
            let sorted = records.map { Double($0.latencyMicros) / 1e6 }.sorted()
            return Statistics.quantile(sorted: sorted, rule.metric == .latencyP50 ? 0.5 : 0.99)
        case .driftPSI, .driftPValue:
            guard let report = try? await monitor.drift(model: rule.model, version: nil, window: window) else { return nil }
            let results = report.features.filter { rule.feature == nil || $0.name == rule.feature }
            if rule.metric == .driftPSI { return results.map(\.psi).filter { !$0.isNaN }.max() }
            return results.compactMap { $0.ksPValue ?? $0.chi2PValue }.min()
        case .demographicParityDifference, .equalizedOddsDifference:
            guard let feature = rule.feature,
                  let (_, report) = try? await monitor.fairness(model: rule.model, version: nil, window: window, attribute: feature)
            else { return nil }
            return rule.metric == .demographicParityDifference ? report.demographicParityDifference : report.equalizedOddsDifference
        case .accuracy, .f1, .rocAUC, .logLoss, .rmse, .mae:
            guard let summary = try? await monitor.performance(model: rule.model, version: nil, window: window),
                  summary.overall.count > 0 else { return nil }
            let r = summary.overall
            return switch rule.metric {
            case .accuracy: r.accuracy
            case .f1: r.f1
            case .rocAUC: r.rocAUC
            case .logLoss: r.logLoss
            case .rmse: r.rmse
            default: r.mae
            }
        }
    }

    /// Stores this replica's running totals of requests and errors per model, for windowed error rates over
    /// every replica.
    public func publishCounts(at time: Date) async {
        var totals: [String: (Int64, Int64)] = [:]
        var latency: [String: [Int64]] = [:]
        for s in metrics.snapshot().versions {
            totals[s.model, default: (0, 0)].0 += Int64(s.requests)
            totals[s.model, default: (0, 0)].1 += Int64(s.errors.values.reduce(0, +))
            var counts = latency[s.model] ?? [Int64](repeating: 0, count: ServingMetrics.latencyBuckets.count + 1)
            for (b, n) in s.latency.counts.enumerated() { counts[b] += Int64(n) }
            counts[counts.count - 1] += Int64(s.latency.count) - Int64(s.latency.counts.reduce(0, +))
            latency[s.model] = counts
        }
        var costs: [String: CostMeter.Totals] = [:]
        for (key, t) in cost?.versions() ?? [] {
            costs[key.model, default: CostMeter.Totals()].predictions += t.predictions
            costs[key.model, default: CostMeter.Totals()].cpuSeconds += t.cpuSeconds
            costs[key.model, default: CostMeter.Totals()].gibHours += t.gibHours
        }
        let samples = totals.map { model, counts in
            let c = costs[model] ?? CostMeter.Totals()
            return RequestCountSample(
                replica: replica, model: model, at: time, requests: counts.0, errors: counts.1, predictions: Int64(c.predictions),
                cpuSeconds: c.cpuSeconds, gibHours: c.gibHours, latencyCounts: latency[model] ?? [])
        }
        do {
            try await store.putRequestCounts(samples)
        } catch {
            logger.warning("could not store request counts", metadata: ["error": "\(error)"])
        }
    }

    /// A model's traffic per period of `every` seconds from `since` to `until`, over every replica's stored counts
    /// (kept for a day: the window starts a day ago at the earliest). Counts land in the period of the sample that
    /// took them, one per replica every alert interval, so periods shorter than that interval alternate between
    /// empty and full.
    public func traffic(model: String, since: Date?, until: Date?, every: TimeInterval) async throws -> (since: Date, until: Date, periods: [TrafficPeriod]) {
        _ = try await monitor.registry.model(named: model)
        try Periods.check(every)
        let time = now()
        let until = until ?? time
        let since = max(since ?? until.addingTimeInterval(-3600), time.addingTimeInterval(-86_400))
        guard since < until else { throw FerryError.invalid("the window's since must be before its until, within the last day") }
        guard until.timeIntervalSince(since) / every <= 10_000 else {
            throw FerryError.invalid("the window holds more than 10000 periods of 'every' seconds; widen every or narrow the window")
        }
        // From before the first period, so each replica's first sample in it has a predecessor to count from.
        let first = Periods.start(of: since, every: every)
        let samples = try await store.requestCounts(model: model, since: first.addingTimeInterval(-max(every, 300)))
        return (since, until, RequestCountSample.traffic(samples, since: since, until: until, every: every, bounds: ServingMetrics.latencyBuckets))
    }

    /// Once an hour, deletes request counts older than a day (the longest alert window).
    private func purgeCounts(at time: Date) async {
        let due = lastPurge.withLock { last in
            guard last.map({ time.timeIntervalSince($0) >= 3600 }) ?? true else { return false }
            last = time
            return true
        }
        if due { _ = try? await store.purgeRequestCounts(before: time.addingTimeInterval(-86_400)) }
    }

    /// Share of failed requests in the window, over every replica's stored counts.
    private func errorRate(model: String, windowSeconds: Int, at time: Date) async -> Double? {
        let windowStart = time.addingTimeInterval(-Double(windowSeconds))
        guard let samples = try? await store.requestCounts(model: model, since: windowStart.addingTimeInterval(-Double(windowSeconds))) else {
            return nil
        }
        return RequestCountSample.errorRate(samples.filter { $0.at <= time }, windowStart: windowStart)
    }

    // MARK: Notifications

    public static func signature(secret: String, timestamp: String, body: Data) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data(timestamp.utf8) + Data(".".utf8) + body, using: SymmetricKey(data: Data(secret.utf8)))
        return "sha256=" + mac.hexString
    }

    /// Starts delivering every stored notification not yet done and not already in flight, off the evaluation
    /// path, so an unreachable webhook (retried with backoff) delays neither the other rules nor the caller of
    /// `evaluateAll`. Each is marked done when delivered or given up.
    private func deliverPending(_ rules: [AlertRule]) async {
        let events: [AlertEvent]
        do {
            events = try await store.pendingNotifications(limit: 100)
        } catch {
            logger.error("could not read pending alert notifications", metadata: ["error": "\(error)"])
            return
        }
        for event in events {
            let rule = rules.first { $0.model == event.model && $0.name == event.rule }
            inFlight.withLock { tasks in
                guard tasks[event.sequence] == nil else { return }
                tasks[event.sequence] = Task {
                    if let rule { await self.notify(rule, event) }
                    do {
                        try await self.store.markNotified(sequence: event.sequence, at: self.now())
                    } catch {
                        self.logger.error("could not mark an alert notification done; it may be sent again", metadata: [
                            "event": "\(event.sequence)", "error": "\(error)"])
                    }
                    _ = self.inFlight.withLock { $0.removeValue(forKey: event.sequence) }
                }
            }
        }
    }

    /// Waits until every notification started so far was delivered or gave up.
    public func waitForDeliveries() async {
        for task in inFlight.withLock({ Array($0.values) }) { await task.value }
    }

    private func notify(_ rule: AlertRule, _ event: AlertEvent) async {
        guard let url = rule.webhook, let sender else { return }
        let formatter = ISO8601DateFormatter()
        var payload: [String: Any] = [
            "alert": rule.name, "model": rule.model, "metric": rule.metric.rawValue, "comparison": rule.comparison.rawValue,
            "threshold": rule.threshold, "state": event.to.rawValue, "previous": event.from.rawValue,
            "at": formatter.string(from: event.at), "sequence": event.sequence, "window_seconds": rule.windowSeconds,
        ]
        if let feature = rule.feature { payload["feature"] = feature }
        if let value = event.value { payload["value"] = value }
        guard let body = try? JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys]) else { return }
        if let failure = await sender.deliver(
            url: url, body: body, event: "\(event.sequence)", secret: rule.webhookSecret, at: now(), retryDelays: retryDelays) {
            logger.warning("webhook failed after every attempt", metadata: ["alert": "\(rule.name)", "error": "\(failure)"])
            deliveries.withLock { $0.failed += 1 }
        } else {
            deliveries.withLock { $0.sent += 1 }
        }
    }
}

