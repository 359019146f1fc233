-- SQLite: the history keeps no index of its own. An index of every
-- point by run, key and step took a move of 50,000 staged points as long
-- as the requests that logged them, and grew slower as the history grew:
-- each key's points went to the end of that key's part of the index, one
-- scattered page per key, and every logging request waited for the move.
-- Instead a move appends its points sorted by run and key, so each key's
-- points are consecutive rows, and records one range of rowids per key
-- and move in `metric_ranges`; a history is read range by range. Moves
-- take half as long and no longer grow with the history. PostgreSQL
-- keeps `metrics_by_run_key`: it logs changed rows, not pages. Points
-- come only from `metrics_staged`, where each was checked against `runs`,
-- so the history does not look every one of them up again.
CREATE TABLE metrics_in_ranges (
    run_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value DOUBLE PRECISION,
    is_nan BIGINT NOT NULL,
    timestamp BIGINT NOT NULL,
    step BIGINT NOT NULL
);
INSERT INTO metrics_in_ranges (run_id, key, value, is_nan, timestamp, step)
SELECT run_id, key, value, is_nan, timestamp, step FROM metrics ORDER BY run_id, key, step, timestamp;
DROP TABLE metrics;
ALTER TABLE metrics_in_ranges RENAME TO metrics;
CREATE TABLE metric_ranges (
    run_id TEXT NOT NULL,
    key TEXT NOT NULL,
    first_rowid INTEGER NOT NULL,
    last_rowid INTEGER NOT NULL,
    PRIMARY KEY (run_id, key, first_rowid)
) WITHOUT ROWID;
INSERT INTO metric_ranges (run_id, key, first_rowid, last_rowid)
SELECT run_id, key, MIN(rowid), MAX(rowid) FROM metrics GROUP BY run_id, key;
