/// PostgreSQL's schema as numbered migrations (version = position + 1). Append-only: a released migration is never
/// edited; a change is a new one at the end.
enum PostgresMigrations {
    struct Migration {
        var name: String
        var statements: [String]
    }

    static let all: [Migration] = [
        Migration(name: "0001-registry-keys-audit", statements: [
            """
            CREATE TABLE model (
                name TEXT PRIMARY KEY,
                description TEXT NOT NULL,
                tags TEXT NOT NULL,
                created_by TEXT NOT NULL,
                created_at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE model_version (
                model TEXT NOT NULL REFERENCES model(name) ON DELETE RESTRICT,
                version BIGINT NOT NULL CHECK (version > 0),
                format TEXT NOT NULL,
                artifact_sha256 TEXT NOT NULL,
                artifact_size BIGINT NOT NULL,
                input_schema TEXT NOT NULL,
                output_schema TEXT NOT NULL,
                description TEXT NOT NULL,
                params TEXT NOT NULL,
                metrics TEXT NOT NULL,
                lineage TEXT NOT NULL,
                details TEXT NOT NULL,
                runtime_options TEXT NOT NULL,
                signature TEXT,
                created_by TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                archived BOOLEAN NOT NULL DEFAULT FALSE,
                PRIMARY KEY (model, version)
            )
            """,
            "CREATE INDEX model_version_artifact ON model_version (artifact_sha256)",
            """
            CREATE TABLE alias (
                model TEXT NOT NULL,
                name TEXT NOT NULL,
                version BIGINT NOT NULL,
                updated_by TEXT NOT NULL,
                updated_at BIGINT NOT NULL,
                PRIMARY KEY (model, name),
                FOREIGN KEY (model, version) REFERENCES model_version (model, version) ON DELETE RESTRICT
            )
            """,
            """
            CREATE TABLE alias_event (
                seq BIGSERIAL PRIMARY KEY,
                model TEXT NOT NULL REFERENCES model(name) ON DELETE RESTRICT,
                alias TEXT NOT NULL,
                from_version BIGINT,
                to_version BIGINT,
                actor TEXT NOT NULL,
                at BIGINT NOT NULL,
                reason TEXT NOT NULL
            )
            """,
            "CREATE INDEX alias_event_model ON alias_event (model, alias, seq)",
            """
            CREATE TABLE reference_profile (
                model TEXT NOT NULL,
                version BIGINT NOT NULL,
                profile TEXT NOT NULL,
                PRIMARY KEY (model, version),
                FOREIGN KEY (model, version) REFERENCES model_version (model, version) ON DELETE CASCADE
            )
            """,
            """
            CREATE TABLE api_key (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                role TEXT NOT NULL,
                models TEXT,
                rate_limit DOUBLE PRECISION,
                secret_sha256 TEXT NOT NULL UNIQUE,
                created_by TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                expires_at BIGINT,
                revoked_at BIGINT
            )
            """,
            """
            CREATE TABLE audit_log (
                seq BIGINT PRIMARY KEY,
                at BIGINT NOT NULL,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                target TEXT NOT NULL,
                before TEXT NOT NULL,
                after TEXT NOT NULL,
                previous_hash TEXT NOT NULL,
                hash TEXT NOT NULL
            )
            """,
        ]),
        Migration(name: "0002-endpoints-alerts", statements: [
            "CREATE TABLE endpoint (name TEXT PRIMARY KEY, spec TEXT NOT NULL)",
            "CREATE TABLE rollout (endpoint TEXT PRIMARY KEY REFERENCES endpoint(name) ON DELETE CASCADE, state TEXT NOT NULL)",
            """
            CREATE TABLE rollout_event (
                seq BIGSERIAL PRIMARY KEY,
                endpoint TEXT NOT NULL REFERENCES endpoint(name) ON DELETE CASCADE,
                number BIGINT NOT NULL,
                at BIGINT NOT NULL,
                event TEXT NOT NULL,
                UNIQUE (endpoint, number)
            )
            """,
            """
            CREATE TABLE alert_rule (
                model TEXT NOT NULL REFERENCES model(name) ON DELETE CASCADE,
                name TEXT NOT NULL,
                rule TEXT NOT NULL,
                status TEXT NOT NULL,
                PRIMARY KEY (model, name)
            )
            """,
            """
            CREATE TABLE alert_event (
                seq BIGSERIAL PRIMARY KEY,
                model TEXT NOT NULL,
                rule TEXT NOT NULL,
                from_state TEXT NOT NULL,
                to_state TEXT NOT NULL,
                value DOUBLE PRECISION,
                threshold DOUBLE PRECISION NOT NULL,
                at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX alert_event_rule ON alert_event (model, rule, seq)",
        ]),
        Migration(name: "0003-prediction-log", statements: [
            """
            CREATE TABLE prediction (
                id TEXT PRIMARY KEY,
                model TEXT NOT NULL,
                version BIGINT NOT NULL,
                at BIGINT NOT NULL,
                latency_us BIGINT NOT NULL,
                inputs JSONB NOT NULL,
                outputs JSONB NOT NULL
            )
            """,
            "CREATE INDEX prediction_model_at ON prediction (model, at)",
            "CREATE INDEX prediction_at ON prediction (at)",
            """
            CREATE TABLE feedback (
                prediction_id TEXT NOT NULL,
                row BIGINT NOT NULL CHECK (row >= 0),
                label DOUBLE PRECISION NOT NULL,
                received_at BIGINT NOT NULL,
                PRIMARY KEY (prediction_id, row)
            )
            """,
        ]),
        Migration(name: "0004-replicas", statements: [
            // Retention's trim finds its cutoff by walking this index (a NOT IN over the kept ids was quadratic
            // once they no longer fit in work_mem, and blocked the log's writer for minutes).
            "CREATE INDEX prediction_at_id ON prediction (at DESC, id DESC)",
            """
            CREATE TABLE rollout_tally (
                endpoint TEXT NOT NULL,
                model TEXT NOT NULL,
                version BIGINT NOT NULL,
                epoch BIGINT NOT NULL,
                replica TEXT NOT NULL,
                requests BIGINT NOT NULL,
                errors BIGINT NOT NULL,
                output_count BIGINT NOT NULL,
                latencies TEXT NOT NULL,
                outputs TEXT NOT NULL,
                PRIMARY KEY (endpoint, model, version, epoch, replica)
            )
            """,
            "CREATE INDEX rollout_tally_epoch ON rollout_tally (epoch)",
            "ALTER TABLE alert_event ADD COLUMN notify BOOLEAN NOT NULL DEFAULT FALSE",
            "ALTER TABLE alert_event ADD COLUMN notified_at BIGINT",
            "CREATE INDEX alert_event_pending ON alert_event (seq) WHERE notify AND notified_at IS NULL",
            """
            CREATE TABLE request_count (
                model TEXT NOT NULL,
                replica TEXT NOT NULL,
                at BIGINT NOT NULL,
                requests BIGINT NOT NULL,
                errors BIGINT NOT NULL,
                PRIMARY KEY (model, at, replica)
            )
            """,
            """
            CREATE TABLE shadow_tally (
                endpoint TEXT NOT NULL,
                model TEXT NOT NULL,
                version BIGINT NOT NULL,
                replica TEXT NOT NULL,
                tally TEXT NOT NULL,
                PRIMARY KEY (endpoint, model, version, replica)
            )
            """,
            """
            CREATE TABLE artifact_chunk (
                sha256 TEXT NOT NULL,
                chunk INT NOT NULL CHECK (chunk >= 0),
                bytes BYTEA NOT NULL,
                PRIMARY KEY (sha256, chunk)
            )
            """,
            """
            CREATE TABLE artifact (
                sha256 TEXT PRIMARY KEY,
                size BIGINT NOT NULL,
                chunks INT NOT NULL
            )
            """,
        ]),
        Migration(name: "0005-features", statements: [
            "CREATE TABLE feature_entity (name TEXT PRIMARY KEY, spec TEXT NOT NULL)",
            "CREATE TABLE feature_view (name TEXT PRIMARY KEY, spec TEXT NOT NULL, materialized_through BIGINT)",
            """
            CREATE TABLE feature_online (
                view TEXT NOT NULL,
                entity_key TEXT NOT NULL,
                event_time BIGINT NOT NULL,
                created_time BIGINT,
                feature_values TEXT NOT NULL,
                PRIMARY KEY (view, entity_key)
            )
            """,
        ]),
        Migration(name: "0006-version-features", statements: [
            "ALTER TABLE model_version ADD COLUMN feature_refs TEXT NOT NULL DEFAULT '[]'",
        ]),
        Migration(name: "0007-tracking", statements: [
            """
            CREATE TABLE tracking_experiment (
                id BIGINT PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                artifact_location TEXT NOT NULL,
                lifecycle_stage TEXT NOT NULL,
                creation_time BIGINT NOT NULL,
                last_update_time BIGINT NOT NULL,
                tags TEXT NOT NULL
            )
            """,
            """
            INSERT INTO tracking_experiment VALUES (
                0, 'Default', 'mlflow-artifacts:/0', 'active',
                (EXTRACT(EPOCH FROM now()) * 1000)::BIGINT, (EXTRACT(EPOCH FROM now()) * 1000)::BIGINT, '{}')
            """,
            """
            CREATE TABLE tracking_run (
                run_id TEXT PRIMARY KEY,
                experiment_id BIGINT NOT NULL REFERENCES tracking_experiment(id),
                run_name TEXT NOT NULL,
                user_id TEXT NOT NULL,
                status TEXT NOT NULL,
                start_time BIGINT,
                end_time BIGINT,
                artifact_uri TEXT NOT NULL,
                lifecycle_stage TEXT NOT NULL
            )
            """,
            "CREATE INDEX tracking_run_experiment ON tracking_run(experiment_id, start_time)",
            """
            CREATE TABLE tracking_param (
                run_id TEXT NOT NULL REFERENCES tracking_run(run_id),
                key TEXT NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (run_id, key)
            )
            """,
            "CREATE INDEX tracking_param_key ON tracking_param(key, value)",
            """
            CREATE TABLE tracking_tag (
                run_id TEXT NOT NULL REFERENCES tracking_run(run_id),
                key TEXT NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (run_id, key)
            )
            """,
            "CREATE INDEX tracking_tag_key ON tracking_tag(key, value)",
            """
            CREATE TABLE tracking_metric (
                run_id TEXT NOT NULL REFERENCES tracking_run(run_id),
                key TEXT NOT NULL,
                step BIGINT NOT NULL,
                timestamp BIGINT NOT NULL,
                value DOUBLE PRECISION NOT NULL,
                is_nan INT NOT NULL,
                PRIMARY KEY (run_id, key, step, timestamp, value, is_nan)
            )
            """,
            """
            CREATE TABLE tracking_latest_metric (
                run_id TEXT NOT NULL REFERENCES tracking_run(run_id),
                key TEXT NOT NULL,
                step BIGINT NOT NULL,
                timestamp BIGINT NOT NULL,
                value DOUBLE PRECISION NOT NULL,
                is_nan INT NOT NULL,
                PRIMARY KEY (run_id, key)
            )
            """,
            "CREATE INDEX tracking_latest_metric_key ON tracking_latest_metric(key, value)",
            """
            CREATE TABLE tracking_run_output (
                run_id TEXT NOT NULL REFERENCES tracking_run(run_id),
                model_id TEXT NOT NULL,
                step BIGINT NOT NULL,
                PRIMARY KEY (run_id, model_id)
            )
            """,
            """
            CREATE TABLE tracking_logged_model (
                model_id TEXT PRIMARY KEY,
                experiment_id BIGINT NOT NULL REFERENCES tracking_experiment(id),
                name TEXT NOT NULL,
                artifact_location TEXT NOT NULL,
                creation_time BIGINT NOT NULL,
                last_updated_time BIGINT NOT NULL,
                model_type TEXT NOT NULL,
                source_run_id TEXT NOT NULL,
                status TEXT NOT NULL,
                status_message TEXT NOT NULL,
                lifecycle_stage TEXT NOT NULL,
                tags TEXT NOT NULL,
                params TEXT NOT NULL
            )
            """,
            // Byte order, whatever the database's collation: folders are selected as ranges of paths.
            "CREATE TABLE tracking_file (path TEXT COLLATE \"C\" PRIMARY KEY, sha256 TEXT NOT NULL, size BIGINT NOT NULL)",
            "CREATE SEQUENCE tracking_experiment_id START 1",
        ]),
        Migration(name: "0008-retraining", statements: [
            "CREATE TABLE retrain_policy (model TEXT PRIMARY KEY, spec TEXT NOT NULL)",
            "CREATE TABLE retrain_job (id TEXT PRIMARY KEY, model TEXT NOT NULL, state TEXT NOT NULL, created_at BIGINT NOT NULL, spec TEXT NOT NULL)",
            "CREATE INDEX retrain_job_model ON retrain_job(model, created_at)",
            // At most one queued or running job per model, whichever replica creates it.
            "CREATE UNIQUE INDEX retrain_job_active ON retrain_job(model) WHERE state IN ('queued', 'running')",
        ]),
        Migration(name: "0009-batch-jobs", statements: [
            "CREATE TABLE batch_job (id TEXT PRIMARY KEY, state TEXT NOT NULL, created_at BIGINT NOT NULL, spec TEXT NOT NULL)",
            "CREATE INDEX batch_job_state ON batch_job(state, created_at)",
        ]),
        Migration(name: "0010-approvals", statements: [
            "CREATE TABLE protection (target TEXT PRIMARY KEY, spec TEXT NOT NULL)",
            "CREATE TABLE approval_request (id TEXT PRIMARY KEY, target TEXT NOT NULL, state TEXT NOT NULL, requested_at BIGINT NOT NULL, spec TEXT NOT NULL)",
            "CREATE INDEX approval_request_target ON approval_request(target, state)",
            "CREATE INDEX approval_request_time ON approval_request(requested_at)",
        ]),
        Migration(name: "0011-validation", statements: [
            "CREATE TABLE expectations (model TEXT NOT NULL, version INTEGER NOT NULL, spec TEXT NOT NULL, PRIMARY KEY (model, version))",
            "CREATE TABLE validation_run (id TEXT PRIMARY KEY, model TEXT NOT NULL, created_at BIGINT NOT NULL, spec TEXT NOT NULL)",
            "CREATE INDEX validation_run_model ON validation_run(model, created_at)",
        ]),
        Migration(name: "0012-prediction-flags", statements: [
            "ALTER TABLE prediction ADD COLUMN flags JSONB",
        ]),
        Migration(name: "0013-cost-figures", statements: [
            "ALTER TABLE request_count ADD COLUMN predictions BIGINT NOT NULL DEFAULT 0",
            "ALTER TABLE request_count ADD COLUMN cpu_seconds DOUBLE PRECISION NOT NULL DEFAULT 0",
            "ALTER TABLE request_count ADD COLUMN gib_hours DOUBLE PRECISION NOT NULL DEFAULT 0",
        ]),
        Migration(name: "0014-latency-counts", statements: [
            "ALTER TABLE request_count ADD COLUMN latency_counts TEXT NOT NULL DEFAULT ''",
        ]),
        Migration(name: "0015-log-secret", statements: [
            "CREATE TABLE log_secret (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        ]),
    ]
}
