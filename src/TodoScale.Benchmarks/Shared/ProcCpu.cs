using System.Globalization;

namespace TodoScale.Benchmarks;

/// <summary>
/// CPU figures read from /proc, for a server that runs on this machine: the machine's busy share, a backend's CPU
/// time and its time waiting for a CPU. Null where /proc cannot say (another OS, or a remote server).
/// </summary>
internal static class ProcCpu
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    // Time the backends were ready to run but waited for a CPU (second field of /proc/<pid>/schedstat, in ns): the
    // CPU contention a query suffers, which its latency includes but its CPU time does not.
    internal static long? BackendRunQueueNs(int[] pids)
    {
        long total = 0;
        foreach (var pid in pids)
        {
            try
            {
                total += long.Parse(File.ReadAllText($"/proc/{pid}/schedstat").Split(' ')[1], Inv);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
            {
                return null;
            }
        }

        return total;
    }

    // /proc/<pid>/stat counts CPU time in clock ticks of sysconf(_SC_CLK_TCK), 100 per second on Linux.
    internal const int ClockTicksPerSecond = 100;

    // The machine's busy and total CPU time so far (first line of /proc/stat: user nice system idle iowait irq softirq steal).
    internal static (long Busy, long Total)? MachineCpu()
    {
        try
        {
            var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8)
                .Select(f => long.Parse(f, Inv)).ToArray();
            var total = fields.Sum();
            return (total - fields[3] - fields[4], total);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or InvalidOperationException)
        {
            return null;
        }
    }

    // User plus system CPU time of server backends, when the server runs on this machine (null otherwise: a remote
    // server's pids mean nothing here). Fields 14 and 15 of /proc/<pid>/stat, counted after the ")" that ends the
    // command name, which may itself contain spaces.
    internal static long? BackendCpuTicks(int[] pids)
    {
        long total = 0;
        foreach (var pid in pids)
        {
            try
            {
                var stat = File.ReadAllText($"/proc/{pid}/stat");
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (!fields[0].All(char.IsLetter) || !File.ReadAllText($"/proc/{pid}/cmdline").StartsWith("postgres", StringComparison.Ordinal))
                {
                    return null;
                }

                total += long.Parse(fields[11], Inv) + long.Parse(fields[12], Inv);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
            {
                return null;
            }
        }

        return total;
    }
}
