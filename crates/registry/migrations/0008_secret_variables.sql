-- Secret variables are kept encrypted (a Fernet token in `value`);
-- `encrypted` says which rows are, so that rows written before, in
-- clear, are still read (and encrypted by the next set or key rotation).
ALTER TABLE variables ADD COLUMN encrypted BIGINT NOT NULL DEFAULT 0;
