using System.Security.Cryptography;
using Npgsql;
using TodoScale.Database.Files;

namespace TodoScale.Database.Cluster;

/// <summary>
/// The built-in cluster's password: generated at initdb, asked for on every TCP connection (scram-sha-256), kept
/// for the client in a pgpass-format file that only the client's OS user can read. Clusters created with trust
/// (before passwords) are switched over on their next start.
/// </summary>
public sealed partial class LocalCluster
{
    public const string PasswordFileName = "pgpass";

    /// <summary>pgpass format (host:port:database:user:password), mode 0600: Npgsql's Passfile=, libpq's passfile= and PGPASSFILE read it.</summary>
    public string PasswordFile => Path.Combine(Root, PasswordFileName);

    private string HbaFile => Path.Combine(DataDirectory, "pg_hba.conf");

    private static string NewPassword() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));

    /// <summary>Written before the server learns the password: a crash in between leaves a file that a retry rewrites, not a server nobody can enter.</summary>
    private void WritePasswordFile(string password) => OwnerOnlyFile.Write(PasswordFile,
        string.Concat(new[] { "127.0.0.1", "localhost" }.Select(host => $"{host}:*:*:{ProcessRunner.ServerUser}:{password}\n")));

    private async Task InitDbWithPasswordAsync(CancellationToken ct)
    {
        var password = NewPassword();
        WritePasswordFile(password);
        // initdb runs as the server's user, which cannot read the client's file: it gets a copy of its own, gone right after.
        var initdbCopy = Path.Combine(SocketDirectory, $".initdb-password-{Guid.NewGuid():N}");
        OwnerOnlyFile.Write(initdbCopy, password + "\n");
        try
        {
            if (ProcessRunner.RunningAsRoot)
            {
                await ProcessRunner.RunCheckedAsync("chown", [$"{ProcessRunner.ServerUser}:", initdbCopy], asServerUser: false, ct);
            }

            await ProcessRunner.RunCheckedAsync(Binaries.InitDb,
            [
                "-D", DataDirectory, "-U", ProcessRunner.ServerUser, $"--pwfile={initdbCopy}",
                $"--auth-local={PgHba.LocalMethod}", $"--auth-host={PgHba.HostMethod}", "-E", "UTF8", "--locale=C.UTF-8",
            ], asServerUser: true, ct);
        }
        finally
        {
            File.Delete(initdbCopy);
        }
    }

    /// <summary>
    /// A cluster initialised with trust, running: sets a generated password while trust still lets us in, writes the
    /// password file, turns every trust rule into peer (socket) or scram-sha-256 (TCP) and reloads.
    /// </summary>
    private async Task ReplaceTrustAsync(CancellationToken ct)
    {
        var password = NewPassword();
        WritePasswordFile(password);
        await using (var conn = new NpgsqlConnection(ConnectionString("postgres")))
        {
            await conn.OpenAsync(ct);
            // Identifiers and literals cannot be parameters; format() on the server quotes them.
            await using var alter = new NpgsqlCommand("SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)", conn);
            alter.Parameters.AddWithValue(ProcessRunner.ServerUser);
            alter.Parameters.AddWithValue(ScramVerifier.Create(password));
            var sql = (string)(await alter.ExecuteScalarAsync(ct))!;
            await using (var run = new NpgsqlCommand(sql, conn))
            {
                await run.ExecuteNonQueryAsync(ct);
            }

            PgHba.ReplaceTrust(HbaFile);
            await using (var reload = new NpgsqlCommand("SELECT pg_reload_conf()", conn))
            {
                await reload.ExecuteNonQueryAsync(ct);
            }

            // Pooled connections opened under trust would otherwise outlive the switch.
            NpgsqlConnection.ClearPool(conn);
        }

        await WaitForPasswordRequiredAsync(ct);
        _options.Notice?.Invoke(
            $"The built-in PostgreSQL in {ServerRoot} let every local user in as its superuser without a password (trust). " +
            $"It now asks for a password (scram-sha-256), kept in {PasswordFile} (mode 0600).");
    }

    /// <summary>pg_reload_conf() only signals the server; the switch is done when a wrong password is refused.</summary>
    private async Task WaitForPasswordRequiredAsync(CancellationToken ct)
    {
        var probe = new NpgsqlConnectionStringBuilder(ConnectionString("postgres"))
        {
            Passfile = null,
            Password = "not-the-password-" + NewPassword(),
            Pooling = false,
        }.ConnectionString;
        for (var waited = TimeSpan.Zero; waited < TimeSpan.FromSeconds(15); waited += TimeSpan.FromMilliseconds(100))
        {
            try
            {
                await using var conn = new NpgsqlConnection(probe);
                await conn.OpenAsync(ct);
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InvalidPassword)
            {
                return;
            }

            await Task.Delay(100, ct);
        }

        throw new LocalClusterException($"{HbaFile} now asks for passwords, but the server still lets connections in without one after a reload; check that file.");
    }

    private string LostPasswordMessage() =>
        $"The built-in PostgreSQL in {ServerRoot} asks for a password, but its password file {PasswordFile} is missing. " +
        $"Put the file back, or set a new password through the server's unix socket as its OS user (peer authentication), e.g. " +
        $"`runuser -u {ProcessRunner.ServerUser} -- psql -h {SocketDirectory} -p {Port} -d postgres -c \"\\password\"` " +
        $"and write `127.0.0.1:*:*:{ProcessRunner.ServerUser}:NEW_PASSWORD` to {PasswordFile} with mode 0600.";
}
