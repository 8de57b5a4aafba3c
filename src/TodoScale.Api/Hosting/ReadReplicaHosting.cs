using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using TodoScale.Api.Endpoints;
using TodoScale.Application.Data.Routing;

namespace TodoScale.Api.Hosting;

/// <summary>
/// Wires read replicas into the API host: the primary's data source (Npgsql picks the primary of a multi-host
/// connection string), one data source per standby, the monitor, the per-request <see cref="DataRoute"/> and the
/// routing middleware. With no standby configured every request goes to the primary exactly as before, and the
/// middleware does nothing but pass the request on.
/// <para>
/// Why TodoScale chooses the standby itself instead of handing Npgsql <c>Target Session Attributes=prefer-standby</c>
/// with <c>Load Balance Hosts=true</c>: Npgsql picks a standby by role only (and caches that for Host Recheck Seconds),
/// without looking at how far it has replayed. Read-your-writes needs to know which node a read lands on and that
/// node's replay position, and a standby lagging by minutes must get no reads at all.
/// </para>
/// </summary>
public static class ReadReplicaHosting
{
    public const string ServedByHeader = "X-TodoScale-Served-By";
    public const string NodeHeader = "X-TodoScale-Node";
    public const string WriteLsnHeader = "X-TodoScale-Write-Lsn";

    /// <summary>Registers the replica set (read lazily from configuration <c>ReadReplicas:*</c> or TODOSCALE_READ_REPLICAS), the monitor and the per-request route.</summary>
    public static IServiceCollection AddReadReplicas(this IServiceCollection services, string applicationConnectionString)
    {
        services.AddSingleton(sp => Options(sp.GetRequiredService<IConfiguration>()));
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<ReadReplicaOptions>();
            var nodes = options.Candidates(applicationConnectionString)
                .Select(c => new ReplicaNode(c.Host, c.Port, ReadReplicaOptions.ForNode(applicationConnectionString, c.Host, c.Port)))
                .ToList();
            return new ReplicaSet(sp.GetRequiredService<NpgsqlDataSource>(), nodes, options);
        });
        services.AddSingleton(sp => new ReadFences(sp.GetRequiredService<NpgsqlDataSource>()));
        services.AddSingleton(sp => new ReplicaMonitor(sp.GetRequiredService<ReplicaSet>(), sp.GetService<TimeProvider>()));
        services.AddHostedService<ReplicaMonitorService>();
        services.AddScoped(sp => new DataRoute(sp));
        return services;
    }

    /// <summary>The routing middleware (after authentication: it needs the user) and GET /api/ops/replication.</summary>
    public static WebApplication UseReadReplicas(this WebApplication app)
    {
        app.UseMiddleware<ReadRoutingMiddleware>();
        app.MapReplicationApi();
        return app;
    }

    private static ReadReplicaOptions Options(IConfiguration config)
    {
        var section = config.GetSection(ReadReplicaOptions.Section);
        var defaults = new ReadReplicaOptions();
        return new ReadReplicaOptions
        {
            Hosts = section["Hosts"] is { Length: > 0 } hosts ? hosts : Environment.GetEnvironmentVariable(ReadReplicaOptions.EnvironmentVariable),
            MaxLag = section["MaxLagSeconds"] is { Length: > 0 } lag
                ? TimeSpan.FromSeconds(double.Parse(lag, CultureInfo.InvariantCulture))
                : defaults.MaxLag,
            PollInterval = section["PollIntervalMs"] is { Length: > 0 } poll
                ? TimeSpan.FromMilliseconds(double.Parse(poll, CultureInfo.InvariantCulture))
                : defaults.PollInterval,
            ServedByHeader = bool.TryParse(section["ServedByHeader"], out var header) && header,
        };
    }
}

/// <summary>Runs the <see cref="ReplicaMonitor"/>; the first poll happens before the host takes requests, so reads use the standbys from the first request on.</summary>
internal sealed class ReplicaMonitorService(ReplicaSet set, ReplicaMonitor monitor) : BackgroundService
{
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        if (set.HasStandbys)
        {
            await monitor.PollOnceAsync(cancellationToken);
        }

        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!set.HasStandbys)
        {
            return;
        }

        try
        {
            await monitor.RunAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Host shutdown.
        }
    }
}
