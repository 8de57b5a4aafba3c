-- TodoScale's batch engine: how big the next batch of a long data move is, and whether it may run now.
-- One engine for the live migration (002: migrate_todos, migrate_todos_next) and for archival backlogs
-- (003: archive_completed_todos_in_batches); the CLI calls the same functions per batch.
--
-- Included (psql \ir) by 002_migrate_existing_data.sql and by 003_create_maintenance_jobs.sql: 002 must be able
-- to run a migration with plain `psql -f` before 003 exists, and 003's archival needs it on a database where
-- 002 was never applied. Everything here is CREATE ... IF NOT EXISTS or CREATE OR REPLACE, so applying it twice
-- (the migrator applies 002 and then 003) changes nothing. It depends on no other TodoScale object.
--
-- The model (after GitLab's batched background migrations):
--   * Batch size from a target duration. Each batch reports its rows and its time; the engine keeps a
--     smoothed rows/second (EWMA, alpha 0.3) and sizes the next batch to take the target time, within
--     [min_rows, max_rows], growing at most 2x per batch. A fixed size (an operator's --batch-size) turns
--     the adaptation off. Why a target time and not a size: a batch holds its row locks from its first
--     statement to its COMMIT, so its duration is how long an application write can wait behind it, and
--     the rows a second worth of work holds change with load, locks and row width.
--   * Split and retry. A batch undone by a lock timeout, deadlock or serialization failure is retried at
--     half its size (down to one row), never repeated whole: a lock held for a long time by the application
--     otherwise made the same batch fail forever. After a success it grows back.
--   * Health signals, checked before every batch (batch_engine_check), each with a reason the operator sees:
--     lock_waits   application sessions waited on the last batch's locks (pg_blocking_pids at its end)
--     vacuum       a VACUUM of the job's source table (tables[1]), a manual VACUUM or an anti-wraparound
--                  autovacuum of any of its tables (pg_stat_progress_vacuum): pauses
--     autovacuum   an ordinary autovacuum of a table the job fills: half speed (one batch, then as long a
--                  pause), judged after every other signal
--     wal          WAL bytes/second since the last window above the budget (pg_current_wal_lsn deltas)
--     replica_lag  a standby's replay lag (pg_stat_replication) above the maximum
--     probe        the operator's probe statement takes more than 3x (and 5 ms more than) its idle time
--     A tripped signal pauses the engine (or, for lock_waits, halves the next batch and pauses one batch
--     time; for autovacuum, pauses one batch time). A signal that stays on longer than max_pause no longer
--     stops the job: it goes on one min_rows batch per second ("slowed"), so an hour-long VACUUM cannot
--     stall it for an hour.
-- Signals about other sessions (vacuum, probe) need pg_read_all_stats to see other roles' sessions.

-- ---------------------------------------------------------------------------------------------
-- One row per job: its knobs and where the adaptation stands. Committed with every batch, so another
-- session (migrate status, /api/ops/migration) sees the current size, signal and reason.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS batch_engine_jobs (
    job              text        PRIMARY KEY,          -- migration | archival
    tables           text[]      NOT NULL DEFAULT '{}',-- source first, then the tables it fills (and their partitions)
    target_ms        integer     NOT NULL DEFAULT 200,
    min_rows         integer     NOT NULL DEFAULT 100,
    max_rows         integer     NOT NULL DEFAULT 50000,
    fixed_rows       integer,                          -- set: adaptation off, every batch this size
    throttle_ms      integer     NOT NULL DEFAULT 0,   -- pause after every batch
    signals          boolean     NOT NULL DEFAULT true,
    wal_budget_bytes bigint,                           -- WAL bytes per second; NULL: no budget
    max_replica_lag  interval,                         -- NULL: replication lag not watched
    max_pause_ms     integer     NOT NULL DEFAULT 60000,
    probe_sql        text,
    probe_idle_ms    double precision,
    -- state
    batch_rows       integer     NOT NULL DEFAULT 1000,
    rows_per_s       double precision,
    batches          bigint      NOT NULL DEFAULT 0,
    splits           bigint      NOT NULL DEFAULT 0,
    last_rows        integer,
    last_ms          double precision,
    last_outcome     text,
    last_detail      text,
    last_waiters     integer     NOT NULL DEFAULT 0,
    wal_lsn          pg_lsn,
    wal_at           timestamptz,
    wal_bytes_per_s  double precision,
    signal           text,                             -- the tripped signal, NULL when none
    signal_detail    text,
    signal_since     timestamptz,
    paused_ms        bigint      NOT NULL DEFAULT 0,   -- total pause this run
    started_at       timestamptz,
    updated_at       timestamptz
);

-- ---------------------------------------------------------------------------------------------
-- Configure a run (resets the adaptation, keeps nothing of an earlier run but the row).
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION batch_engine_configure(
    p_job text, p_tables text[],
    p_target interval DEFAULT '200 ms', p_max_rows integer DEFAULT 50000, p_min_rows integer DEFAULT 100,
    p_fixed_rows integer DEFAULT NULL, p_throttle interval DEFAULT '0', p_signals boolean DEFAULT true,
    p_wal_budget_mb numeric DEFAULT 100, p_max_replica_lag interval DEFAULT '10 s', p_probe text DEFAULT NULL,
    p_max_pause interval DEFAULT '60 s')
RETURNS batch_engine_jobs
LANGUAGE plpgsql AS $$
DECLARE
    v_target_ms int := round(extract(epoch FROM p_target) * 1000);
    v_row       batch_engine_jobs;
    v_idle      double precision;
    v_t         timestamptz;
    v_ms        double precision;
BEGIN
    IF p_target IS NULL OR v_target_ms < 10 OR v_target_ms > 60000 THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('target must be between 10 ms and 60 s (got %s)', coalesce(p_target::text, 'NULL'));
    END IF;
    IF p_min_rows IS NULL OR p_max_rows IS NULL OR p_min_rows < 1 OR p_max_rows < p_min_rows OR p_max_rows > 1000000 THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('batch bounds must satisfy 1 <= min_rows <= max_rows <= 1000000 (got %s..%s)', p_min_rows, p_max_rows);
    END IF;
    IF p_fixed_rows IS NOT NULL AND (p_fixed_rows < 1 OR p_fixed_rows > 1000000) THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('batch_size must be 1..1000000 (got %s)', p_fixed_rows);
    END IF;
    IF p_throttle IS NULL OR p_throttle < interval '0' OR p_throttle > interval '10 min' THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('throttle must be 0 to 10 min (got %s)', coalesce(p_throttle::text, 'NULL'));
    END IF;
    IF p_wal_budget_mb IS NOT NULL AND p_wal_budget_mb <= 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('wal_budget_mb must be positive, or NULL for none (got %s)', p_wal_budget_mb);
    END IF;
    IF p_max_pause IS NULL OR p_max_pause < interval '0' THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value', MESSAGE = 'max_pause must be 0 or more';
    END IF;

    -- The probe's idle time, before this run adds any load: the best of five (the first may plan and read cold pages).
    IF p_probe IS NOT NULL THEN
        FOR i IN 1..5 LOOP
            v_t := clock_timestamp();
            EXECUTE p_probe;
            v_ms := extract(epoch FROM clock_timestamp() - v_t) * 1000;
            v_idle := least(coalesce(v_idle, v_ms), v_ms);
        END LOOP;
    END IF;

    INSERT INTO batch_engine_jobs AS j (job) VALUES (p_job) ON CONFLICT (job) DO NOTHING;
    UPDATE batch_engine_jobs j SET
        tables = coalesce(p_tables, '{}'), target_ms = v_target_ms, min_rows = p_min_rows, max_rows = p_max_rows,
        fixed_rows = p_fixed_rows, throttle_ms = round(extract(epoch FROM p_throttle) * 1000), signals = p_signals,
        wal_budget_bytes = (p_wal_budget_mb * 1024 * 1024)::bigint, max_replica_lag = p_max_replica_lag,
        max_pause_ms = round(extract(epoch FROM p_max_pause) * 1000), probe_sql = p_probe, probe_idle_ms = v_idle,
        -- A first batch of 1,000 rows (or the fixed size): small enough to be short on any server, and the
        -- 2x growth per batch reaches 50,000 rows within six batches when the server is that fast.
        batch_rows = coalesce(p_fixed_rows, least(greatest(1000, p_min_rows), p_max_rows)),
        rows_per_s = NULL, batches = 0, splits = 0, last_rows = NULL, last_ms = NULL, last_outcome = NULL,
        last_detail = NULL, last_waiters = 0, wal_lsn = pg_current_wal_lsn(), wal_at = clock_timestamp(),
        wal_bytes_per_s = NULL, signal = NULL, signal_detail = NULL, signal_since = NULL, paused_ms = 0,
        started_at = now(), updated_at = clock_timestamp()
    WHERE j.job = p_job
    RETURNING * INTO v_row;
    RETURN v_row;
END;
$$;

-- The job's row, configured with the defaults when no run configured it (a psql user calling a batch
-- function directly). Locked FOR UPDATE: the caller's batch updates it.
CREATE OR REPLACE FUNCTION batch_engine_job(p_job text, p_tables text[]) RETURNS batch_engine_jobs
LANGUAGE plpgsql AS $$
DECLARE
    v_row batch_engine_jobs;
BEGIN
    SELECT * INTO v_row FROM batch_engine_jobs WHERE job = p_job FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM batch_engine_configure(p_job, p_tables);
        SELECT * INTO v_row FROM batch_engine_jobs WHERE job = p_job FOR UPDATE;
    END IF;
    RETURN v_row;
END;
$$;

-- ---------------------------------------------------------------------------------------------
-- Sessions waiting on this backend right now. Called by a batch after its work and before its COMMIT,
-- while it still holds every lock it took: these are the application writes the batch makes wait.
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION batch_engine_waiters(OUT sessions integer, OUT detail text)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    -- pg_stat_activity is read once per transaction and then cached: without this, a session that connected or
    -- started waiting after this transaction first looked would not be seen (or be shown with its old query).
    PERFORM pg_stat_clear_snapshot();
    SELECT count(*)::int,
           string_agg(format('pid %s (%s, waiting %s s: %s)', w.pid, coalesce(nullif(w.application_name, ''), w.usename::text),
                             round(extract(epoch FROM clock_timestamp() - w.query_start)::numeric, 2),
                             left(regexp_replace(w.query, '\s+', ' ', 'g'), 60)), '; ' ORDER BY w.pid)
    INTO sessions, detail
    FROM pg_stat_activity w
    WHERE w.pid <> pg_backend_pid() AND pg_backend_pid() = ANY (pg_blocking_pids(w.pid));
END;
$$;

-- ---------------------------------------------------------------------------------------------
-- After a batch, in its transaction: learn from it and size the next one.
-- p_outcome: ok (rows moved), split (undone by a lock timeout/deadlock: retry smaller), wait (nothing done:
-- the next row is held, see 002), done (nothing left).
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION batch_engine_record(p_job text, p_rows integer, p_elapsed_ms double precision,
                                               p_outcome text, p_detail text DEFAULT NULL)
RETURNS batch_engine_jobs
LANGUAGE plpgsql AS $$
DECLARE
    j        batch_engine_jobs;
    v_wait   record;
    v_rate   double precision;
    v_next   integer;
BEGIN
    SELECT * INTO j FROM batch_engine_jobs WHERE job = p_job FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'no_data_found', MESSAGE = format('batch engine job %s is not configured', p_job);
    END IF;
    v_wait := batch_engine_waiters();
    v_next := j.batch_rows;

    IF p_outcome = 'ok' AND p_rows > 0 THEN
        v_rate := p_rows / greatest(p_elapsed_ms, 1) * 1000;
        j.rows_per_s := CASE WHEN j.rows_per_s IS NULL THEN v_rate ELSE 0.3 * v_rate + 0.7 * j.rows_per_s END;
        IF j.fixed_rows IS NOT NULL THEN
            v_next := least(j.fixed_rows, j.batch_rows * 2);      -- back to the fixed size after a split
        ELSE
            v_next := least(round(j.rows_per_s * j.target_ms / 1000), j.batch_rows::bigint * 2, j.max_rows)::int;
            -- The application waited behind this batch: make the next one half as long.
            IF j.signals AND v_wait.sessions > 0 THEN
                v_next := least(v_next, j.batch_rows / 2);
            END IF;
            v_next := greatest(v_next, least(j.min_rows, j.batch_rows * 2));
        END IF;
        j.batches := j.batches + 1;
    ELSIF p_outcome = 'split' THEN
        v_next := greatest(1, j.batch_rows / 2);
        j.splits := j.splits + 1;
    END IF;

    UPDATE batch_engine_jobs x SET
        batch_rows = greatest(1, v_next), rows_per_s = j.rows_per_s, batches = j.batches, splits = j.splits,
        last_rows = p_rows, last_ms = p_elapsed_ms, last_outcome = p_outcome,
        last_detail = CASE WHEN p_outcome = 'split'
                           THEN format('batch of %s rows undone after %s ms and split: %s', j.batch_rows, round(p_elapsed_ms::numeric), p_detail)
                           ELSE p_detail END,
        last_waiters = v_wait.sessions,
        signal_detail = CASE WHEN v_wait.sessions > 0 AND j.signals
                             THEN format('%s application session(s) waited on the batch''s locks: %s', v_wait.sessions, v_wait.detail)
                             ELSE x.signal_detail END,
        updated_at = clock_timestamp()
    WHERE x.job = p_job
    RETURNING * INTO j;
    RETURN j;
END;
$$;

-- ---------------------------------------------------------------------------------------------
-- Before a batch: may it run now? action go (pause_ms after it, 0 or the throttle), slow (run it, then
-- pause pause_ms) or pause (do not run it; ask again after pause_ms). signal and reason name what tripped.
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION batch_engine_check(p_job text,
    OUT action text, OUT pause_ms integer, OUT signal text, OUT reason text)
LANGUAGE plpgsql AS $$
DECLARE
    j         batch_engine_jobs;
    v_vac     record;
    v_vacuum  text;      -- an autovacuum of a table the job fills: half speed, unless something else pauses
    v_lsn     pg_lsn := pg_current_wal_lsn();
    v_now     timestamptz := clock_timestamp();
    v_secs    double precision;
    v_rate    double precision;
    v_rep     record;
    v_lag     double precision;
    v_t       timestamptz;
    v_probe   double precision;
    v_held_ms double precision;
BEGIN
    SELECT * INTO j FROM batch_engine_jobs WHERE job = p_job FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'no_data_found', MESSAGE = format('batch engine job %s is not configured', p_job);
    END IF;
    PERFORM pg_stat_clear_snapshot();  -- current sessions, not those this transaction saw first (see batch_engine_waiters)
    action := 'go';
    pause_ms := j.throttle_ms;

    -- WAL rate over windows of at least one second (shorter ones are mostly noise of one commit).
    v_secs := extract(epoch FROM v_now - j.wal_at);
    IF j.wal_lsn IS NULL OR v_secs >= 1 THEN
        IF j.wal_lsn IS NOT NULL THEN
            j.wal_bytes_per_s := pg_wal_lsn_diff(v_lsn, j.wal_lsn) / v_secs;
        END IF;
        j.wal_lsn := v_lsn;
        j.wal_at := v_now;
    END IF;

    IF j.signals THEN
        -- Split down to one row and still undone: the lock is held for long; back off instead of spinning. Once
        -- per undone batch: the step after the pause tries again (last_outcome stays 'split' until a batch runs,
        -- and pausing on it again kept a copy waiting 59.5 s for a user the application held for 5 s, until
        -- max_pause let it go on; bench migration of 2026-12-04). Pause and try alternate, a try every second or
        -- so, so max_pause (which turns a signal that stays on into slow progress) has nothing to do here.
        IF j.last_outcome = 'split' AND j.batch_rows <= 1 AND j.signal IS DISTINCT FROM 'lock_timeout' THEN
            signal := 'lock_timeout';
            reason := j.last_detail;
            action := 'pause';
            pause_ms := 1000;
        END IF;

        IF signal IS NULL THEN
            -- The tables themselves and every partition of the partitioned ones, read from pg_inherits and not
            -- with pg_partition_tree(): that one takes ACCESS SHARE on every partition until the transaction
            -- ends, and a migration_start() holding migration_state FOR UPDATE while it creates an archive
            -- month (ACCESS EXCLUSIVE on todos_archived) then deadlocked with the archival that checked here
            -- and next asked for migration_state FOR SHARE (CI run of 2026-12-02).
            -- What stops the job: any vacuum of its source (tables[1], what it reads and the application
            -- writes), a manual VACUUM (an operator's, and it competes for the same pages), and an autovacuum
            -- to prevent wraparound (it cannot be cancelled and must finish). An ordinary autovacuum of a table
            -- the job fills is cleaning up after the job's own inserts: pausing for it made the job stall itself
            -- (28-42 s of a 2-3 minute copy, bench migration of 2026-12-02), so it only slows the job to half
            -- speed (one batch, then as long a pause), leaving the autovacuum its share of the machine.
            WITH RECURSIVE tree(r, source) AS (
                SELECT to_regclass(n.name)::oid, n.ord = 1
                FROM unnest(j.tables) WITH ORDINALITY n(name, ord) WHERE to_regclass(n.name) IS NOT NULL
                UNION
                SELECT i.inhrelid, t.source FROM pg_inherits i JOIN tree t ON i.inhparent = t.r)
            SELECT p.relid::regclass::text AS rel, p.phase,
                   a.backend_type = 'autovacuum worker' AS auto,
                   coalesce(a.query LIKE '%(to prevent wraparound)', false) AS wraparound,
                   t.source OR a.backend_type IS DISTINCT FROM 'autovacuum worker'
                            OR coalesce(a.query LIKE '%(to prevent wraparound)', false) AS stops,
                   round(100.0 * p.heap_blks_scanned / nullif(p.heap_blks_total, 0)) AS pct
            INTO v_vac
            FROM pg_stat_progress_vacuum p JOIN tree t ON t.r = p.relid LEFT JOIN pg_stat_activity a ON a.pid = p.pid
            -- Relation OIDs are per database, and databases cloned from one template share them.
            WHERE p.pid <> pg_backend_pid() AND p.datid = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
            ORDER BY 5 DESC, p.pid LIMIT 1;
            IF FOUND THEN
                v_vacuum := format('%s on %s (%s%s)',
                                   CASE WHEN v_vac.wraparound THEN 'autovacuum to prevent wraparound'
                                        WHEN v_vac.auto THEN 'autovacuum' ELSE 'VACUUM' END,
                                   v_vac.rel, v_vac.phase, coalesce(', ' || v_vac.pct || '% scanned', ''));
                IF v_vac.stops THEN
                    signal := 'vacuum';
                    reason := v_vacuum;
                    action := 'pause';
                    pause_ms := 1000;
                ELSE
                    -- Judged last: a signal that pauses (WAL, replica lag, probe) must not be hidden behind it.
                    v_vacuum := v_vacuum || ', rows this job wrote: half speed';
                END IF;
            END IF;
        END IF;

        IF signal IS NULL AND j.wal_budget_bytes IS NOT NULL AND j.wal_bytes_per_s > j.wal_budget_bytes THEN
            signal := 'wal';
            reason := format('WAL %s/s over the budget of %s/s', pg_size_pretty(j.wal_bytes_per_s::bigint), pg_size_pretty(j.wal_budget_bytes));
            action := 'pause';
            -- Long enough to bring the last window's average back to the budget.
            pause_ms := least(5000, greatest(100, ceil((j.wal_bytes_per_s / j.wal_budget_bytes - 1) * 1000)))::int;
            j.wal_bytes_per_s := NULL;   -- judged again on the next full window, pause included
        END IF;

        IF signal IS NULL AND j.max_replica_lag IS NOT NULL THEN
            -- replay_lag stops growing while a standby's replay is paused (PostgreSQL keeps the last sample), so
            -- the bytes behind count too, as the time replaying them takes at the WAL budget (16 MB/s without one).
            SELECT r.application_name, r.client_addr,
                   greatest(coalesce(extract(epoch FROM r.replay_lag), 0),
                            coalesce(pg_wal_lsn_diff(v_lsn, r.replay_lsn), 0) / coalesce(j.wal_budget_bytes, 16 * 1024 * 1024)) AS lag,
                   pg_wal_lsn_diff(v_lsn, r.replay_lsn) AS behind
            INTO v_rep
            FROM pg_stat_replication r ORDER BY 3 DESC NULLS LAST LIMIT 1;
            IF FOUND AND v_rep.lag > extract(epoch FROM j.max_replica_lag) THEN
                signal := 'replica_lag';
                reason := format('standby %s replay lag %s s (%s behind) over %s s',
                                 coalesce(nullif(v_rep.application_name, ''), host(v_rep.client_addr), 'unnamed'),
                                 round(v_rep.lag::numeric, 1), pg_size_pretty(coalesce(v_rep.behind, 0)::bigint),
                                 round(extract(epoch FROM j.max_replica_lag)::numeric, 1));
                action := 'pause';
                pause_ms := 1000;
            END IF;
        END IF;

        IF signal IS NULL AND j.probe_sql IS NOT NULL THEN
            v_t := clock_timestamp();
            EXECUTE j.probe_sql;
            v_probe := extract(epoch FROM clock_timestamp() - v_t) * 1000;
            IF v_probe > 3 * j.probe_idle_ms AND v_probe > j.probe_idle_ms + 5 THEN
                signal := 'probe';
                reason := format('probe statement %s ms, idle %s ms', round(v_probe::numeric, 1), round(j.probe_idle_ms::numeric, 1));
                action := 'pause';
                pause_ms := 1000;
            END IF;
        END IF;

        -- Half speed: run the next batch, then leave as much time as the last one took.
        IF signal IS NULL AND j.last_waiters > 0 THEN
            -- The last batch made the application wait (the next one is already halved).
            signal := 'lock_waits';
            reason := j.signal_detail;
        ELSIF signal IS NULL AND v_vacuum IS NOT NULL THEN
            -- A signal of its own: sharing 'vacuum' with the pausing kind, its time counted towards max_pause, and a
            -- VACUUM of the source starting after a minute of half speed was never paused.
            signal := 'autovacuum';
            reason := v_vacuum;
        END IF;
        IF signal IN ('lock_waits', 'autovacuum') THEN
            action := 'slow';
            pause_ms := greatest(j.throttle_ms, round(coalesce(j.last_ms, j.target_ms)))::int;
        END IF;
    END IF;

    IF signal IS NOT NULL AND signal IS NOT DISTINCT FROM j.signal THEN
        v_held_ms := extract(epoch FROM v_now - j.signal_since) * 1000;
        -- A signal that will not clear must not stop the job for good: on at one small batch per second.
        IF action = 'pause' AND v_held_ms > j.max_pause_ms THEN
            action := 'slow';
            reason := format('slowed (signal on for %s s, longer than max_pause %s s; one batch of %s rows per second): %s',
                             round((v_held_ms / 1000)::numeric), j.max_pause_ms / 1000, j.min_rows, reason);
            j.batch_rows := least(j.batch_rows, j.min_rows);
        ELSIF action = 'pause' THEN
            reason := format('paused %s s: %s', round((v_held_ms / 1000)::numeric, 1), reason);
        END IF;
    ELSIF signal IS NOT NULL THEN
        j.signal_since := v_now;
        IF action = 'pause' THEN
            reason := 'paused 0.0 s: ' || reason;
        END IF;
    END IF;

    UPDATE batch_engine_jobs x SET
        wal_lsn = j.wal_lsn, wal_at = j.wal_at, wal_bytes_per_s = j.wal_bytes_per_s, batch_rows = j.batch_rows,
        signal = batch_engine_check.signal,
        signal_detail = CASE WHEN batch_engine_check.signal IS NULL THEN NULL ELSE batch_engine_check.reason END,
        signal_since = CASE WHEN batch_engine_check.signal IS NULL THEN NULL ELSE j.signal_since END,
        paused_ms = x.paused_ms + CASE WHEN action = 'go' THEN 0 ELSE batch_engine_check.pause_ms END,
        updated_at = v_now
    WHERE x.job = p_job;
END;
$$;

-- What an operator reads: one line per job.
CREATE OR REPLACE FUNCTION batch_engine_status()
RETURNS TABLE (job text, mode text, batch_rows integer, target_ms integer, rows_per_s numeric, last_rows integer,
               last_ms numeric, batches bigint, splits bigint, paused_s numeric, signal text, detail text, updated_at timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT j.job,
           CASE WHEN j.fixed_rows IS NOT NULL THEN format('fixed %s rows, throttle %s ms (adaptation off)', j.fixed_rows, j.throttle_ms)
                ELSE format('adaptive, target %s ms, %s..%s rows', j.target_ms, j.min_rows, j.max_rows) END
           || CASE WHEN j.signals THEN '' ELSE ', signals off' END,
           j.batch_rows, j.target_ms, round(j.rows_per_s::numeric), j.last_rows, round(j.last_ms::numeric, 1),
           j.batches, j.splits, round(j.paused_ms / 1000.0, 1), j.signal,
           coalesce(j.signal_detail, j.last_detail), j.updated_at
    FROM batch_engine_jobs j ORDER BY j.job;
$$;
