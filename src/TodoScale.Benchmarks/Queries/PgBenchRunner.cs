using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Npgsql;
using TodoScale.Database.Connections;

namespace TodoScale.Benchmarks;

public sealed record PgBenchResult(double Tps, double StatementLatencyMs, double AverageLatencyMs);

/// <summary>
/// pgbench -M prepared with a custom script: each transaction draws a user from a table of users (the same
/// bench_pick / bench_heavy sets the Npgsql driver uses), then runs the top-20 statement with that user id.
/// </summary>
public static partial class PgBenchRunner
{
    public static async Task<PgBenchResult> RunAsync(
        string pgbench, string connectionString, BenchLayout layout, string userTable, int userCount, int clients,
        TimeSpan duration, CancellationToken ct)
    {
        var statement = BenchQueries.Statements(QueryKind.Top20, layout.Kind, layout.Table)[0];
        // pgbench ends an SQL command at the semicolon; one line keeps the per-statement report readable.
        // $1 becomes the drawn user (a prepared parameter); the statement's fixed values go in as literals, since a
        // pgbench variable cannot hold NULL. All of them are numbers, NULL or the status, never input.
        var sql = Whitespace().Replace(statement.Render(n => n == 1 ? ":uid" : Literal(statement.Args[n - 2])), " ");
        var script = Path.Combine(Path.GetTempPath(), $"todoscale-bench-{layout.Key}-{Guid.NewGuid():N}.sql");
        await File.WriteAllTextAsync(script,
            "\\set n random(1, :npick)\n" +
            $"SELECT user_id AS uid FROM {userTable} WHERE n = :n \\gset\n" +
            sql + ";\n", ct);
        try
        {
            var cs = new NpgsqlConnectionStringBuilder(connectionString);
            var psi = new ProcessStartInfo(pgbench)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var a in new[]
                     {
                         "-n", "-M", "prepared", "-r",
                         "-T", Math.Max(1, (int)Math.Round(duration.TotalSeconds)).ToString(CultureInfo.InvariantCulture),
                         "-c", clients.ToString(CultureInfo.InvariantCulture),
                         "-j", Math.Min(clients, Environment.ProcessorCount).ToString(CultureInfo.InvariantCulture),
                         "-D", $"npick={userCount}",
                         "-f", script,
                     })
            {
                psi.ArgumentList.Add(a);
            }

            psi.Environment["PGHOST"] = cs.Host;
            psi.Environment["PGPORT"] = cs.Port.ToString(CultureInfo.InvariantCulture);
            psi.Environment["PGUSER"] = cs.Username;
            psi.Environment["PGDATABASE"] = cs.Database;
            foreach (var (k, v) in ConnectionStrings.LibpqCredentials(connectionString))
            {
                psi.Environment[k] = v;
            }

            psi.Environment["PGOPTIONS"] = layout.ConnectionOptions;

            using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {pgbench}");
            var stdout = p.StandardOutput.ReadToEndAsync(ct);
            var stderr = p.StandardError.ReadToEndAsync(ct);
            await p.WaitForExitAsync(ct);
            var output = await stdout;
            if (p.ExitCode != 0)
            {
                throw new InvalidOperationException($"pgbench exited {p.ExitCode}: {(await stderr).Trim()}");
            }

            return Parse(output);
        }
        finally
        {
            File.Delete(script);
        }
    }

    internal static PgBenchResult Parse(string output)
    {
        var tps = TpsLine().Match(output);
        var avg = AverageLine().Match(output);
        // pgbench truncates long statements in its per-statement report; the top-20 query is the script's last line.
        var statement = StatementLine().Matches(output).LastOrDefault() ?? Match.Empty;
        if (!tps.Success)
        {
            throw new InvalidOperationException($"pgbench printed no tps: {output}");
        }

        static double D(Match m) => m.Success ? double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : double.NaN;
        return new PgBenchResult(D(tps), D(statement), D(avg));
    }

    [GeneratedRegex(@"tps = ([0-9.]+) \(without initial connection time\)")]
    private static partial Regex TpsLine();

    [GeneratedRegex(@"latency average = ([0-9.]+) ms")]
    private static partial Regex AverageLine();

    [GeneratedRegex(@"^\s*([0-9.]+)\s+(?:[0-9]+\s+)?SELECT ", RegexOptions.Multiline)]
    private static partial Regex StatementLine();

    private static string Literal(BenchArg arg) => arg.Value switch
    {
        null => "NULL",
        int i => i.ToString(CultureInfo.InvariantCulture),
        string v when v.All(char.IsAsciiLetterLower) => $"'{v}'",
        DateTime t => $"'{t.ToUniversalTime():yyyy-MM-dd HH:mm:ss.ffffff}+00'",
        var v => throw new InvalidOperationException($"no pgbench literal for {v.GetType().Name}"),
    };

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
