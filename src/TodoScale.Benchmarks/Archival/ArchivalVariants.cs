using System.Globalization;
using Npgsql;
using NpgsqlTypes;

namespace TodoScale.Benchmarks;

/// <summary>One way of archiving the same rows (or, for the CPU control, of keeping a core as busy without archiving).</summary>
public sealed record ArchivalVariant(string Key, string Label, string Statement, bool MovesRows);

/// <summary>The archival forms the benchmark compares: the application's SQL of 003, and the single statement as the limit.</summary>
public static class ArchivalVariants
{
    public const string Single = "single";
    public const string Procedure = "procedure";
    public const string Function = "function";
    public const string Throttled = "throttled";
    public const string CpuControl = "cpu";

    /// <summary>Done todos older than this move, as in the daily job's default (maintenance_settings.archive_after_days).</summary>
    public const int Days = 30;

    public static IReadOnlyList<string> AllKeys { get; } = [Single, Procedure, Function, Throttled, CpuControl];
    public static IReadOnlyList<string> DefaultKeys => AllKeys;

    public static ArchivalVariant Get(string key, int batchSize = 5_000, TimeSpan? throttle = null) => key switch
    {
        Single => new(Single, "(a) single statement `WITH d AS (DELETE … RETURNING *) INSERT INTO todos_archived … SELECT … FROM d` (the limit)",
            BenchRunner.EmbeddedSql("archival_single_statement.sql"), true),
        Procedure => new(Procedure, $"(b) `CALL archive_completed_todos_in_batches({Days}, {batchSize})` (commits each batch; a backlog is walked page by page)",
            "CALL archive_completed_todos_in_batches($1, $2)", true),
        Function => new(Function, $"(c) `SELECT archive_completed_todos({Days}, {batchSize})` (batches in one transaction)",
            "SELECT archive_completed_todos($1, $2)", true),
        Throttled => new(Throttled, $"(d) `CALL archive_completed_todos_in_batches({Days}, {batchSize}, throttle => '{Ms(throttle ?? DefaultThrottle)} ms')` (b with a pause after each commit)",
            "CALL archive_completed_todos_in_batches($1, $2, throttle => $3)", true),
        CpuControl => new(CpuControl, "(control) one backend burning a core as long as the single statement took, touching no table",
            "SELECT bench_archival_burn_cpu($1)", false),
        _ => throw new ArgumentException($"unknown archival variant '{key}'; use {string.Join(", ", AllKeys)}."),
    };

    public static TimeSpan DefaultThrottle { get; } = TimeSpan.FromMilliseconds(60);

    private static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString("0.##", CultureInfo.InvariantCulture);

    /// <summary>
    /// Binds the statement's parameters: $1 days, $2 batch size (the batched forms), $3 the pause (throttled); the CPU
    /// control's only parameter is how long to burn.
    /// </summary>
    internal static void Bind(NpgsqlCommand cmd, ArchivalVariant variant, int batchSize, TimeSpan throttle, double controlSeconds)
    {
        if (variant.Key == CpuControl)
        {
            cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Double, Value = controlSeconds });
            return;
        }

        cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Integer, Value = Days });
        if (variant.Key != Single)
        {
            cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Integer, Value = batchSize });
        }

        if (variant.Key == Throttled)
        {
            cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Interval, Value = throttle });
        }
    }
}
