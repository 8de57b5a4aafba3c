-- Beside DbUp's journal (todoscale_schema_versions, names only): the content each applied script had.
-- A script whose content changed since (a new function version, a fix) is applied again: every scaling
-- script is idempotent, and without this an existing installation kept the old functions forever, because
-- the journal already listed the script by name.
CREATE TABLE IF NOT EXISTS todoscale_schema_checksums (
    scriptname text        PRIMARY KEY,
    sha256     text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
