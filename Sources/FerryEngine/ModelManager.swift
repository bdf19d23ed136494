import FerryCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization

/// Loads model versions, keeps them warm and resolves which version serves a request.
///
/// Lookups on the request path read a lock-protected snapshot; loading happens once per version (concurrent
/// requests for a version that is loading wait for the same load). A loaded version is warmed up with one synthetic
/// row before anyone can use it. Holding a `Served` keeps its predictor alive, so swapping the default route never
/// fails a request that already resolved the old version.
public final class ModelManager: Sendable {
    /// A ready version: its metadata and its predictor.
    public struct Served: Sendable {
        public let version: ModelVersion
        public let predictor: any Predictor
        /// Where requests to this version are counted.
        public let metrics: ServingMetrics.Version
        /// Load shedding and the circuit breaker of this version.
        public let admission: VersionGuard
        /// Merges concurrent requests when dynamic batching is on.
        let batcher: Batcher?
        /// How long loading and warming it took (counted when it is installed).
        let loadSeconds: Double

        /// Predicts through the batcher when batching is on.
        @inline(__always)
        func predict(_ batch: FeatureMatrix) async throws -> [Tensor] {
            if let remote = predictor as? any RemotePredictor { return try await remote.predictRemotely(batch) }
            // The batcher merges numbers; a batch with texts goes alone.
            if let batcher, batch.texts.isEmpty { return try await batcher.predict(batch) }
            return try predictor.predict(batch)
        }

        /// Predicts without the batcher (a remote version remotely): for work that is not a request, like
        /// comparing two versions.
        func predictAlone(_ batch: FeatureMatrix) async throws -> [Tensor] {
            if let remote = predictor as? any RemotePredictor { return try await remote.predictRemotely(batch) }
            return try predictor.predict(batch)
        }

        /// Whether `predictor.predict` answers in the caller's thread: no batcher to merge requests, not remote.
        var predictsNow: Bool { batcher == nil && !(predictor is any RemotePredictor) }
    }

    struct Key: Hashable, Sendable {
        var model: String
        var version: Int
    }

    /// How a model's names map to version numbers, cached per model until the registry changes it.
    struct Route: Sendable {
        var defaultVersion: Int?
        var aliases: [String: Int]
        /// Aliases the signature policy forbids serving (alias -> why), e.g. `production` pointing at an unsigned
        /// version after a restart with `--require-signed-alias production`. They are neither loaded nor served.
        var blocked: [String: String] = [:]
    }

    /// A loaded version.
    struct Entry: Sendable {
        var served: Served
    }

    /// A version being loaded, and the requests waiting for it (each by its ticket).
    struct Loading: Sendable {
        var waiters: [UInt64: CheckedContinuation<Served, any Error>] = [:]
        /// The bounded waiters' timers, cancelled when the load ends.
        var timers: [Task<Void, Never>] = []
    }

    struct State: Sendable {
        var loaded: [Key: Entry] = [:]
        /// With a memory budget, when each loaded version last served (a counter, higher is more recent). Kept apart
        /// from `loaded` so that finding the least recently used copies plain numbers, not entries (copying an entry
        /// retains every reference in its version: 8% of the server's CPU while registering at 30,000 versions).
        var used: [Key: UInt64] = [:]
        var loading: [Key: Loading] = [:]
        var routes: [String: Route] = [:]
        var generation: [String: Int] = [:]
        /// Versions archived while loaded.
        var archived: Set<Key> = []
        /// What the loaded versions hold together, in bytes.
        var loadedBytes = 0
        var clock: UInt64 = 0
        var tickets: UInt64 = 0

        mutating func install(_ key: Key, _ served: Served) {
            clock += 1
            used[key] = clock
            if let old = loaded.updateValue(Entry(served: served), forKey: key) {
                loadedBytes -= old.served.predictor.memoryBytes
            }
            loadedBytes += served.predictor.memoryBytes
        }

        mutating func remove(_ key: Key) -> Served? {
            guard let entry = loaded.removeValue(forKey: key) else { return nil }
            used.removeValue(forKey: key)
            loadedBytes -= entry.served.predictor.memoryBytes
            return entry.served
        }
    }

    private let state = Mutex(State())
    /// Bytes of unloaded versions since the heap was last trimmed.
    private let trimDebt = Mutex(0)
    public let store: any MetadataStore
    private let artifacts: any ArtifactStore
    private let runtimes: RuntimeCatalog
    private let logger: Logger
    public let metrics: ServingMetrics
    /// Which model signatures are trusted, and whether a version must carry one to load (or to take an alias).
    public let signatures: SignaturePolicy
    /// Load shedding and circuit breaking limits of every version.
    public let serving: ServingPolicy
    /// Bytes the loaded versions may hold together (nil: no limit). Past it, the least recently used versions are
    /// unloaded; the next request for one loads it again.
    public let memoryBudget: Int?
    /// Whether versions an alias points at stay loaded whatever the budget says.
    public let pinAliased: Bool

    public init(
        store: any MetadataStore, artifacts: any ArtifactStore, runtimes: RuntimeCatalog, logger: Logger,
        metrics: ServingMetrics = ServingMetrics(), signatures: SignaturePolicy = .none, serving: ServingPolicy = ServingPolicy(),
        memoryBudget: Int? = nil, pinAliased: Bool = false
    ) {
        self.memoryBudget = memoryBudget
        self.pinAliased = pinAliased
        self.serving = serving
        self.signatures = signatures
        self.store = store
        self.artifacts = artifacts
        self.runtimes = runtimes
        self.logger = logger
        self.metrics = metrics
    }

    /// The ready version a request names, loading it first if needed. A `bounded` caller (a request) waits for a
    /// load at most `serving.coldLoadWait` seconds, then gets 503 with Retry-After while the load goes on.
    public func served(model: String, selector: VersionSelector, bounded: Bool = false) async throws -> Served {
        let number = try await resolve(model: model, selector: selector)
        let key = Key(model: model, version: number)
        let budgeted = memoryBudget != nil
        if let served = state.withLock({ state -> Served? in
            guard let served = state.loaded[key]?.served else { return nil }
            if budgeted {
                state.clock += 1
                state.used[key] = state.clock
            }
            return served
        }) {
            try refuseArchived(served, selector)
            return served
        }
        let version = try await stored(model: model, number: number, selector: selector)
        if bounded { metrics.recordColdRequest() }
        return try await prepare(version, waitingAtMost: bounded ? serving.coldLoadWait : nil)
    }

    /// The loaded version a request names when finding it needs no wait (its model's names are cached and it is in
    /// memory), counted as used; nil otherwise, and for an archived version asked by number (`served` says why).
    public func servedNow(model: String, selector: VersionSelector) -> Served? {
        let budgeted = memoryBudget != nil
        return state.withLock { state -> Served? in
            let number: Int
            switch selector {
            case .number(let n): number = n
            case .default:
                guard let n = state.routes[model]?.defaultVersion else { return nil }
                number = n
            case .alias(let name):
                guard let route = state.routes[model], route.blocked[name] == nil, let n = route.aliases[name] else { return nil }
                number = n
            }
            let key = Key(model: model, version: number)
            guard let served = state.loaded[key]?.served else { return nil }
            if case .number = selector, served.version.archived || state.archived.contains(key) { return nil }
            if budgeted {
                state.clock += 1
                state.used[key] = state.clock
            }
            return served
        }
    }

    /// The version a request names, without loading it: metadata needs no predictor, and asking for it must not
    /// unload another version to make room.
    public func version(model: String, selector: VersionSelector) async throws -> ModelVersion {
        let number = try await resolve(model: model, selector: selector)
        if let served = state.withLock({ $0.loaded[Key(model: model, version: number)]?.served }) {
            try refuseArchived(served, selector)
            return served.version
        }
        return try await stored(model: model, number: number, selector: selector)
    }

    /// A loaded version archived later (an alias may still hold it) is not served by its number.
    private func refuseArchived(_ served: Served, _ selector: VersionSelector) throws {
        let v = served.version
        if case .number = selector, v.archived || state.withLock({ $0.archived.contains(Key(model: v.model, version: v.version)) }) {
            throw FerryError(.failedPrecondition, "version \(v.version) of model '\(v.model)' is archived; it is no longer served")
        }
    }

    /// A registered version as the store has it; one that is archived is not served by its number.
    private func stored(model: String, number: Int, selector: VersionSelector) async throws -> ModelVersion {
        guard let version = try await store.version(model: model, number: number) else {
            throw FerryError.notFound("model '\(model)' has no version \(number)")
        }
        if version.archived, case .number = selector {
            throw FerryError(.failedPrecondition, "version \(number) of model '\(model)' is archived; it is no longer served")
        }
        return version
    }

    /// Whether the version a selector names is loaded, without loading it.
    public func isLoaded(model: String, selector: VersionSelector) async throws -> Bool {
        let number = try await resolve(model: model, selector: selector)
        return state.withLock { $0.loaded[Key(model: model, version: number)] != nil }
    }

    /// Loads and warms a version (once, however many callers ask at the same time). With `waitingAtMost`, the
    /// caller gives up after that many seconds with 503 and Retry-After; the load itself goes on and installs the
    /// version when it is done. `loaded` is the version's predictor when the caller parsed the artifact already
    /// (registration): it is checked and warmed the same way, without reading the artifact again.
    @discardableResult
    public func prepare(_ version: ModelVersion, waitingAtMost limit: Double? = nil, loaded: (any Predictor)? = nil) async throws -> Served {
        let key = Key(model: version.model, version: version.version)
        enum Start { case ready(Served), wait(UInt64), load(UInt64) }
        return try await withCheckedThrowingContinuation { continuation in
            let start = state.withLock { state -> Start in
                if let entry = state.loaded[key] { return .ready(entry.served) }
                state.tickets += 1
                let ticket = state.tickets
                if state.loading[key] != nil {
                    state.loading[key]!.waiters[ticket] = continuation
                    return .wait(ticket)
                }
                state.loading[key] = Loading(waiters: [ticket: continuation])
                return .load(ticket)
            }
            let ticket: UInt64
            switch start {
            case .ready(let served):
                return continuation.resume(returning: served)
            case .load(let t):
                ticket = t
                Task {
                    do { self.finish(key, .success(try await self.load(version, loaded: loaded))) } catch { self.finish(key, .failure(error)) }
                }
            case .wait(let t):
                ticket = t
            }
            guard let limit else { return }
            let label = "version \(version.version) of model '\(version.model)'"
            let timer = Task { await self.giveUp(key, ticket: ticket, after: limit, label: label) }
            let stale = state.withLock { state -> Bool in
                guard state.loading[key] != nil else { return true }
                state.loading[key]!.timers.append(timer)
                return false
            }
            if stale { timer.cancel() }
        }
    }

    /// Installs a finished load (or drops a failed one) and answers everyone waiting for it.
    private func finish(_ key: Key, _ result: Result<Served, any Error>) {
        var evicted: [Served] = []
        let loading = state.withLock { state in
            if case .success(let served) = result {
                // Room is made before the version counts as loaded, so the loaded versions never hold more than the
                // budget, not even between two steps.
                evicted = makeRoom(for: served.predictor.memoryBytes, keeping: key, in: &state)
                state.install(key, served)
                metrics.setResident(versions: state.loaded.count, bytes: state.loadedBytes)
            }
            return state.loading.removeValue(forKey: key)
        }
        for served in evicted {
            served.metrics.recordUnload()
            logger.info("model unloaded to stay within the memory budget", metadata: [
                "model": "\(served.version.model)", "version": "\(served.version.version)", "memory_bytes": "\(served.predictor.memoryBytes)"])
        }
        let freed = evicted.reduce(0) { $0 + $1.predictor.memoryBytes }
        evicted.removeAll()
        if case .success(let served) = result {
            served.metrics.recordLoad(seconds: served.loadSeconds, memoryBytes: served.predictor.memoryBytes)
            if let budget = memoryBudget, case let loaded = state.withLock({ $0.loadedBytes }), loaded > budget {
                // Nothing more could be unloaded: the version alone, or with the pinned ones, is larger than the budget.
                logger.warning("the loaded versions exceed the memory budget: nothing else can be unloaded (the version alone, or with the versions pinned by --pin-aliased, is larger)", metadata: [
                    "model": "\(served.version.model)", "version": "\(served.version.version)", "memory_bytes": "\(served.predictor.memoryBytes)",
                    "loaded_bytes": "\(loaded)", "budget_bytes": "\(budget)"])
            }
        }
        for timer in loading?.timers ?? [] { timer.cancel() }
        for waiter in loading?.waiters.values.map({ $0 }) ?? [] { waiter.resume(with: result) }
        freedSinceTrim(freed)
    }

    /// Answers one waiting request with 503 if the load it waits for is still going after `limit` seconds.
    private func giveUp(_ key: Key, ticket: UInt64, after limit: Double, label: String) async {
        try? await Task.sleep(for: .seconds(limit))
        guard let waiter = state.withLock({ $0.loading[key]?.waiters.removeValue(forKey: ticket) }) else { return }
        waiter.resume(throwing: FerryError(
            .unavailable, "\(label) is loading (it was not in memory) and took longer than the \(Self.format(limit)) s a request waits for it; retry shortly",
            retryAfter: 1))
    }

    static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }

    /// Serves an un-archived version by number again.
    public func unarchived(model: String, version: Int) {
        state.withLock { _ = $0.archived.remove(Key(model: model, version: version)) }
    }

    /// Drops a loaded version (requests that already hold it finish with it); the next request reloads it.
    /// Stops serving an archived version by number (an alias that still points at it keeps working).
    public func archived(model: String, version: Int) {
        state.withLock { _ = $0.archived.insert(Key(model: model, version: version)) }
        unload(model: model, version: version)
    }

    public func unload(model: String, version: Int) {
        let removed = state.withLock { state in
            defer { metrics.setResident(versions: state.loaded.count, bytes: state.loadedBytes) }
            return state.remove(Key(model: model, version: version))
        }
        removed?.metrics.recordUnload()
        freedSinceTrim(removed?.predictor.memoryBytes ?? 0)
    }

    /// Counts what unloading freed; past 64 MiB since the last time, gives the heap's free pages back to the system
    /// (glibc keeps them for reuse otherwise), so the process's resident memory follows the budget rather than the
    /// most it ever held. Not at every unload: trimming walks the heap. Versions still held by a request in flight
    /// are freed when it ends, and returned at a later trim.
    private func freedSinceTrim(_ bytes: Int) {
        guard bytes > 0 else { return }
        let due = trimDebt.withLock { debt -> Bool in
            debt += bytes
            guard debt >= 64 << 20 else { return false }
            debt = 0
            return true
        }
        if due { _ = Self.mallocTrim?(0) }
    }

    /// glibc's `malloc_trim` (not in the Glibc module's headers), looked up once; nil on other C libraries.
    private static let mallocTrim: (@convention(c) (Int) -> Int32)? = {
        #if canImport(Glibc)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
        #else
        return nil
        #endif
    }()

    /// Unloads the least recently used versions until `bytes` more fit the memory budget, never `keeping` (being
    /// installed) nor, with `pinAliased`, a version an alias points at. Requests holding an unloaded version finish
    /// with it. Each victim is found by one pass over the loaded versions (no sorting, no allocation per version):
    /// usually one version makes room for the one being loaded.
    private func makeRoom(for bytes: Int, keeping: Key, in state: inout State) -> [Served] {
        guard let budget = memoryBudget else { return [] }
        var out: [Served] = []
        while state.loadedBytes + bytes > budget {
            // Reads only each entry's clock (copying entries would retain every version's metadata); a key is looked
            // at only when its entry is older than the best so far.
            var victim: Dictionary<Key, UInt64>.Index?
            var oldest = UInt64.max
            var i = state.used.startIndex
            while i != state.used.endIndex {
                let used = state.used.values[i]
                if used < oldest {
                    let key = state.used.keys[i]
                    let pinned = pinAliased && state.routes[key.model]?.aliases.values.contains(key.version) == true
                    if key != keeping && !pinned {
                        victim = i
                        oldest = used
                    }
                }
                state.used.formIndex(after: &i)
            }
            guard let victim, let served = state.remove(state.used.keys[victim]) else { break }
            out.append(served)
        }
        return out
    }

    /// Re-reads a model's aliases and default version after the registry changed them.
    ///
    /// Call it after the change is committed; callers that moved the default route should `prepare` the new version
    /// first so the swap is instant.
    public func routeChanged(model: String) async throws {
        state.withLock { $0.generation[model, default: 0] += 1 }
        let route = try await readRoute(model: model)
        state.withLock { $0.routes[model] = route }
    }

    /// Re-reads a model's route after a change committed elsewhere (another replica), loading and warming the
    /// versions it now serves before switching to it. A version that fails to load is logged; requests for it get
    /// the load error.
    public func refresh(model: String) async throws {
        state.withLock { $0.generation[model, default: 0] += 1 }
        let route = try await readRoute(model: model)
        let loaded = state.withLock { $0.loaded }
        for number in Set(route.aliases.values).union(route.defaultVersion.map { [$0] } ?? []).sorted()
        where loaded[Key(model: model, version: number)] == nil {
            guard let version = try await store.version(model: model, number: number) else { continue }
            do {
                try await prepare(version)
            } catch {
                logger.error("model failed to load after a change", metadata: ["model": "\(model)", "version": "\(number)", "error": "\(error)"])
            }
        }
        state.withLock { $0.routes[model] = route }
    }

    /// Loads every aliased version and every model's default version, aliased ones first; failures are logged, not
    /// fatal. With a memory budget it stops at the first version that does not fit beside those loaded (the rest load
    /// at their first request), so a replica with thousands of models starts without loading and unloading most of
    /// them.
    public func warmStart() async {
        do {
            var wanted: [(model: String, version: Int, aliased: Bool)] = []
            for model in try await store.models() {
                let route = try await readRoute(model: model.name)
                state.withLock { $0.routes[model.name] = route }
                let aliased = Set(route.aliases.values)
                wanted += aliased.sorted().map { (model.name, $0, true) }
                if let d = route.defaultVersion, !aliased.contains(d) { wanted.append((model.name, d, false)) }
                for (alias, reason) in route.blocked.sorted(by: { $0.key < $1.key }) {
                    logger.error("alias not served: the signature policy forbids it", metadata: [
                        "model": "\(model.name)", "alias": "\(alias)", "reason": "\(reason)"])
                }
            }
            let ordered = wanted.filter(\.aliased) + wanted.filter { !$0.aliased }
            for (i, item) in ordered.enumerated() {
                let (before, bytes) = state.withLock { ($0.loaded.count, $0.loadedBytes) }
                // The next version is guessed to be as large as the average of those loaded: one that would not fit
                // is not loaded, so no version loaded first (an aliased one) is unloaded to make room for it.
                if let budget = memoryBudget, before > 0, bytes + bytes / before > budget {
                    logger.info("versions left to load at their first request: the memory budget is full", metadata: ["versions": "\(ordered.count - i)"])
                    break
                }
                do {
                    _ = try await served(model: item.model, selector: .number(item.version))
                } catch {
                    logger.error("model failed to load at start", metadata: [
                        "model": "\(item.model)", "version": "\(item.version)", "error": "\(error)"])
                    continue
                }
                // A load that had to unload another version to fit: the budget is full.
                if memoryBudget != nil, state.withLock({ $0.loaded.count }) <= before, i + 1 < ordered.count {
                    logger.info("versions left to load at their first request: the memory budget is full", metadata: ["versions": "\(ordered.count - i - 1)"])
                    break
                }
            }
        } catch {
            logger.error("could not read the registry at start", metadata: ["error": "\(error)"])
        }
    }

    /// Versions currently loaded, as (model, version) pairs.
    public var loadedVersions: [(model: String, version: Int)] {
        state.withLock { $0.loaded.keys.map { ($0.model, $0.version) } }.sorted { ($0.model, $0.version) < ($1.model, $1.version) }
    }

    // MARK: Resolution

    private func resolve(model: String, selector: VersionSelector) async throws -> Int {
        if case .number(let n) = selector { return n }
        let cached = state.withLock { $0.routes[model] }
        let route: Route
        if let cached {
            route = cached
        } else {
            let generation = state.withLock { $0.generation[model, default: 0] }
            route = try await readRoute(model: model)
            state.withLock { state in
                if state.generation[model, default: 0] == generation { state.routes[model] = route }
            }
        }
        switch selector {
        case .default:
            guard let n = route.defaultVersion else {
                if let reason = route.blocked[Alias.production] { throw FerryError(.unavailable, reason) }
                throw FerryError.notFound("model '\(model)' has no version to serve: register one, or take one out of the archive (ferry models unarchive)")
            }
            return n
        case .alias(let name):
            if let reason = route.blocked[name] { throw FerryError(.unavailable, reason) }
            guard let n = route.aliases[name] else { throw FerryError.notFound("model '\(model)' has no alias '\(name)'") }
            return n
        case .number(let n):
            return n
        }
    }

    private func readRoute(model: String) async throws -> Route {
        guard try await store.model(named: model) != nil else {
            throw FerryError.notFound("model '\(model)' is not registered")
        }
        var aliases: [String: Int] = [:]
        for alias in try await store.aliases(model: model) { aliases[alias.name] = alias.version }
        let versions = try await store.versions(model: model)
        var blocked: [String: String] = [:]
        for (name, number) in aliases where signatures.requiredForAliases.contains(name) {
            guard let version = versions.first(where: { $0.version == number }) else { continue }
            do {
                try signatures.checkAlias(name, version)
            } catch let error as FerryError {
                blocked[name] = "model '\(model)' is not served through alias '\(name)': \(error.message)"
                aliases[name] = nil
            }
        }
        // A blocked production alias blocks the bare name too: falling back to the newest version would serve
        // around the policy.
        let newest = versions.last(where: { !$0.archived })?.version
        let defaultVersion = blocked[Alias.production] != nil ? nil : aliases[Alias.production] ?? newest
        return Route(defaultVersion: defaultVersion, aliases: aliases, blocked: blocked)
    }

    /// Aliases of a model that the signature policy keeps from serving, with the reason (empty when none).
    public func blockedAliases(model: String) async throws -> [String: String] {
        if let route = state.withLock({ $0.routes[model] }) { return route.blocked }
        return try await readRoute(model: model).blocked
    }

    private func load(_ version: ModelVersion, loaded: (any Predictor)? = nil) async throws -> Served {
        let start = ContinuousClock.now
        let label = "version \(version.version) of model '\(version.model)'"
        do {
            try signatures.checkLoad(version)
            let predictor: any Predictor
            if let loaded {
                predictor = loaded
            } else {
                let bytes = try await artifacts.get(version.artifact)
                predictor = try await runtimes.runtime(for: version.format).load(bytes, options: version.runtimeOptions)
            }
            let counters = metrics.version(model: version.model, version: version.version)
            guard predictor.featureCount == version.inputSchema.features.count else {
                throw FerryError(.internal, "the artifact has \(predictor.featureCount) features but the registered schema has \(version.inputSchema.features.count)")
            }
            // Warm-up: one synthetic row through the whole predictor before the version is reported ready. A remote
            // version was checked against its server's metadata while loading; no synthetic traffic goes out.
            let remote = predictor is any RemotePredictor
            if !remote {
                let row = FeatureMatrix(rows: 1, columns: predictor.featureCount, values: .init(repeating: 0, count: predictor.featureCount))
                _ = try predictor.predict(row)
            }
            logger.info("model loaded", metadata: [
                "model": "\(version.model)", "version": "\(version.version)",
                "format": "\(version.format)", "seconds": "\(ContinuousClock.now - start)",
                "memory_bytes": "\(predictor.memoryBytes)", "artifact_bytes": "\(version.artifact.size)"])
            let seconds = Self.seconds(ContinuousClock.now - start)
            metrics.recordLoadDuration(seconds)
            return Served(
                version: version, predictor: predictor, metrics: counters,
                admission: VersionGuard(label: label, policy: serving),
                batcher: serving.batchMaxRows > 1 && !remote
                    ? Batcher(predictor: predictor, maxRows: serving.batchMaxRows, maxDelay: .microseconds(Int64(serving.batchMaxDelay * 1e6)))
                    : nil,
                loadSeconds: seconds)
        } catch let error as FerryError {
            metrics.version(model: version.model, version: version.version).recordLoadFailure()
            logger.error("model failed to load", metadata: ["model": "\(version.model)", "version": "\(version.version)", "error": "\(error.message)"])
            throw FerryError(.unavailable, "\(label) could not be loaded: \(error.message)", cause: error)
        } catch {
            metrics.version(model: version.model, version: version.version).recordLoadFailure()
            throw FerryError(.unavailable, "\(label) could not be loaded: \(error)", cause: error)
        }
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
