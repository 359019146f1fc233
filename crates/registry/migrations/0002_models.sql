-- MLflow 3 logged models, run outputs, and the model registry with its
-- audit trail of stage and alias changes. Registry rows are keyed by the
-- model name, kept consistent by the store (renames update every table in
-- one transaction).
CREATE TABLE logged_models (
    model_id TEXT PRIMARY KEY,
    experiment_id BIGINT NOT NULL REFERENCES experiments (experiment_id),
    name TEXT NOT NULL,
    artifact_location TEXT NOT NULL,
    status TEXT NOT NULL,
    source_run_id TEXT,
    model_type TEXT,
    creation_timestamp_ms BIGINT NOT NULL,
    last_updated_timestamp_ms BIGINT NOT NULL,
    lifecycle_stage TEXT NOT NULL
);
CREATE INDEX logged_models_by_experiment ON logged_models (experiment_id, name);
CREATE TABLE logged_model_params (
    model_id TEXT NOT NULL REFERENCES logged_models (model_id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
);
CREATE TABLE logged_model_tags (
    model_id TEXT NOT NULL REFERENCES logged_models (model_id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
);
CREATE TABLE run_outputs (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    model_id TEXT NOT NULL,
    step BIGINT NOT NULL,
    PRIMARY KEY (run_id, model_id)
);
CREATE TABLE registered_models (
    name TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    creation_timestamp BIGINT NOT NULL,
    last_updated_timestamp BIGINT NOT NULL
);
CREATE TABLE registered_model_tags (
    name TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (name, key)
);
CREATE TABLE model_versions (
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    creation_timestamp BIGINT NOT NULL,
    last_updated_timestamp BIGINT NOT NULL,
    description TEXT NOT NULL,
    user_id TEXT NOT NULL,
    current_stage TEXT NOT NULL,
    source TEXT NOT NULL,
    run_id TEXT,
    run_link TEXT,
    model_id TEXT,
    status TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE TABLE model_version_tags (
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (name, version, key)
);
CREATE TABLE registered_model_aliases (
    name TEXT NOT NULL,
    alias TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (name, alias)
);
-- Every change of a version's stage or of an alias: when, who, what moved
-- from which version to which, and why.
CREATE TABLE registry_events (
    event_id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    from_version BIGINT,
    to_version BIGINT,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX registry_events_by_model ON registry_events (name, at);
