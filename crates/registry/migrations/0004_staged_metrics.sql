-- SQLite: metric points as they arrive, moved into `metrics` in bulk.
-- `metrics_by_run_key` keeps each key's points together, so a request
-- logging 100 keys changed 100 of its pages, each written whole to the
-- write-ahead log at commit. Appended here in arrival order, those points
-- fill a page or two, and a move sorted by run, key and step writes each
-- key's page once for many points. PostgreSQL logs changed rows, not
-- pages: there points go straight to `metrics` and this stays empty.
CREATE TABLE metrics_staged (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    key TEXT NOT NULL,
    value DOUBLE PRECISION,
    is_nan BIGINT NOT NULL,
    timestamp BIGINT NOT NULL,
    step BIGINT NOT NULL
);
