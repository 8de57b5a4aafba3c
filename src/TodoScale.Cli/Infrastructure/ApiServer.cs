using System.CommandLine;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using TodoScale.Api.Hosting;
using TodoScale.Cli.Commands;

namespace TodoScale.Cli.Infrastructure;

/// <summary>Hosts the HTTP API (with the maintenance scheduler) until Ctrl-C: `todoscale serve` and the end of `todoscale demo`.</summary>
internal static class ApiServer
{
    /// <summary>
    /// Builds and starts the host on <paramref name="connectionString"/>, lets <paramref name="announce"/> print what the
    /// user needs (it gets the app and the address actually bound), then serves until Ctrl-C.
    /// </summary>
    public static async Task<int> RunAsync(CliContext ctx, ParseResult parse, string connectionString, IReadOnlyList<string> urls,
        Func<WebApplication, string, Task> announce, CancellationToken ct, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var app = TodoScaleApi.Build([], new TodoScaleApiOptions
        {
            ConnectionString = connectionString,
            Jwt = ApiKeys.Resolve(ctx, parse),
            Urls = urls,
            RunMaintenanceScheduler = true,
        }, builder => builder.Configuration.AddInMemoryCollection(settings ?? new Dictionary<string, string?>()));
        await using (app)
        {
            try
            {
                await app.StartAsync(ct);
            }
            catch (IOException e)
            {
                // Kestrel: "Failed to bind to address ...: address already in use" - usually another serve.
                Ui.Error(e.Message);
                return ExitCodes.Busy;
            }

            await announce(app, TodoScaleApi.ListeningUrls(app).FirstOrDefault() ?? urls[0]);
            try
            {
                await app.WaitForShutdownAsync(ct);
            }
            catch (OperationCanceledException)
            {
                // Ctrl-C is how a server is meant to stop.
            }

            await app.StopAsync(CancellationToken.None);
        }

        return ExitCodes.Success;
    }
}
