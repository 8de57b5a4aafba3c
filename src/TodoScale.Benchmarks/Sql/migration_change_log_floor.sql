-- bench migration only: the floor of any trigger-based change capture. In place of 002's mirror trigger, each legacy
-- write records only the key it touched, one narrow row in a table without an index (what pg_repack's and
-- pg-online-schema-change's log tables do); copying those rows into the new tables is left to batches, off the
-- application's commit. The writers' latency with it against the mirror's shows what the synchronous mirror of every
-- write into the new tables and all their indexes costs the application. Never installed outside the bench: the new
-- tables stop following todos while it is on (the next run rolls back and starts over).
CREATE TABLE IF NOT EXISTS bench_change_log (id uuid NOT NULL);

CREATE OR REPLACE FUNCTION bench_change_log_todo() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO bench_change_log (id) VALUES (OLD.id);
    ELSE
        INSERT INTO bench_change_log (id) VALUES (NEW.id);
    END IF;
    RETURN NULL;
END;
$$;

SELECT todoscale_drop_todos_trigger('todoscale_mirror');
DROP TRIGGER IF EXISTS bench_change_log ON todos;
CREATE TRIGGER bench_change_log AFTER INSERT OR UPDATE OR DELETE ON todos
    FOR EACH ROW EXECUTE FUNCTION bench_change_log_todo();
