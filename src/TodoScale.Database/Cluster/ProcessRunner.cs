using System.Diagnostics;

namespace TodoScale.Database.Cluster;

/// <summary>Runs the PostgreSQL programs, as the postgres user when we are root (initdb refuses root).</summary>
internal static class ProcessRunner
{
    public const string ServerUser = "postgres";

    public static bool RunningAsRoot => Environment.IsPrivilegedProcess;

    public static async Task<(int ExitCode, string Output)> RunAsync(
        string program, IEnumerable<string> arguments, bool asServerUser, CancellationToken ct = default,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (asServerUser && RunningAsRoot)
        {
            psi.FileName = "runuser";
            psi.ArgumentList.Add("-u");
            psi.ArgumentList.Add(ServerUser);
            psi.ArgumentList.Add("--");
            psi.ArgumentList.Add(program);
        }
        else
        {
            psi.FileName = program;
        }

        foreach (var a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        // initdb picks the cluster locale from the environment; C.UTF-8 exists everywhere and keeps
        // text sorting identical between the test cluster and the operator's.
        psi.Environment["LC_ALL"] = "C.UTF-8";
        psi.Environment["LANG"] = "C.UTF-8";
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }

        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {program}");
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        return (process.ExitCode, ((await stdout) + (await stderr)).Trim());
    }

    public static async Task<string> RunCheckedAsync(
        string program, IEnumerable<string> arguments, bool asServerUser, CancellationToken ct = default,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var args = arguments.ToList();
        var (code, output) = await RunAsync(program, args, asServerUser, ct, environment);
        if (code != 0)
        {
            throw new LocalClusterException($"{Path.GetFileName(program)} failed (exit {code}): {output}");
        }

        return output;
    }
}
