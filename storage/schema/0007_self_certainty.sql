-- Reasonscope run store, version 7: per-token self-certainty.
-- Documented in docs/schema.md.

-- KL(uniform || next-token distribution) of the token's step (Kang et al.
-- 2025), computed from the full distribution when the token was sampled.
-- NULL: not known (a run on a server, whose top-k alternatives cannot give
-- it, or a run stored before this version).
ALTER TABLE tokens ADD COLUMN self_certainty REAL;
