using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace TodoScale.Benchmarks;

/// <summary>What wrk's done() reported (Lua/wrk_tokens.lua), latencies in milliseconds.</summary>
public sealed record WrkResult(
    long Requests, double Seconds, long ConnectErrors, long ReadErrors, long WriteErrors, long StatusErrors, long TimeoutErrors,
    double P50Ms, double P95Ms, double P99Ms, double MeanMs)
{
    public long Errors => ConnectErrors + ReadErrors + WriteErrors + StatusErrors + TimeoutErrors;

    public LatencyStats Stats => new(Requests, Seconds, P50Ms, P95Ms, P99Ms, MeanMs);

    public string? Describe() => Errors == 0
        ? null
        : $"wrk errors: {StatusErrors} non-2xx/3xx answers, {ConnectErrors} connect, {ReadErrors} read, {WriteErrors} write, {TimeoutErrors} timeouts";
}

/// <summary>
/// Runs wrk (https://github.com/wg/wrk; Debian's package `wrk`) against one endpoint: -c connections = clients,
/// -t threads = min(clients, 2), -d whole seconds, with the Lua script that rotates through the users' tokens.
/// wrk is not part of the build: it is looked up on PATH, and the stage skips it with a note when absent.
/// </summary>
public static partial class WrkRunner
{
    public const string SkipNote = "wrk was not found on PATH, so the API was measured with the C# client only (install it with `apt-get install wrk`).";

    private const string ScriptResource = "TodoScale.Benchmarks.wrk_tokens.lua";

    /// <summary>The wrk executable on <paramref name="path"/> (default: the PATH variable), or null.</summary>
    public static string? Locate(string? path = null)
    {
        foreach (var dir in (path ?? Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, "wrk");
            if (File.Exists(candidate) && (OperatingSystem.IsWindows() || (File.GetUnixFileMode(candidate) & UnixFileMode.UserExecute) != 0))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>wrk takes whole seconds only (`-d 500ms` is refused), so a shorter window is rounded up to one second.</summary>
    public static int Seconds(TimeSpan duration) => Math.Max(1, (int)Math.Ceiling(duration.TotalSeconds - 1e-9));

    /// <summary>Writes the embedded Lua script to a file wrk can load; the caller deletes it.</summary>
    public static async Task<string> WriteScriptAsync(string directory, CancellationToken ct)
    {
        await using var stream = typeof(WrkRunner).Assembly.GetManifestResourceStream(ScriptResource)
            ?? throw new InvalidOperationException($"missing embedded resource {ScriptResource}");
        var path = Path.Combine(directory, "wrk_tokens.lua");
        await using var file = File.Create(path);
        await stream.CopyToAsync(file, ct);
        return path;
    }

    /// <summary>wrk's own version line ("wrk debian/4.1.0-3+b2 [epoll] ..."), for the report; wrk -v exits 1 by design.</summary>
    public static async Task<string> VersionAsync(string wrk, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(wrk) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-v");
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {wrk}");
        var stdout = p.StandardOutput.ReadToEndAsync(ct);
        var stderr = p.StandardError.ReadToEndAsync(ct);
        await p.WaitForExitAsync(ct);
        var line = ((await stdout) + "\n" + (await stderr)).Split('\n').FirstOrDefault(l => l.StartsWith("wrk ", StringComparison.Ordinal));
        return line is null ? "wrk" : line.Split(" Copyright", 2)[0].Trim();
    }

    public static async Task<WrkResult> RunAsync(string wrk, string script, Uri url, string tokensFile, int clients, TimeSpan duration, int seed, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(wrk) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[]
                 {
                     "-t", Math.Min(clients, 2).ToString(CultureInfo.InvariantCulture),
                     "-c", clients.ToString(CultureInfo.InvariantCulture),
                     "-d", $"{Seconds(duration).ToString(CultureInfo.InvariantCulture)}s",
                     // wrk's default of 2 s would count a slow answer on a loaded machine as an error instead of a latency.
                     "--timeout", "10s",
                     "-s", script,
                     url.AbsoluteUri,
                     "--", tokensFile, seed.ToString(CultureInfo.InvariantCulture),
                 })
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {wrk}");
        var stdout = p.StandardOutput.ReadToEndAsync(ct);
        var stderr = p.StandardError.ReadToEndAsync(ct);
        try
        {
            await p.WaitForExitAsync(ct);
        }
        catch (OperationCanceledException)
        {
            p.Kill();
            throw;
        }

        var output = await stdout;
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"wrk exited {p.ExitCode}: {(await stderr).Trim()} {output.Trim()}");
        }

        return Parse(output);
    }

    /// <summary>The line done() prints; wrk's own summary around it is ignored.</summary>
    public static WrkResult Parse(string output)
    {
        var line = ResultLine().Match(output);
        if (!line.Success)
        {
            throw new InvalidOperationException($"wrk printed no todoscale-wrk line (was the script loaded?): {output.Trim()}");
        }

        var values = Pair().Matches(line.Groups[1].Value).ToDictionary(m => m.Groups[1].Value, m => double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
        double V(string key) => values.TryGetValue(key, out var v) ? v : throw new InvalidOperationException($"wrk result line lacks {key}: {line.Value}");
        long L(string key) => (long)V(key);
        return new WrkResult(L("requests"), V("duration_us") / 1e6, L("connect_errors"), L("read_errors"), L("write_errors"), L("status_errors"), L("timeout_errors"),
            V("p50_us") / 1000, V("p95_us") / 1000, V("p99_us") / 1000, V("mean_us") / 1000);
    }

    [GeneratedRegex(@"^todoscale-wrk (.*)$", RegexOptions.Multiline)]
    private static partial Regex ResultLine();

    [GeneratedRegex(@"([a-z0-9_]+)=([0-9.]+)")]
    private static partial Regex Pair();
}
