using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace TodoScale.Database.Maintenance;

/// <summary>
/// Runs daily and weekly maintenance (the weekly run ends with cluster_partitions()) in the application
/// host on the cron schedules of <see cref="MaintenanceOptions"/>. Every instance of the application runs this service; the
/// maintenance advisory lock lets exactly one of them do the work and the others log a skip.
/// </summary>
public sealed class MaintenanceScheduler(
    MaintenanceRunner runner, MaintenanceOptions options, ILogger<MaintenanceScheduler> logger, TimeProvider time)
    : BackgroundService
{
    // Re-plan at least daily so a clock change (NTP step, DST in a non-UTC zone) cannot leave the
    // service sleeping past its run; Task.Delay also rejects delays over ~49 days.
    private static readonly TimeSpan MaxSleep = TimeSpan.FromDays(1);

    /// <summary>The next job to run after <paramref name="after"/> (daily first when both fall due together).</summary>
    public static (MaintenanceJob Job, DateTimeOffset At)? Next(MaintenanceOptions options, DateTimeOffset after)
    {
        var daily = options.Daily.GetNextOccurrence(after, options.TimeZone);
        var weekly = options.Weekly.GetNextOccurrence(after, options.TimeZone);
        if (daily is null && weekly is null)
        {
            return null;
        }

        return weekly is null || (daily is not null && daily <= weekly)
            ? (MaintenanceJob.Daily, daily!.Value)
            : (MaintenanceJob.Weekly, weekly.Value);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Enabled)
        {
            logger.LogInformation("Maintenance scheduling is disabled (Maintenance:Enabled = false)");
            return;
        }

        logger.LogInformation("Maintenance scheduled: {Options}", options);
        var after = time.GetUtcNow();
        while (!stoppingToken.IsCancellationRequested)
        {
            if (Next(options, after) is not { } next)
            {
                logger.LogWarning("The maintenance cron expressions have no future occurrence; nothing is scheduled");
                return;
            }

            var wait = next.At - time.GetUtcNow();
            if (wait > MaxSleep)
            {
                await Task.Delay(MaxSleep, time, stoppingToken);
                continue;
            }

            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, time, stoppingToken);
            }

            after = next.At;
            await RunOnceAsync(next.Job, stoppingToken);
        }
    }

    private async Task RunOnceAsync(MaintenanceJob job, CancellationToken ct)
    {
        try
        {
            var run = await runner.RunAsync(job, ct);
            if (run.Skipped)
            {
                logger.LogInformation("{Job} maintenance skipped: {Reason}", job, run.Steps[0].Detail);
                return;
            }

            foreach (var step in run.AllSteps)
            {
                logger.Log(step.Status == MaintenanceStep.Failed ? LogLevel.Error
                        : step.Status == MaintenanceStep.Warning ? LogLevel.Warning : LogLevel.Information,
                    "{Job} maintenance step {Step}: {Status}, {Rows} rows, {DurationMs} ms: {Detail}",
                    job, step.Step, step.Status, step.RowsAffected, step.DurationMs, step.Detail);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            // The host must keep serving requests when the database is briefly unreachable at 02:00;
            // the next occurrence tries again and check_partition_health() reports the missed run.
            logger.LogError(e, "{Job} maintenance could not run", job);
        }
    }
}

public static class MaintenanceServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="MaintenanceRunner"/> and the <see cref="MaintenanceScheduler"/> hosted service,
    /// configured from the "Maintenance" section (Enabled, DailyCron, WeeklyCron, TimeZone).
    /// </summary>
    public static IServiceCollection AddTodoScaleMaintenance(
        this IServiceCollection services, IConfiguration configuration, string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        services.AddSingleton(MaintenanceOptions.FromConfiguration(configuration));
        services.AddSingleton(new MaintenanceRunner(connectionString));
        services.TryAddSingleton(TimeProvider.System);
        services.AddHostedService<MaintenanceScheduler>();
        return services;
    }
}
