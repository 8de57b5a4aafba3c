-- bench migration only: the trigger's own share of a trigger-based change capture. In place of 002's mirror trigger,
-- each legacy write records only the key it touched, one narrow row in a table without an index (what pg_repack's and
-- pg-online-schema-change's log tables do), and nothing applies those changes. The writers' latency with it against the
-- mirror's separates the trigger from the index work the mirror does in each application transaction. Applying the
-- changes in batches instead (a spike of 2026-12-05, not shipped) cost the writers as much as the mirror on 2 cores: the
-- same rows go into the same 10 indexes, wherever it runs. Never installed outside the bench: the new tables stop
-- following todos while it is on (the next run rolls back and starts over).
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
