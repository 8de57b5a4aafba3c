using System.Diagnostics;
using System.Security.Cryptography;

namespace TodoScale.Cli.Tests;

/// <summary>A token signing key file that other users can read is refused by every command that signs or checks tokens.</summary>
public sealed class SigningKeyCommandTests(PostgresServer server)
{
    [Fact(Timeout = TestTimeouts.Long)]
    public async Task users_add_and_serve_refuse_a_key_file_others_can_read_with_exit_2_and_accept_it_after_chmod_600()
    {
        var cs = await server.CreateMigratedDatabaseAsync("clikey");
        var dir = Directory.CreateTempSubdirectory("todoscale-key");
        // The key lives next to the built-in cluster's folder: DIR/pg -> DIR/api-signing-key.
        var env = new Dictionary<string, string?> { ["TODOSCALE_DATA_DIR"] = Path.Combine(dir.FullName, "pg") };
        var key = Path.Combine(dir.FullName, "api-signing-key");
        try
        {
            await File.WriteAllTextAsync(key, Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)), TestContext.Current.CancellationToken);
            File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

            var add = await Todoscale.RunAsync(["users", "add", "--email", "key@example.com", "--database", cs], env, dir.FullName);
            var serve = await ServeBrieflyAsync(cs, env, dir.FullName);
            File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            var addAfterChmod = await Todoscale.RunAsync(["users", "add", "--email", "key@example.com", "--database", cs], env, dir.FullName);

            Assert.Equal(2, add.ExitCode);
            Assert.StartsWith("error: ", add.Stderr);
            Assert.Contains($"The token signing key {key} is open to other users (mode 0644)", add.Stderr);
            Assert.Contains($"chmod 600 {key}", add.Stderr);
            Assert.Equal(2, serve.ExitCode);
            Assert.Contains($"The token signing key {key} is open to other users", serve.Stderr);
            Assert.DoesNotContain("listening", serve.Stdout);
            Assert.True(addAfterChmod.ExitCode == 0, addAfterChmod.Stderr);
            Assert.Matches(@"^eyJ[\w-]+\.[\w-]+\.[\w-]+$", addAfterChmod.Stdout.Trim().Split('\n')[^1]);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    /// <summary>`todoscale serve`, killed after a minute: a serve that wrongly accepted the key would otherwise run until the test's timeout.</summary>
    private static async Task<(int ExitCode, string Stdout, string Stderr)> ServeBrieflyAsync(string cs, Dictionary<string, string?> env, string workingDirectory)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "todoscale.dll"), "serve", "--urls", "http://127.0.0.1:0", "--database", cs })
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment.Remove("TODOSCALE_DATABASE");
        foreach (var (k, v) in env)
        {
            psi.Environment[k] = v;
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await p.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync();
        }

        return (p.ExitCode, await stdout, await stderr);
    }
}
