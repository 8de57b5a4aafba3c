using TodoScale.Database.Schema;

namespace TodoScale.Database.Tests.Schema;

/// <summary>An installation migrated by an earlier version gets the scripts whose content changed since.</summary>
public sealed class ScriptUpgradeTests(PostgresServer server)
{
    [Fact(Timeout = TestTimeouts.Long)]
    public async Task a_database_journalled_before_checksums_gets_every_script_again_and_then_none()
    {
        var cs = await server.CreateMigratedDatabaseAsync("upgradeold");
        await using var conn = await server.OpenAsync(cs);
        // What an earlier version left: the journal by name only, and an older 003 without the archival guard.
        await ExecAsync(conn, "DROP TABLE todoscale_schema_checksums; DROP FUNCTION todoscale_archival_blocked_by_migration()");
        var migrator = new SchemaMigrator(cs);

        var before = await migrator.GetStatusAsync();
        var applied = await migrator.MigrateAsync();
        var again = await migrator.MigrateAsync();
        var after = await migrator.GetStatusAsync();

        Assert.Equal(ScalingScripts.Names, before.Pending);
        Assert.Equal(ScalingScripts.Names, applied);
        Assert.Empty(again);
        Assert.Empty(after.Pending);
        await using var guard = new NpgsqlCommand("SELECT to_regprocedure('todoscale_archival_blocked_by_migration()') IS NOT NULL", conn);
        Assert.True((bool)(await guard.ExecuteScalarAsync())!);
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task only_a_script_whose_content_changed_is_applied_again()
    {
        var cs = await server.CreateMigratedDatabaseAsync("upgradechanged");
        await using var conn = await server.OpenAsync(cs);
        var script = ScalingScripts.Names.Single(n => n.StartsWith("003_", StringComparison.Ordinal));
        await using (var cmd = new NpgsqlCommand("UPDATE todoscale_schema_checksums SET sha256 = 'an older version' WHERE scriptname = $1", conn))
        {
            cmd.Parameters.AddWithValue(script);
            Assert.Equal(1, await cmd.ExecuteNonQueryAsync());
        }

        var migrator = new SchemaMigrator(cs);
        Assert.Equal([script], (await migrator.GetStatusAsync()).Pending);
        Assert.Equal([script], await migrator.MigrateAsync());
        Assert.Empty((await migrator.GetStatusAsync()).Pending);
    }
}
