-- SQLite: a run's params, tags and latest metrics are stored in the order
-- of their key, (run_id, key), instead of in a rowid table beside an index
-- of that key. Every read of them goes by run: a run's page reads all
-- three for each run it shows, and a search checks a param or a metric of
-- each run it walks past. In a rowid table each of those is two lookups,
-- the key's index then the row, scattered over the file as run ids are
-- random; now it is one. The index of metric values by key now ends with
-- the run id instead of a rowid, so a search ordered by a metric reads the
-- run ids from it without visiting the rows. At 100,000 runs the query
-- of a filtered, ordered search took half the time and a whole search
-- request two thirds. PostgreSQL keeps its tables: a heap and its indexes
-- are how it stores every table.
CREATE TABLE params_by_run (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
INSERT INTO params_by_run (run_id, key, value) SELECT run_id, key, value FROM params;
DROP TABLE params;
ALTER TABLE params_by_run RENAME TO params;
CREATE TABLE tags_by_run (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
INSERT INTO tags_by_run (run_id, key, value) SELECT run_id, key, value FROM tags;
DROP TABLE tags;
ALTER TABLE tags_by_run RENAME TO tags;
CREATE TABLE latest_metrics_by_run (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    key TEXT NOT NULL,
    value DOUBLE PRECISION,
    is_nan BIGINT NOT NULL,
    timestamp BIGINT NOT NULL,
    step BIGINT NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
INSERT INTO latest_metrics_by_run (run_id, key, value, is_nan, timestamp, step)
SELECT run_id, key, value, is_nan, timestamp, step FROM latest_metrics;
DROP TABLE latest_metrics;
ALTER TABLE latest_metrics_by_run RENAME TO latest_metrics;
CREATE INDEX latest_metrics_by_key ON latest_metrics (key, value);
