#!/usr/bin/env bash
# The Citus router's added latency per query: the top-20 query (README, "Performance testing") on the same rows,
# once on a single-node database and once on a database distributed over the workers (through the coordinator),
# with pgbench, prepared statements, one client, the two runs interleaved ROUNDS times.
#
# Usage: scripts/citus-router-latency.sh COORDINATOR_URL_WITHOUT_DATABASE [ROWS_PER_USER] [USERS] [SECONDS] [ROUNDS]
#   e.g. scripts/citus-router-latency.sh "host=127.0.0.1 port=5670 user=postgres" 50 2000 10 3
# Needs: a Citus coordinator with workers (citus_add_node done in template1 or done here per database: the script
# registers the workers listed by WORKERS="host:port host:port"), psql and pgbench on PATH. Creates the databases
# todoscale_router_single (no citus) and todoscale_router_citus on the coordinator's server, and drops them at the end.
set -euo pipefail
conn="$1"; per_user="${2:-50}"; users="${3:-2000}"; seconds="${4:-10}"; rounds="${5:-3}"
here="$(cd "$(dirname "$0")/.." && pwd)"
workers="${WORKERS:?set WORKERS=\"host:port host:port\" (the Citus workers)}"
coordinator_host=$(sed -n 's/.*host=\([^ ]*\).*/\1/p' <<<"$conn"); coordinator_port=$(sed -n 's/.*port=\([^ ]*\).*/\1/p' <<<"$conn")

psql_on() { psql -X -q -v ON_ERROR_STOP=1 "$conn dbname=$1" "${@:2}"; }

for db in todoscale_router_single todoscale_router_citus; do
    psql_on postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
done
for w in $workers; do
    psql -X -q -v ON_ERROR_STOP=1 "host=${w%:*} port=${w#*:} user=postgres dbname=postgres" \
        -c "DROP DATABASE IF EXISTS todoscale_router_citus WITH (FORCE)" -c "CREATE DATABASE todoscale_router_citus"
    psql -X -q -v ON_ERROR_STOP=1 "host=${w%:*} port=${w#*:} user=postgres dbname=todoscale_router_citus" -c "CREATE EXTENSION citus"
done
psql_on todoscale_router_citus -c "CREATE EXTENSION citus" -c "SELECT citus_set_coordinator_host('$coordinator_host', $coordinator_port)"
for w in $workers; do psql_on todoscale_router_citus -c "SELECT citus_add_node('${w%:*}', ${w#*:})" >/dev/null; done

# The same schema and the same rows in both (user ids derived from the user number, so pgbench can name one).
seed="INSERT INTO users (id, email) SELECT md5('u' || g)::uuid, 'u' || g || '@example.com' FROM generate_series(1, $users) g;
      INSERT INTO todos_active (user_id, title, status, priority, created_at)
      SELECT md5('u' || u)::uuid, 'todo ' || t, (ARRAY['todo','in_progress','done','cancelled'])[1 + (u * 7 + t) % 4], (u + t) % 5,
             now() - make_interval(mins => u * 13 + t)
      FROM generate_series(1, $users) u, generate_series(1, $per_user) t;"
for db in todoscale_router_single todoscale_router_citus; do
    for f in 001_create_partitioned_tables 002_migrate_existing_data 003_create_maintenance_jobs 005_indexing_optimization 006_cluster_partitions 007_citus_ready_keys; do
        psql_on "$db" -f "$here/migrations/scaling/$f.sql" >/dev/null 2>&1
    done
done
PGOPTIONS='-c citus.shard_count=8 -c todoscale.distribute_online=off' psql_on todoscale_router_citus -f "$here/migrations/citus/distribute.sql" >/dev/null 2>&1
for db in todoscale_router_single todoscale_router_citus; do psql_on "$db" -c "$seed" -c "VACUUM ANALYZE todos_active" >/dev/null; done

bench=$(mktemp)
cat > "$bench" <<SQL
\set n random(1, $users)
SELECT id, title, priority, created_at FROM todos_active
WHERE user_id = md5('u' || :n)::uuid AND status = 'todo' ORDER BY priority DESC LIMIT 20;
SQL
psql_on todoscale_router_citus -c "EXPLAIN SELECT * FROM todos_active WHERE user_id = md5('u1')::uuid AND status = 'todo' ORDER BY priority DESC LIMIT 20" | grep -E "Task Count"
for r in $(seq 1 "$rounds"); do
    for db in todoscale_router_single todoscale_router_citus; do
        lat=$(pgbench -n -M prepared -c 1 -T "$seconds" -f "$bench" "$conn dbname=$db" 2>/dev/null | sed -n 's/^latency average = \([0-9.]*\) ms$/\1/p')
        echo "round $r $db latency_ms $lat"
    done
done | tee /dev/stderr | awk '{sum[$3]+=$5; n[$3]++} END {s=sum["todoscale_router_single"]/n["todoscale_router_single"]; c=sum["todoscale_router_citus"]/n["todoscale_router_citus"];
    printf "single node %.3f ms, coordinator + workers %.3f ms, ratio %.2f\n", s, c, c/s}'
rm -f "$bench"
for db in todoscale_router_single todoscale_router_citus; do psql_on postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"; done
for w in $workers; do
    psql -X -q "host=${w%:*} port=${w#*:} user=postgres dbname=postgres" -c "DROP DATABASE IF EXISTS todoscale_router_citus WITH (FORCE)"
done
