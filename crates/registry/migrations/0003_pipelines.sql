-- Pipeline state for the scheduler, kept in the same database as tracking
-- so one backup (or one PostgreSQL) holds everything. Times are epoch
-- milliseconds, UTC. Pipeline definitions themselves live in YAML files;
-- only what the scheduler learns at run time is stored here.
CREATE TABLE pipelines (
    name TEXT PRIMARY KEY,
    paused BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE pipeline_runs (
    pipeline TEXT NOT NULL,
    run_id TEXT NOT NULL,
    run_type TEXT NOT NULL,
    state TEXT NOT NULL,
    interval_start BIGINT NOT NULL,
    interval_end BIGINT NOT NULL,
    conf TEXT NOT NULL,
    owner TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    ended_at BIGINT,
    PRIMARY KEY (pipeline, run_id)
);
CREATE INDEX pipeline_runs_by_state ON pipeline_runs (state, owner);
CREATE INDEX pipeline_runs_by_interval ON pipeline_runs (pipeline, interval_end);
CREATE TABLE task_instances (
    pipeline TEXT NOT NULL,
    run_id TEXT NOT NULL,
    task TEXT NOT NULL,
    state TEXT NOT NULL,
    try_number BIGINT NOT NULL,
    max_tries BIGINT NOT NULL,
    next_attempt_at BIGINT,
    first_started_at BIGINT,
    started_at BIGINT,
    ended_at BIGINT,
    pid BIGINT,
    exit_code BIGINT,
    message TEXT,
    output TEXT,
    PRIMARY KEY (pipeline, run_id, task),
    FOREIGN KEY (pipeline, run_id) REFERENCES pipeline_runs (pipeline, run_id)
);
CREATE TABLE variables (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
