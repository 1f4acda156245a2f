-- Reasonscope run store, version 1. Documented in docs/schema.md.
CREATE TABLE runs (
    id              INTEGER PRIMARY KEY,
    name            TEXT,
    created_at      TEXT NOT NULL,
    finished_at     TEXT,
    status          TEXT NOT NULL,           -- running, ok, budget, cancelled, error, incomplete
    pid             INTEGER,                 -- writer process while running
    model_path      TEXT,
    model_name      TEXT,
    model_bytes     INTEGER,
    model_hash      TEXT,                    -- FNV-1a 64 of the first and last MiB plus the size
    backend         TEXT,
    strategy        TEXT NOT NULL,
    params          TEXT NOT NULL,           -- JSON object
    suite           TEXT,
    task_id         TEXT,
    prompt          TEXT NOT NULL,
    expected        TEXT,
    seed            INTEGER,
    answer          TEXT,
    chosen_node     INTEGER,                 -- node whose answer the strategy chose
    correct         INTEGER,                 -- 1, 0, or NULL when unknown
    tokens          INTEGER DEFAULT 0,
    forward_passes  INTEGER DEFAULT 0,
    wall_seconds    REAL DEFAULT 0,
    kv_peak_bytes   INTEGER DEFAULT 0,
    node_count      INTEGER DEFAULT 0,
    app_version     TEXT,
    error           TEXT
);

CREATE TABLE nodes (
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
    value_sum  REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, node_id)
);

CREATE TABLE tokens (
    run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    node_id     INTEGER NOT NULL,
    idx         INTEGER NOT NULL,            -- position within the node
    token_id    INTEGER NOT NULL,
    piece       TEXT NOT NULL,
    logprob     REAL NOT NULL,
    entropy     REAL NOT NULL,
    varentropy  REAL NOT NULL,
    top         BLOB,                        -- alternatives: (int32 id, float32 logprob) pairs, little-endian
    top_pieces  TEXT,                        -- JSON array: the alternatives' text
    PRIMARY KEY (run_id, node_id, idx)
);

CREATE TABLE scores (
    run_id   INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    node_id  INTEGER NOT NULL,
    scorer   TEXT NOT NULL,
    value    REAL NOT NULL,
    PRIMARY KEY (run_id, node_id, scorer)
);

CREATE TABLE latents (
    run_id   INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    node_id  INTEGER NOT NULL,
    layer    INTEGER NOT NULL,
    data     BLOB NOT NULL,                  -- float16 values, little-endian
    PRIMARY KEY (run_id, node_id, layer)
);

CREATE TABLE tags (
    run_id  INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    tag     TEXT NOT NULL,
    PRIMARY KEY (run_id, tag)
);

CREATE TABLE metrics (
    run_id          INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    t               REAL NOT NULL,           -- seconds since the run started
    tokens          INTEGER,
    forward_passes  INTEGER,
    branches        INTEGER,
    kv_bytes        INTEGER,
    tokens_per_s    REAL
);

CREATE INDEX runs_by_strategy ON runs(strategy);
CREATE INDEX runs_by_model ON runs(model_name);
CREATE INDEX metrics_by_run ON metrics(run_id, t);
