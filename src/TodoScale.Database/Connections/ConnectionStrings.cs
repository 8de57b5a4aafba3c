using System.Web;
using Npgsql;

namespace TodoScale.Database.Connections;

/// <summary>Accepts a connection in Npgsql form (Host=...;Database=...) or libpq URL form (postgresql://user:pass@host:port/db?sslmode=require&amp;passfile=/path).</summary>
public static class ConnectionStrings
{
    public const string EnvironmentVariable = "TODOSCALE_DATABASE";

    public static string Normalize(string value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            throw new ArgumentException("The database connection is empty.");
        }

        value = value.Trim();
        var builder = value.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) ||
                      value.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase)
            ? FromUrl(value)
            : FromKeywords(value);
        builder.IncludeErrorDetail = true;
        // A multi-host string (Host=db1,db2,db3) names a primary and its standbys. Npgsql's default (any host, in order)
        // would run a migration, maintenance or a write on whichever answers first, standbys included: every command of
        // ours writes, so it asks for the primary unless the string says otherwise. The API reads from the others itself.
        if (builder.Host?.Contains(',', StringComparison.Ordinal) == true && !builder.ContainsKey("Target Session Attributes"))
        {
            builder.TargetSessionAttributes = "primary";
        }

        return builder.ConnectionString;
    }

    /// <summary>
    /// The environment a libpq program (psql, pg_dump, pgbench) needs to log in as <paramref name="connectionString"/> does:
    /// PGPASSWORD for a password in the string, PGPASSFILE for Npgsql's Passfile= (the built-in cluster's credential).
    /// </summary>
    public static IReadOnlyDictionary<string, string> LibpqCredentials(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        var env = new Dictionary<string, string>();
        if (!string.IsNullOrEmpty(builder.Password))
        {
            env["PGPASSWORD"] = builder.Password;
        }

        if (!string.IsNullOrEmpty(builder.Passfile))
        {
            env["PGPASSFILE"] = builder.Passfile;
        }

        return env;
    }

    private static NpgsqlConnectionStringBuilder FromKeywords(string value)
    {
        try
        {
            return new NpgsqlConnectionStringBuilder(value);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"Not a valid connection string ({e.Message}). Use Host=...;Database=... or postgresql://user@host:port/db.");
        }
    }

    private static NpgsqlConnectionStringBuilder FromUrl(string value)
    {
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri))
        {
            throw new ArgumentException($"Not a valid PostgreSQL URL: {value}");
        }

        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = string.IsNullOrEmpty(uri.Host) ? "localhost" : uri.Host.Trim('[', ']'),
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
        };
        var database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        if (database.Length > 0)
        {
            builder.Database = database;
        }

        if (uri.UserInfo.Length > 0)
        {
            var parts = uri.UserInfo.Split(':', 2);
            builder.Username = Uri.UnescapeDataString(parts[0]);
            if (parts.Length == 2)
            {
                builder.Password = Uri.UnescapeDataString(parts[1]);
            }
        }

        var query = HttpUtility.ParseQueryString(uri.Query);
        foreach (var key in query.AllKeys.OfType<string>())
        {
            var v = query[key]!;
            switch (key.ToLowerInvariant())
            {
                // Parsed here rather than by Enum.Parse/int.Parse, whose FormatException ended `todoscale` with a stack trace
                // and whose other messages did not say which parameter was wrong.
                case "sslmode":
                    builder.SslMode = Enum.TryParse<SslMode>(v.Replace("-", ""), ignoreCase: true, out var mode) && Enum.IsDefined(mode) && !char.IsDigit(v.FirstOrDefault())
                        ? mode
                        : throw new ArgumentException($"sslmode '{v}' in the database URL is not one of disable, allow, prefer, require, verify-ca, verify-full.");
                    break;
                case "application_name":
                    builder.ApplicationName = v;
                    break;
                case "connect_timeout":
                    builder.Timeout = int.TryParse(v, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var timeout) && timeout <= 1024
                        ? timeout
                        : throw new ArgumentException($"connect_timeout '{v}' in the database URL must be a whole number of seconds from 0 to 1024.");
                    break;
                case "user":
                    builder.Username = v;
                    break;
                case "password":
                    builder.Password = v;
                    break;
                case "passfile":
                    builder.Passfile = v;
                    break;
                case "dbname":
                    builder.Database = v;
                    break;
                default:
                    throw new ArgumentException($"Unsupported URL parameter '{key}' in the database URL.");
            }
        }

        return builder;
    }
}
