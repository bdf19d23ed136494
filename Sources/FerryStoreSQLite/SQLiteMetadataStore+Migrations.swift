import FerryCore
import Foundation
import GRDB

extension SQLiteMetadataStore {
    /// Migrations are append-only: a released migration is never edited, a change is a new one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-registry") { db in
            try db.execute(sql: """
                CREATE TABLE model (
                    name TEXT PRIMARY KEY NOT NULL,
                    description TEXT NOT NULL,
                    tags TEXT NOT NULL,
                    created_by TEXT NOT NULL,
                    created_at INTEGER NOT NULL
                );
                CREATE TABLE model_version (
                    model TEXT NOT NULL REFERENCES model(name) ON DELETE RESTRICT,
                    version INTEGER NOT NULL CHECK (version > 0),
                    format TEXT NOT NULL,
                    artifact_sha256 TEXT NOT NULL,
                    artifact_size INTEGER NOT NULL,
                    input_schema TEXT NOT NULL,
                    output_schema TEXT NOT NULL,
                    description TEXT NOT NULL,
                    params TEXT NOT NULL,
                    metrics TEXT NOT NULL,
                    lineage TEXT NOT NULL,
                    details TEXT NOT NULL,
                    created_by TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    archived INTEGER NOT NULL DEFAULT 0,
                    PRIMARY KEY (model, version)
                );
                CREATE INDEX model_version_artifact ON model_version(artifact_sha256);
                CREATE TABLE alias (
                    model TEXT NOT NULL,
                    name TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    updated_by TEXT NOT NULL,
                    updated_at INTEGER NOT NULL,
                    PRIMARY KEY (model, name),
                    FOREIGN KEY (model, version) REFERENCES model_version(model, version) ON DELETE RESTRICT
                );
                CREATE TABLE alias_event (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    model TEXT NOT NULL REFERENCES model(name) ON DELETE RESTRICT,
                    alias TEXT NOT NULL,
                    from_version INTEGER,
                    to_version INTEGER,
                    actor TEXT NOT NULL,
                    at INTEGER NOT NULL,
                    reason TEXT NOT NULL
                );
                CREATE INDEX alias_event_model ON alias_event(model, alias, seq);
                """)
        }
        migrator.registerMigration("v2-runtime-options") { db in
            try db.execute(sql: "ALTER TABLE model_version ADD COLUMN runtime_options TEXT NOT NULL DEFAULT '{}'")
        }
        migrator.registerMigration("v3-reference-profiles") { db in
            try db.execute(sql: """
                CREATE TABLE reference_profile (
                    model TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    profile TEXT NOT NULL,
                    PRIMARY KEY (model, version),
                    FOREIGN KEY (model, version) REFERENCES model_version(model, version) ON DELETE CASCADE
                )
                """)
        }
        migrator.registerMigration("v4-alerts") { db in
            try db.execute(sql: """
                CREATE TABLE alert_rule (
                    model TEXT NOT NULL REFERENCES model(name) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    rule TEXT NOT NULL,
                    status TEXT NOT NULL,
                    PRIMARY KEY (model, name)
                );
                CREATE TABLE alert_event (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    model TEXT NOT NULL,
                    rule TEXT NOT NULL,
                    from_state TEXT NOT NULL,
                    to_state TEXT NOT NULL,
                    value REAL,
                    threshold REAL NOT NULL,
                    at INTEGER NOT NULL
                );
                CREATE INDEX alert_event_rule ON alert_event(model, rule, seq);
                """)
        }
        migrator.registerMigration("v5-security") { db in
            try db.execute(sql: """
                CREATE TABLE api_key (
                    id TEXT PRIMARY KEY NOT NULL,
                    name TEXT NOT NULL,
                    role TEXT NOT NULL,
                    models TEXT,
                    rate_limit REAL,
                    secret_sha256 TEXT NOT NULL UNIQUE,
                    created_by TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    expires_at INTEGER,
                    revoked_at INTEGER
                );
                CREATE TABLE audit_log (
                    seq INTEGER PRIMARY KEY NOT NULL,
                    at INTEGER NOT NULL,
                    actor TEXT NOT NULL,
                    action TEXT NOT NULL,
                    target TEXT NOT NULL,
                    before TEXT NOT NULL,
                    after TEXT NOT NULL,
                    previous_hash TEXT NOT NULL,
                    hash TEXT NOT NULL UNIQUE
                );
                """)
        }
        migrator.registerMigration("v6-signatures") { db in
            try db.execute(sql: "ALTER TABLE model_version ADD COLUMN signature TEXT")
        }
        migrator.registerMigration("v7-endpoints") { db in
            try db.execute(sql: """
                CREATE TABLE endpoint (
                    name TEXT PRIMARY KEY NOT NULL,
                    spec TEXT NOT NULL
                );
                CREATE TABLE rollout (
                    endpoint TEXT PRIMARY KEY NOT NULL REFERENCES endpoint(name) ON DELETE CASCADE,
                    state TEXT NOT NULL
                );
                CREATE TABLE rollout_event (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    endpoint TEXT NOT NULL REFERENCES endpoint(name) ON DELETE CASCADE,
                    at INTEGER NOT NULL,
                    event TEXT NOT NULL
                );
                CREATE INDEX rollout_event_endpoint ON rollout_event(endpoint, seq);
                """)
        }
        migrator.registerMigration("v8-rollout-tallies") { db in
            try db.execute(sql: """
                CREATE TABLE rollout_tally (
                    endpoint TEXT NOT NULL,
                    model TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    epoch INTEGER NOT NULL,
                    replica TEXT NOT NULL,
                    requests INTEGER NOT NULL,
                    errors INTEGER NOT NULL,
                    output_count INTEGER NOT NULL,
                    latencies TEXT NOT NULL,
                    outputs TEXT NOT NULL,
                    PRIMARY KEY (endpoint, model, version, epoch, replica)
                );
                CREATE INDEX rollout_tally_epoch ON rollout_tally(epoch);
                """)
        }
        migrator.registerMigration("v9-outbox-and-counts") { db in
            try db.execute(sql: """
                ALTER TABLE alert_event ADD COLUMN notify INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE alert_event ADD COLUMN notified_at INTEGER;
                CREATE INDEX alert_event_pending ON alert_event(seq) WHERE notify = 1 AND notified_at IS NULL;
                CREATE TABLE request_count (
                    model TEXT NOT NULL,
                    replica TEXT NOT NULL,
                    at INTEGER NOT NULL,
                    requests INTEGER NOT NULL,
                    errors INTEGER NOT NULL,
                    PRIMARY KEY (model, at, replica)
                );
                CREATE TABLE shadow_tally (
                    endpoint TEXT NOT NULL,
                    model TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    replica TEXT NOT NULL,
                    tally TEXT NOT NULL,
                    PRIMARY KEY (endpoint, model, version, replica)
                );
                """)
        }
        migrator.registerMigration("v10-features") { db in
            try db.execute(sql: """
                CREATE TABLE feature_entity (
                    name TEXT PRIMARY KEY NOT NULL,
                    spec TEXT NOT NULL
                );
                CREATE TABLE feature_view (
                    name TEXT PRIMARY KEY NOT NULL,
                    spec TEXT NOT NULL,
                    materialized_through INTEGER
                );
                CREATE TABLE feature_online (
                    view TEXT NOT NULL,
                    entity_key TEXT NOT NULL,
                    event_time INTEGER NOT NULL,
                    created_time INTEGER,
                    feature_values TEXT NOT NULL,
                    PRIMARY KEY (view, entity_key)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v11-version-features") { db in
            try db.execute(sql: "ALTER TABLE model_version ADD COLUMN feature_refs TEXT NOT NULL DEFAULT '[]'")
        }
        migrator.registerMigration("v12-tracking") { db in
            try db.execute(sql: """
                CREATE TABLE tracking_experiment (
                    id INTEGER PRIMARY KEY NOT NULL,
                    name TEXT NOT NULL UNIQUE,
                    artifact_location TEXT NOT NULL,
                    lifecycle_stage TEXT NOT NULL,
                    creation_time INTEGER NOT NULL,
                    last_update_time INTEGER NOT NULL,
                    tags TEXT NOT NULL
                );
                INSERT INTO tracking_experiment VALUES (
                    0, 'Default', 'mlflow-artifacts:/0', 'active',
                    CAST(strftime('%s', 'now') AS INTEGER) * 1000, CAST(strftime('%s', 'now') AS INTEGER) * 1000, '{}');
                CREATE TABLE tracking_run (
                    run_id TEXT PRIMARY KEY NOT NULL,
                    experiment_id INTEGER NOT NULL REFERENCES tracking_experiment(id),
                    run_name TEXT NOT NULL,
                    user_id TEXT NOT NULL,
                    status TEXT NOT NULL,
                    start_time INTEGER,
                    end_time INTEGER,
                    artifact_uri TEXT NOT NULL,
                    lifecycle_stage TEXT NOT NULL
                );
                CREATE INDEX tracking_run_experiment ON tracking_run(experiment_id, start_time);
                CREATE TABLE tracking_param (
                    run_id TEXT NOT NULL REFERENCES tracking_run(run_id),
                    key TEXT NOT NULL,
                    value TEXT NOT NULL,
                    PRIMARY KEY (run_id, key)
                ) WITHOUT ROWID;
                CREATE INDEX tracking_param_key ON tracking_param(key, value);
                CREATE TABLE tracking_tag (
                    run_id TEXT NOT NULL REFERENCES tracking_run(run_id),
                    key TEXT NOT NULL,
                    value TEXT NOT NULL,
                    PRIMARY KEY (run_id, key)
                ) WITHOUT ROWID;
                CREATE INDEX tracking_tag_key ON tracking_tag(key, value);
                CREATE TABLE tracking_metric (
                    run_id TEXT NOT NULL REFERENCES tracking_run(run_id),
                    key TEXT NOT NULL,
                    step INTEGER NOT NULL,
                    timestamp INTEGER NOT NULL,
                    value REAL NOT NULL,
                    is_nan INTEGER NOT NULL,
                    PRIMARY KEY (run_id, key, step, timestamp, value, is_nan)
                ) WITHOUT ROWID;
                CREATE TABLE tracking_latest_metric (
                    run_id TEXT NOT NULL REFERENCES tracking_run(run_id),
                    key TEXT NOT NULL,
                    step INTEGER NOT NULL,
                    timestamp INTEGER NOT NULL,
                    value REAL NOT NULL,
                    is_nan INTEGER NOT NULL,
                    PRIMARY KEY (run_id, key)
                ) WITHOUT ROWID;
                CREATE INDEX tracking_latest_metric_key ON tracking_latest_metric(key, value);
                CREATE TABLE tracking_run_output (
                    run_id TEXT NOT NULL REFERENCES tracking_run(run_id),
                    model_id TEXT NOT NULL,
                    step INTEGER NOT NULL,
                    PRIMARY KEY (run_id, model_id)
                ) WITHOUT ROWID;
                CREATE TABLE tracking_logged_model (
                    model_id TEXT PRIMARY KEY NOT NULL,
                    experiment_id INTEGER NOT NULL REFERENCES tracking_experiment(id),
                    name TEXT NOT NULL,
                    artifact_location TEXT NOT NULL,
                    creation_time INTEGER NOT NULL,
                    last_updated_time INTEGER NOT NULL,
                    model_type TEXT NOT NULL,
                    source_run_id TEXT NOT NULL,
                    status TEXT NOT NULL,
                    status_message TEXT NOT NULL,
                    lifecycle_stage TEXT NOT NULL,
                    tags TEXT NOT NULL,
                    params TEXT NOT NULL
                );
                CREATE TABLE tracking_file (
                    path TEXT PRIMARY KEY NOT NULL,
                    sha256 TEXT NOT NULL,
                    size INTEGER NOT NULL
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v13-retraining") { db in
            try db.execute(sql: """
                CREATE TABLE retrain_policy (
                    model TEXT PRIMARY KEY NOT NULL,
                    spec TEXT NOT NULL
                );
                CREATE TABLE retrain_job (
                    id TEXT PRIMARY KEY NOT NULL,
                    model TEXT NOT NULL,
                    state TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    spec TEXT NOT NULL
                );
                CREATE INDEX retrain_job_model ON retrain_job(model, created_at);
                CREATE UNIQUE INDEX retrain_job_active ON retrain_job(model) WHERE state IN ('queued', 'running');
                """)
        }
        migrator.registerMigration("v14-batch-jobs") { db in
            try db.execute(sql: """
                CREATE TABLE batch_job (
                    id TEXT PRIMARY KEY NOT NULL,
                    state TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    spec TEXT NOT NULL
                );
                CREATE INDEX batch_job_state ON batch_job(state, created_at);
                """)
        }
        migrator.registerMigration("v15-approvals") { db in
            try db.execute(sql: """
                CREATE TABLE protection (
                    target TEXT PRIMARY KEY NOT NULL,
                    spec TEXT NOT NULL
                );
                CREATE TABLE approval_request (
                    id TEXT PRIMARY KEY NOT NULL,
                    target TEXT NOT NULL,
                    state TEXT NOT NULL,
                    requested_at INTEGER NOT NULL,
                    spec TEXT NOT NULL
                );
                CREATE INDEX approval_request_target ON approval_request(target, state);
                CREATE INDEX approval_request_time ON approval_request(requested_at);
                """)
        }
        migrator.registerMigration("v16-validation") { db in
            try db.execute(sql: """
                CREATE TABLE expectations (
                    model TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    spec TEXT NOT NULL,
                    PRIMARY KEY (model, version)
                );
                CREATE TABLE validation_run (
                    id TEXT PRIMARY KEY NOT NULL,
                    model TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    spec TEXT NOT NULL
                );
                CREATE INDEX validation_run_model ON validation_run(model, created_at);
                """)
        }
        migrator.registerMigration("v17-cost-figures") { db in
            try db.execute(sql: """
                ALTER TABLE request_count ADD COLUMN predictions INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE request_count ADD COLUMN cpu_seconds REAL NOT NULL DEFAULT 0;
                ALTER TABLE request_count ADD COLUMN gib_hours REAL NOT NULL DEFAULT 0;
                """)
        }
        migrator.registerMigration("v18-latency-counts") { db in
            try db.execute(sql: "ALTER TABLE request_count ADD COLUMN latency_counts TEXT NOT NULL DEFAULT ''")
        }
        return migrator
    }
}
