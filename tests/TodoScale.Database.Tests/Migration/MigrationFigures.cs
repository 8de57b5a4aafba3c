using TodoScale.Database.Migration;

namespace TodoScale.Database.Tests.Migration;

/// <summary>
/// The figures in docs/benchmarks.md (## Migration). Explicit: never part of CI. Run with
///   TODOSCALE_BENCH_ROWS=1000000 tests/TodoScale.Database.Tests/bin/Release/net10.0/TodoScale.Database.Tests -explicit only -method "*migration_figures*"
/// and TODOSCALE_TEST_DATABASE pointing at a durable server to measure with fsync on.
/// </summary>
public sealed class MigrationFigures(PostgresServer server)
{
    [Fact(Explicit = true, Timeout = TestTimeouts.Measurement)]
    public async Task migration_figures()
    {
        var rows = int.Parse(Environment.GetEnvironmentVariable("TODOSCALE_BENCH_ROWS") ?? "100000", System.Globalization.CultureInfo.InvariantCulture);
        var cs = await LegacyDb.CreateAsync(server, "figures", rows);
        var options = new MigrationBenchmarkOptions { LegacyParentIndex = Environment.GetEnvironmentVariable("TODOSCALE_BENCH_PARENT_INDEX") == "1" };

        var result = await MigrationBenchmark.RunAsync(cs, options, m => TestContext.Current.SendDiagnosticMessage(m));

        var markdown = result.ToMarkdown(options);
        TestContext.Current.TestOutputHelper?.WriteLine(markdown);
        await File.WriteAllTextAsync(Path.Combine(Path.GetTempPath(), "todoscale-migration-figures.md"), markdown);
        Assert.All(result.Checks, c => Assert.True(c.Passed, c.CheckName));
    }
}
