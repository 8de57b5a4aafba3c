using TodoScale.Database.Schema;

namespace TodoScale.Database.Tests.Schema;

public sealed class ScriptSectionsTests
{
    // The scripts with an outside-transaction section: their plan query, and what their transactional part must hold.
    // 002: the indexes deferred while its backfill (psql path) filled the new tables, built after it.
    // 005: its definitions, then the index builds. 009: its triggers commit before the backfill reads a month, so rows
    // archived meanwhile are recorded by them.
    public static readonly TheoryData<string, string, string[]> ScriptsWithAPlan = new()
    {
        { "002_migrate_existing_data.sql", "SELECT stmt FROM migration_index_plan() ORDER BY step", ["CREATE OR REPLACE FUNCTION migration_index_plan()", "CALL todoscale_migrate_on_install();"] },
        { "005_indexing_optimization.sql", "SELECT stmt FROM todoscale_index_plan() ORDER BY step", ["CREATE OR REPLACE FUNCTION todoscale_index_plan(", "ANALYZE todos_active;"] },
        { "009_archive_constant_cost.sql", "SELECT stmt FROM todoscale_archive_index_plan() ORDER BY step", ["CREATE TRIGGER todos_archived_index_insert", "CREATE OR REPLACE FUNCTION todoscale_archive_index_plan()"] },
    };

    [Theory(Timeout = TestTimeouts.Quick)]
    [MemberData(nameof(ScriptsWithAPlan))]
    public async Task the_migrator_reads_a_script_with_a_plan_as_its_definitions_then_its_plan_query(string name, string planQuery, string[] definitions)
    {
        await Task.Yield();
        var script = ScalingScripts.Read(name);

        var sections = ScriptSections.Parse(name, script);

        // 002 plans twice (psql's \gexec plans once per line; its second pass follows the archive bookkeeping's resume).
        Assert.Equal(Enumerable.Repeat(planQuery, name.StartsWith("002", StringComparison.Ordinal) ? 2 : 1), sections.PlanQueries);
        Assert.DoesNotContain(sections.TransactionalSql.Split('\n'),
            l => l.Contains("\\gexec", StringComparison.Ordinal) && !l.TrimStart().StartsWith("--", StringComparison.Ordinal));
        Assert.All(definitions, d => Assert.Contains(d, sections.TransactionalSql));
        // Blanked, not removed: an error's line number in the transactional part is the file's.
        Assert.Equal(script.Split('\n').Length, sections.TransactionalSql.Split('\n').Length);
    }

    [Fact(Timeout = TestTimeouts.Quick)]
    public async Task every_other_scaling_script_runs_whole_in_one_transaction()
    {
        await Task.Yield();
        var withAPlan = ScriptsWithAPlan.Select(row => row.Data.Item1).ToHashSet();
        foreach (var name in ScalingScripts.Names.Where(n => !withAPlan.Contains(n)))
        {
            var script = ScalingScripts.Read(name);
            var sections = ScriptSections.Parse(name, script);

            Assert.Empty(sections.PlanQueries);
            Assert.Equal(script, sections.TransactionalSql);
        }
    }

    [Theory(Timeout = TestTimeouts.Quick)]
    [InlineData("SELECT 1;\n\\set QUIET on\nSELECT 2;", "x.sql line 2: psql meta-command '\\set'")]
    [InlineData("SELECT 1;\nSELECT stmt FROM plan() \\gexec\n", "x.sql line 2: psql meta-command '\\gexec'")]
    [InlineData("-- todoscale:outside-transaction begin\nSELECT stmt FROM plan() \\gexec\n", "x.sql line 3: the outside-transaction section has no end marker")]
    [InlineData("-- todoscale:outside-transaction begin\nSELECT stmt FROM plan();\n-- todoscale:outside-transaction end\n", "x.sql line 2: a line in the outside-transaction section must be one query ending in \\gexec")]
    [InlineData("-- todoscale:outside-transaction begin\nSELECT stmt FROM plan() \\gset\n-- todoscale:outside-transaction end\n", "x.sql line 2: a line in the outside-transaction section")]
    [InlineData("-- todoscale:outside-transaction end\n", "x.sql line 1: an end marker without a begin marker")]
    public async Task a_script_the_migrator_could_only_half_run_is_refused_naming_the_line(string script, string message)
    {
        await Task.Yield();

        var error = Assert.Throws<InvalidOperationException>(() => ScriptSections.Parse("x.sql", script));

        Assert.StartsWith(message, error.Message);
    }
}
