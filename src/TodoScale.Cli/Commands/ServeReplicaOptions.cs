using System.CommandLine;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using TodoScale.Application.Data.Routing;
using TodoScale.Cli.Infrastructure;

namespace TodoScale.Cli.Commands;

/// <summary><c>serve --read-replicas HOSTS --max-replica-lag 5s</c>: which standbys the API reads from, and how stale one may be.</summary>
internal static class ServeReplicaOptions
{
    public static Option<string?> ReadReplicasOption() => new Option<string?>("--read-replicas")
    {
        Description = $"Standby hosts to read from, comma separated (host or host:port; same database, user and password as the primary). " +
                      $"Default: ${ReadReplicaOptions.EnvironmentVariable}; on the built-in server, its running standbys.",
    }.Refusing(Hosts);

    public static Option<string?> MaxLagOption() => new Option<string?>("--max-replica-lag")
    {
        Description = "A standby further behind the primary than this gets no reads until it catches up: seconds, or a number with s or ms (default 5s).",
    }.Refusing(v => ParseLag(v) is null ? "must be a duration such as 5s, 500ms or 2.5 (seconds), from 10ms to 1h" : null);

    /// <summary>The ReadReplicas:* configuration for the host; on the built-in server without --database, its running standbys.</summary>
    public static async Task<IReadOnlyDictionary<string, string?>> SettingsAsync(CliContext ctx, ParseResult parse, Option<string?> hosts,
        Option<string?> maxLag, CancellationToken ct)
    {
        var settings = new Dictionary<string, string?>();
        var named = parse.GetValue(hosts);
        if (string.IsNullOrWhiteSpace(named) && string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(ReadReplicaOptions.EnvironmentVariable))
            && !ctx.HasExplicitDatabase(parse))
        {
            named = await DbReplicaCommands.BuiltInStandbyHostsAsync(ctx.LocalCluster(parse), ct);
        }

        if (!string.IsNullOrWhiteSpace(named))
        {
            settings[$"{ReadReplicaOptions.Section}:Hosts"] = named;
        }

        if (parse.GetValue(maxLag) is { } lag)
        {
            settings[$"{ReadReplicaOptions.Section}:MaxLagSeconds"] = ParseLag(lag)!.Value.TotalSeconds.ToString(CultureInfo.InvariantCulture);
        }

        return settings;
    }

    /// <summary>One line per standby the API will read from (after the host has started and polled them once).</summary>
    public static void Announce(WebApplication app)
    {
        var set = app.Services.GetRequiredService<ReplicaSet>();
        foreach (var s in set.Standbys)
        {
            var state = s.State;
            Ui.Info($"  reads from standby {s.Name}: " + (state.Serves(set.Options.MaxLag)
                ? $"in service (lag {state.LagSeconds:0.0} s, bound {set.Options.MaxLag.TotalSeconds:0.###} s)"
                : $"not in service yet ({state.Error ?? (state.InRecovery ? $"lag {state.LagSeconds:0.0} s" : "not a standby")})"));
        }
    }

    private static string? Hosts(string value)
    {
        try
        {
            foreach (var h in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                ReadReplicaOptions.ParseHost(h, 5432);
            }

            return value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Length == 0
                ? "must name at least one host"
                : null;
        }
        catch (ArgumentException e)
        {
            return e.Message;
        }
    }

    internal static TimeSpan? ParseLag(string value)
    {
        var v = value.Trim();
        var (number, scale) = v.EndsWith("ms", StringComparison.OrdinalIgnoreCase) ? (v[..^2], 0.001)
            : v.EndsWith('s') || v.EndsWith('S') ? (v[..^1], 1.0)
            : (v, 1.0);
        return double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var n) && n * scale is >= 0.01 and <= 3600
            ? TimeSpan.FromSeconds(n * scale)
            : null;
    }
}
