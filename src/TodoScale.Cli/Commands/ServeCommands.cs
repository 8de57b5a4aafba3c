using System.CommandLine;
using TodoScale.Cli.Infrastructure;
using TodoScale.Database.Schema;

namespace TodoScale.Cli.Commands;

/// <summary>todoscale serve [--urls http://127.0.0.1:5080]</summary>
public static class ServeCommands
{
    public const string DefaultUrl = "http://127.0.0.1:5080";

    public static Command Create(CliContext ctx)
    {
        var urls = new Option<string>("--urls")
        {
            Description = "Address(es) to listen on, separated by ';'.",
            DefaultValueFactory = _ => DefaultUrl,
        }.Refusing(OptionRules.HttpUrls);
        var readReplicas = ServeReplicaOptions.ReadReplicasOption();
        var maxLag = ServeReplicaOptions.MaxLagOption();
        var serve = new Command("serve",
            "Apply the schema, then run the HTTP API (OpenAPI UI at /scalar, health at /health) until Ctrl-C. " +
            "AI suggestions need Ai__Endpoint, Ai__Model, Ai__ApiKey in the environment. Reads go to the standbys of " +
            "--read-replicas (or of a multi-host --database, or of the built-in server started with db start --replicas).") { urls, readReplicas, maxLag };
        serve.SetHandler(async (parse, ct) =>
        {
            var listen = parse.GetValue(urls)!.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            foreach (var u in listen)
            {
                if (!Uri.TryCreate(u, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                {
                    throw new ArgumentException($"--urls: '{u}' is not an http(s) address such as {DefaultUrl}.");
                }
            }

            var cs = await ctx.ResolveConnectionStringAsync(parse, ct);
            await new SchemaMigrator(cs).MigrateAsync(
                script => Ui.Info($"applied {script}"),
                () => Ui.Info("another todoscale is migrating this database; waiting for it to finish ..."),
                ct);

            var replicaSettings = await ServeReplicaOptions.SettingsAsync(ctx, parse, readReplicas, maxLag, ct);
            return await ApiServer.RunAsync(ctx, parse, cs, listen, (app, url) =>
            {
                Ui.Success($"TodoScale API listening on {url}");
                ServeReplicaOptions.Announce(app);
                Ui.Info($"  API reference: {url}/scalar   OpenAPI: {url}/openapi/v1.json   health: {url}/health");
                Ui.Info($"  todo app: {url}/   operator console: {url}/ops   sign in: todoscale users sign-in-link --email you@example.com [--operator]" +
                        (url == DefaultUrl ? "" : $" --url {url}") +
                        (ctx.HasExplicitDatabase(parse) ? " --database \"<the same database as serve>\"" : ""));
                // The token must be issued against the same database, or its user does not exist here.
                Ui.Info("  token: todoscale users add --email you@example.com" +
                        (ctx.HasExplicitDatabase(parse) ? " --database \"<the same database as serve>\"" : ""));
                return Task.CompletedTask;
            }, ct, replicaSettings);
        });
        return serve;
    }
}
