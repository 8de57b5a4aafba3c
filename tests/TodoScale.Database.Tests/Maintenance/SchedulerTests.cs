using Microsoft.Extensions.Logging.Abstractions;
using TodoScale.Database.Maintenance;
using static TodoScale.Database.Tests.Maintenance.MaintenanceDb;

namespace TodoScale.Database.Tests.Maintenance;

public sealed class SchedulerTests(PostgresServer server)
{
    [Fact(Timeout = TestTimeouts.Quick)]
    public async Task the_default_schedule_runs_daily_at_two_and_weekly_on_sunday_at_three_utc()
    {
        // Yield first, so the body runs on the pool and the Timeout can end it should it never return.
        await Task.Yield();
        var options = new MaintenanceOptions();
        var wednesday = new DateTimeOffset(2026, 11, 25, 10, 0, 0, TimeSpan.Zero);
        var sundayAfterDaily = new DateTimeOffset(2026, 11, 29, 2, 30, 0, TimeSpan.Zero);

        Assert.Equal((MaintenanceJob.Daily, new DateTimeOffset(2026, 11, 26, 2, 0, 0, TimeSpan.Zero)), MaintenanceScheduler.Next(options, wednesday));
        Assert.Equal((MaintenanceJob.Weekly, new DateTimeOffset(2026, 11, 29, 3, 0, 0, TimeSpan.Zero)), MaintenanceScheduler.Next(options, sundayAfterDaily));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task the_hosted_scheduler_runs_daily_maintenance_when_its_cron_falls_due()
    {
        var cs = await server.CreateMigratedDatabaseAsync("scheduler");
        await using var conn = await server.OpenAsync(cs);
        await SeedAsync(conn, users: 2, todosPerUser: 30, doneDaysAgo: 40);
        var options = new MaintenanceOptions { DailyCron = "*/2 * * * * *", WeeklyCron = "0 0 1 1 *" };
        using var scheduler = new MaintenanceScheduler(new MaintenanceRunner(cs), options,
            NullLogger<MaintenanceScheduler>.Instance, TimeProvider.System);

        await scheduler.StartAsync(Ct);
        long runs = 0;
        for (var i = 0; i < 300 && runs == 0; i++)
        {
            await Task.Delay(100, Ct);
            // The vacuum step is the runner's last: once it is recorded the whole run is done.
            runs = await ScalarAsync<long>(conn, """
                SELECT count(*) FROM maintenance_history h
                WHERE h.job = 'daily' AND h.status = 'OK' AND EXISTS (SELECT 1 FROM maintenance_job_log l WHERE l.history_id = h.id AND l.step = 'vacuum')
                """);
        }

        await scheduler.StopAsync(Ct);

        Assert.True(runs > 0, "no daily run was recorded within 30 s of a cron due every 2 s");
        Assert.Equal(20L, await ScalarAsync<long>(conn, "SELECT count(*) FROM todos_archived"));
        Assert.True(await ScalarAsync<bool>(conn,
            "SELECT EXISTS (SELECT 1 FROM maintenance_job_log WHERE step = 'vacuum' AND status = 'OK' AND detail LIKE 'VACUUM (ANALYZE) %')"));
    }
}
