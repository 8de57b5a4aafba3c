using System.Globalization;
using Spectre.Console;
using TodoScale.Cli.Infrastructure;
using TodoScale.Database.Cluster;
using TodoScale.Database.Maintenance;

namespace TodoScale.Cli.Commands;

/// <summary>
/// The replication part of <c>maintain health</c>: one line per standby from <c>replication_status()</c> (008), with the
/// same OK / WARNING / CRITICAL as the partition checks. A slot without its standby is CRITICAL: the primary keeps every
/// WAL segment for it until the disk fills. Prints nothing for a server without standbys.
/// </summary>
internal static class ReplicationHealth
{
    /// <summary>Prints the standbys; returns how many are CRITICAL and how many WARNING.</summary>
    public static async Task<(int Critical, int Warnings)> PrintAsync(string connectionString, CancellationToken ct)
    {
        var standbys = await ReplicationStatus.ReadAsync(connectionString, ct);
        if (standbys.Count == 0)
        {
            return (0, 0);
        }

        Ui.Table(["standby", "status", "state", "lag bytes", "lag s", "slot", "retained WAL bytes"], standbys.Select(s => (IReadOnlyList<string>)
        [
            s.Standby, s.Status, s.State, Number(s.ReplayLagBytes), Number(s.ReplayLagSeconds),
            s.SlotName is null ? "-" : $"{s.SlotName} ({(s.SlotActive == true ? "active" : "inactive")})", Number(s.RetainedWalBytes),
        ]), row => row[1] switch
        {
            HealthCheck.Critical => Color.Red,
            HealthCheck.Warning => Color.Yellow,
            _ => null,
        });
        return (standbys.Count(s => s.Status == HealthCheck.Critical), standbys.Count(s => s.Status == HealthCheck.Warning));
    }

    private static string Number(decimal? value) => value?.ToString(CultureInfo.InvariantCulture) ?? "-";
}
