-- History growth for the benchmark: adds `bench.history_years` more years of finished todos to both the
-- TodoScale archive and the single-table baseline (b), without adding a single open todo. Each added year is a
-- copy of today's archive (done todos older than 30 days) moved back by whole years, with new ids; parents are
-- dropped (they would point at the originals). The active set is untouched, so the active-path queries should
-- not slow down; the single table grows by the same rows.
-- The archive copy is written grouped by user, as a closed month is once maintenance has clustered it.
SET client_min_messages = warning;

CREATE TEMP TABLE bench_grown ON COMMIT DROP AS
SELECT gen_random_uuid() AS id, a.user_id, NULL::uuid AS parent_todo_id, a.project_id, a.title, a.description,
       a.status, a.priority,
       a.due_date - make_interval(years => y) AS due_date, a.completed_at - make_interval(years => y) AS completed_at,
       a.ai_generated, a.created_at - make_interval(years => y) AS created_at,
       a.updated_at - make_interval(years => y) AS updated_at, a.archived_at
FROM todos_archived a
CROSS JOIN generate_series(1, current_setting('bench.history_years')::int) AS y;

DO $$
DECLARE
    m date;
BEGIN
    FOR m IN SELECT DISTINCT date_trunc('month', completed_at AT TIME ZONE 'UTC')::date FROM bench_grown LOOP
        PERFORM todoscale_create_month_partition('todos_archived'::regclass, m);
    END LOOP;
END;
$$;

INSERT INTO todos_archived
SELECT * FROM bench_grown ORDER BY user_id, created_at DESC, id DESC;

INSERT INTO bench_todos_indexed (id, user_id, parent_todo_id, project_id, title, description, status, priority,
                                 due_date, completed_at, ai_generated, created_at, updated_at)
SELECT id, user_id, parent_todo_id, project_id, title, description, status, priority,
       due_date, completed_at, ai_generated, created_at, updated_at
FROM bench_grown ORDER BY id;

RESET client_min_messages;
