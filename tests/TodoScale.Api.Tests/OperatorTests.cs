using System.Text.Json;

namespace TodoScale.Api.Tests;

public sealed class OperatorTests(PostgresServer server) : IAsyncLifetime
{
    private ApiHost _host = null!;

    public async ValueTask InitializeAsync() => _host = await ApiHost.StartAsync(server, "operator");

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    public static TheoryData<string> Endpoints => new("/api/ops/partitions", "/api/ops/health", "/api/ops/maintenance", "/api/ops/migration");

    [Theory]
    [MemberData(nameof(Endpoints))]
    public async Task operator_endpoints_are_forbidden_to_a_user_without_the_operator_role(string path)
    {
        var (_, user) = await _host.NewUserAsync();

        Assert.Equal(HttpStatusCode.Forbidden, (await user.GetAsync(path)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _host.Client().GetAsync(path)).StatusCode);
    }

    [Fact]
    public async Task an_operator_gets_the_rows_of_the_migration_progress_table_as_column_name_and_value()
    {
        var (_, ops) = await _host.NewUserAsync(isOperator: true);
        // Phase 2 creates migration_progress; until that script is on this branch, a stand-in with one row.
        var standIn = await _host.ScalarAsync<bool>("SELECT to_regclass('migration_progress') IS NULL");
        if (standIn)
        {
            await _host.ExecuteAsync("""
                CREATE TABLE migration_progress (batch_id int, rows_migrated bigint, start_time timestamptz);
                INSERT INTO migration_progress VALUES (7, 5000, now());
                """);
        }

        var rows = await (await ops.GetAsync("/api/ops/migration")).ReadAsync<List<Dictionary<string, JsonElement>>>(HttpStatusCode.OK);

        if (standIn)
        {
            var row = Assert.Single(rows);
            Assert.Equal(7, row["batch_id"].GetInt32());
            Assert.Equal(5000, row["rows_migrated"].GetInt64());
        }
    }

    [Fact]
    public async Task an_operator_endpoint_whose_table_or_function_is_not_installed_answers_503_with_a_problem()
    {
        var (_, ops) = await _host.NewUserAsync(isOperator: true);
        await _host.ExecuteAsync("DROP TABLE IF EXISTS maintenance_history CASCADE");

        var response = await ops.GetAsync("/api/ops/maintenance");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("maintenance_history", await response.Content.ReadAsStringAsync());
    }
}
