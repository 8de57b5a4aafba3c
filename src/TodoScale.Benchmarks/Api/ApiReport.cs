using System.Globalization;
using System.Text;

namespace TodoScale.Benchmarks;

/// <summary>The report's API part: the "HTTP API under load" section and the API row of the targets table.</summary>
internal static class ApiReport
{
    public const int TargetClients = 16;
    public const double TargetRatio = 0.40;
    public const double TargetP99Ms = 20;

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static void AppendSection(StringBuilder sb, BenchResult r)
    {
        if (r.ApiCells.Count == 0 && r.ApiNotes.Count == 0)
        {
            return;
        }

        var o = r.Options;
        var hasWrk = r.ApiCells.Any(c => c.Generator == ApiGenerators.Wrk);
        var dbOnly = r.ApiCells.FirstOrDefault(c => c.Generator == ApiGenerators.Database);
        sb.AppendLine("### HTTP API under load");
        sb.AppendLine();
        sb.AppendLine(Inv, $"The real API (`TodoScaleApi.Build`: Kestrel on 127.0.0.1, the application's services and settings, no maintenance scheduler) hosted inside the benchmark process on the final layout, " +
                           $"with bearer tokens issued by the host's own `TokenIssuer` for the benchmark users. " +
                           $"**The load generator, the API server and PostgreSQL share the same {r.Machine.Cores} cores** (the C# client even runs in the API's own process), " +
                           $"so every API figure also pays for its load generator, and the database-only figures for Npgsql's client side.");
        sb.AppendLine();
        foreach (var endpoint in ApiEndpoints.All)
        {
            sb.AppendLine(Inv, $"- `GET {ApiEndpoints.Path(endpoint)}` — database-only: {ApiEndpoints.Describe(endpoint)}.");
        }

        sb.AppendLine("- **DB-only**: those statements with those values through Npgsql (`LoadDriver`: prepared, one connection per client, closed loop) on a data source with the API's own " +
                      "connection settings (its `NpgsqlDataSource`: `plan_cache_mode=force_generic_plan`, automatic preparation, no reset on close). " +
                      "The dashboard's four statements go in one round trip (one `NpgsqlBatch`), as the service sends them.");
        sb.AppendLine("- **API (C# client)**: `HttpClient` on a `SocketsHttpHandler` per client (one keep-alive connection each), closed loop, each request for a user drawn from the same set with the same skew, " +
                      "latency end to end (request sent to the last byte of the body read); every answer must be 200. " +
                      "It runs in the API's own process and shares its thread pool and garbage collector, so where it falls behind wrk the difference is the client, not the API.");
        sb.AppendLine(Inv, $"- **API (wrk)**: {(r.WrkVersion is { } v ? $"`{v}`, " : "")}out of process, `-c` = clients, `-t` = min(clients, 2), `-d {WrkRunner.Seconds(o.Duration)}s` per round (wrk takes whole seconds), " +
                           $"with `Lua/wrk_tokens.lua`, which sends each request for a user drawn at random from the same set with that user's token, and prints its latency percentiles and error counts.");
        sb.AppendLine(Inv, $"- Each cell: {o.Rounds} round{(o.Rounds == 1 ? "" : "s")} of {o.Duration.TotalSeconds:F1} s (after {o.Warmup.TotalSeconds:F2} s of warm-up; wrk has none of its own and runs right after the C# client), " +
                           $"DB-only, C# client and wrk taking turns within a round; figures are medians over the rounds. API÷DB = the API's req/s ÷ DB-only req/s at the same clients.");
        foreach (var check in r.ApiChecks)
        {
            var compared = check.Endpoint == ApiEndpoint.List
                ? "todo ids in order, and whether a next page exists"
                : "counters, top open todo ids in order, projects with their counts, AI interaction ids";
            var outcome = check.Mismatches == 0
                ? string.Create(Inv, $"the API's answer equals its statements' answer for {check.Users} users ({compared}).")
                : string.Create(Inv, $"**{check.Mismatches} of {check.Users} users differ** (first: {check.FirstMismatch}).");
            sb.AppendLine(Inv, $"- Answers checked, {ApiEndpoints.Key(check.Endpoint)}: {outcome}");
        }

        var errors = r.ApiErrors;
        sb.AppendLine(errors == 0
            ? "- Every request was answered 200."
            : $"- **{errors:N0} requests were answered with another status than 200**: the affected figures measure failures (first: {r.ApiCells.First(c => c.Errors > 0).FirstError}).");
        foreach (var note in r.ApiNotes)
        {
            sb.AppendLine("- " + note);
        }

        sb.AppendLine();
        if (dbOnly is null)
        {
            return;
        }

        foreach (var endpoint in ApiEndpoints.All)
        {
            foreach (var set in new[] { UserSets.Skewed, UserSets.Heavy })
            {
                if (!r.ApiCells.Any(c => c.Endpoint == endpoint && c.UserSet == set))
                {
                    continue;
                }

                sb.AppendLine(Inv, $"#### {ApiEndpoints.Title(endpoint)} — {set} users");
                sb.AppendLine();
                sb.AppendLine("| clients | DB-only req/s | p50 ms | p99 | API (C# client) req/s | p50 ms | p95 | p99 | API÷DB |" + (hasWrk ? " API (wrk) req/s | p50 ms | p99 | API÷DB |" : ""));
                sb.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + (hasWrk ? "---:|---:|---:|---:|" : ""));
                foreach (var clients in o.ApiClients)
                {
                    var db = r.Api(endpoint, set, clients, ApiGenerators.Database);
                    var cs = r.Api(endpoint, set, clients, ApiGenerators.CSharp);
                    var wrk = r.Api(endpoint, set, clients, ApiGenerators.Wrk);
                    var row = new StringBuilder().Append(Inv, $"| {clients} | {Rate(db)} | {Ms(db?.Stats.P50Ms)} | {Ms(db?.Stats.P99Ms)} | ");
                    row.Append(Inv, $"{Rate(cs)}{Errors(cs)} | {Ms(cs?.Stats.P50Ms)} | {Ms(cs?.Stats.P95Ms)} | {Ms(cs?.Stats.P99Ms)} | {Ratio(cs, db)} |");
                    if (hasWrk)
                    {
                        row.Append(Inv, $" {Rate(wrk)}{Errors(wrk)} | {Ms(wrk?.Stats.P50Ms)} | {Ms(wrk?.Stats.P99Ms)} | {Ratio(wrk, db)} |");
                    }

                    sb.AppendLine(row.ToString());
                }

                sb.AppendLine();
            }
        }
    }

    /// <summary>The row "API list endpoint ≥ 40% of the database rate, p99 &lt; 20 ms" of the targets table.</summary>
    public static string TargetRow(BenchResult r)
    {
        const string target = "API list endpoint ≥ 40% of the database rate, p99 < 20 ms";
        if (!r.Options.Api)
        {
            return $"| {target} | not measured in this run (`--no-api`) | open |";
        }

        var db = r.Api(ApiEndpoint.List, UserSets.Skewed, TargetClients, ApiGenerators.Database);
        if (db is null)
        {
            return $"| {target} | not measured at {TargetClients} clients (`--api-clients` {string.Join(',', r.Options.ApiClients)}) | open |";
        }

        var measured = new List<string>();
        var verdicts = new List<(string Generator, bool Met)>();
        foreach (var (generator, name) in new[] { (ApiGenerators.Wrk, "wrk"), (ApiGenerators.CSharp, "C# client") })
        {
            var api = r.Api(ApiEndpoint.List, UserSets.Skewed, TargetClients, generator);
            if (api is null)
            {
                continue;
            }

            var ratio = api.Stats.PerSecond / db.Stats.PerSecond;
            var heavy = Pair(r, UserSets.Heavy, generator);
            measured.Add(string.Create(Inv, $"{name} {ratio:F2}× ({api.Stats.PerSecond:N0} vs {db.Stats.PerSecond:N0} req/s), p99 {Ms(api.Stats.P99Ms)} ms{(heavy is null ? "" : $" (heavy users: {heavy.Value.Text})")}"));
            // The target holds for every user set measured: heavy users missing it is a miss, not a footnote.
            var met = api.Errors == 0 && ratio >= TargetRatio && api.Stats.P99Ms < TargetP99Ms
                      && (heavy is null || heavy.Value.Met);
            verdicts.Add((name, met));
        }

        var verdict = verdicts.All(v => v.Met) ? "met"
            : verdicts.Any(v => v.Met) ? string.Join(", ", verdicts.Select(v => v.Met ? $"met with {v.Generator}" : $"**not met** with {v.Generator}"))
            : "**not met**";
        return $"| {target} | {TargetClients} clients, skewed and heavy users, final layout, generator on the same cores: {string.Join("; ", measured)} | {verdict} |";
    }

    private static (string Text, bool Met)? Pair(BenchResult r, string set, string generator)
    {
        var db = r.Api(ApiEndpoint.List, set, TargetClients, ApiGenerators.Database);
        var api = r.Api(ApiEndpoint.List, set, TargetClients, generator);
        if (db is null || api is null || db.Stats.PerSecond <= 0)
        {
            return null;
        }

        var ratio = api.Stats.PerSecond / db.Stats.PerSecond;
        return (string.Create(Inv, $"{ratio:F2}×, p99 {Ms(api.Stats.P99Ms)} ms"), api.Errors == 0 && ratio >= TargetRatio && api.Stats.P99Ms < TargetP99Ms);
    }

    private static string Rate(ApiCell? c) => c is null ? "n/a" : c.Stats.PerSecond.ToString("N0", Inv);

    private static string Errors(ApiCell? c) => c is { Errors: > 0 } ? string.Create(Inv, $" (**{c.Errors:N0} non-200**)") : "";

    private static string Ms(double? v) => v is { } x ? BenchReport.Ms(x) : "n/a";

    private static string Ratio(ApiCell? api, ApiCell? db) =>
        api is null || db is null || db.Stats.PerSecond <= 0 ? "n/a" : (api.Stats.PerSecond / db.Stats.PerSecond).ToString("F2", Inv);
}
