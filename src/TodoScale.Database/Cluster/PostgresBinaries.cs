namespace TodoScale.Database.Cluster;

/// <summary>The PostgreSQL server programs (initdb, pg_ctl, postgres, psql) of one installation.</summary>
public sealed record PostgresBinaries(string Directory)
{
    private static readonly string[] Required = ["initdb", "pg_ctl", "postgres"];

    public string InitDb => Path.Combine(Directory, "initdb");
    public string PgCtl => Path.Combine(Directory, "pg_ctl");
    public string Psql => File.Exists(Path.Combine(Directory, "psql")) ? Path.Combine(Directory, "psql") : "psql";
    public string PgDump => File.Exists(Path.Combine(Directory, "pg_dump")) ? Path.Combine(Directory, "pg_dump") : "pg_dump";
    public string PgBench => File.Exists(Path.Combine(Directory, "pgbench")) ? Path.Combine(Directory, "pgbench") : "pgbench";

    /// <summary>
    /// Finds the server programs: first on PATH (following symlinks to the real installation, so that
    /// initdb finds its share files), then in /usr/lib/postgresql/*/bin, newest major version first.
    /// </summary>
    /// <summary>Set to a folder to use only the server programs in it (e.g. another major version).</summary>
    public const string BinDirVariable = "TODOSCALE_PG_BIN";

    public static PostgresBinaries Locate() => Environment.GetEnvironmentVariable(BinDirVariable) is { Length: > 0 } forced
        ? Locate(forced, debianRoot: "")
        : Locate(Environment.GetEnvironmentVariable("PATH") ?? "", "/usr/lib/postgresql");

    public static PostgresBinaries Locate(string searchPath, string debianRoot)
    {
        foreach (var dir in Candidates(searchPath, debianRoot))
        {
            if (Required.All(p => File.Exists(Path.Combine(dir, p))))
            {
                return new PostgresBinaries(dir);
            }
        }

        throw new PostgresNotInstalledException(
            "No PostgreSQL server found (initdb, pg_ctl and postgres were looked for on PATH and in /usr/lib/postgresql/*/bin). " +
            "Install the server package, e.g. `apt-get install postgresql`, or point TodoScale at an existing server with --database or TODOSCALE_DATABASE.");
    }

    private static IEnumerable<string> Candidates(string searchPath, string debianRoot)
    {
        foreach (var dir in searchPath.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var initdb = Path.Combine(dir, "initdb");
            if (!File.Exists(initdb))
            {
                continue;
            }

            var real = new FileInfo(initdb).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? initdb;
            yield return Path.GetDirectoryName(real)!;
        }

        if (debianRoot.Length > 0 && System.IO.Directory.Exists(debianRoot))
        {
            var versions = System.IO.Directory.GetDirectories(debianRoot)
                .Select(d => (dir: d, version: double.TryParse(Path.GetFileName(d), System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : 0))
                .OrderByDescending(x => x.version);
            foreach (var (dir, _) in versions)
            {
                yield return Path.Combine(dir, "bin");
            }
        }
    }
}

public sealed class PostgresNotInstalledException(string message) : Exception(message);
