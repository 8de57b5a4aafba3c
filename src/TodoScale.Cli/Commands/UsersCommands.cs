using System.CommandLine;
using Microsoft.Extensions.Configuration;
using TodoScale.Api.Auth;
using TodoScale.Application.Data;
using TodoScale.Application.Todos;
using TodoScale.Application.Users;
using TodoScale.Cli.Infrastructure;
using TodoScale.Database.Schema;

namespace TodoScale.Cli.Commands;

/// <summary>todoscale users add --email x@y [--operator] [--days N]</summary>
public static class UsersCommands
{
    /// <summary>Ten years: a token stays valid until it expires unless the signing key changes (--days 2147483647 would overflow the expiry).</summary>
    private const int MaxTokenDays = 3_650;

    public static Command Create(CliContext ctx)
    {
        var users = new Command("users", "Manage application users and their API tokens.");

        var email = new Option<string>("--email") { Description = "The user's email (the user is created when new).", Required = true }
            .Refusing(OptionRules.Email);
        var displayName = new Option<string?>("--name") { Description = "Display name for a new user." }
            .Refusing(OptionRules.PlainText(InputRules.LabelMaxLength));
        var isOperator = new Option<bool>("--operator") { Description = "Give the token the operator role (read-only /api/ops endpoints)." };
        var days = new Option<int>("--days")
        {
            Description = "Token lifetime in days.",
            DefaultValueFactory = _ => (int)TokenIssuer.DefaultLifetime.TotalDays,
        }.Between(1, MaxTokenDays);
        var add = new Command("add", "Create a user (or find it by email) and print a bearer token for the API.") { email, displayName, isOperator, days };
        add.SetHandler(async (parse, ct) =>
        {
            var lifetime = parse.GetValue(days);
            if (lifetime < 1)
            {
                throw new ArgumentException("--days must be at least 1.");
            }

            var cs = await ctx.ResolveConnectionStringAsync(parse, ct);
            // The users table comes with the schema; applying it is a no-op when it is up to date.
            await new SchemaMigrator(cs).MigrateAsync(ct: ct);
            await using var dataSource = Npgsql.NpgsqlDataSource.Create(cs);
            await using var db = TodoDbContext.Create(dataSource);
            var service = new UserService(db);
            TodoScale.Application.Models.User user;
            bool created;
            try
            {
                var result = await service.EnsureUserAsync(parse.GetValue(email)!, parse.GetValue(displayName), ct);
                (user, created) = (result.User, result.Created);
            }
            catch (TodoValidationException e)
            {
                throw new ArgumentException(e.Message);
            }

            var token = new TokenIssuer(ApiKeys.Resolve(ctx, parse)).Issue(user.Id, user.Email, parse.GetValue(isOperator), TimeSpan.FromDays(lifetime));
            Ui.Info(created ? $"created user {user.Email} ({user.Id})" : $"user {user.Email} exists ({user.Id}); new token:");
            // The token alone on stdout's last line, so TOKEN=$(todoscale users add ... | tail -1) works.
            Console.WriteLine(token);
            return ExitCodes.Success;
        });

        users.Subcommands.Add(add);
        users.Subcommands.Add(UsersSignInLinkCommand.Create(ctx));
        return users;
    }
}

/// <summary>Where the CLI's token signing key comes from: Auth__SigningKey in the environment, else the built-in key file.</summary>
internal static class ApiKeys
{
    public static JwtSettings Resolve(CliContext ctx, ParseResult parse)
    {
        var fromEnvironment = JwtSettings.FromConfiguration(new ConfigurationBuilder().AddEnvironmentVariables().Build());
        if (fromEnvironment is not null)
        {
            return fromEnvironment;
        }

        // Next to the built-in cluster's folder (.todoscale/pg -> .todoscale/api-signing-key), even when
        // --database names another server: the key belongs to this machine's todoscale, not to a database.
        var clusterRoot = Path.GetFullPath(ctx.LocalCluster(parse).Root);
        try
        {
            return JwtSettings.LoadOrCreateLocal(Path.GetDirectoryName(clusterRoot) ?? clusterRoot);
        }
        catch (UnsafeSigningKeyFileException e)
        {
            // Exit 2 (bad input), not 3: the database is fine; the operator fixes a file of theirs (chmod 600, or delete it).
            throw new ArgumentException(e.Message);
        }
    }
}
