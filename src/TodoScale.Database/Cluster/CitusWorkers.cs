using Npgsql;

namespace TodoScale.Database.Cluster;

/// <summary>Registering a worker that runs elsewhere (not one of the built-in cluster's folders) with a coordinator.</summary>
public static class CitusWorkers
{
    /// <summary>
    /// Registers <paramref name="host"/>:<paramref name="port"/> in the coordinator's database (citus_add_node; a
    /// registered node is left as it is). When the worker lets us in with the coordinator's credentials, it is checked
    /// first (Citus loaded, the database and extension present), so a server without Citus is refused by name instead of
    /// failing half-way through Citus's metadata sync. True when the node was new.
    /// </summary>
    public static async Task<bool> AddAsync(string coordinatorConnectionString, string host, int port, CancellationToken ct = default)
    {
        await using var coordinator = new NpgsqlConnection(coordinatorConnectionString);
        await coordinator.OpenAsync(ct);
        await CitusAvailability.RequireLoadedAsync(coordinator, ct);
        await using (var known = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM pg_dist_node WHERE nodename = $1 AND nodeport = $2)", coordinator))
        {
            known.Parameters.AddWithValue(host);
            known.Parameters.AddWithValue(port);
            if ((bool)(await known.ExecuteScalarAsync(ct))!)
            {
                return false;
            }
        }

        await PrepareWorkerAsync(new NpgsqlConnectionStringBuilder(coordinatorConnectionString) { Host = host, Port = port, Pooling = false }.ConnectionString, ct);
        await using var add = new NpgsqlCommand("SELECT citus_add_node($1, $2)", coordinator);
        add.Parameters.AddWithValue(host);
        add.Parameters.AddWithValue(port);
        await add.ExecuteNonQueryAsync(ct);
        return true;
    }

    private static async Task PrepareWorkerAsync(string workerConnectionString, CancellationToken ct)
    {
        NpgsqlConnection worker;
        try
        {
            worker = new NpgsqlConnection(workerConnectionString);
            await worker.OpenAsync(ct);
        }
        catch (NpgsqlException)
        {
            // Other credentials (the coordinator's own password file, pg_dist_authinfo) may still let the coordinator in:
            // citus_add_node is the judge, and says why when it cannot.
            return;
        }

        await using (worker)
        {
            await CitusAvailability.RequireLoadedAsync(worker, ct);
            await using var create = new NpgsqlCommand("CREATE EXTENSION IF NOT EXISTS citus", worker);
            await create.ExecuteNonQueryAsync(ct);
        }
    }
}
