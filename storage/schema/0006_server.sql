-- Reasonscope run store, version 6: runs on an inference server.
-- Documented in docs/schema.md.

-- NULL for a run on the local engine; for a run on a server, JSON: its kind,
-- URL (never credentials), model id, version, the top-k the signals were
-- estimated from, and the cost it reported for this run (requests, prompt,
-- completion and cached tokens, seconds waiting).
ALTER TABLE runs ADD COLUMN server TEXT;
