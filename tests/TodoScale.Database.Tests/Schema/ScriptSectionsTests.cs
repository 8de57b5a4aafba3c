using TodoScale.Database.Schema;

namespace TodoScale.Database.Tests.Schema;

public sealed class ScriptSectionsTests
{
    [Fact(Timeout = TestTimeouts.Quick)]
    public async Task the_migrator_reads_005_as_its_definitions_then_the_index_plan_query()
    {
        await Task.Yield();
        var script = ScalingScripts.Read("005_indexing_optimization.sql");

        var sections = ScriptSections.Parse("005_indexing_optimization.sql", script);

        Assert.Equal(["SELECT stmt FROM todoscale_index_plan() ORDER BY step"], sections.PlanQueries);
        Assert.DoesNotContain(sections.TransactionalSql.Split('\n'),
            l => l.Contains("\\gexec", StringComparison.Ordinal) && !l.TrimStart().StartsWith("--", StringComparison.Ordinal));
        Assert.Contains("CREATE OR REPLACE FUNCTION todoscale_index_plan()", sections.TransactionalSql);
        Assert.Contains("ANALYZE todos_active;", sections.TransactionalSql);
        // Blanked, not removed: an error's line number in the transactional part is the file's.
        Assert.Equal(script.Split('\n').Length, sections.TransactionalSql.Split('\n').Length);
    }

    [Fact(Timeout = TestTimeouts.Quick)]
    public async Task the_migrator_reads_009_as_its_triggers_and_functions_then_the_backfill_plan_query()
    {
        await Task.Yield();
        var script = ScalingScripts.Read("009_archive_constant_cost.sql");

        var sections = ScriptSections.Parse("009_archive_constant_cost.sql", script);

        Assert.Equal(["SELECT stmt FROM todoscale_archive_index_plan() ORDER BY step"], sections.PlanQueries);
        // The triggers commit before the backfill reads a month: rows archived meanwhile are recorded by them.
        Assert.Contains("CREATE TRIGGER todos_archived_index_insert", sections.TransactionalSql);
        Assert.Contains("CREATE OR REPLACE FUNCTION todoscale_archive_index_plan()", sections.TransactionalSql);
        Assert.Equal(script.Split('\n').Length, sections.TransactionalSql.Split('\n').Length);
    }

    [Fact(Timeout = TestTimeouts.Quick)]
    public async Task every_other_scaling_script_runs_whole_in_one_transaction()
    {
        await Task.Yield();
        foreach (var name in ScalingScripts.Names.Where(n => n is not ("005_indexing_optimization.sql" or "009_archive_constant_cost.sql")))
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
