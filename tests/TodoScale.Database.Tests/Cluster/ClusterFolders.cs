using System.Diagnostics;
using TodoScale.Database.Cluster;

namespace TodoScale.Database.Tests.Cluster;

/// <summary>Temp folders for the cluster tests' own clusters, and the cleanup that stops them first.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class ClusterFolders
{
    public const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    public const UnixFileMode Open = Private | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    /// <summary>A new temp folder with <paramref name="mode"/> (CreateTempSubdirectory makes 0700, which the postgres user cannot enter).</summary>
    public static DirectoryInfo Create(string prefix, UnixFileMode mode)
    {
        var dir = Directory.CreateTempSubdirectory(prefix);
        File.SetUnixFileMode(dir.FullName, mode);
        return dir;
    }

    public static async Task StopAndDeleteAsync(LocalCluster cluster, params DirectoryInfo[] folders)
    {
        Npgsql.NpgsqlConnection.ClearAllPools();
        try
        {
            await cluster.StopAsync();
        }
        catch (LocalClusterException)
        {
            // A cluster that never started has nothing to stop; the folders still go.
        }

        foreach (var folder in folders.Where(f => f.Exists))
        {
            folder.Delete(recursive: true);
        }
    }

    /// <summary>The OS user owning <paramref name="path"/> (stat -c %U).</summary>
    public static async Task<string> OwnerAsync(string path)
    {
        var psi = new ProcessStartInfo("stat", ["-c", "%U", path]) { RedirectStandardOutput = true, UseShellExecute = false };
        using var p = Process.Start(psi)!;
        var owner = await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        return owner.Trim();
    }

    /// <summary>Runs a program as the server's OS user (postgres when we are root), as a cluster made by an older todoscale was.</summary>
    public static async Task<string> RunAsServerUserAsync(string program, params string[] args)
    {
        var psi = new ProcessStartInfo(Environment.IsPrivilegedProcess ? "runuser" : program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (Environment.IsPrivilegedProcess)
        {
            foreach (var a in new[] { "-u", "postgres", "--", program })
            {
                psi.ArgumentList.Add(a);
            }
        }

        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["LC_ALL"] = "C.UTF-8";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        var output = await stdout + await stderr;
        Assert.True(p.ExitCode == 0, $"{program} {string.Join(' ', args)}: {output}");
        return output;
    }
}
