-- bench migration only: takes migration_change_log_floor.sql's trigger off again (the next run's rollback and start
-- reinstall the mirror).
DROP TRIGGER IF EXISTS bench_change_log ON todos;
DROP TABLE IF EXISTS bench_change_log;
DROP FUNCTION IF EXISTS bench_change_log_todo();
