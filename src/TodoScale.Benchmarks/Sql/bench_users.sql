-- The users the load generators pick from, stored in the database so that pgbench draws the very same users.
-- bench_pick: the users of 20,000 todos drawn at random (ids are random uuids), so a user is drawn in
-- proportion to how many todos they have — the real skew: heavy users are also the busy ones.
-- bench_heavy: the heaviest 1% of users by todo count.
CREATE TABLE IF NOT EXISTS bench_pick AS
SELECT row_number() OVER ()::int AS n, user_id
FROM (SELECT user_id FROM todos ORDER BY id LIMIT 20000) s;

CREATE TABLE IF NOT EXISTS bench_heavy AS
SELECT row_number() OVER ()::int AS n, user_id
FROM (SELECT user_id FROM todos GROUP BY user_id
      ORDER BY count(*) DESC, user_id
      LIMIT greatest(1, (SELECT count(*) FROM users) / 100)) s;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'bench_pick_pkey') THEN
        ALTER TABLE bench_pick ADD CONSTRAINT bench_pick_pkey PRIMARY KEY (n);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'bench_heavy_pkey') THEN
        ALTER TABLE bench_heavy ADD CONSTRAINT bench_heavy_pkey PRIMARY KEY (n);
    END IF;
END;
$$;
