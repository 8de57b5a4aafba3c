using DbUp.Builder;
using DbUp.Engine;
using DbUp.Support;

namespace TodoScale.Database.Schema;

/// <summary>
/// DbUp's script executor, taught <see cref="ScriptSections"/>: a script with an outside-transaction section
/// runs its transactional part in DbUp's transaction (not journalled yet), then the section's plan through
/// <see cref="PlanRunner"/>, and only then is journalled. A run that fails or is killed in between leaves
/// the script pending, so the next migration runs it again and its plan finishes what is missing; journalled
/// with its transaction instead, the script would count as applied with half of its indexes built.
/// Scripts without a section go to DbUp unchanged.
/// </summary>
internal sealed class SectionedScriptExecutor(
    IScriptExecutor inner, UpgradeConfiguration configuration, PlanRunner planRunner, CancellationToken ct) : IScriptExecutor
{
    public int? ExecutionTimeoutSeconds
    {
        get => inner.ExecutionTimeoutSeconds;
        set => inner.ExecutionTimeoutSeconds = value;
    }

    public void Execute(SqlScript script) => Execute(script, null);

    public void Execute(SqlScript script, IDictionary<string, string>? variables)
    {
        var sections = ScriptSections.Parse(script.Name, script.Contents);
        if (sections.PlanQueries.Count == 0)
        {
            inner.Execute(script, variables);
            return;
        }

        // RunAlways only tells DbUp's executor not to journal this part; the script is journalled below.
        var transactionalPart = new SqlScript(script.Name, sections.TransactionalSql,
            new SqlScriptOptions { ScriptType = ScriptType.RunAlways, RunGroupOrder = script.SqlScriptOptions.RunGroupOrder });
        inner.Execute(transactionalPart, variables);

        // DbUp runs scripts synchronously (on a thread-pool thread of SchemaMigrator), so this waits here.
        planRunner.RunAsync(sections.PlanQueries, ct).GetAwaiter().GetResult();

        configuration.ConnectionManager.ExecuteCommandsWithManagedConnection(
            commandFactory => configuration.Journal.StoreExecutedScript(script, commandFactory));
    }

    public void VerifySchema() => inner.VerifySchema();
}
