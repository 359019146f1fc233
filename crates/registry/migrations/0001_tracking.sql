-- Tracking: experiments, runs and what runs log. Portable SQL: it runs
-- unchanged on SQLite and PostgreSQL. IDs are allocated by the store.
CREATE TABLE experiments (
    experiment_id BIGINT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    artifact_location TEXT NOT NULL,
    lifecycle_stage TEXT NOT NULL,
    creation_time BIGINT NOT NULL,
    last_update_time BIGINT NOT NULL
);
CREATE TABLE experiment_tags (
    experiment_id BIGINT NOT NULL REFERENCES experiments (experiment_id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (experiment_id, key)
);
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    experiment_id BIGINT NOT NULL REFERENCES experiments (experiment_id),
    run_name TEXT NOT NULL,
    user_id TEXT NOT NULL,
    status TEXT NOT NULL,
    start_time BIGINT NOT NULL,
    end_time BIGINT,
    artifact_uri TEXT NOT NULL,
    lifecycle_stage TEXT NOT NULL
);
CREATE INDEX runs_by_experiment ON runs (experiment_id, start_time);
CREATE TABLE params (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
);
CREATE TABLE tags (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
);
-- Every logged point. NaN is stored as NULL value with is_nan = 1 (SQLite
-- has no NaN).
CREATE TABLE metrics (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    key TEXT NOT NULL,
    value DOUBLE PRECISION,
    is_nan BIGINT NOT NULL,
    timestamp BIGINT NOT NULL,
    step BIGINT NOT NULL
);
CREATE INDEX metrics_by_run_key ON metrics (run_id, key, step, timestamp);
-- The latest point per key (highest step, then latest timestamp): what
-- runs/get returns and what searches compare.
CREATE TABLE latest_metrics (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    key TEXT NOT NULL,
    value DOUBLE PRECISION,
    is_nan BIGINT NOT NULL,
    timestamp BIGINT NOT NULL,
    step BIGINT NOT NULL,
    PRIMARY KEY (run_id, key)
);
CREATE INDEX latest_metrics_by_key ON latest_metrics (key, value);
CREATE TABLE run_inputs (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    position BIGINT NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (run_id, position)
);
