-- Reasonscope run store, version 5: what a real model was given and where
-- it thought. Documented in docs/schema.md.

-- The chat template's output (NULL when the question was given as it is),
-- the prompt settings as JSON (chat, template SHA-256, thinking markers and
-- budget, step delimiters, answer format), the model file's type
-- (general.file_type as a name, "Q4_K_M") and its tensor-type mix as JSON.
ALTER TABLE runs ADD COLUMN prompt_rendered TEXT;
ALTER TABLE runs ADD COLUMN prompt_settings TEXT;
ALTER TABLE runs ADD COLUMN model_file_type TEXT;
ALTER TABLE runs ADD COLUMN tensor_types TEXT;

-- Per token: bit 0 = inside the model's thinking span, bit 1 = put there by
-- the run (budget forcing) rather than sampled.
ALTER TABLE tokens ADD COLUMN flags INTEGER NOT NULL DEFAULT 0;
