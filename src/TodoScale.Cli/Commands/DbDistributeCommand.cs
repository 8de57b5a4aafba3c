using System.CommandLine;
using System.Globalization;
using TodoScale.Cli.Infrastructure;
using TodoScale.Database.Distribution;

namespace TodoScale.Cli.Commands;

/// <summary>
/// todoscale db distribute: runs migrations/citus/distribute.sql (the operators' psql script, embedded) on a Citus
/// coordinator, one table at a time with progress. Exit 4 when the server or the database has no Citus.
/// </summary>
public static class DbDistributeCommand
{
    public static Command Create(CliContext ctx)
    {
        var shardCount = new Option<int?>("--shard-count")
        {
            Description = "Shards per distributed table (default: the server's citus.shard_count, 32). Each todos_active shard keeps its 16 local " +
                          "hash partitions, so a shard count is also 17 tables per shard of todos_active on the workers.",
        }.Between(1, 1024);
        var blocking = new Option<bool>("--blocking")
        {
            Description = "Copy each table with create_distributed_table (blocks writes to that table while it copies, much faster) instead of the " +
                          "online create_distributed_table_concurrently. Without wal_level = logical the copy is blocking anyway; the plan says so.",
        };

        var distribute = new Command("distribute",
            "Distribute this TodoScale database over the Citus workers by user_id (migrations/citus/distribute.sql): users as a reference table, " +
            "projects, todos_active, todos_archived and ai_todo_interactions distributed and colocated, online while the application writes. " +
            "Run it on the coordinator after 'db migrate' (and after 'migrate cutover' when a legacy todos table was migrated). Running it again does nothing. " +
            "Exit 4 when the server or the database has no Citus.")
        {
            Options = { shardCount, blocking },
        };
        distribute.SetHandler(async (parse, ct) =>
        {
            var cs = await ctx.ResolveConnectionStringAsync(parse, ct);
            var options = new DistributionOptions(parse.GetValue(shardCount), parse.GetValue(blocking) ? false : null);
            var steps = await new CitusDistributor(cs).RunAsync(options,
                (step, total) => Ui.Info($"[{step.Step}/{total}] {step.Table ?? "all"}: {step.Action} ..."),
                (step, took) => Ui.Info($"      {step.Table ?? "all"}: done in {took.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s"),
                ct);
            Ui.Success(steps.Count == 0
                ? "already distributed: nothing to do"
                : "distributed by user_id: users is a reference table; projects, todos_active, todos_archived, ai_todo_interactions are colocated");
            return ExitCodes.Success;
        });
        return distribute;
    }
}
