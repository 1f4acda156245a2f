-- Reasonscope run store, version 4: a running run's writer is known by its
-- process id and that process's start time, so a pid the system has since
-- given to another process does not keep a dead run "running" forever.
-- Documented in docs/schema.md and docs/reliability.md.

-- The writer's start time while running: field 22 of /proc/<pid>/stat (clock
-- ticks after boot); NULL where it is unknown (rows written before version 4,
-- or a system without /proc). A run whose pid is alive with another start
-- time is treated as dead (incomplete).
ALTER TABLE runs ADD COLUMN pid_start INTEGER;
