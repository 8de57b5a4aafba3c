-- History growth for the benchmark: `bench.history_years` more years of finished todos, without a single new open
-- todo, in a form that lets the run measure the small and the grown history in alternating turns of the same round
-- (sequential stages minutes apart drifted by more than the 10% the target allows on a shared machine):
--   * TodoScale: each added month is a partition of todos_archived carrying a CHECK constraint equal to its bounds,
--     so bench_set_history(false/true) detaches and re-attaches all of them in milliseconds (ATTACH skips its
--     validation scan when a constraint proves the bounds). todos_active is the same in both states.
--   * Single table (b): bench_todos_grown holds (b)'s rows plus the same added history, with (b)'s indexes; (b)
--     itself stays as it was.
-- Each added year is a copy of today's archive moved back by whole years, with new ids; parents are dropped (they
-- would point at the originals). The archive copy is written grouped by user, as a closed month is once maintenance
-- has clustered it.
SET client_min_messages = warning;
SET maintenance_work_mem = '512MB';

-- A re-run on reused data must not find the previous run's detached months or grown table.
DO $$
DECLARE
    t text;
BEGIN
    IF to_regclass('bench_history_parts') IS NOT NULL THEN
        FOR t IN SELECT name FROM bench_history_parts LOOP
            EXECUTE format('DROP TABLE IF EXISTS %I', t);
        END LOOP;
    END IF;
END;
$$;
DROP TABLE IF EXISTS bench_history_parts, bench_history, bench_todos_grown;

CREATE UNLOGGED TABLE bench_history AS
SELECT gen_random_uuid() AS id, a.user_id, NULL::uuid AS parent_todo_id, a.project_id, a.title, a.description,
       a.status, a.priority,
       a.due_date - make_interval(years => y) AS due_date, a.completed_at - make_interval(years => y) AS completed_at,
       a.ai_generated, a.created_at - make_interval(years => y) AS created_at,
       a.updated_at - make_interval(years => y) AS updated_at, a.archived_at
FROM todos_archived a
CROSS JOIN generate_series(1, current_setting('bench.history_years')::int) AS y;

CREATE TABLE bench_history_parts (name text PRIMARY KEY, lo timestamptz NOT NULL, hi timestamptz NOT NULL);

INSERT INTO bench_history_parts
SELECT 'todos_archived_' || to_char(m, 'YYYY_MM'), m::timestamp AT TIME ZONE 'UTC', (m + interval '1 month')::timestamp AT TIME ZONE 'UTC'
FROM (SELECT DISTINCT date_trunc('month', completed_at AT TIME ZONE 'UTC')::date AS m FROM bench_history) months
WHERE to_regclass('todos_archived_' || to_char(m, 'YYYY_MM')) IS NULL;

DO $$
DECLARE
    p record;
BEGIN
    FOR p IN SELECT name, lo, hi FROM bench_history_parts ORDER BY lo LOOP
        PERFORM todoscale_create_month_partition('todos_archived'::regclass, (p.lo AT TIME ZONE 'UTC')::date);
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (completed_at IS NOT NULL AND completed_at >= %L AND completed_at < %L)',
                       p.name, p.name || '_bounds', p.lo, p.hi);
    END LOOP;
END;
$$;

-- The tables 009's triggers keep (months, recent rows, floors), each parked as PARKED_small while the grown history is
-- attached and as PARKED_grown while it is detached: bench_set_history() swaps them by renaming.
CREATE OR REPLACE FUNCTION bench_history_tables() RETURNS TABLE(live text, parked text)
LANGUAGE sql IMMUTABLE AS $$
    VALUES ('todos_archived_months', 'bench_months'), ('todos_archived_recent', 'bench_recent'),
           ('todos_archived_recent_floor', 'bench_recent_floor')
$$;

-- What those triggers recorded of the original history, copied before the added history passes through them, so that
-- with the added months detached the page finds exactly what a database with only the original history holds. Without
-- it the small history kept recording 24 more years of months whose rows were detached, and the page walked them to no
-- avail (a skewed user's archive list: 2.8 ms where 1.7 ms was due).
DO $$
DECLARE
    t record;
    p record;
BEGIN
    FOR t IN SELECT * FROM bench_history_tables() LOOP
        EXECUTE format('DROP TABLE IF EXISTS %I, %I', t.parked || '_small', t.parked || '_grown');
        IF to_regclass(t.live) IS NOT NULL THEN
            -- A partitioned table (todos_archived_recent, by user) is copied with its key and the same partitions, read
            -- from the live one, so each copied partition keeps the (clustered) order of its original and the page is
            -- planned as on the live table.
            EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING ALL) %s', t.parked || '_small', t.live,
                           coalesce('PARTITION BY ' || pg_get_partkeydef(to_regclass(t.live)), ''));
            FOR p IN SELECT replace(c.relname, t.live, t.parked || '_small') AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
                     FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(t.live)
            LOOP
                EXECUTE format('CREATE TABLE %I PARTITION OF %I %s', p.name, t.parked || '_small', p.bound);
            END LOOP;
            EXECUTE format('INSERT INTO %I SELECT * FROM %I', t.parked || '_small', t.live);
            EXECUTE format('ANALYZE %I', t.parked || '_small');
        END IF;
    END LOOP;
END;
$$;

INSERT INTO todos_archived
SELECT * FROM bench_history ORDER BY user_id, created_at DESC, id DESC;

-- (b) grown: a new table, so that (b) at the original size stays measurable in the same rounds.
CREATE TABLE bench_todos_grown (LIKE bench_todos_indexed INCLUDING DEFAULTS INCLUDING CONSTRAINTS);

INSERT INTO bench_todos_grown SELECT * FROM bench_todos_indexed;

INSERT INTO bench_todos_grown (id, user_id, parent_todo_id, project_id, title, description, status, priority,
                               due_date, completed_at, ai_generated, created_at, updated_at)
SELECT id, user_id, parent_todo_id, project_id, title, description, status, priority,
       due_date, completed_at, ai_generated, created_at, updated_at
FROM bench_history;

-- Exactly (b)'s indexes, built after loading (as a DBA would add them), so both single tables differ only in size.
ALTER TABLE bench_todos_grown ADD CONSTRAINT bench_todos_grown_pkey PRIMARY KEY (id);
DO $$
DECLARE
    d text;
BEGIN
    FOR d IN SELECT pg_get_indexdef(i.indexrelid)
             FROM pg_index i
             WHERE i.indrelid = 'bench_todos_indexed'::regclass AND NOT i.indisprimary
    LOOP
        EXECUTE replace(d, 'bench_todos_indexed', 'bench_todos_grown');
    END LOOP;
END;
$$;

DROP TABLE bench_history;

-- Switches the archive between the original history (false) and the grown one (true), with the tables of
-- bench_history_tables() that go with each. Idempotent.
CREATE OR REPLACE FUNCTION bench_set_history(attached boolean) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    p record;
    t record;
    n int := 0;
BEGIN
    -- One of each pair is parked at a time; both (or a live table missing, e.g. after distribution) is a database this
    -- function did not leave, and renaming there would lose one of them. Nothing archives between the swaps (the bench
    -- only reads), so each table stays exact for its state.
    FOR t IN SELECT * FROM bench_history_tables() LOOP
        IF to_regclass(t.parked || '_grown') IS NOT NULL AND to_regclass(t.parked || '_small') IS NOT NULL THEN
            RAISE EXCEPTION '%_grown and %_small both exist: run the growth stage again (todoscale bench run --grow-to)', t.parked, t.parked;
        END IF;
        IF to_regclass(t.live) IS NOT NULL THEN
            IF attached AND to_regclass(t.parked || '_grown') IS NOT NULL THEN
                EXECUTE format('ALTER TABLE %I RENAME TO %I', t.live, t.parked || '_small');
                EXECUTE format('ALTER TABLE %I RENAME TO %I', t.parked || '_grown', t.live);
            ELSIF NOT attached AND to_regclass(t.parked || '_small') IS NOT NULL THEN
                EXECUTE format('ALTER TABLE %I RENAME TO %I', t.live, t.parked || '_grown');
                EXECUTE format('ALTER TABLE %I RENAME TO %I', t.parked || '_small', t.live);
            END IF;
        END IF;
    END LOOP;
    FOR p IN
        SELECT h.name, h.lo, h.hi,
               EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = h.name::regclass AND inhparent = 'todos_archived'::regclass) AS is_attached
        FROM bench_history_parts h ORDER BY h.lo
    LOOP
        IF attached AND NOT p.is_attached THEN
            EXECUTE format('ALTER TABLE todos_archived ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', p.name, p.lo, p.hi);
            n := n + 1;
        ELSIF NOT attached AND p.is_attached THEN
            EXECUTE format('ALTER TABLE todos_archived DETACH PARTITION %I', p.name);
            n := n + 1;
        END IF;
    END LOOP;
    RETURN n;
END;
$$;

RESET maintenance_work_mem;
RESET client_min_messages;
