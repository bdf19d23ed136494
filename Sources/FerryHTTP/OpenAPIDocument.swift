import FerryCore

/// The OpenAPI 3.0 description of every route, served at `/openapi.json`.
///
/// `routes` is the single list the document is built from; a test checks it against the router's own route list,
/// so a route cannot be added without being described.
enum OpenAPIDocument {
    struct Route {
        var method: String
        var path: String
        var summary: String
        var tag: String
        /// Who may call the route; the access middleware enforces exactly this table.
        var access: RouteAccess
        var request: JSONValue? = nil
        var requestContentType = "application/json"
        var status = 200
        var responseContentType = "application/json"
        /// Other content types the route answers with the same schema (chosen by a query parameter).
        var otherResponseContentTypes: [String] = []
        var response: JSONValue
        var query: [(name: String, description: String)] = []
        /// Another success the route may answer, e.g. 202 with an approval request when its target is protected.
        var alternative: (status: Int, description: String, schema: JSONValue)? = nil
    }

    static func ref(_ name: String) -> JSONValue { ["$ref": .string("#/components/schemas/\(name)")] }
    static let string: JSONValue = ["type": "string"]
    static let integer: JSONValue = ["type": "integer"]
    static let number: JSONValue = ["type": "number"]
    static let boolean: JSONValue = ["type": "boolean"]
    static func array(_ items: JSONValue) -> JSONValue { ["type": "array", "items": items] }
    static func object(_ properties: [String: JSONValue], required: [String] = []) -> JSONValue {
        var o: [String: JSONValue] = ["type": "object", "properties": .object(properties)]
        if !required.isEmpty { o["required"] = .array(required.map { .string($0) }) }
        return .object(o)
    }
    static func map(_ values: JSONValue) -> JSONValue { ["type": "object", "additionalProperties": values] }
    static func list(_ item: String) -> JSONValue { object(["items": array(ref(item))], required: ["items"]) }

    static let routes: [Route] = {
        let protected = (202, "The target is protected: the change waits in an approval request for a second principal", ref("PendingApproval"))
        var r: [Route] = [
            Route(method: "get", path: "/v2/health/live", summary: "Server liveness", tag: "inference", access: .open, response: ref("Live")),
            Route(method: "get", path: "/v2/health/ready", summary: "Server readiness (503 while starting or draining)", tag: "inference", access: .open, response: ref("Ready")),
            Route(method: "get", path: "/v2", summary: "Server metadata", tag: "inference", access: .requires(.read, openToRestricted: true), response: ref("ServerMetadata")),
        ]
        for versioned in [false, true] {
            let base = versioned ? "/v2/models/{name}/versions/{version}" : "/v2/models/{name}"
            let which = versioned ? "a version (number or alias) of a model" : "a model's default version (production alias, else newest)"
            r.append(Route(method: "get", path: base, summary: "Metadata of \(which)", tag: "inference", access: .requires(.read), response: ref("ModelMetadata")))
            r.append(Route(method: "get", path: base + "/ready", summary: "Readiness of \(which); loads it if needed", tag: "inference", access: .requires(.read), response: ref("ModelReady")))
            r.append(Route(method: "post", path: base + "/infer", summary: "Inference on \(which) (JSON or binary tensor extension); parameters.contributions=true adds a 'contributions' output", tag: "inference", access: .requires(.predict), request: ref("InferenceRequest"), response: ref("InferenceResponse")))
            let v1 = versioned ? "/v1/models/{name}/versions/{version}:predict" : "/v1/models/{name}:predict"
            r.append(Route(method: "post", path: v1, summary: "V1 predict with instances on \(which)", tag: "inference", access: .requires(.predict), request: ref("PredictRequest"), response: ref("PredictResponse")))
            let explain = versioned ? "/v1/models/{name}/versions/{version}:explain" : "/v1/models/{name}:explain"
            r.append(Route(method: "post", path: explain, summary: "Exact TreeSHAP explanations (per-feature contributions and bias) for instances on \(which)", tag: "inference", access: .requires(.predict), request: ref("PredictRequest"), response: ref("ExplainResponse")))
        }
        r += [
            Route(method: "get", path: "/api/v1/models", summary: "List models by name (all of them, or one page with max_results)", tag: "registry", access: .requires(.read, openToRestricted: true), response: object(["items": array(ref("Model")), "next_page_token": ["type": "string", "description": "pass as page_token for the next page; absent on the last"]], required: ["items"]), query: [("max_results", "at most this many models (1-10000); the answer carries next_page_token when more follow"), ("page_token", "next_page_token of the previous page")]),
            Route(method: "post", path: "/api/v1/models", summary: "Create a model", tag: "registry", access: .requires(.deploy), request: ref("CreateModelRequest"), status: 201, response: ref("Model")),
            Route(method: "get", path: "/api/v1/models/{name}", summary: "Show a model", tag: "registry", access: .requires(.read), response: ref("Model")),
            Route(method: "patch", path: "/api/v1/models/{name}", summary: "Update a model's description or tags", tag: "registry", access: .requires(.deploy), request: ref("UpdateModelRequest"), response: ref("Model")),
            Route(method: "get", path: "/api/v1/models/{name}/versions", summary: "List a model's versions", tag: "registry", access: .requires(.read), response: list("Version")),
            Route(method: "post", path: "/api/v1/models/{name}/versions", summary: "Register a new version (JSON with a base64 artifact, or the raw artifact as application/octet-stream with format, description and alias in the query)", tag: "registry", access: .requires(.deploy), request: ref("RegisterVersionRequest"), status: 201, response: ref("Version"), query: [("format", "model format for raw uploads (detected when absent)"), ("description", "version description for raw uploads"), ("alias", "comma-separated aliases to point at the new version, for raw uploads"), ("features", "comma-separated view:feature references the feature store supplies at inference, for raw uploads")]),
            Route(method: "get", path: "/api/v1/models/{name}/versions/{version}", summary: "Show a version", tag: "registry", access: .requires(.read), response: ref("Version")),
            Route(method: "post", path: "/api/v1/models/{name}/versions/{version}/archive", summary: "Archive a version (refused while an endpoint uses it; its artifact is kept)", tag: "registry", access: .requires(.deploy), response: ref("Version")),
            Route(method: "post", path: "/api/v1/models/{name}/versions/{version}/unarchive", summary: "Take a version out of the archive: served by number and as a candidate default again", tag: "registry", access: .requires(.deploy), response: ref("Version")),
            Route(method: "get", path: "/api/v1/models/{name}/aliases", summary: "List a model's aliases", tag: "registry", access: .requires(.read), response: list("Alias")),
            Route(method: "put", path: "/api/v1/models/{name}/aliases/{alias}", summary: "Point an alias at a version (loads and warms it first)", tag: "registry", access: .requires(.deploy), request: ref("SetAliasRequest"), response: ref("AliasEvent"), alternative: protected),
            Route(method: "delete", path: "/api/v1/models/{name}/aliases/{alias}", summary: "Remove an alias", tag: "registry", access: .requires(.deploy), response: ref("AliasEvent"), alternative: protected),
            Route(method: "get", path: "/api/v1/models/{name}/predictions", summary: "Logged predictions of a model, newest first", tag: "monitoring", access: .requires(.read), response: list("Prediction"), query: [("version", "only this version"), ("since", "ISO 8601 time, inclusive"), ("until", "ISO 8601 time, exclusive"), ("limit", "at most this many (1-10000, default 100)")]),
            Route(method: "get", path: "/api/v1/predictions/{id}", summary: "One logged prediction by the id its response carried", tag: "monitoring", access: .requires(.read), response: ref("Prediction")),
            Route(method: "put", path: "/api/v1/models/{name}/versions/{version}/reference", summary: "Profile a version's training or validation sample (V1 instances as JSON, or CSV with a header) and keep it as the version's drift reference", tag: "monitoring", access: .requires(.deploy), request: ref("PredictRequest"), response: ref("ReferenceProfile")),
            Route(method: "get", path: "/api/v1/models/{name}/versions/{version}/card", summary: "A version's model card: purpose and owner, lineage, metrics, feature importance, inputs and outputs, signature, aliases and their history, and drift, performance and fairness on recent traffic", tag: "registry", access: .requires(.read), responseContentType: "text/markdown", otherResponseContentTypes: ["text/html"], response: ["type": "string"], query: [("format", "markdown (default) or html")]),
            Route(method: "get", path: "/api/v1/models/{name}/versions/{version}/reference", summary: "A version's reference profile", tag: "monitoring", access: .requires(.read), response: ref("ReferenceProfile")),
            Route(method: "post", path: "/api/v1/feedback", summary: "Ground truth for logged predictions (one item, a list, or {items: [...]}); unmatched ids are kept and counted", tag: "monitoring", access: .requires(.feedback, openToRestricted: true), request: ref("FeedbackRequest"), response: object(["accepted": integer, "matched": integer, "unmatched": integer], required: ["accepted", "matched", "unmatched"])),
            Route(method: "get", path: "/api/v1/models/{name}/performance", summary: "Accuracy, precision, recall, F1, ROC AUC, log loss (classifiers) or RMSE, MAE, R2 (regressors) on predictions with ground truth, optionally per cohort", tag: "monitoring", access: .requires(.read), response: ref("PerformanceSummary"), query: [("version", "version number (default: the served version)"), ("last", "the last N labelled rows (default 100000)"), ("since", "ISO 8601 start (prediction time)"), ("until", "ISO 8601 end"), ("segment_by", "a feature name: cohorts by its categories or quartiles"), ("every", "seconds: the scores per period of prediction time too (series), cohorts as over the whole window")]),
            Route(method: "get", path: "/api/v1/models/{name}/data", summary: "Training data from production: a version's logged rows (features as logged, sensitive ones redacted or hashed; categories by name), its outputs and the ground-truth label where feedback arrived, as CSV with prediction_id, row and time", tag: "monitoring", access: .requires(.read), responseContentType: "text/csv", response: ["type": "string"], query: [("labelled", "true: only rows with ground truth"), ("version", "version number (default: the served version)"), ("last", "the last N logged requests (default 100000)"), ("since", "ISO 8601 start (prediction time)"), ("until", "ISO 8601 end")]),
            Route(method: "get", path: "/api/v1/models/{name}/fairness", summary: "Group fairness of a binary classifier's decisions on predictions with ground truth, by a sensitive feature's logged values: selection rate, TPR, FPR and accuracy per group and overall; demographic parity, equal opportunity and equalized odds differences and ratios, accuracy difference (fairlearn's definitions)", tag: "monitoring", access: .requires(.read), response: ref("Fairness"), query: [("attribute", "the sensitive feature whose groups are compared (required)"), ("threshold", "probability at or above which a prediction is positive (default 0.5)"), ("version", "version number (default: the served version)"), ("last", "the last N labelled rows (default 100000)"), ("since", "ISO 8601 start (prediction time)"), ("until", "ISO 8601 end"), ("every", "seconds: the figures per period of prediction time too (series)")]),
            Route(method: "put", path: "/api/v1/models/{name}/retrain/policy", summary: "Set the model's retraining policy: the trainer command, the alerts and schedule that trigger it, the labelled window and its held-out fraction, the evaluation gate, and the endpoint a winner is rolled out on", tag: "retraining", access: .requires(.deploy), request: ref("RetrainPolicyRequest"), response: ref("RetrainPolicy")),
            Route(method: "get", path: "/api/v1/models/{name}/retrain/policy", summary: "The model's retraining policy", tag: "retraining", access: .requires(.read), response: ref("RetrainPolicy")),
            Route(method: "delete", path: "/api/v1/models/{name}/retrain/policy", summary: "Remove the model's retraining policy", tag: "retraining", access: .requires(.deploy), response: object(["deleted": boolean], required: ["deleted"])),
            Route(method: "post", path: "/api/v1/models/{name}/retrain", summary: "Queue a retraining by hand (refused while one is queued or running)", tag: "retraining", access: .requires(.deploy), status: 202, response: ref("RetrainJob")),
            Route(method: "get", path: "/api/v1/models/{name}/retrain/jobs", summary: "The model's retraining jobs, newest first: trigger, state, data window, candidate and evaluation", tag: "retraining", access: .requires(.read), response: list("RetrainJob"), query: [("limit", "most jobs to list (default 50)")]),
            Route(method: "get", path: "/api/v1/models/{name}/retrain/jobs/{id}", summary: "One retraining job, with the trainer's output", tag: "retraining", access: .requires(.read), response: ref("RetrainJob")),
            Route(method: "post", path: "/api/v1/models/{name}/retrain/jobs/{id}/cancel", summary: "Cancel a queued retraining job", tag: "retraining", access: .requires(.deploy), response: ref("RetrainJob")),
            Route(method: "post", path: "/api/v1/models/{name}/retrain/jobs/{id}/report", summary: "A webhook trainer's answer to the job it was called for: the version of the model it registered, or the error that stopped it", tag: "retraining", access: .requires(.deploy), request: object(["version": integer, "error": string]), response: ref("RetrainJob")),
            Route(method: "get", path: "/ui", summary: "The web console (sign in with an API key; every page reads this API with it)", tag: "console", access: .open, responseContentType: "text/html", response: string),
            Route(method: "get", path: "/ui/app.js", summary: "The web console's script", tag: "console", access: .open, responseContentType: "text/javascript", response: string),
            Route(method: "get", path: "/ui/app.css", summary: "The web console's styles", tag: "console", access: .open, responseContentType: "text/css", response: string),
            Route(method: "post", path: "/api/v1/jobs/uploads", summary: "Upload a batch job's input (the body: a CSV or JSON Lines file); answers where it is kept, for POST /api/v1/jobs", tag: "jobs", access: .requires(.predict, openToRestricted: true), request: ["type": "string", "format": "binary"], requestContentType: "application/octet-stream", status: 201, response: object(["upload": ref("Upload")], required: ["upload"])),
            Route(method: "post", path: "/api/v1/jobs", summary: "Submit a batch scoring job: a model (at a version or alias) or an endpoint, and an uploaded input or a file under a folder the server reads jobs from; answers at once with the queued job", tag: "jobs", access: .requires(.predict, openToRestricted: true), request: ref("JobRequest"), status: 202, response: ref("Job")),
            Route(method: "get", path: "/api/v1/jobs", summary: "Batch jobs, newest first, with their progress", tag: "jobs", access: .requires(.read, openToRestricted: true), response: list("Job"), query: [("limit", "most jobs to list (default 50)")]),
            Route(method: "get", path: "/api/v1/jobs/{id}", summary: "One batch job: state and progress (rows done and failed, rows/s, time left)", tag: "jobs", access: .requires(.read, openToRestricted: true), response: ref("Job")),
            Route(method: "post", path: "/api/v1/jobs/{id}/cancel", summary: "Cancel a queued or running batch job (a running one stops before its next chunk, keeping what it wrote)", tag: "jobs", access: .requires(.predict, openToRestricted: true), response: ref("Job")),
            Route(method: "get", path: "/api/v1/jobs/{id}/results", summary: "A job's results as CSV: row (the input's row number), the key columns, then each output", tag: "jobs", access: .requires(.predict, openToRestricted: true), responseContentType: "text/csv", response: string),
            Route(method: "get", path: "/api/v1/jobs/{id}/errors", summary: "A job's rows that could not be scored, as CSV: row and error", tag: "jobs", access: .requires(.predict, openToRestricted: true), responseContentType: "text/csv", response: string),
            Route(method: "get", path: "/api/v1/models/{name}/retrain/jobs/{id}/data", summary: "The CSV the job trains on (the logged features by name, then label), for a webhook trainer to download", tag: "retraining", access: .requires(.deploy), responseContentType: "text/csv", response: string),
            Route(method: "get", path: "/api/v1/models/{name}/alerts", summary: "A model's alert rules with their current status", tag: "alerts", access: .requires(.read), response: object(["items": array(object(["rule": ref("AlertRule"), "status": ref("AlertStatus")]))], required: ["items"])),
            Route(method: "put", path: "/api/v1/models/{name}/alerts/{alert}", summary: "Create or replace an alert rule", tag: "alerts", access: .requires(.deploy), request: ref("AlertRuleRequest"), response: object(["rule": ref("AlertRule"), "status": ref("AlertStatus")])),
            Route(method: "delete", path: "/api/v1/models/{name}/alerts/{alert}", summary: "Delete an alert rule", tag: "alerts", access: .requires(.deploy), response: object(["deleted": boolean])),
            Route(method: "get", path: "/api/v1/alerts/events", summary: "Alert state changes, oldest first", tag: "alerts", access: .requires(.read), response: object(["items": array(ref("AlertEvent"))], required: ["items"]), query: [("model", "only this model"), ("alert", "only this alert"), ("limit", "at most this many (1-10000, default 100)")]),
            Route(method: "post", path: "/api/v1/alerts/evaluate", summary: "Evaluate every alert rule now (they are also evaluated on a schedule)", tag: "alerts", access: .requires(.deploy), response: object(["changes": array(ref("AlertEvent"))], required: ["changes"])),
            Route(method: "get", path: "/api/v1/models/{name}/drift", summary: "Drift of logged traffic per feature and output (PSI, KS, chi-squared, Jensen-Shannon, Wasserstein, missing rate) against the reference profile or a baseline window", tag: "monitoring", access: .requires(.read), response: ref("DriftReport"), query: [("version", "version number (default: the served version)"), ("last", "the last N logged requests (default 10000)"), ("since", "ISO 8601 start"), ("until", "ISO 8601 end"), ("baseline_last", "compare against the last N requests instead of the reference"), ("baseline_since", "baseline window start"), ("baseline_until", "baseline window end"), ("every", "seconds: each period of prediction time against the same reference too (series, without bins)")]),
            Route(method: "get", path: "/api/v1/models/{name}/traffic", summary: "A model's requests, errors, error rate, latency percentiles (from the serving histogram), predictions and serving CPU per period, over every replica (kept for a day)", tag: "monitoring", access: .requires(.read), response: ref("Traffic"), query: [("since", "ISO 8601 start (default: an hour before until; at most a day ago)"), ("until", "ISO 8601 end (default: now)"), ("every", "seconds per period (default 60)")]),
            Route(method: "get", path: "/api/v1/models/{name}/alias-history", summary: "Every alias move of a model, oldest first", tag: "registry", access: .requires(.read), response: list("AliasEvent"), query: [("alias", "only this alias")]),
            Route(method: "get", path: "/api/v1/endpoints", summary: "List endpoints (named traffic splits over model versions)", tag: "rollouts", access: .requires(.read, openToRestricted: true), response: list("Endpoint")),
            Route(method: "put", path: "/api/v1/endpoints/{name}", summary: "Create or replace an endpoint; every version it names is loaded and warmed first. Clients then call it like a model (/v2/models/{name}/infer)", tag: "rollouts", access: .requires(.deploy), request: ref("EndpointRequest"), response: ref("Endpoint"), alternative: protected),
            Route(method: "get", path: "/api/v1/endpoints/{name}", summary: "An endpoint and its rollout, if any", tag: "rollouts", access: .requires(.read), response: object(["endpoint": ref("Endpoint"), "rollout": ref("RolloutStatus")], required: ["endpoint"])),
            Route(method: "delete", path: "/api/v1/endpoints/{name}", summary: "Delete an endpoint (not while a rollout runs)", tag: "rollouts", access: .requires(.deploy), response: object(["deleted": boolean]), alternative: protected),
            Route(method: "post", path: "/api/v1/endpoints/{name}/rollout", summary: "Start a canary (steps with gates on error rate, p99 latency, output shift and accuracy; automatic rollback) or blue-green rollout to a version", tag: "rollouts", access: .requires(.deploy), request: ref("RolloutRequest"), status: 201, response: ref("RolloutStatus"), alternative: protected),
            Route(method: "get", path: "/api/v1/endpoints/{name}/rollout", summary: "A rollout's state, its latest gate verdicts and the figures behind them", tag: "rollouts", access: .requires(.read), response: ref("RolloutStatus")),
            Route(method: "post", path: "/api/v1/endpoints/{name}/rollout/{action}", summary: "pause, resume, promote or rollback a rollout by hand", tag: "rollouts", access: .requires(.deploy), response: ref("RolloutStatus")),
            Route(method: "get", path: "/api/v1/endpoints/{name}/rollout/events", summary: "Every step of the endpoint's rollouts with the numbers that justified it, oldest first", tag: "rollouts", access: .requires(.read), response: list("RolloutEvent"), query: [("limit", "the newest N (1-10000, default 100)")]),
            Route(method: "get", path: "/api/v1/endpoints/{name}/shadow", summary: "How each shadow version compares with the answering version on mirrored traffic", tag: "rollouts", access: .requires(.read), response: list("ShadowReport")),
            Route(method: "get", path: "/api/v1/models/{name}/versions/{version}/expectations", summary: "What the version expects of a data file (the edited expectations, else those its schema and reference profile imply): per column a type, range, categories, null rate, uniqueness and drift limit; per file a row count, a unique key and no duplicate rows", tag: "validation", access: .requires(.read), response: ref("Expectations")),
            Route(method: "put", path: "/api/v1/models/{name}/versions/{version}/expectations", summary: "Replace the version's expectations", tag: "validation", access: .requires(.deploy), request: ref("ExpectationsRequest"), response: ref("Expectations")),
            Route(method: "delete", path: "/api/v1/models/{name}/versions/{version}/expectations", summary: "Drop the version's edited expectations: they are derived from its schema and reference profile again (answered with those)", tag: "validation", access: .requires(.deploy), response: ref("Expectations")),
            Route(method: "post", path: "/api/v1/models/{name}/validations", summary: "Check a file (the body: CSV with a header line, or JSON Lines) against a version's expectations in one streaming pass; rows that break a rule go to the run's quarantine with the rules they broke", tag: "validation", access: .requires(.predict), request: ["type": "string", "format": "binary"], requestContentType: "application/octet-stream", status: 201, response: ref("ValidationRun"), query: [("version", "version number or alias (default: the served version)"), ("format", "csv or jsonl (default: from source's name, else csv)"), ("source", "the file's name, kept with the run")]),
            Route(method: "get", path: "/api/v1/models/{name}/validations", summary: "The model's validation runs, newest first", tag: "validation", access: .requires(.read), response: list("ValidationRun"), query: [("limit", "most runs to list (default 50)")]),
            Route(method: "get", path: "/api/v1/models/{name}/validations/{id}", summary: "One validation run: pass or fail per expectation with counts and examples", tag: "validation", access: .requires(.read), otherResponseContentTypes: ["text/html"], response: ref("ValidationRun"), query: [("format", "json (default) or html (a page)")]),
            Route(method: "get", path: "/api/v1/models/{name}/validations/{id}/quarantine", summary: "The run's quarantined rows in input order: CSV with row and rules before the row's own fields, or JSON Lines objects {row, rules, record}", tag: "validation", access: .requires(.read), responseContentType: "text/csv", otherResponseContentTypes: ["application/x-ndjson"], response: string),
            Route(method: "get", path: "/api/v1/cost", summary: "CPU time on the serving path, model memory over time and, with prices (--cost-per-cpu-hour, --cost-per-gib-hour), the cost per 1,000 predictions, per model version and per principal (other principals' for admins only), on this replica since it started", tag: "cost", access: .requires(.read, openToRestricted: true), response: ref("Cost")),
            Route(method: "get", path: "/api/v1/protections", summary: "Protected aliases and endpoints: changing one needs a second principal's approval", tag: "approvals", access: .requires(.read, openToRestricted: true), response: list("Protection")),
            Route(method: "put", path: "/api/v1/models/{name}/aliases/{alias}/protection", summary: "Protect an alias: moving or removing it files an approval request that a second principal (deployer or above, not the requester) must approve", tag: "approvals", access: .requires(.admin), request: ref("ProtectionRequest"), response: ref("Protection")),
            Route(method: "delete", path: "/api/v1/models/{name}/aliases/{alias}/protection", summary: "Remove an alias's protection", tag: "approvals", access: .requires(.admin), response: object(["deleted": boolean])),
            Route(method: "put", path: "/api/v1/endpoints/{name}/protection", summary: "Protect an endpoint: starting a rollout, replacing or deleting it files an approval request (pausing, resuming, promoting and rolling back a running rollout do not)", tag: "approvals", access: .requires(.admin), request: ref("ProtectionRequest"), response: ref("Protection")),
            Route(method: "delete", path: "/api/v1/endpoints/{name}/protection", summary: "Remove an endpoint's protection", tag: "approvals", access: .requires(.admin), response: object(["deleted": boolean])),
            Route(method: "get", path: "/api/v1/approvals", summary: "Approval requests, newest first (a pending one past its expiry reads as expired)", tag: "approvals", access: .requires(.read, openToRestricted: true), response: list("Approval"), query: [("state", "pending, approved, rejected, expired, cancelled or failed"), ("limit", "at most this many (1-1000, default 100)")]),
            Route(method: "get", path: "/api/v1/approvals/{id}", summary: "One approval request", tag: "approvals", access: .requires(.read, openToRestricted: true), response: ref("Approval")),
            Route(method: "post", path: "/api/v1/approvals/{id}/approve", summary: "Approve a pending request (not your own) and carry its change out; answers approved with what was done, or failed with why it could not be", tag: "approvals", access: .requires(.deploy, openToRestricted: true), request: ref("Decision"), response: ref("Approval")),
            Route(method: "post", path: "/api/v1/approvals/{id}/reject", summary: "Reject a pending request (not your own)", tag: "approvals", access: .requires(.deploy, openToRestricted: true), request: ref("Decision"), response: ref("Approval")),
            Route(method: "post", path: "/api/v1/approvals/{id}/cancel", summary: "Withdraw your own pending request (admins may withdraw any)", tag: "approvals", access: .requires(.deploy, openToRestricted: true), response: ref("Approval")),
            Route(method: "get", path: "/api/v1/whoami", summary: "The principal the request's credentials stand for", tag: "security", access: .requires(.read, openToRestricted: true), response: ref("Principal")),
            Route(method: "get", path: "/api/v1/keys", summary: "List API keys (never their secrets)", tag: "security", access: .requires(.admin), response: list("APIKey")),
            Route(method: "post", path: "/api/v1/keys", summary: "Create an API key; the answer holds its secret, which is shown only this once", tag: "security", access: .requires(.admin), request: ref("CreateKeyRequest"), status: 201, response: ref("CreatedKey")),
            Route(method: "delete", path: "/api/v1/keys/{id}", summary: "Revoke an API key (takes effect at once)", tag: "security", access: .requires(.admin), response: ref("APIKey")),
            Route(method: "get", path: "/api/v1/audit", summary: "Audit trail entries, oldest first: who changed what, when, before and after, hash-chained", tag: "security", access: .requires(.admin), response: list("AuditEntry"), query: [("after", "only entries after this sequence number (default 0)"), ("limit", "at most this many (1-10000, default 1000)")]),
            Route(method: "get", path: "/api/v1/audit/verify", summary: "Check the whole audit trail's hash chain on the server", tag: "security", access: .requires(.admin), response: ref("AuditVerification")),
            Route(method: "get", path: "/api/v1/cluster", summary: "This replica: its name, whether it leads (runs rollouts, alert evaluation, retention, webhooks), its store, the last change it applied", tag: "meta", access: .requires(.read), response: ref("Cluster")),
            Route(method: "post", path: "/api/v1/features/apply", summary: "Apply entities and feature views (new at version 1, changed ones one version up, unchanged kept), in one audited transaction", tag: "features", access: .requires(.deploy), request: ref("FeatureDefinitions"), response: ref("FeatureDefinitions")),
            Route(method: "get", path: "/api/v1/features/entities", summary: "List entities", tag: "features", access: .requires(.read), response: object(["items": array(ref("FeatureEntity"))], required: ["items"])),
            Route(method: "get", path: "/api/v1/features/views", summary: "List feature views", tag: "features", access: .requires(.read), response: object(["items": array(ref("FeatureView"))], required: ["items"])),
            Route(method: "get", path: "/api/v1/features/views/{name}", summary: "Show a feature view", tag: "features", access: .requires(.read), response: ref("FeatureView")),
            Route(method: "post", path: "/api/v1/features/materialize", summary: "Load each view's latest values with event time in [start, end] from its source into the online store (older events never replace newer ones)", tag: "features", access: .requires(.deploy), request: object(["start": string, "end": string, "views": array(string)], required: ["start", "end"]), response: ref("Materialization")),
            Route(method: "post", path: "/api/v1/features/materialize-incremental", summary: "Materialize each view from where its last materialization ended (the first time from end - ttl) to end", tag: "features", access: .requires(.deploy), request: object(["end": string, "views": array(string)], required: ["end"]), response: ref("Materialization")),
            Route(method: "post", path: "/api/v1/features/push", summary: "Write rows of a view into the online store (streaming updates); an older event never overwrites a newer one", tag: "features", access: .requires(.deploy), request: object(["view": string, "rows": array(map([:]))], required: ["view", "rows"]), response: object(["written": integer, "ignored_older": integer], required: ["written", "ignored_older"])),
            Route(method: "post", path: "/api/v1/features/online", summary: "Online feature values for entity keys, with a status per value (present, null_value, not_found, outside_ttl: a value older than its view's ttl is served as null)", tag: "features", access: .requires(.predict), request: ref("OnlineFeaturesRequest"), response: object(["features": array(string), "results": array(object(["entity": map([:]), "values": array([:]), "statuses": array(string), "event_timestamps": array(["type": "string", "nullable": true])]))], required: ["features", "results"])),
            Route(method: "post", path: "/api/v1/features/training-set", summary: "Point-in-time-correct training set: for each entity row (join keys and a timestamp), each feature's latest value with event time in [t - ttl, t]; rows without one are kept with an empty value", tag: "features", access: .requires(.predict), request: ["type": "string"], requestContentType: "text/csv", responseContentType: "text/csv", response: ["type": "string"], query: [("features", "comma-separated view:feature references (required)"), ("full_feature_names", "name columns view__feature (true or false)"), ("timestamp_column", "the entity CSV's timestamp column (default event_timestamp)")]),
            Route(method: "post", path: "/get-online-features", summary: "Feast feature server's online read (request and column-major answer as `feast serve`), so Feast clients work unchanged", tag: "features", access: .requires(.predict), request: ref("OnlineFeaturesRequest"), response: object(["metadata": object(["feature_names": array(string)]), "results": array(object(["values": array([:]), "statuses": array(string), "event_timestamps": array(string)]))], required: ["metadata", "results"])),
            Route(method: "get", path: "/openapi.json", summary: "This document", tag: "meta", access: .requires(.read, openToRestricted: true), response: ["type": "object"]),
            Route(method: "get", path: "/metrics", summary: "Prometheus metrics (text exposition format 0.0.4)", tag: "meta", access: .requires(.read), responseContentType: "text/plain", response: ["type": "string"]),
        ]
        return r
    }()

    static let schemas: JSONValue = {
        let parameters = map(["oneOf": [string, number, boolean]])
        let feature = object([
            "name": string, "datatype": string, "nullable": boolean, "description": string,
        ], required: ["name"])
        let outputSpec = object(["name": string, "datatype": string, "shape": array(integer), "description": string], required: ["name", "datatype", "shape"])
        let tensorMeta = object(["name": string, "datatype": string, "shape": array(integer)], required: ["name", "datatype", "shape"])
        let lineage = object(["training_data": string, "training_data_digest": string, "code": string, "run": string, "source": string])
        let retrainPolicy: [String: JSONValue] = [
            "command": array(string), "webhook": object(["url": string, "secret": string], required: ["url"]), "alerts": array(string), "every_seconds": integer, "window_rows": integer, "holdout_fraction": number,
            "timeout_seconds": integer, "retries": integer, "endpoint": string, "rollout_steps": array(number), "rollout_bake_seconds": number,
            "rollout_gates": ref("RolloutGates"),
            "gate": object(["metric": string, "min_improvement": number, "require_confidence": boolean, "max_latency_ratio": number]),
        ]
        return [
            "Error": object(["error": string], required: ["error"]),
            "VersionRef": object(["model": string, "version": integer], required: ["model", "version"]),
            "Endpoint": object([
                "name": string,
                "variants": array(object(["model": string, "version": integer, "weight": number], required: ["model", "version", "weight"])),
                "shadows": array(object(["model": string, "version": integer, "share": number], required: ["model", "version", "share"])),
                "sticky_header": string, "timeout_ms": integer,
                "fallback": object(["model": string, "version": integer, "value": number]),
                "cache": object(["max_entries": integer, "ttl_seconds": number, "max_bytes": integer]),
                "created_by": string, "updated_at": ["type": "string", "format": "date-time"],
            ], required: ["name", "variants", "shadows"]),
            "EndpointRequest": object([
                "variants": ["type": "array", "description": "versions and relative weights", "items": object(["model": string, "version": integer, "weight": number], required: ["model", "version", "weight"])],
                "shadows": ["type": "array", "description": "versions that get a copy of `share` (0-1) of the traffic; their answers are compared, never returned", "items": object(["model": string, "version": integer, "share": number], required: ["model", "version", "share"])],
                "sticky_header": ["type": "string", "description": "request header whose value pins a caller to one variant"],
                "timeout_ms": ["type": "integer", "description": "deadline of requests that name none (header Ferry-Timeout-Ms or parameter timeout_ms)"],
                "fallback": ["type": "object", "description": "answer when the endpoint's versions cannot: another version {model, version}, or a static {value} for every row", "properties": ["model": string, "version": integer, "value": number]],
                "cache": ["type": "object", "description": "opt-in answer cache keyed by version and canonical input (V2 infer)", "properties": ["max_entries": integer, "ttl_seconds": number, "max_bytes": integer]],
            ], required: ["variants"]),
            "RolloutGates": object([
                "min_requests": integer, "max_error_rate_increase": number, "max_latency_ratio": number,
                "latency_slack_seconds": number, "max_output_psi": number, "min_outputs": integer, "max_accuracy_drop": number, "min_labels": integer,
                "fairness_attribute": ["type": "string", "description": "sensitive input whose groups the fairness gate compares (no fairness gate when absent)"],
                "max_parity_increase": number,
            ]),
            "RolloutRequest": object([
                "model": ["type": "string", "description": "default: the endpoint's current model"], "version": integer,
                "strategy": ["type": "string", "enum": ["canary", "blue-green"]],
                "steps": ["type": "array", "items": number, "description": "candidate percent per step, ending at 100 (default 5, 25, 50, 100)"],
                "bake_seconds": number, "gates": ref("RolloutGates"),
                "reason": ["type": "string", "description": "kept on the approval request when the endpoint is protected"],
            ], required: ["version"]),
            "ProtectionTarget": object([
                "kind": ["type": "string", "enum": ["alias", "endpoint"]], "model": string, "alias": string, "endpoint": string,
                "key": ["type": "string", "description": "model@alias or endpoint:name"],
            ], required: ["kind", "key"]),
            "ProtectionRequest": object([
                "expires_after_seconds": ["type": "number", "description": "how long a request waits for a decision (60 to 2592000, default 86400)"],
                "preapproved": ["type": "array", "items": ["type": "string", "enum": ["retrain"]], "description": "sources whose changes need no request: retrain (a retraining job's winner)"],
            ]),
            "Protection": object([
                "target": ref("ProtectionTarget"), "expires_after_seconds": number, "preapproved": array(string), "created_by": string,
                "created_at": ["type": "string", "format": "date-time"],
            ], required: ["target", "expires_after_seconds", "preapproved", "created_by", "created_at"]),
            "Approval": object([
                "id": string, "target": ref("ProtectionTarget"),
                "change": object([
                    "kind": ["type": "string", "enum": ["set_alias", "remove_alias", "rollout", "put_endpoint", "delete_endpoint"]], "summary": string,
                    "version": integer, "from": integer, "candidate": object(["model": string, "version": integer]),
                    "plan": object(["steps": array(number), "bake_seconds": number, "gates": ref("RolloutGates")]),
                    "variants": array(object(["model": string, "version": integer, "weight": number])),
                ], required: ["kind", "summary"]),
                "reason": string, "requested_by": string, "requested_at": ["type": "string", "format": "date-time"],
                "expires_at": ["type": "string", "format": "date-time"],
                "state": ["type": "string", "enum": ["pending", "approved", "rejected", "expired", "cancelled", "failed"]],
                "decided_by": string, "decided_at": ["type": "string", "format": "date-time"], "comment": string,
                "outcome": ["type": "string", "description": "what carrying the change out did, or why it could not"],
            ], required: ["id", "target", "change", "reason", "requested_by", "requested_at", "expires_at", "state", "comment", "outcome"]),
            "ExpectationColumn": object([
                "name": string, "kind": ["type": "string", "enum": ["numeric", "categorical"]], "min": number, "max": number,
                "categories": array(string), "max_null_rate": number, "unique": boolean, "max_psi": number,
            ], required: ["name"]),
            "ExpectationsRequest": object([
                "columns": array(ref("ExpectationColumn")), "min_rows": integer, "max_rows": integer, "unique_key": array(string), "no_duplicate_rows": boolean,
            ], required: ["columns"]),
            "Expectations": object([
                "model": string, "version": integer, "columns": array(ref("ExpectationColumn")), "min_rows": integer, "max_rows": integer,
                "unique_key": array(string), "no_duplicate_rows": boolean, "origin": ["type": "string", "enum": ["derived", "edited"]],
                "updated_by": string, "updated_at": ["type": "string", "format": "date-time"],
            ], required: ["model", "version", "columns", "no_duplicate_rows", "origin", "updated_by", "updated_at"]),
            "ValidationRun": object([
                "id": string, "model": string, "version": integer, "source": string, "format": string, "passed": boolean, "rows": integer,
                "quarantined_rows": integer, "created_by": string, "created_at": ["type": "string", "format": "date-time"],
                "results": array(object([
                    "rule": string, "column": string, "expected": string, "passed": boolean, "failures": integer, "observed": number,
                    "examples": array(object(["row": integer, "value": string], required: ["row", "value"])),
                ], required: ["rule", "expected", "passed", "failures", "examples"])),
            ], required: ["id", "model", "version", "source", "format", "passed", "rows", "quarantined_rows", "results", "created_by", "created_at"]),
            "CostRow": object([
                "model": string, "version": integer, "principal": string, "requests": integer, "predictions": integer, "cpu_seconds": number,
                "cpu_us_per_request": number, "memory_gib_hours": number, "cost": number, "cost_per_1000_predictions": number,
            ], required: ["requests", "predictions", "cpu_seconds", "memory_gib_hours"]),
            "Cost": object([
                "prices": object(["cpu_hour": number, "gib_hour": number]), "models": array(ref("CostRow")), "principals": array(ref("CostRow")),
            ], required: ["prices", "models", "principals"]),
            "PendingApproval": object(["approval": ref("Approval"), "message": string], required: ["approval", "message"]),
            "Decision": object(["comment": string]),
            "GateResult": object(["gate": string, "candidate": number, "limit": number, "passed": boolean], required: ["gate"]),
            "VariantStats": object(["requests": integer, "errors": integer, "p99_seconds": number, "accuracy": number, "labelled": integer, "outputs": integer, "parity_difference": number], required: ["requests", "errors", "labelled", "outputs"]),
            "RolloutObservation": object(["stable": ref("VariantStats"), "candidate": ref("VariantStats"), "output_psi": number], required: ["stable", "candidate"]),
            "RolloutStatus": object([
                "rollout": object([
                    "endpoint": string, "stable": ref("VersionRef"), "candidate": ref("VersionRef"),
                    "plan": object(["steps": array(number), "bake_seconds": number, "gates": ref("RolloutGates")]),
                    "step": integer, "status": ["type": "string", "enum": ["running", "paused", "promoted", "rolled_back"]],
                    "reason": string, "started_by": string,
                    "started_at": ["type": "string", "format": "date-time"], "step_started_at": ["type": "string", "format": "date-time"],
                ], required: ["endpoint", "stable", "candidate", "plan", "step", "status"]),
                "candidate_percent": number, "gates": array(ref("GateResult")), "observation": ref("RolloutObservation"),
            ], required: ["rollout", "candidate_percent", "gates"]),
            "RolloutEvent": object([
                "sequence": ["type": "integer", "description": "1, 2, ... per endpoint"], "endpoint": string,
                "at": ["type": "string", "format": "date-time"], "action": string, "stable": ref("VersionRef"), "candidate": ref("VersionRef"),
                "from_percent": number, "to_percent": number, "gates": array(ref("GateResult")), "observation": ref("RolloutObservation"),
                "by": string, "reason": string,
            ], required: ["sequence", "endpoint", "action", "stable", "candidate", "from_percent", "to_percent", "gates", "by"]),
            "ShadowReport": object([
                "endpoint": string, "shadow": ref("VersionRef"), "compared": integer, "shadow_errors": integer, "skipped": integer,
                "agreement": number, "mean_abs_difference": number, "p99_abs_difference": number, "max_abs_difference": number,
                "primary_latency_p50_seconds": number, "primary_latency_p99_seconds": number,
                "shadow_latency_p50_seconds": number, "shadow_latency_p99_seconds": number,
            ], required: ["endpoint", "shadow", "compared", "shadow_errors", "skipped"]),
            "Principal": object(["id": string, "name": string, "role": string, "models": array(string), "rate_limit": number], required: ["id", "name", "role"]),
            "APIKey": object([
                "id": string, "name": string, "role": ["type": "string", "enum": ["viewer", "predictor", "deployer", "admin"]],
                "models": array(string), "rate_limit": number, "created_by": string,
                "created_at": ["type": "string", "format": "date-time"], "expires_at": ["type": "string", "format": "date-time"],
                "revoked_at": ["type": "string", "format": "date-time"],
            ], required: ["id", "name", "role", "created_by", "created_at"]),
            "CreateKeyRequest": object([
                "name": string, "role": ["type": "string", "enum": ["viewer", "predictor", "deployer", "admin"]],
                "models": ["type": "array", "items": string, "description": "restrict the key to these models (default: all)"],
                "rate_limit": ["type": "number", "description": "requests per second (default: the role's limit)"],
                "expires_at": ["type": "string", "format": "date-time"],
            ], required: ["name", "role"]),
            "CreatedKey": object(["key": ref("APIKey"), "secret": string], required: ["key", "secret"]),
            "AuditEntry": object([
                "seq": integer, "at": ["type": "string", "format": "date-time"], "actor": string, "action": string,
                "target": string, "before": [:], "after": [:], "previous_hash": string, "hash": string,
            ], required: ["seq", "at", "actor", "action", "target", "previous_hash", "hash"]),
            "AuditVerification": object(["intact": boolean, "entries": integer, "head": string, "problems": array(string)], required: ["intact", "entries", "head", "problems"]),
            "FeatureEntity": object([
                "name": string, "join_keys": array(object(["name": string, "type": string], required: ["name", "type"])), "description": string,
                "version": integer, "updated_by": string, "updated_at": ["type": "string", "format": "date-time"],
            ], required: ["name", "join_keys"]),
            "FeatureView": object([
                "name": string, "entities": array(string),
                "features": array(object(["name": string, "type": string, "description": string], required: ["name", "type"])),
                "source": object([
                    "type": string, "path": string, "format": string, "url": string, "table": string, "query": string,
                    "timestamp_field": string, "created_timestamp_field": string,
                ]),
                "ttl": ["oneOf": [integer, string]], "owner": string, "description": string, "tags": map(string),
                "version": integer, "updated_by": string, "updated_at": ["type": "string", "format": "date-time"],
            ], required: ["name", "entities", "features", "source"]),
            "FeatureDefinitions": object(["entities": array(ref("FeatureEntity")), "feature_views": array(ref("FeatureView"))]),
            "Materialization": object(["views": array(object(["name": string, "start": string, "end": string, "rows_read": integer, "rows_written": integer]))], required: ["views"]),
            "OnlineFeaturesRequest": object(["features": array(string), "entities": map(array([:])), "full_feature_names": boolean, "feature_service": string], required: ["entities"]),
            "Fairness": {
                let rates = object(["count": integer, "selection_rate": number, "true_positive_rate": number, "false_positive_rate": number, "accuracy": number],
                                   required: ["count", "selection_rate", "true_positive_rate", "false_positive_rate", "accuracy"])
                // A ratio over a zero largest value is undefined: null, as the README says (fairlearn gives NaN).
                let ratio: JSONValue = ["type": "number", "nullable": true]
                return object([
                    "model": string, "version": integer, "attribute": string, "threshold": number, "overall": rates, "by_group": map(rates),
                    "demographic_parity_difference": number, "demographic_parity_ratio": ratio, "equal_opportunity_difference": number,
                    "equal_opportunity_ratio": ratio, "equalized_odds_difference": number, "equalized_odds_ratio": ratio, "accuracy_difference": number,
                    "series": array(object([
                        "start": ["type": "string", "format": "date-time"], "end": ["type": "string", "format": "date-time"], "count": integer,
                        "demographic_parity_difference": number, "equal_opportunity_difference": number, "equalized_odds_difference": number,
                        "accuracy_difference": number,
                    ], required: ["start", "end", "count", "demographic_parity_difference", "equal_opportunity_difference", "equalized_odds_difference", "accuracy_difference"])),
                ], required: [
                    "model", "version", "attribute", "overall", "by_group", "demographic_parity_difference", "demographic_parity_ratio",
                    "equal_opportunity_difference", "equal_opportunity_ratio", "equalized_odds_difference", "equalized_odds_ratio", "accuracy_difference",
                ])
            }(),
            "Cluster": object(["replica": string, "leader": boolean, "store": string, "applied_change": integer], required: ["replica", "leader", "store"]),
            "Live": object(["live": boolean], required: ["live"]),
            "Ready": object(["ready": boolean], required: ["ready"]),
            "ModelReady": object(["name": string, "ready": boolean], required: ["name", "ready"]),
            "ServerMetadata": object(["name": string, "version": string, "extensions": array(string)], required: ["name", "version", "extensions"]),
            "ModelMetadata": object([
                "name": string, "versions": array(string), "platform": string,
                "inputs": array(tensorMeta), "outputs": array(tensorMeta), "parameters": ["type": "object"],
            ], required: ["name", "platform", "inputs", "outputs"]),
            "InferenceRequest": object([
                "id": string, "parameters": parameters,
                "inputs": array(object([
                    "name": string, "shape": array(integer), "datatype": string, "parameters": parameters,
                    "data": ["description": "row-major values, flat or nested"],
                ], required: ["name", "shape", "datatype"])),
                "outputs": array(object(["name": string, "parameters": parameters], required: ["name"])),
            ], required: ["inputs"]),
            "InferenceResponse": object([
                "model_name": string, "model_version": string, "id": string, "parameters": parameters,
                "outputs": array(object([
                    "name": string, "shape": array(integer), "datatype": string, "parameters": parameters,
                    "data": ["type": "array", "items": [:]],
                ], required: ["name", "shape", "datatype"])),
            ], required: ["model_name", "outputs"]),
            "PredictRequest": object([
                "instances": array(["description": "a list of values in schema order, or an object keyed by feature name"]),
            ], required: ["instances"]),
            "PredictResponse": object([
                "predictions": array([:]), "model_version": string, "prediction_id": string, "served_by": string, "fallback": boolean,
            ], required: ["predictions"]),
            "ExplainResponse": object([
                "explanations": array(["description": "per instance {contributions: {feature: value}, bias}; a list of those per class for multi-class models"]),
                "model_version": string,
            ], required: ["explanations"]),
            "Feature": feature,
            "InputSchema": object(["features": array(ref("Feature"))], required: ["features"]),
            "OutputSchema": object(["outputs": array(outputSpec)], required: ["outputs"]),
            "Model": object([
                "name": string, "description": string, "tags": map(string), "created_by": string,
                "created_at": ["type": "string", "format": "date-time"], "latest_version": integer, "aliases": map(integer),
                "serving_blocked": ["type": "object", "additionalProperties": string, "description": "aliases the signature policy keeps from serving, with the reason"],
            ], required: ["name", "description", "tags", "created_by", "created_at"]),
            "CreateModelRequest": object(["name": string, "description": string, "tags": map(string)], required: ["name"]),
            "UpdateModelRequest": object(["description": string, "tags": map(string)]),
            "Version": object([
                "model": string, "version": integer, "format": string,
                "artifact": object(["sha256": string, "size": integer], required: ["sha256", "size"]),
                "input_schema": ref("InputSchema"), "output_schema": ref("OutputSchema"), "description": string,
                "params": ["type": "object"], "metrics": map(number), "lineage": lineage, "details": ["type": "object"],
                "created_by": string, "created_at": ["type": "string", "format": "date-time"], "archived": boolean,
                "aliases": array(string), "runtime_options": map(string), "signature": ref("ModelSignature"),
                "serving_blocked": ["type": "string", "description": "why an alias pointing at this version does not serve it (the signature policy)"],
                "features": ["type": "array", "items": string, "description": "view:feature references the online store supplies at inference"],
            ], required: ["model", "version", "format", "artifact", "input_schema", "output_schema", "created_by", "created_at", "archived"]),
            "ModelSignature": object([
                "key_id": string, "sha256": string, "format": string, "model": string, "signed_at": string,
                "signature": ["type": "string", "format": "byte", "description": "Ed25519 over the canonical JSON of digest, format, key_id, model, signed_at"],
            ], required: ["key_id", "sha256", "signed_at", "signature"]),
            "RegisterVersionRequest": object([
                "format": ["type": "string", "enum": ["xgboost-json", "lightgbm-text", "onnx", "remote-v2"], "description": "detected from the artifact when absent (remote-v2: a remote backend's descriptor, named explicitly)"], "artifact": ["type": "string", "format": "byte"],
                "description": string, "input_schema": ref("InputSchema"), "params": ["type": "object"],
                "metrics": map(number), "lineage": lineage, "aliases": array(string),
                "runtime_options": ["type": "object", "additionalProperties": string, "description": "xgboost-json: iterations = all | best | N"],
                "signature": ref("ModelSignature"),
                "features": ["type": "array", "items": string, "description": "view:feature references the feature store supplies at inference; requests then send the views' join keys instead"],
                "sensitive": ["type": "object", "additionalProperties": ["type": "string", "enum": ["hash", "redact"]], "description": "sensitive inputs and how the prediction log keeps them (hashed values still group for fairness)"],
            ], required: ["artifact"]),
            "Alias": object(["model": string, "name": string, "version": integer, "updated_by": string, "updated_at": ["type": "string", "format": "date-time"]], required: ["model", "name", "version"]),
            "AliasEvent": object([
                "sequence": integer, "model": string, "alias": string, "from": integer, "to": integer, "by": string,
                "at": ["type": "string", "format": "date-time"], "reason": string,
            ], required: ["sequence", "model", "alias", "by", "at"]),
            "Prediction": object([
                "id": string, "model": string, "version": integer, "at": ["type": "string", "format": "date-time"],
                "latency_us": integer, "inputs": array(array([:])), "outputs": array(array(number)),
                "flags": ["type": "array", "items": array(string), "description": "per row, what serving noticed of its inputs: out_of_range:FEATURE (outside the version's expected range), unseen_category:FEATURE (a category name the version does not know); absent when nothing was"],
            ], required: ["id", "model", "version", "at", "inputs", "outputs"]),
            "ReferenceProfile": object(["rows": integer, "features": array(["type": "object"]), "outputs": array(["type": "object"]), "createdBy": string, "createdAt": ["type": "string", "format": "date-time"]], required: ["rows", "features", "outputs"]),
            "DriftReport": object([
                "model": string, "version": integer, "against": string, "reference_rows": integer, "current_rows": integer,
                "features": array(ref("DriftResult")), "outputs": array(ref("DriftResult")),
                "series": array(object([
                    "start": ["type": "string", "format": "date-time"], "end": ["type": "string", "format": "date-time"], "rows": integer,
                    "features": array(ref("DriftResult")), "outputs": array(ref("DriftResult")),
                ], required: ["start", "end", "rows", "features", "outputs"])),
            ], required: ["model", "version", "features", "outputs"]),
            "Traffic": object([
                "model": string, "since": ["type": "string", "format": "date-time"], "until": ["type": "string", "format": "date-time"], "every": number,
                "periods": array(object([
                    "start": ["type": "string", "format": "date-time"], "end": ["type": "string", "format": "date-time"], "requests": integer,
                    "errors": integer, "error_rate": number, "p50_ms": number, "p90_ms": number, "p99_ms": number, "predictions": integer,
                    "cpu_seconds": number,
                ], required: ["start", "end", "requests", "errors", "predictions", "cpu_seconds"])),
            ], required: ["model", "since", "until", "every", "periods"]),
            "DriftResult": object([
                "name": string, "kind": string, "reference_count": integer, "current_count": integer,
                "missing_rate_reference": number, "missing_rate_current": number, "missing_rate_change": number,
                "psi": number, "js_distance": number, "ks_statistic": number, "ks_pvalue": number, "wasserstein": number,
                "chi2_statistic": number, "chi2_pvalue": number, "chi2_dof": integer, "reference_mean": number, "current_mean": number,
                "bins": object([
                    "edges": array(number), "categories": array(string), "reference": array(number), "current": array(number),
                ], required: ["reference", "current"]),
            ], required: ["name", "kind"]),
            "FeedbackItem": object(["prediction_id": string, "row": ["type": "integer", "minimum": 0], "label": number], required: ["prediction_id", "label"]),
            "FeedbackRequest": ["oneOf": [ref("FeedbackItem"), array(ref("FeedbackItem")), object(["items": array(ref("FeedbackItem"))], required: ["items"])]],
            "PerformanceReport": object([
                "count": integer, "accuracy": number, "precision": number, "recall": number, "f1": number, "roc_auc": number,
                "log_loss": number, "rmse": number, "mae": number, "r2": number,
            ], required: ["count"]),
            "PerformanceSummary": object([
                "model": string, "version": integer, "task": string, "overall": ref("PerformanceReport"), "unmatched_feedback": integer,
                "segments": array(object(["segment": string, "report": ref("PerformanceReport")])),
                "series": array(object([
                    "start": ["type": "string", "format": "date-time"], "end": ["type": "string", "format": "date-time"],
                    "overall": ref("PerformanceReport"), "segments": array(object(["segment": string, "report": ref("PerformanceReport")])),
                ], required: ["start", "end", "overall"])),
            ], required: ["model", "version", "task", "overall"]),
            "RetrainPolicyRequest": object(retrainPolicy),
            "RetrainPolicy": object(retrainPolicy.merging(["model": string, "updated_by": string, "updated_at": string]) { $1 }, required: ["model"]),
            "RetrainJob": object([
                "id": string, "model": string, "trigger": string,
                "state": ["type": "string", "enum": ["queued", "running", "succeeded", "rejected", "failed", "cancelled"]],
                "attempt": integer, "created_by": string, "created_at": string, "started_at": string, "finished_at": string, "reason": string,
                "logs": string, "champion": integer, "candidate": integer, "training_rows": integer, "holdout_rows": integer,
                "data_since": string, "data_until": string, "data_digest": string, "data_bytes": integer,
                "reported_version": integer, "reported_error": string,
                "evaluation": object([
                    "metric": string, "rows": integer, "champion": number, "challenger": number, "improvement": number, "lower": number,
                    "upper": number, "resamples": integer, "champion_micros_per_row": number, "challenger_micros_per_row": number,
                ]),
            ], required: ["id", "model", "trigger", "state", "attempt", "created_by", "created_at", "reason", "training_rows", "holdout_rows"]),
            "Upload": object(["sha256": string, "size": integer], required: ["sha256", "size"]),
            "JobRequest": object([
                "model": string, "version": ["description": "a version number or an alias (default: what the model serves)"], "endpoint": string,
                "input": object(["upload": ref("Upload"), "path": string]),
                "format": ["type": "string", "enum": ["csv", "jsonl"]], "key_columns": array(string),
                "webhook": object(["url": string, "secret": string], required: ["url"]),
            ], required: ["input"]),
            "Job": object([
                "id": string, "model": string, "version": integer, "endpoint": string,
                "input": object(["upload": ref("Upload"), "path": string]), "format": string, "key_columns": array(string), "webhook": string,
                "state": ["type": "string", "enum": .array(BatchJob.State.allCases.map { .string($0.rawValue) })],
                "created_by": string, "created_at": string, "started_at": string, "finished_at": string, "reason": string,
                "progress": object([
                    "input_bytes": integer, "bytes_done": integer, "fraction": number, "rows_done": integer, "rows_failed": integer,
                    "rows_per_second": number, "seconds_left": number,
                ], required: ["bytes_done", "rows_done", "rows_failed"]),
                "results": string, "errors": string,
            ], required: ["id", "model", "version", "input", "format", "key_columns", "state", "created_by", "created_at", "reason", "progress", "results", "errors"]),
            "AlertRuleRequest": object([
                "metric": ["type": "string", "enum": .array(AlertRule.Metric.allCases.map { .string($0.rawValue) })],
                "feature": string, "comparison": ["type": "string", "enum": [">", ">=", "<", "<="]], "threshold": number,
                "window_seconds": integer, "for_seconds": integer, "webhook": string, "webhook_secret": string,
            ], required: ["metric", "comparison", "threshold"]),
            "AlertRule": object([
                "name": string, "model": string, "metric": string, "feature": string, "comparison": string, "threshold": number,
                "window_seconds": integer, "for_seconds": integer, "webhook": string, "webhook_secret": string,
            ], required: ["name", "model", "metric", "comparison", "threshold"]),
            "AlertStatus": object(["state": ["type": "string", "enum": ["inactive", "pending", "firing", "resolved"]], "since": string, "value": number, "evaluated_at": string], required: ["state"]),
            "AlertEvent": object(["sequence": integer, "rule": string, "model": string, "from": string, "to": string, "value": number, "threshold": number, "at": string], required: ["sequence", "rule", "model", "from", "to", "at"]),
            "SetAliasRequest": object(["version": ["type": "integer", "minimum": 1], "reason": string], required: ["version"]),
        ]
    }()

    static func document(version: String) -> JSONValue {
        var paths: [String: [String: JSONValue]] = [:]
        for route in routes {
            var parameters: [JSONValue] = []
            for name in pathParameters(route.path) {
                parameters.append(["name": .string(name), "in": "path", "required": true, "schema": string])
            }
            for q in route.query {
                parameters.append(["name": .string(q.name), "in": "query", "required": false, "description": .string(q.description), "schema": string])
            }
            let errorContent: JSONValue = ["application/json": ["schema": ref("Error")]]
            var responses: [String: JSONValue] = [
                String(route.status): ["description": "Success", "content": .object(Dictionary(
                    uniqueKeysWithValues: ([route.responseContentType] + route.otherResponseContentTypes).map { ($0, ["schema": route.response]) }))],
                "default": ["description": "Error with a message naming the problem", "content": errorContent],
            ]
            if let other = route.alternative {
                responses[String(other.status)] = ["description": .string(other.description), "content": ["application/json": ["schema": other.schema]]]
            }
            if route.path.hasSuffix("/infer") {
                responses["400"] = ["description": "Malformed request or input that does not match the model's schema", "content": errorContent]
            }
            var operation: [String: JSONValue] = [
                "summary": .string(route.summary),
                "operationId": .string(operationID(route)),
                "tags": [.string(route.tag)],
                "responses": .object(responses),
            ]
            if !parameters.isEmpty { operation["parameters"] = .array(parameters) }
            if let permission = route.access.permission {
                operation["x-ferry-permission"] = .string(permission.rawValue)
                responses["401"] = ["description": "Missing, unknown, expired or revoked credentials", "content": errorContent]
                responses["403"] = ["description": "The credentials' role or model restriction does not allow this route", "content": errorContent]
                responses["429"] = ["description": "Rate limit exceeded; retry after the Retry-After header's seconds", "content": errorContent]
                operation["responses"] = .object(responses)
            } else {
                operation["security"] = []
            }
            if let request = route.request {
                var content: [String: JSONValue] = [route.requestContentType: ["schema": request]]
                if route.path.hasSuffix("/infer") {
                    content["application/octet-stream"] = ["schema": ["type": "string", "format": "binary", "description": "binary tensor extension: JSON header (Inference-Header-Content-Length bytes) followed by raw tensors"]]
                }
                if route.path == "/api/v1/models/{name}/versions" {
                    content["application/octet-stream"] = ["schema": ["type": "string", "format": "binary", "description": "the raw artifact"]]
                }
                operation["requestBody"] = ["required": true, "content": .object(content)]
            }
            paths[route.path, default: [:]][route.method] = .object(operation)
        }
        return [
            "openapi": "3.0.3",
            "info": [
                "title": "Ferry",
                "version": .string(version),
                "description": "Model registry and inference server: Open Inference Protocol (KServe V2) with Triton's binary tensor extension, V1 predict, and the registry API.",
            ],
            "paths": .object(paths.mapValues { .object($0) }),
            "security": [["bearer": []], ["apiKey": []]],
            "components": [
                "schemas": schemas,
                "securitySchemes": [
                    "bearer": ["type": "http", "scheme": "bearer", "description": "an API key (fry_...) or a JWT"],
                    "apiKey": ["type": "apiKey", "in": "header", "name": "X-API-Key"],
                ],
            ],
        ]
    }

    static func pathParameters(_ path: String) -> [String] {
        var names: [String] = []
        var rest = Substring(path)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            names.append(String(rest[rest.index(after: open)..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return names
    }

    static func operationID(_ route: Route) -> String {
        let words = route.path.split(whereSeparator: { "/{}:-.".contains($0) }).map(String.init)
        return ([route.method] + words.map { $0.prefix(1).uppercased() + $0.dropFirst() }).joined()
    }
}
