-- Reasonscope run store, version 3: a run's rows are all there, or the run
-- says why not. Documented in docs/schema.md and docs/reliability.md.

-- Why a run is `incomplete` (rows its writer could not store, or its process
-- ended before finishing it); NULL otherwise.
ALTER TABLE runs ADD COLUMN status_reason TEXT;

-- Non-finite numbers (a NaN logprob or score) are stored, not refused:
-- SQLite keeps NaN as NULL, so the token signals, score values and value_sum
-- become nullable (NULL = NaN; +-inf are REAL values). SQLite cannot drop a
-- NOT NULL constraint in place: the three tables are rebuilt with their rows.
CREATE TABLE tokens_v3 (
    run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    node_id     INTEGER NOT NULL,
    idx         INTEGER NOT NULL,            -- position within the node
    token_id    INTEGER NOT NULL,
    piece       TEXT NOT NULL,
    logprob     REAL,                        -- NULL: NaN
    entropy     REAL,                        -- NULL: NaN
    varentropy  REAL,                        -- NULL: NaN
    top         BLOB,                        -- alternatives: (int32 id, float32 logprob) pairs, little-endian
    top_pieces  TEXT,                        -- JSON array: the alternatives' text
    PRIMARY KEY (run_id, node_id, idx)
);
INSERT INTO tokens_v3 (run_id, node_id, idx, token_id, piece, logprob, entropy, varentropy, top,
                       top_pieces)
    SELECT run_id, node_id, idx, token_id, piece, logprob, entropy, varentropy, top, top_pieces
    FROM tokens;
DROP TABLE tokens;
ALTER TABLE tokens_v3 RENAME TO tokens;

CREATE TABLE scores_v3 (
    run_id   INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    node_id  INTEGER NOT NULL,
    scorer   TEXT NOT NULL,
    value    REAL,                           -- NULL: NaN
    PRIMARY KEY (run_id, node_id, scorer)
);
INSERT INTO scores_v3 (run_id, node_id, scorer, value)
    SELECT run_id, node_id, scorer, value FROM scores;
DROP TABLE scores;
ALTER TABLE scores_v3 RENAME TO scores;

CREATE TABLE nodes_v3 (
    run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    node_id    INTEGER NOT NULL,
    parent_id  INTEGER,                      -- NULL for the root (the prompt)
    depth      INTEGER NOT NULL,
    status     TEXT NOT NULL,                -- open, expanded, pruned, terminal
    text       TEXT NOT NULL DEFAULT '',
    answer     TEXT,
    correct    INTEGER,
    ended      INTEGER NOT NULL DEFAULT 0,   -- generation reached end-of-sequence
    visits     INTEGER NOT NULL DEFAULT 0,
    value_sum  REAL DEFAULT 0,               -- NULL: NaN
    PRIMARY KEY (run_id, node_id)
);
INSERT INTO nodes_v3 (run_id, node_id, parent_id, depth, status, text, answer, correct, ended,
                      visits, value_sum)
    SELECT run_id, node_id, parent_id, depth, status, text, answer, correct, ended, visits,
           value_sum
    FROM nodes;
DROP TABLE nodes;
ALTER TABLE nodes_v3 RENAME TO nodes;
