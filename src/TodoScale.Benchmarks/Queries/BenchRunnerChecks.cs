using System.Diagnostics;
using Npgsql;
using TodoScale.Database.Cluster;
using TodoScale.Simulation.LegacyData;
using TodoScale.Database.Maintenance;
using TodoScale.Database.Migration;
using TodoScale.Database.Schema;


namespace TodoScale.Benchmarks;

/// <summary>
/// What a benchmark run records beside the latencies: that every layout answers alike, the plans of the heaviest user,
/// the operations (dumps, maintenance) timed on each layout, and the shape of the data and the machine.
/// </summary>
public sealed partial class BenchRunner
{
    private async Task CheckAnswersAsync(string cs, IReadOnlyList<BenchLayout> layouts, Guid[] skewed, Guid[] heavy, BenchResult result, CancellationToken ct)
    {
        var users = skewed.Take(10).Concat(heavy.Take(5)).ToArray();
        await using var db = NpgsqlDataSource.Create(cs);
        foreach (var query in options.Queries)
        {
            var mismatches = 0;
            string? first = null;
            var measured = _queries.UsersFor(query, users);
            foreach (var user in measured)
            {
                var reference = await LoadDriver.AnswerAsync(db, BenchQueries.Statements(query, LayoutKind.SingleTable, "todos", _queries), user, ct);
                // The reference already is the legacy table; (a) and (a0) differ from it only by the plan.
                foreach (var layout in layouts.Where(l => l.Table != "todos").DistinctBy(l => (l.Kind, l.Table)))
                {
                    var answer = await LoadDriver.AnswerAsync(db, BenchQueries.Statements(query, layout.Kind, layout.Table, _queries), user, ct);
                    if (answer != reference)
                    {
                        mismatches++;
                        first ??= $"{layout.Key} for user {user}";
                    }
                }
            }

            result.Checks.Add(new AnswerCheck(query, measured.Length, mismatches, first));
            log($"answers of {BenchQueries.Key(query)}: {(mismatches == 0 ? "identical on every layout" : $"{mismatches} MISMATCHES, first {first}")}");
        }
    }

    private async Task ExplainAsync(NpgsqlDataSource db, Guid heavyUser, BenchResult result, CancellationToken ct)
    {
        foreach (var (layout, query) in new[]
                 {
                     (BenchLayouts.Indexed, QueryKind.Top20), (BenchLayouts.Final, QueryKind.Top20),
                     (BenchLayouts.Indexed, QueryKind.Dashboard), (BenchLayouts.Covering, QueryKind.Dashboard), (BenchLayouts.Final, QueryKind.Dashboard),
                 })
        {
            if (!options.Queries.Contains(query))
            {
                continue;
            }

            foreach (var statement in BenchQueries.Statements(query, layout.Kind, layout.Table, _queries).Take(1))
            {
                await using var conn = await db.OpenConnectionAsync(ct);
                await using var cmd = new NpgsqlCommand("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY OFF) " + statement.Sql, conn);
                LoadDriver.AddParameters(cmd.Parameters, statement, heavyUser);
                var lines = new List<string>();
                await using var reader = await cmd.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct))
                {
                    lines.Add(reader.GetString(0));
                }

                result.Plans.Add($"{layout.Name} — {BenchQueries.Title(query)} (heaviest user):\n" + string.Join('\n', lines));
            }
        }
    }

    private async Task OperationsAsync(NpgsqlDataSource db, string cs, BenchResult result, CancellationToken ct)
    {
        var month = await ScalarAsync<string>(db, "SELECT 'todos_archived_' || to_char(now() AT TIME ZONE 'UTC', 'YYYY_MM')", ct);
        var dir = Path.Combine(Path.GetTempPath(), $"todoscale-bench-dump-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            result.Operations.Add(await DumpAsync(cs, "whole legacy todos table", ["-t", "todos"], Path.Combine(dir, "legacy.dump"), ct));
            result.Operations.Add(await DumpAsync(cs, $"todos_active_part_* + open archive month {month}",
                ["-t", "todos_active_part_*", "-t", month], Path.Combine(dir, "nightly.dump"), ct));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }

        foreach (var (subject, sql) in new[]
                 {
                     ("whole legacy todos table", "VACUUM (DISABLE_PAGE_SKIPPING) todos"),
                     ("one active partition (todos_active_part_0)", "VACUUM (DISABLE_PAGE_SKIPPING) todos_active_part_0"),
                 })
        {
            var sw = Stopwatch.StartNew();
            await ExecAsync(db, sql, ct);
            result.Operations.Add(new OperationResult("VACUUM (full pass, DISABLE_PAGE_SKIPPING)", subject, sw.Elapsed, 0));
            log($"  VACUUM {subject}: {sw.Elapsed.TotalMilliseconds:N0} ms");
        }
    }

    private async Task<OperationResult> DumpAsync(string cs, string subject, string[] tables, string file, CancellationToken ct)
    {
        var b = new NpgsqlConnectionStringBuilder(cs);
        var psi = new ProcessStartInfo(_binaries.Value.PgDump) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "-h", b.Host!, "-p", b.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-U", b.Username!, "-d", b.Database!, "-Fc", "-f", file }.Concat(tables))
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var (k, v) in TodoScale.Database.Connections.ConnectionStrings.LibpqCredentials(cs))
        {
            psi.Environment[k] = v;
        }

        var sw = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync(ct);
        await p.StandardOutput.ReadToEndAsync(ct);
        await p.WaitForExitAsync(ct);
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"pg_dump exited {p.ExitCode}: {(await stderr).Trim()}");
        }

        var r = new OperationResult("pg_dump -Fc", subject, sw.Elapsed, new FileInfo(file).Length);
        log($"  pg_dump {subject}: {r.Elapsed.TotalSeconds:F2} s, {r.Bytes / 1048576.0:F1} MiB");
        return r;
    }

    private static async Task<DataShape> ShapeAsync(NpgsqlDataSource db, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            SELECT (SELECT count(*) FROM todos),
                   (SELECT count(*) FROM users),
                   (SELECT count(*) FROM bench_heavy),
                   (SELECT count(*) FROM todos WHERE status = 'done'),
                   (SELECT count(*) FROM todos_active),
                   (SELECT count(*) FROM todos_archived),
                   (SELECT count(*)::int FROM pg_inherits WHERE inhparent = 'todos_archived'::regclass),
                   (SELECT avg(c)::float8 FROM (SELECT count(*) c FROM todos t JOIN bench_heavy h USING (user_id) GROUP BY user_id) s),
                   (SELECT avg(c)::float8 FROM (SELECT count(*) c FROM todos t JOIN bench_heavy h USING (user_id)
                                                WHERE t.status IN ('todo', 'in_progress') GROUP BY user_id) s)
            """);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        await r.ReadAsync(ct);
        var shape = (r.GetInt64(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3), r.GetInt64(4), r.GetInt64(5), r.GetInt32(6), r.GetDouble(7), r.GetDouble(8));
        await r.DisposeAsync();

        var sizes = new Dictionary<string, long>();
        await using var sizeCmd = db.CreateCommand("""
            SELECT name, bytes FROM (VALUES
                ('todos', pg_total_relation_size('todos')),
                ('bench_todos_indexed', pg_total_relation_size('bench_todos_indexed')),
                ('bench_todos_tuned', pg_total_relation_size('bench_todos_tuned')),
                ('bench_todos_covering', pg_total_relation_size('bench_todos_covering')),
                ('todos_active', (SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits WHERE inhparent = 'todos_active'::regclass)),
                ('todos_archived', (SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits WHERE inhparent = 'todos_archived'::regclass))
            ) v(name, bytes)
            """);
        await using var sr = await sizeCmd.ExecuteReaderAsync(ct);
        while (await sr.ReadAsync(ct))
        {
            sizes[sr.GetString(0)] = Convert.ToInt64(sr.GetValue(1), System.Globalization.CultureInfo.InvariantCulture);
        }

        return new DataShape(shape.Item1, shape.Item2, shape.Item3, shape.Item4, shape.Item5, shape.Item6, shape.Item7, shape.Item8, shape.Item9, sizes);
    }

    internal static async Task<MachineInfo> MachineAsync(NpgsqlDataSource db, CancellationToken ct)
    {
        var version = await ScalarAsync<string>(db, "SELECT version()", ct);
        var sharedBuffers = await ScalarAsync<string>(db, "SELECT current_setting('shared_buffers')", ct);
        long memMb = 0;
        if (File.Exists("/proc/meminfo"))
        {
            var line = File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
            if (line is not null && long.TryParse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], out var kb))
            {
                memMb = kb / 1024;
            }
        }

        return new MachineInfo(Environment.ProcessorCount, memMb, version, sharedBuffers,
            System.Runtime.InteropServices.RuntimeInformation.OSDescription, System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription);
    }
}
