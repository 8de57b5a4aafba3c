-- Benchmark baseline (b): the legacy table as one plain table with the best composite B-tree index for each
-- benchmarked query — the honest single-table peer of the TodoScale layout. Same rows as `todos`, in the
-- same physical order (a copy in legacy order, not clustered), vacuumed so it may use index-only scans too.
-- Idempotent: the copy is made only once.
SET client_min_messages = warning;

CREATE TABLE IF NOT EXISTS bench_todos_indexed (LIKE todos INCLUDING DEFAULTS INCLUDING CONSTRAINTS);

INSERT INTO bench_todos_indexed
SELECT * FROM todos
WHERE NOT EXISTS (SELECT 1 FROM bench_todos_indexed);

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'bench_todos_indexed_pkey') THEN
        ALTER TABLE bench_todos_indexed ADD CONSTRAINT bench_todos_indexed_pkey PRIMARY KEY (id);
    END IF;
END;
$$;

-- top-20 open todos (the guide's index)
CREATE INDEX IF NOT EXISTS bench_todos_indexed_user_status_priority
    ON bench_todos_indexed (user_id, status, priority DESC, created_at DESC, id DESC);
-- dashboard: counts by status, overdue / due today / due this week, next due
CREATE INDEX IF NOT EXISTS bench_todos_indexed_user_status_due
    ON bench_todos_indexed (user_id, status, due_date);
-- dashboard: completed this week
CREATE INDEX IF NOT EXISTS bench_todos_indexed_user_status_completed
    ON bench_todos_indexed (user_id, status, completed_at);
-- list including the archive, newest first
CREATE INDEX IF NOT EXISTS bench_todos_indexed_user_created
    ON bench_todos_indexed (user_id, created_at DESC, id DESC);

RESET client_min_messages;
