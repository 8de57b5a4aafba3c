-- TodoScale phase 3: maintenance. Archival of done todos, monthly partitions ahead of time, statistics,
-- health checks, a history of every run, and retention.
--
-- Run with: psql -v ON_ERROR_STOP=1 -f migrations/scaling/003_create_maintenance_jobs.sql
-- Needs 001 (the partitioned tables). Only creates tables, a type and functions; running it again is a
-- no-op and keeps the settings an operator changed. Run over an installation of an earlier 003, it
-- brings every definition up to date (each piece is CREATE OR REPLACE or IF NOT EXISTS).
--
-- What runs where:
--   SELECT * FROM run_daily_maintenance();     archive, partitions ahead, ANALYZE of what changed (cron: 02:00)
--   SELECT * FROM run_weekly_maintenance();    health check, retention, statistics of the parents (cron: Sunday 03:00)
--   CALL archive_completed_todos_in_batches(); a large archival backlog, committing every batch (batch engine)
-- `todoscale maintain daily` runs the same function and then VACUUMs the partitions archival touched
-- (VACUUM cannot run inside a function).
--
-- This file is the phase: it installs one file per concern from maintenance/, in this order (later files
-- use what earlier ones define; SQL-language functions are checked against it when created):
--   maintenance/bookkeeping.sql  settings, run history and step log, the maintenance lock, DDL with lock
--                                retries, the VACUUM-statement helper (also used by 006)
--   maintenance/engine.sql       the batch engine (target-duration batches, split and retry, health signals),
--                                shared with 002's migration, which includes it too
--   maintenance/archival.sql     done todos into todos_archived: one walk, used by the function and the procedure
--   maintenance/partitions.sql   monthly partitions ahead of time, retention drops
--   maintenance/health.sql       check_partition_health(), get_partition_statistics(), get_index_usage_stats()
--   maintenance/jobs.sql         run_daily_maintenance(), run_weekly_maintenance(), maintenance_vacuum_statement()
--
-- Why one entry file with psql's \ir rather than several numbered scripts: the guide's
-- `psql -f 003_create_maintenance_jobs.sql` must go on installing all of phase 3, and 003 is the name
-- every installation already journals (todoscale_schema_versions). Numbered siblings would either be run
-- twice by the migrator (once through 003, once under their own names) or leave the guide's command
-- installing part of the phase. \ir resolves against this file's folder, so it works from any working
-- directory; the migrator (todoscale db migrate) expands these lines itself (ScriptIncludes.cs) and
-- accepts no other backslash command.
-- The migrator journals scripts by name: on a database where it recorded an earlier 003, it does not
-- apply this one again; `psql -f` this file there to bring the definitions up to date.

SET lock_timeout = '5s';
SET client_min_messages = warning;

\ir maintenance/bookkeeping.sql
\ir maintenance/engine.sql
\ir maintenance/archival.sql
\ir maintenance/partitions.sql
\ir maintenance/health.sql
\ir maintenance/jobs.sql

RESET client_min_messages;
RESET lock_timeout;
