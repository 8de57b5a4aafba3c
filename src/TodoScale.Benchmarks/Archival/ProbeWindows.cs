using System.Diagnostics;
using Npgsql;
using NpgsqlTypes;

namespace TodoScale.Benchmarks;

/// <summary>
/// The probe's figures of one window (idle, during, after): its latencies, and what the server and the machine
/// counted at the window's two edges.
/// </summary>
internal static class ProbeWindows
{
    // The list query's index (EXPLAIN of the generic plan: Index Scan using idx_todos_active_user_priority_created_pN).
    private const string ProbeIndexPattern = "idx_todos_active_user_priority_created%";

    /// <summary>What is counted at a window's edge: the time, the machine's CPU, the CPU of the probe's and the archiver's backends, the list index's reads.</summary>
    internal sealed record Snapshot(long At, (long Busy, long Total)? Machine, long? ProbeCpuTicks, long? ProbeRunQueueNs, long? ArchiverCpuTicks,
        long IndexEntriesRead, long IndexBlocksRead);

    internal static async Task<Snapshot> SnapshotAsync(NpgsqlConnection monitor, int[] probePids, int[] archiverPid, CancellationToken ct)
    {
        var at = Stopwatch.GetTimestamp();
        var machine = ProcCpu.MachineCpu();
        var probeCpu = ProcCpu.BackendCpuTicks(probePids);
        var probeWait = ProcCpu.BackendRunQueueNs(probePids);
        var archiverCpu = ProcCpu.BackendCpuTicks(archiverPid);
        // Only the list query reads this index (archival finds rows by completed_at, ctid and primary key), so its
        // counters are the probe's: entries read, and blocks that were not in shared_buffers.
        await using var cmd = new NpgsqlCommand("""
            SELECT coalesce(sum(s.idx_tup_read), 0)::bigint, coalesce(sum(io.idx_blks_read), 0)::bigint
            FROM pg_stat_user_indexes s JOIN pg_statio_user_indexes io USING (indexrelid)
            WHERE s.indexrelname LIKE $1
            """, monitor);
        cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = ProbeIndexPattern });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return new Snapshot(at, machine, probeCpu, probeWait, archiverCpu, reader.GetInt64(0), reader.GetInt64(1));
    }

    internal static ProbeWindow Window(IReadOnlyList<ProbeSample> samples, Snapshot from, Snapshot to)
    {
        var w = ArchivalProbe.Window(samples, from.At, to.At, to.IndexEntriesRead - from.IndexEntriesRead);
        return w with
        {
            CpuBusy = from.Machine is { } a && to.Machine is { } b && b.Total > a.Total ? (double)(b.Busy - a.Busy) / (b.Total - a.Total) : double.NaN,
            ProbeCpuMsPerQuery = from.ProbeCpuTicks is { } p0 && to.ProbeCpuTicks is { } p1 && w.Count > 0
                ? (p1 - p0) * 1000.0 / ProcCpu.ClockTicksPerSecond / w.Count
                : double.NaN,
            IndexBlocksReadPerQuery = w.Count > 0 ? (double)(to.IndexBlocksRead - from.IndexBlocksRead) / w.Count : double.NaN,
            ProbeRunQueueMsPerQuery = from.ProbeRunQueueNs is { } q0 && to.ProbeRunQueueNs is { } q1 && w.Count > 0
                ? (q1 - q0) / 1e6 / w.Count
                : double.NaN,
        };
    }
}
