-- Reasonscope run store, version 8: per-node wall time and counterfactual
-- lineage. Documented in docs/schema.md.

-- Seconds after the run started: when the node was added, and when its last
-- token came (its start while it has none). NULL: not known (a run stored
-- before this version, or an import that does not say).
ALTER TABLE nodes ADD COLUMN started_at REAL;
ALTER TABLE nodes ADD COLUMN ended_at REAL;

-- A counterfactual branch: the run it was branched from, the node and the
-- token position (index within that node's tokens) where it departs, and the
-- token put there in place of the sampled one. NULL for any other run. The
-- parent may have been deleted since (parent_run then names no row).
ALTER TABLE runs ADD COLUMN parent_run INTEGER;
ALTER TABLE runs ADD COLUMN parent_node INTEGER;
ALTER TABLE runs ADD COLUMN parent_token INTEGER;
ALTER TABLE runs ADD COLUMN forced_token INTEGER;
CREATE INDEX runs_parent ON runs(parent_run) WHERE parent_run IS NOT NULL;
