using TodoScale.Benchmarks;
using TodoScale.Database.Schema;
using TodoScale.Simulation.LegacyData;

namespace TodoScale.Benchmarks.Tests.Migration;

/// <summary>
/// The figures in docs/benchmarks.md (## Migration) for one database. Explicit: never part of CI. Run with
///   TODOSCALE_BENCH_ROWS=1000000 tests/TodoScale.Benchmarks.Tests/bin/Release/net10.0/TodoScale.Benchmarks.Tests -explicit only -method "*migration_figures*"
/// and TODOSCALE_TEST_DATABASE pointing at a durable server to measure with fsync on.
/// </summary>
public sealed class MigrationFigures(PostgresServer server)
{
    [Fact(Explicit = true, Timeout = TestTimeouts.Measurement)]
    public async Task migration_figures()
    {
        var rows = int.Parse(Environment.GetEnvironmentVariable("TODOSCALE_BENCH_ROWS") ?? "100000", System.Globalization.CultureInfo.InvariantCulture);
        var cs = await server.CreateEmptyDatabaseAsync("figures");
        // No client timeout: COPY of a million rows for the figures outlasts the default 30 s.
        await using (var conn = await server.OpenAsync(new NpgsqlConnectionStringBuilder(cs) { CommandTimeout = 0 }.ConnectionString))
        {
            await LegacyDatabase.CreateSchemaAsync(conn);
            await LegacyDatabase.GenerateAsync(conn, new LegacyDataOptions { Rows = rows });
        }

        await new SchemaMigrator(cs).MigrateAsync();
        var options = new MigrationMeasurementOptions { LegacyParentIndex = Environment.GetEnvironmentVariable("TODOSCALE_BENCH_PARENT_INDEX") == "1" };

        var result = await MigrationMeasurement.RunAsync(cs, options, m => TestContext.Current.SendDiagnosticMessage(m));

        var markdown = result.ToMarkdown(options);
        TestContext.Current.TestOutputHelper?.WriteLine(markdown);
        await File.WriteAllTextAsync(Path.Combine(Path.GetTempPath(), "todoscale-migration-figures.md"), markdown);
        Assert.All(result.Checks, c => Assert.True(c.Passed, c.CheckName));
    }
}
