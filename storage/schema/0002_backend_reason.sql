-- Reasonscope run store, version 2: why the run's backend was chosen
-- ("asked for cpu", "auto: cpu is the first available; cuda: no device").
ALTER TABLE runs ADD COLUMN backend_reason TEXT;
