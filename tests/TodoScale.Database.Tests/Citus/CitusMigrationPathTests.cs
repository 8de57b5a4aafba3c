using TodoScale.Database.Distribution;
using TodoScale.Database.Migration;
using TodoScale.Database.Schema;
using TodoScale.Simulation.LegacyData;

namespace TodoScale.Database.Tests.Citus;

/// <summary>
/// The legacy migration (002) is made for one node: on a Citus database `migrate check` refuses it and says what to do
/// instead, and that documented path (migrate on the single node, cut over, then make it a Citus database and
/// distribute) moves every row to the workers.
/// </summary>
public sealed class CitusMigrationPathTests(CitusServer citus)
{
    [Fact(Timeout = TestTimeouts.Long)]
    public async Task migrate_check_refuses_a_citus_database_and_migrating_on_one_node_then_distributing_keeps_every_legacy_row()
    {
        var cs = await CitusData.PlainDatabaseOnCoordinatorAsync(citus, "legacypath");
        await using (var conn = new NpgsqlConnection(cs))
        {
            await conn.OpenAsync();
            await LegacyDatabase.CreateSchemaAsync(conn);
            await LegacyDatabase.GenerateAsync(conn, new LegacyDataOptions { Rows = 3_000, Users = 60 });
        }

        await new SchemaMigrator(cs).MigrateAsync();
        await new MigrationRunner(cs).RunAsync(new MigrationRunOptions());
        var migration = new LegacyMigration(cs);
        await migration.CutoverAsync(force: false);
        var legacy = await Sql.ScalarAsync<long>(cs, "SELECT count(*) FROM todos");
        var legacyFingerprint = await Sql.ScalarAsync<string>(cs,
            "SELECT md5(string_agg(id::text || user_id::text || title || status || updated_at::text, ',' ORDER BY id)) FROM todos");

        // The single node becomes the coordinator: the extension in this database, the workers registered.
        var cluster = await citus.ClusterAsync();
        await cluster.EnsureDatabaseAsync(new NpgsqlConnectionStringBuilder(cs).Database!);

        var refusal = Assert.Single(await migration.PreflightAsync());
        Assert.Equal("citus_coordinator", refusal.CheckName);
        Assert.True(refusal.IsBlocking);
        Assert.Contains("db distribute", refusal.Handling, StringComparison.Ordinal);

        await new CitusDistributor(cs).RunAsync(new DistributionOptions(ShardCount: 4, Online: false));

        Assert.Equal("distributed", await CitusData.CitusTypeAsync(cs, "todos_active"));
        Assert.Equal("distributed", await CitusData.CitusTypeAsync(cs, "todos_archived"));
        Assert.Null(await CitusData.CitusTypeAsync(cs, "todos"));
        Assert.Equal(legacy, await Sql.ScalarAsync<long>(cs, "SELECT (SELECT count(*) FROM todos_active) + (SELECT count(*) FROM todos_archived)"));
        Assert.Equal(legacyFingerprint, await Sql.ScalarAsync<string>(cs, """
            SELECT md5(string_agg(id::text || user_id::text || title || status || updated_at::text, ',' ORDER BY id))
            FROM (SELECT id, user_id, title, status, updated_at FROM todos_active
                  UNION ALL SELECT id, user_id, title, status, updated_at FROM todos_archived) u
            """));
        Assert.True(await Sql.ScalarAsync<long>(cs, "SELECT count(*) FROM todos_archived") > 0, "the legacy data has no archived todos to check");
    }
}
