-- `todoscale bench archival`: the functions that fill the template database and check each variant's result.
-- Installed in the template after the real schema (every script of migrations/scaling); every variant runs on a
-- CREATE DATABASE ... TEMPLATE copy of it, so all variants start from the same rows, pages and statistics.
SET client_min_messages = warning;

-- Every row that must move (its id and a digest of all 13 columns), and the users the probe draws from.
CREATE TABLE IF NOT EXISTS bench_archival_expected (id uuid PRIMARY KEY, user_id uuid NOT NULL, digest text NOT NULL);
CREATE TABLE IF NOT EXISTS bench_archival_probe_users (n int PRIMARY KEY, user_id uuid NOT NULL);
-- What the template was filled with, so that --reuse only reuses a template of the same shape, and the batch plan
-- captured on it (EXPLAIN ANALYZE of a rolled-back archival, which a reused template cannot repeat for free).
CREATE TABLE IF NOT EXISTS bench_archival_data (
    users int NOT NULL, done_rows bigint NOT NULL, open_rows bigint NOT NULL, recent_rows bigint NOT NULL,
    heavy_share float8 NOT NULL, seed float8 NOT NULL, filled_at timestamptz NOT NULL DEFAULT now(),
    batch_plan text, pages_plan text);

-- The data, deterministic for a seed (setseed + random() in one session, no parallel plan for INSERT):
--   * p_users users; 1% of them ("heavy") own p_heavy_share of all todos, the rest share the remainder evenly,
--     so the list query sees both a few long and many short user ranges in its index.
--   * p_done done todos completed 40-70 days ago: what archival (30 days) moves.
--   * p_open open todos (todo / in_progress) created within the last 120 days, and p_recent done todos
--     completed 1-29 days ago: both must stay in todos_active.
-- Rows are inserted in created_at order, as an application writes them, so the done rows a batch picks
-- (oldest completion first) are scattered over the heap pages of each partition, not one contiguous range.
-- bench_archival_expected gets every row that must move; bench_archival_probe_users the users of 20,000 random todos: drawing from it draws users in proportion to
-- their todos, so heavy users, whose pages archival touches most, are queried most.
CREATE OR REPLACE FUNCTION bench_archival_fill(p_users int, p_done bigint, p_open bigint, p_recent bigint,
                                               p_heavy_share float8, p_seed float8)
RETURNS TABLE(users bigint, done_rows bigint, open_rows bigint, recent_rows bigint, heavy_users int, archive_months int)
LANGUAGE plpgsql
-- The digests are of jsonb text, which renders timestamps in the session's time zone: fix it for fill and verify.
SET TimeZone = 'UTC'
AS $$
DECLARE
    v_heavy int := greatest(1, p_users / 100);
    v_month date;
    v_months int := 0;
BEGIN
    PERFORM setseed(p_seed);

    INSERT INTO users (id, email, display_name, created_at)
    SELECT md5('archival-user-' || n)::uuid, 'user' || n || '@example.com', 'User ' || n, now() - interval '400 days'
    FROM generate_series(1, p_users) n;

    CREATE TEMP TABLE bench_rows ON COMMIT DROP AS
    WITH drawn AS (
        SELECT k.kind, g,
               CASE WHEN random() < p_heavy_share THEN 1 + floor(random() * v_heavy)::int
                    ELSE v_heavy + 1 + floor(random() * greatest(1, p_users - v_heavy))::int END AS u,
               CASE k.kind WHEN 'done'   THEN now() - interval '40 days' - random() * interval '30 days'
                           WHEN 'recent' THEN now() - interval '1 day' - random() * interval '28 days' END AS completed_at,
               random() AS r1, random() AS r2, random() AS r3, random() AS r4
        FROM (VALUES ('done', p_done), ('open', p_open), ('recent', p_recent)) AS k(kind, n)
        CROSS JOIN LATERAL generate_series(1, k.n) AS g
    )
    SELECT md5('archival-todo-' || kind || '-' || g)::uuid AS id,
           md5('archival-user-' || least(u, p_users))::uuid AS user_id,
           kind, g, completed_at,
           CASE WHEN completed_at IS NULL THEN now() - r1 * interval '120 days'
                ELSE completed_at - r1 * interval '60 days' END AS created_at,
           r2, r3, r4
    FROM drawn;

    INSERT INTO todos_active (id, user_id, title, description, status, priority, due_date, completed_at,
                              ai_generated, created_at, updated_at)
    SELECT id, user_id,
           'Todo ' || g || ': ' || (ARRAY['write', 'review', 'call', 'plan', 'fix', 'draft', 'book', 'prepare'])[1 + floor(r2 * 8)::int]
               || ' ' || (ARRAY['report', 'budget', 'dentist', 'slides', 'invoice', 'garden', 'trip', 'release'])[1 + floor(r3 * 8)::int],
           CASE WHEN r4 < 0.4 THEN 'Details for todo ' || g || ': ' || repeat('notes ', 1 + floor(r4 * 40)::int) END,
           CASE WHEN kind <> 'open' THEN 'done' WHEN r2 < 0.75 THEN 'todo' ELSE 'in_progress' END,
           floor(r3 * 5)::int,
           CASE WHEN r4 < 0.6 THEN created_at + (1 + floor(r2 * 45)::int) * interval '1 day' END,
           completed_at,
           r4 > 0.9,
           created_at,
           coalesce(completed_at, created_at + r2 * interval '1 day')
    FROM bench_rows
    ORDER BY created_at;

    INSERT INTO bench_archival_expected
    SELECT t.id, t.user_id, md5(to_jsonb(t)::text)
    FROM todos_active t JOIN bench_rows b ON b.id = t.id AND b.user_id = t.user_id
    WHERE b.kind = 'done';

    INSERT INTO bench_archival_probe_users
    SELECT row_number() OVER (ORDER BY id), user_id FROM (SELECT id, user_id FROM todos_active ORDER BY id LIMIT 20000) s;

    -- The archive months the done rows belong to, as an installation that has run daily maintenance for
    -- months has them; otherwise every archived row would land in todos_archived_default.
    FOR v_month IN
        SELECT generate_series(date_trunc('month', min(b.completed_at) AT TIME ZONE 'UTC'),
                               date_trunc('month', max(b.completed_at) AT TIME ZONE 'UTC'), interval '1 month')::date
        FROM bench_rows b WHERE b.kind = 'done'
    LOOP
        IF todoscale_create_month_partition('todos_archived'::regclass, v_month) THEN
            v_months := v_months + 1;
        END IF;
    END LOOP;

    INSERT INTO bench_archival_data (users, done_rows, open_rows, recent_rows, heavy_share, seed)
    VALUES (p_users, p_done, p_open, p_recent, p_heavy_share, p_seed);

    RETURN QUERY
    SELECT (SELECT count(*) FROM users), p_done, p_open, p_recent, v_heavy, v_months;
END;
$$;

-- What a variant left behind: every expected row in todos_archived exactly once with all 13 columns unchanged,
-- none of them left in todos_active, and nothing else moved.
CREATE OR REPLACE FUNCTION bench_archival_verify()
RETURNS TABLE(expected bigint, archived bigint, distinct_archived bigint, missing bigint, unexpected bigint,
              changed bigint, left_in_active bigint, active_rows bigint)
LANGUAGE sql STABLE
SET TimeZone = 'UTC'
AS $$
    SELECT (SELECT count(*) FROM bench_archival_expected),
           (SELECT count(*) FROM todos_archived),
           (SELECT count(DISTINCT id) FROM todos_archived),
           (SELECT count(*) FROM bench_archival_expected e WHERE NOT EXISTS (SELECT 1 FROM todos_archived a WHERE a.id = e.id)),
           (SELECT count(*) FROM todos_archived a WHERE NOT EXISTS (SELECT 1 FROM bench_archival_expected e WHERE e.id = a.id)),
           (SELECT count(*) FROM todos_archived a JOIN bench_archival_expected e ON e.id = a.id
            WHERE md5((to_jsonb(a) - 'archived_at')::text) <> e.digest),
           (SELECT count(*) FROM todos_active t JOIN bench_archival_expected e ON e.id = t.id AND e.user_id = t.user_id),
           (SELECT count(*) FROM todos_active);
$$;

-- The first p_batches batches of an archival, chained as todoscale_archive() chains them (each batch starts where
-- the previous one ended). For EXPLAIN only: the bench runs it under auto_explain in a transaction that it rolls
-- back, because the plan of a batch depends on how many rows remain (a run over a small remainder is planned
-- differently from the first batches of a large backlog) and on how often the statement ran before (PostgreSQL
-- switches a function's statement to its generic plan after five executions).
CREATE OR REPLACE FUNCTION bench_archival_explain_batches(p_days int, p_batch_size int, p_batches int) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_cutoff timestamptz := todoscale_archive_cutoff(p_days);
    v_from   timestamptz := '-infinity';
    v_batch  record;
    v_moved  bigint := 0;
BEGIN
    FOR i IN 1..p_batches LOOP
        v_batch := todoscale_archive_batch(v_cutoff, p_batch_size, v_from);
        EXIT WHEN v_batch.moved = 0;
        v_moved := v_moved + v_batch.moved;
        v_from := v_batch.last_completed_at;
    END LOOP;
    RETURN v_moved;
END;
$$;

-- One batch of a backlog as the archival takes it (the first pages of the first partition, as many as
-- todoscale_archive_backlog_pages() gives a batch), for EXPLAIN only, like the function above.
CREATE OR REPLACE FUNCTION bench_archival_explain_pages(p_days int, p_batch_size int) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_cutoff timestamptz := todoscale_archive_cutoff(p_days);
    v_plan   record := todoscale_archive_backlog_pages(v_cutoff, p_batch_size);
BEGIN
    RETURN (todoscale_archive_pages(v_plan.partitions[1], v_cutoff, 0, coalesce(v_plan.chunk_pages, 1))).moved;
END;
$$;

-- The control variant: one backend keeps one core busy for p_seconds without reading a table, dirtying a page or
-- writing WAL. What the probe loses while it runs is the machine's share of CPU, not interference from archival.
CREATE OR REPLACE FUNCTION bench_archival_burn_cpu(p_seconds float8) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_until timestamptz := clock_timestamp() + make_interval(secs => p_seconds);
    v_loops bigint := 0;
BEGIN
    WHILE clock_timestamp() < v_until LOOP
        v_loops := v_loops + 1;
    END LOOP;
    RETURN v_loops;
END;
$$;

RESET client_min_messages;
