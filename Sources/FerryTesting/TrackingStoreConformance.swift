import FerryCore
import Foundation

/// The behaviour every experiment-tracking store must show.
public enum TrackingStoreConformance {
    public typealias Store = any TrackingStore

    static let t0: Int64 = 1_700_000_000_000

    static func info(_ id: String, experiment: String = "0", name: String? = nil, start: Int64 = t0, status: RunStatus = .running) -> RunInfo {
        RunInfo(
            runID: id, experimentID: experiment, runName: name ?? "run-\(id)", userID: "ann", status: status, startTime: start,
            artifactURI: "mlflow-artifacts:/\(experiment)/\(id)/artifacts")
    }

    /// Runs whose search answers are checked in order: a..e with metric `loss`, param `depth`, tag `team`.
    static func seed(_ store: Store) async throws {
        let rows: [(String, Double?, String, String)] = [
            ("a", 0.5, "3", "Risk"), ("b", 0.2, "3", "risk"), ("c", .nan, "5", "fraud"), ("d", 0.9, "3", "risk-eu"), ("e", nil, "3", "risk"),
        ]
        for (i, (id, loss, depth, team)) in rows.enumerated() {
            _ = try await store.createRun(info(id, start: t0 + Int64(i)), tags: ["team": team])
            try await store.log(
                runID: id, metrics: loss.map { [Metric(key: "loss", value: $0, timestamp: t0)] } ?? [], params: ["depth": depth], tags: [:])
        }
    }

    static func ids(_ store: Store, _ filter: String = "", order: [String] = [], view: ViewType = .activeOnly, max: Int = 100, offset: Int = 0) async throws -> [String] {
        try await store.searchRuns(RunSearch(
            experimentIDs: ["0"], filter: try RunSearch.parseFilter(filter), orderBy: try RunSearch.parseOrder(order), view: view,
            maxResults: max, offset: offset)).runs.map(\.info.runID)
    }

    public static let cases: [ConformanceCase<Store>] = [
        .init("experiment 0 'Default' exists; new ones are numbered from 1, names are unique, and can be renamed, deleted, restored") { store in
            let zero = try await store.experiment(id: "0")
            try expect(zero?.name == "Default" && zero?.lifecycleStage == .active && zero?.artifactLocation == "mlflow-artifacts:/0", "default: \(String(describing: zero))")
            let one = try await store.createExperiment(Experiment(name: "fraud", artifactLocation: "mlflow-artifacts:/{id}", creationTime: t0, tags: ["k": "v"]))
            try expect(one.id == "1" && one.artifactLocation == "mlflow-artifacts:/1", "first id and location: \(one)")
            let two = try await store.createExperiment(Experiment(name: "churn", creationTime: t0))
            try expect(two.id == "2", "next id: \(two.id)")
            try await expectError(.alreadyExists) { _ = try await store.createExperiment(Experiment(name: "fraud", creationTime: t0)) }
            let byName = try await store.experiment(named: "fraud")
            try expect(byName == one, "by name round-trips: \(String(describing: byName))")
            try expect(try await store.experiment(id: "x") == nil, "a non-numeric id is nil")
            try expect(try await store.experiment(id: "9") == nil, "an unknown id is nil")
            let deleted = try await store.updateExperiment(id: "2", name: "churn-old", stage: .deleted, tags: ["x": "y"], at: t0 + 5)
            try expect(deleted.name == "churn-old" && deleted.lifecycleStage == .deleted && deleted.tags == ["x": "y"] && deleted.lastUpdateTime == t0 + 5, "updated: \(deleted)")
            try expect(try await store.experiments(.activeOnly).map(\.id) == ["0", "1"], "active only")
            try expect(try await store.experiments(.deletedOnly).map(\.id) == ["2"], "deleted only")
            try expect(try await store.experiments(.all).map(\.id) == ["0", "1", "2"], "all, by id")
            try await expectError(.alreadyExists) { _ = try await store.updateExperiment(id: "2", name: "fraud", stage: nil, tags: [:], at: t0) }
            try await expectError(.notFound) { _ = try await store.updateExperiment(id: "7", name: nil, stage: nil, tags: [:], at: t0) }
            // As MLflow: the runs of an experiment are deleted with it and restored with it.
            _ = try await store.createRun(info("e1", experiment: "1"), tags: [:])
            _ = try await store.updateExperiment(id: "1", name: nil, stage: .deleted, tags: [:], at: t0 + 6)
            try expect(try await store.run(id: "e1")?.info.lifecycleStage == .deleted, "deleted with its experiment")
            _ = try await store.updateExperiment(id: "1", name: nil, stage: .active, tags: [:], at: t0 + 7)
            try expect(try await store.run(id: "e1")?.info.lifecycleStage == .active, "restored with it")
        },
        .init("runs round-trip; updates change status, end time and name (mirrored in the mlflow.runName tag); unknown ones are not found") { store in
            let created = try await store.createRun(info("r1"), tags: ["mlflow.runName": "run-r1", "mlflow.user": "ann"])
            try expect(created.info == info("r1"), "create returns the info: \(created.info)")
            var run = try await store.run(id: "r1")
            try expect(run == Run(info: info("r1"), tags: ["mlflow.runName": "run-r1", "mlflow.user": "ann"]), "round trip: \(String(describing: run))")
            let updated = try await store.updateRun(id: "r1", RunUpdate(status: .finished, endTime: t0 + 9, runName: "final"))
            try expect(updated.status == .finished && updated.endTime == t0 + 9 && updated.runName == "final", "updated: \(updated)")
            run = try await store.run(id: "r1")
            try expect(run?.info == updated && run?.tags["mlflow.runName"] == "final", "stored: \(String(describing: run))")
            _ = try await store.updateRun(id: "r1", RunUpdate(lifecycleStage: .deleted))
            try expect(try await store.run(id: "r1")?.info.lifecycleStage == .deleted, "deleted runs are still read by id")
            try await expectError(.notFound) { _ = try await store.updateRun(id: "nope", RunUpdate(status: .failed)) }
            try await expectError(.notFound) { _ = try await store.createRun(info("r2", experiment: "42"), tags: [:]) }
            try await expectError(.notFound) { try await store.log(runID: "nope", metrics: [], params: ["a": "b"], tags: [:]) }
            try expect(try await store.run(id: "nope") == nil, "unknown run is nil")
        },
        .init("params are written once, tags are replaced, every metric value is kept and the latest follows step, then time, then value") { store in
            _ = try await store.createRun(info("r"), tags: [:])
            try await store.log(runID: "r", metrics: [], params: ["depth": "3", "eta": "0.1"], tags: ["t": "1"])
            try await store.log(runID: "r", metrics: [], params: ["depth": "3"], tags: ["t": "2"])
            try await expectError(.invalidArgument) { try await store.log(runID: "r", metrics: [], params: ["depth": "4"], tags: [:]) }
            let values: [Metric] = [
                Metric(key: "loss", value: 0.9, timestamp: t0 + 50, step: 0),
                Metric(key: "loss", value: 0.5, timestamp: t0 + 10, step: 2),   // highest step wins although older
                Metric(key: "loss", value: 0.7, timestamp: t0 + 60, step: 1),
                Metric(key: "acc", value: .nan, timestamp: t0, step: 0),
                Metric(key: "inf", value: .infinity, timestamp: t0, step: 0),
                Metric(key: "inf", value: -.infinity, timestamp: t0, step: 0),  // same step and time: the larger value stays
            ]
            try await store.log(runID: "r", metrics: Array(values[0...1]), params: [:], tags: [:])
            try await store.log(runID: "r", metrics: Array(values[2...]), params: [:], tags: [:])
            try await store.log(runID: "r", metrics: [values[0]], params: [:], tags: [:])   // the same value again is kept once
            let run = try await store.run(id: "r")
            try expect(run?.params == ["depth": "3", "eta": "0.1"] && run?.tags == ["t": "2"], "params kept, tag replaced: \(String(describing: run))")
            try expect(run?.metrics == [values[3], values[4], values[1]], "latest per key, by key: \(String(describing: run?.metrics))")
            let history = try await store.metricHistory(runID: "r", key: "loss")
            try expect(history == [values[0], values[2], values[1]], "history by step: \(history)")
            try expect(try await store.metricHistory(runID: "r", key: "acc").first?.value.isNaN == true, "NaN round-trips")
            try await store.deleteTag(runID: "r", key: "t")
            try expect(try await store.run(id: "r")?.tags == [:], "tag deleted")
            try await expectError(.notFound) { try await store.deleteTag(runID: "r", key: "t") }
        },
        .init("search filters on metrics, params, tags and attributes; LIKE is case-sensitive, ILIKE not; NaN matches no comparison") { store in
            try await seed(store)
            let below = try await ids(store, "metrics.loss < 0.6")
            try expect(below == ["b", "a"], "metric filter, newest first: \(below)")
            try expect(try await ids(store, "metrics.loss != 0.5") == ["d", "c", "b"], "!= takes NaN, not runs without the metric")
            try expect(try await ids(store, "metrics.loss >= 0") == ["d", "b", "a"], "NaN satisfies no other comparison")
            try expect(try await ids(store, "tags.team IS NULL").isEmpty, "IS NULL: every run has the tag")
            try expect(try await ids(store, "params.lr IS NULL").count == 5, "IS NULL: no run has the param")
            try expect(try await ids(store, "params.depth IS NOT NULL").count == 5, "IS NOT NULL")
            try expect(try await ids(store, "params.depth = '3' and metrics.loss >= 0.5") == ["d", "a"], "and")
            try expect(try await ids(store, "tags.team LIKE 'risk%'") == ["e", "d", "b"], "LIKE is case-sensitive")
            try expect(try await ids(store, "tags.team ILIKE 'risk%'") == ["e", "d", "b", "a"], "ILIKE is not")
            try expect(try await ids(store, "tags.team LIKE 'risk_eu'") == ["d"], "_ matches one character")
            try expect(try await ids(store, "attributes.run_id IN ('a', 'c', 'zz')") == ["c", "a"], "IN")
            try expect(try await ids(store, "params.depth != '3'") == ["c"], "param !=")
            try expect(try await ids(store, "attributes.start_time > \(t0 + 2)") == ["e", "d"], "numeric attribute")
            try expect(try await ids(store, "attributes.status = 'RUNNING' and tags.team NOT IN ('risk')") == ["d", "c", "a"], "NOT IN")
        },
        .init("search orders by metric (NaN, then missing last either way), param or attribute; pages; deleted runs only when asked") { store in
            try await seed(store)
            let ascending = try await ids(store, order: ["metrics.loss ASC"])
            try expect(ascending == ["b", "a", "d", "c", "e"], "ascending: \(ascending)")
            let descending = try await ids(store, order: ["metrics.loss DESC"])
            try expect(descending == ["d", "a", "b", "c", "e"], "descending, NaN then missing last: \(descending)")
            // Pages through the phases (valued, NaN, missing), each page starting anywhere in them.
            var paged: [String] = []
            for offset in stride(from: 0, to: 5, by: 2) { paged += try await ids(store, order: ["metrics.loss ASC"], max: 2, offset: offset) }
            try expect(paged == ascending, "pages of 2 in order: \(paged)")
            try expect(try await ids(store, order: ["metrics.loss DESC"], max: 1, offset: 4) == ["e"], "a page past the valued and NaN runs")
            try expect(try await ids(store, order: ["params.depth DESC"], max: 2, offset: 1) == ["e", "d"], "a page inside the valued params")
            let byStart = try await ids(store, order: ["attributes.start_time ASC"])
            try expect(byStart == ["a", "b", "c", "d", "e"], "start time ascending: \(byStart)")
            try expect(try await ids(store, order: ["params.depth DESC", "attributes.run_name"]) == ["c", "a", "b", "d", "e"], "param then name")
            try expect(try await ids(store) == ["e", "d", "c", "b", "a"], "default: newest first")
            let first = try await store.searchRuns(RunSearch(experimentIDs: ["0"], maxResults: 2))
            try expect(first.runs.map(\.info.runID) == ["e", "d"] && first.more, "first page")
            let last = try await store.searchRuns(RunSearch(experimentIDs: ["0"], maxResults: 2, offset: 4))
            try expect(last.runs.map(\.info.runID) == ["a"] && !last.more, "last page")
            try expect(first.runs[0].params == ["depth": "3"] && first.runs[1].metrics.map(\.key) == ["loss"], "runs come whole")
            _ = try await store.updateRun(id: "c", RunUpdate(lifecycleStage: .deleted))
            try expect(try await ids(store) == ["e", "d", "b", "a"], "deleted runs are hidden")
            try expect(try await ids(store, view: .deletedOnly) == ["c"], "deleted only")
            try expect(try await ids(store, view: .all).count == 5, "all")
            let other = try await store.createExperiment(Experiment(name: "other", creationTime: t0))
            _ = try await store.createRun(info("z", experiment: other.id), tags: [:])
            try expect(try await ids(store).contains("z") == false, "other experiments are not searched")
        },
        .init("logged models, run outputs and tracked files (listed by path prefix, with % and _ taken literally)") { store in
            _ = try await store.createRun(info("r"), tags: [:])
            var model = LoggedModel(
                modelID: "m-1", experimentID: "0", name: "model", artifactLocation: "mlflow-artifacts:/0/models/m-1/artifacts",
                creationTime: t0, modelType: "xgboost", sourceRunID: "r", tags: ["a": "b"], params: ["p": "1"])
            try await store.createLoggedModel(model)
            try expect(try await store.loggedModel(id: "m-1") == model, "round trip")
            model.status = .ready
            model.lastUpdatedTime = t0 + 1
            model.tags["c"] = "d"
            try await store.updateLoggedModel(model)
            try expect(try await store.loggedModel(id: "m-1") == model, "updated")
            var other = model
            other.modelID = "m-0"
            other.name = "other"
            other.creationTime = t0 + 7
            try await store.createLoggedModel(other)
            try expect(try await store.loggedModels(experimentIDs: ["0"], name: nil).map(\.modelID) == ["m-0", "m-1"], "newest first")
            try expect(try await store.loggedModels(experimentIDs: ["0", "5"], name: "model").map(\.modelID) == ["m-1"], "by name")
            try expect(try await store.loggedModels(experimentIDs: ["5"], name: nil).isEmpty, "by experiment")
            try await expectError(.notFound) { try await store.updateLoggedModel(LoggedModel(modelID: "m-2", experimentID: "0", name: "x", artifactLocation: "", creationTime: 0)) }
            try await store.logOutputs(runID: "r", [RunOutput(modelID: "m-1", step: 3)])
            try expect(try await store.run(id: "r")?.outputs == [RunOutput(modelID: "m-1", step: 3)], "outputs")
            let ref = ArtifactRef(sha256: String(repeating: "a", count: 64), size: 3)
            for path in ["0/r/artifacts/model/MLmodel", "0/r/artifacts/model/data/x.json", "0/r/artifacts/a%b_c.txt", "0/r/artifactsX/y", "0/r2/artifacts/z"] {
                try await store.putTrackedFile(TrackedFile(path: path, artifact: ref))
            }
            try await store.putTrackedFile(TrackedFile(path: "0/r/artifacts/a%b_c.txt", artifact: ArtifactRef(sha256: ref.sha256, size: 4)))
            let files = try await store.trackedFiles(under: "0/r/artifacts/")
            try expect(files.map(\.path) == ["0/r/artifacts/a%b_c.txt", "0/r/artifacts/model/MLmodel", "0/r/artifacts/model/data/x.json"], "under a folder: \(files.map(\.path))")
            try expect(files[0].artifact.size == 4, "replaced")
            try expect(try await store.trackedFiles(under: "0/r/artifacts/a_").isEmpty, "_ is literal")
            try expect(try await store.trackedFile(path: "0/r/artifacts/model/MLmodel")?.artifact == ref, "one file")
            try expect(try await store.trackedFile(path: "0/r/artifacts/model") == nil, "a folder is no file")
        },
    ]
}
