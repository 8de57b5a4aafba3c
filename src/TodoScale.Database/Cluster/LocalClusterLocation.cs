using System.Security.Cryptography;
using System.Text;

namespace TodoScale.Database.Cluster;

/// <summary>
/// Where the server's files live. As root the server runs as the postgres user, which cannot enter a private home
/// (a clone in /root, mode 0700); the default folder then moves to <see cref="LocalClusterOptions.FallbackRoot"/>
/// and a pointer in <see cref="Root"/> lets every later command find it.
/// </summary>
public sealed partial class LocalCluster
{
    private const UnixFileMode Traversable = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    /// <summary>One line: the folder holding data/, run/ and server.log when it is not <see cref="Root"/>.</summary>
    private string ServerLocationFile => Path.Combine(Root, "server-location");

    /// <summary>True when the server's files are kept outside <see cref="Root"/> (see <see cref="ServerRoot"/>).</summary>
    public bool Relocated => ReadServerLocation() is not null;

    private string? ReadServerLocation() =>
        File.Exists(ServerLocationFile) && File.ReadAllText(ServerLocationFile).Trim() is { Length: > 0 } location ? location : null;

    /// <summary>Called before the first initdb: keeps the server's files in Root, or moves them where the server's user can reach them.</summary>
    private async Task ChooseServerRootAsync(CancellationToken ct)
    {
        if (!ProcessRunner.RunningAsRoot || Relocated)
        {
            return;
        }

        // Root stays the client's (it holds the password file); the server's user only has to pass through it.
        AddModeBits(Root, Traversable);
        if (!_options.RelocateWhenUnreachable || await ServerUserCanReachAsync(Root, ct))
        {
            return;
        }

        var fallback = Path.TrimEndingDirectorySeparator(Path.GetFullPath(_options.FallbackRoot));
        var target = Path.Combine(fallback, FallbackFolderName(), "pg");
        Directory.CreateDirectory(target);
        for (var dir = new DirectoryInfo(target); dir is not null && dir.FullName != Path.GetDirectoryName(fallback); dir = dir.Parent)
        {
            AddModeBits(dir.FullName, Traversable);
        }

        if (!await ServerUserCanReachAsync(target, ct))
        {
            throw new LocalClusterException(
                $"The server runs as the '{ProcessRunner.ServerUser}' user, which can reach neither {Root} nor {target}. " +
                "Choose a data folder it can reach with --data-dir or TODOSCALE_DATA_DIR.");
        }

        await File.WriteAllTextAsync(ServerLocationFile, target + "\n", ct);
        _options.Notice?.Invoke(
            $"The server runs as the '{ProcessRunner.ServerUser}' user, which cannot reach {Root}; keeping this cluster's data in {target} " +
            $"(the password file and the pointer to that folder stay in {Root}).");
    }

    /// <summary>Creates data/, run/ and server.log and, as root, hands them to the server's user (never the client's password file).</summary>
    private async Task PrepareServerFoldersAsync(CancellationToken ct)
    {
        Directory.CreateDirectory(DataDirectory);
        Directory.CreateDirectory(SocketDirectory);
        if (!ProcessRunner.RunningAsRoot)
        {
            return;
        }

        // pg_ctl -l appends to the log as the server's user, which may not create files in the client's folder.
        if (!File.Exists(LogFile))
        {
            await File.WriteAllTextAsync(LogFile, "", ct);
        }

        string[] serverOwned = Relocated ? [ServerRoot] : [DataDirectory, SocketDirectory, LogFile];
        await ProcessRunner.RunCheckedAsync("chown", ["-R", $"{ProcessRunner.ServerUser}:", .. serverOwned], asServerUser: false, ct);
        var (code, _) = await ProcessRunner.RunAsync("test", ["-w", DataDirectory], asServerUser: true, ct);
        if (code != 0)
        {
            throw new LocalClusterException(
                $"The server runs as the '{ProcessRunner.ServerUser}' user (initdb refuses root), which cannot reach {DataDirectory}. " +
                "Choose a data folder outside a private home directory with --data-dir or TODOSCALE_DATA_DIR.");
        }
    }

    /// <summary>Asks the server's user itself: access() checks search permission on every folder above, which no mode arithmetic of ours would get right with ACLs.</summary>
    private static async Task<bool> ServerUserCanReachAsync(string folder, CancellationToken ct) =>
        (await ProcessRunner.RunAsync("test", ["-x", folder], asServerUser: true, ct)).ExitCode == 0;

    /// <summary>"todoscale-1a2b3c4d5e" for /root/todoscale/.todoscale/pg: readable, and unique per clone.</summary>
    private string FallbackFolderName()
    {
        var project = Path.GetFileName(Root) == "pg" && Path.GetFileName(Path.GetDirectoryName(Root)) == ".todoscale"
            ? Path.GetDirectoryName(Path.GetDirectoryName(Root))!
            : Root;
        var name = new string(Path.GetFileName(project).Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_').ToArray()).TrimStart('.');
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Root)))[..10];
        return $"{(name.Length == 0 ? "cluster" : name)}-{hash}";
    }

    private static void AddModeBits(string path, UnixFileMode bits)
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, File.GetUnixFileMode(path) | bits);
        }
    }
}
