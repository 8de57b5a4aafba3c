using TodoScale.Database.Cluster;

namespace TodoScale.Testing;

/// <summary>Runs the real psql client, as operators do: psql -v ON_ERROR_STOP=1 -f FILE.</summary>
public static class Psql
{
    public static async Task<(int ExitCode, string Output)> RunFileAsync(PostgresBinaries binaries, string connectionString, string file)
        => await RunAsync(binaries, connectionString, ["-v", "ON_ERROR_STOP=1", "-f", file]);

    public static async Task<(int ExitCode, string Output)> RunCommandAsync(PostgresBinaries binaries, string connectionString, string sql)
        => await RunAsync(binaries, connectionString, ["-v", "ON_ERROR_STOP=1", "-c", sql]);

    private static async Task<(int ExitCode, string Output)> RunAsync(PostgresBinaries binaries, string connectionString, string[] args)
    {
        var (code, stdout, stderr) = await ClientProgram.RunAsync(binaries.Psql, connectionString, ["-X"], args);
        return (code, stdout + stderr);
    }

    /// <summary>The repository's migrations/scaling folder, found by walking up from the test binaries.</summary>
    public static string ScriptPath(string fileName)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "migrations", "scaling", fileName);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException($"migrations/scaling/{fileName} not found above {AppContext.BaseDirectory}");
    }
}
