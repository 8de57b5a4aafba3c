using System.Text;
using System.Text.RegularExpressions;

namespace TodoScale.Database.Schema;

/// <summary>
/// A scaling script split for the migrator, which cannot run psql meta-commands. The one convention it
/// understands, and only between these two marker lines:
/// <code>
/// -- todoscale:outside-transaction begin
/// SELECT stmt FROM todoscale_index_plan() ORDER BY step \gexec
/// -- todoscale:outside-transaction end
/// </code>
/// Each non-comment line there is a one-line query ending in psql's <c>\gexec</c>: psql runs every value the
/// query returns as its own top-level statement (CREATE INDEX CONCURRENTLY cannot run in a transaction),
/// and so does <see cref="PlanRunner"/>. The rest of the script (<see cref="TransactionalSql"/>, with the
/// section blanked out) runs in the migrator's transaction first. A psql meta-command anywhere else is
/// refused, so a script that only psql could run fails loudly here instead of half-applying.
/// </summary>
public sealed partial class ScriptSections
{
    public const string BeginMarker = "-- todoscale:outside-transaction begin";
    public const string EndMarker = "-- todoscale:outside-transaction end";

    private ScriptSections(string transactionalSql, IReadOnlyList<string> planQueries)
    {
        TransactionalSql = transactionalSql;
        PlanQueries = planQueries;
    }

    /// <summary>The script without its outside-transaction section: what runs in one transaction.</summary>
    public string TransactionalSql { get; }

    /// <summary>The section's queries (without <c>\gexec</c>), each returning the statements to run, in order.</summary>
    public IReadOnlyList<string> PlanQueries { get; }

    public static ScriptSections Parse(string scriptName, string contents)
    {
        var lines = contents.Split('\n');
        var transactional = new StringBuilder(contents.Length);
        var queries = new List<string>();
        var inSection = false;
        var sections = 0;
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            var trimmed = line.Trim();
            if (trimmed == BeginMarker)
            {
                if (inSection || ++sections > 1)
                {
                    throw Invalid(scriptName, i, "only one outside-transaction section, not nested, is supported");
                }

                inSection = true;
                transactional.Append('\n');
                continue;
            }

            if (trimmed == EndMarker)
            {
                if (!inSection)
                {
                    throw Invalid(scriptName, i, "an end marker without a begin marker");
                }

                inSection = false;
                transactional.Append('\n');
                continue;
            }

            if (inSection)
            {
                // Blanked rather than removed, so PostgreSQL's line numbers in errors still match the file.
                transactional.Append('\n');
                if (trimmed.Length == 0 || trimmed.StartsWith("--", StringComparison.Ordinal))
                {
                    continue;
                }

                var match = GexecLine().Match(trimmed);
                if (!match.Success || match.Groups["query"].Value.Contains('\\', StringComparison.Ordinal))
                {
                    throw Invalid(scriptName, i, "a line in the outside-transaction section must be one query ending in \\gexec");
                }

                queries.Add(match.Groups["query"].Value);
                continue;
            }

            var metaCommand = trimmed.StartsWith('\\') ? trimmed.Split(' ')[0] : TrailingMetaCommand().Match(trimmed) is { Success: true } m ? m.Value : null;
            if (metaCommand is not null && !trimmed.StartsWith("--", StringComparison.Ordinal))
            {
                throw Invalid(scriptName, i, $"psql meta-command '{metaCommand}' outside an outside-transaction section");
            }

            transactional.Append(line);
            if (i < lines.Length - 1)
            {
                transactional.Append('\n');
            }
        }

        if (inSection)
        {
            throw Invalid(scriptName, lines.Length - 1, "the outside-transaction section has no end marker");
        }

        return new ScriptSections(transactional.ToString(), queries);
    }

    private static InvalidOperationException Invalid(string scriptName, int lineIndex, string problem) =>
        new($"{scriptName} line {lineIndex + 1}: {problem}");

    [GeneratedRegex(@"^(?<query>.*\S)\s*\\gexec$")]
    private static partial Regex GexecLine();

    // The query-ending meta-commands (\g, \gexec, \gset, \gx ...): a backslash elsewhere in a line is SQL (a regex).
    [GeneratedRegex(@"\\g[a-z]*$")]
    private static partial Regex TrailingMetaCommand();
}
