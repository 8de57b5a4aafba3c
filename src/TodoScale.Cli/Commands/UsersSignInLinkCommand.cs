using System.CommandLine;
using TodoScale.Api.Pages;
using TodoScale.Application.Data;
using TodoScale.Application.Todos;
using TodoScale.Application.Users;
using TodoScale.Cli.Infrastructure;
using TodoScale.Database.Schema;

namespace TodoScale.Cli.Commands;

/// <summary>todoscale users sign-in-link --email x@y [--operator] [--url http://127.0.0.1:5080]</summary>
public static class UsersSignInLinkCommand
{
    public static Command Create(CliContext ctx)
    {
        var email = new Option<string>("--email") { Description = "The user's email (the user is created when new).", Required = true }
            .Refusing(OptionRules.Email);
        var isOperator = new Option<bool>("--operator") { Description = "The session gets the operator role (the console at /ops)." };
        var url = new Option<string>("--url")
        {
            Description = "The address `todoscale serve` answers on, as the browser reaches it.",
            DefaultValueFactory = _ => ServeCommands.DefaultUrl,
        }.Refusing(OptionRules.HttpUrls);
        var command = new Command("sign-in-link",
            "Print a one-time link that signs the user in to the web pages (/ and /ops). It works once, for 15 minutes; the code " +
            "is in the link's #fragment, which browsers never send to a server, so no access log keeps it.") { email, isOperator, url };
        command.SetHandler(async (parse, ct) =>
        {
            var baseUrl = parse.GetValue(url)!.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[0];
            var cs = await ctx.ResolveConnectionStringAsync(parse, ct);
            await new SchemaMigrator(cs).MigrateAsync(ct: ct);
            await using var dataSource = Npgsql.NpgsqlDataSource.Create(cs);
            await using var db = TodoDbContext.Create(dataSource);
            TodoScale.Application.Models.User user;
            try
            {
                (user, _) = await new UserService(db).EnsureUserAsync(parse.GetValue(email)!, ct: ct);
            }
            catch (TodoValidationException e)
            {
                throw new ArgumentException(e.Message);
            }

            // Signed with the same key as serve's tokens (Auth__SigningKey or the built-in key file), or serve refuses it.
            var code = new SignInCodes(ApiKeys.Resolve(ctx, parse)).Issue(user.Id, user.Email, parse.GetValue(isOperator));
            Ui.Info($"one-time sign-in link for {user.Email}{(parse.GetValue(isOperator) ? " (operator)" : "")}, valid for " +
                    $"{SignInCodes.DefaultLifetime.TotalMinutes:0} minutes:");
            // The link alone on stdout's last line, like users add's token.
            Console.WriteLine(SignInCodes.Link(baseUrl, code));
            return ExitCodes.Success;
        });
        return command;
    }
}
