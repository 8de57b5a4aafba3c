using Npgsql;
using TodoScale.Benchmarks;
using TodoScale.Database.Migration;

namespace TodoScale.Benchmarks.Tests.Migration;

public sealed class MigrationWaitSamplerTests(PostgresServer server)
{
    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_session_waiting_on_the_migration_counts_and_the_migration_waiting_on_the_application_does_not()
    {
        var cs = await server.CreateEmptyDatabaseAsync("waitsampler");
        await using (var setup = await server.OpenAsync(cs))
        {
            await using var create = new NpgsqlCommand("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2)", setup);
            await create.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        }

        var migrationCs = new NpgsqlConnectionStringBuilder(cs) { ApplicationName = MigrationRunner.ApplicationName }.ConnectionString;
        // The migration waits on a row the application holds: not a wait on the migration.
        var theMigrationWaits = await SampleWhileAsync(holder: cs, waiter: migrationCs, row: 1);
        // The application waits on a row the migration holds: one.
        var theApplicationWaits = await SampleWhileAsync(holder: migrationCs, waiter: cs, row: 2);

        Assert.Equal(0, theMigrationWaits);
        Assert.True(theApplicationWaits >= 200, $"the application waited about 400 ms on the migration, the sampler saw {theApplicationWaits:N0} ms");
    }

    /// <summary>One session holds a row for about 400 ms while the other waits for it; returns the longest wait sampled.</summary>
    private async Task<double> SampleWhileAsync(string holder, string waiter, int row)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var holding = await server.OpenAsync(holder);
        await using var tx = await holding.BeginTransactionAsync(ct);
        await using (var take = new NpgsqlCommand($"SELECT 1 FROM t WHERE id = {row} FOR UPDATE", holding))
        {
            await take.ExecuteNonQueryAsync(ct);
        }

        // On the test's database: the sampler looks at the migration's sessions there only.
        await using var sampler = new MigrationWaitSampler(new NpgsqlConnectionStringBuilder(holder) { ApplicationName = "sampler" }.ConnectionString);
        sampler.Start();
        await using var waiting = await server.OpenAsync(waiter);
        await using var wait = new NpgsqlCommand($"UPDATE t SET id = id WHERE id = {row}", waiting);
        var waited = wait.ExecuteNonQueryAsync(ct);
        await Task.Delay(400, ct);
        await tx.CommitAsync(ct);
        await waited;
        return await sampler.StopAsync();
    }
}
