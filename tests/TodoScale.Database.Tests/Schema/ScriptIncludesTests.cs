using TodoScale.Database.Schema;

namespace TodoScale.Database.Tests.Schema;

/// <summary>
/// The migrator's \ir: the text DbUp runs must be what psql runs, and a backslash command it cannot run must
/// stop the migration instead of reaching the server (a syntax error there) or being skipped.
/// </summary>
public sealed class ScriptIncludesTests
{
    [Fact(Timeout = TestTimeouts.Long)]
    public async Task the_embedded_003_reads_as_every_maintenance_file_in_the_order_003_includes_them()
    {
        await Task.CompletedTask;
        var entry = File.ReadAllText(Psql.ScriptPath("003_create_maintenance_jobs.sql"));
        var included = entry.Split('\n').Where(l => l.StartsWith("\\ir ", StringComparison.Ordinal)).Select(l => l[4..].Trim()).ToList();

        var expanded = ScalingScripts.Read("003_create_maintenance_jobs.sql");

        Assert.Equal(["bookkeeping", "engine", "archival", "partitions", "health", "jobs"],
            included.Select(i => Path.GetFileNameWithoutExtension(i)));
        Assert.DoesNotContain(expanded.Split('\n'), l => l.TrimStart().StartsWith('\\'));
        var at = 0;
        foreach (var file in included)
        {
            var text = File.ReadAllText(Psql.ScriptPath(file));
            var found = expanded.IndexOf(text, at, StringComparison.Ordinal);
            Assert.True(found >= at, $"{file} is not in the expanded 003 after the file before it");
            at = found + text.Length;
        }

        Assert.EndsWith("RESET client_min_messages;\nRESET lock_timeout;\n", expanded);
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task the_migrator_lists_only_the_files_directly_in_migrations_scaling_and_reads_the_others_unchanged()
    {
        await Task.CompletedTask;
        var folder = Path.GetDirectoryName(Psql.ScriptPath("001_create_partitioned_tables.sql"))!;
        var onDisk = Directory.GetFiles(folder, "*.sql").Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal).ToList();

        Assert.Equal(onDisk, ScalingScripts.Names);
        Assert.True(Directory.GetFiles(Path.Combine(folder, "maintenance"), "*.sql").Length >= 5);
        // 002 includes the batch engine (maintenance/engine.sql) that 003 includes too.
        foreach (var name in ScalingScripts.Names.Where(n => !n.StartsWith("003_", StringComparison.Ordinal) && !n.StartsWith("002_", StringComparison.Ordinal)))
        {
            Assert.Equal(File.ReadAllText(Path.Combine(folder, name)), ScalingScripts.Read(name));
        }

        Assert.Throws<ArgumentException>(() => ScalingScripts.Read("maintenance/archival.sql"));
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task an_include_resolves_against_the_including_files_folder_and_may_nest()
    {
        await Task.CompletedTask;
        var files = new Dictionary<string, string>
        {
            ["entry.sql"] = "SELECT 1;\n\\ir part/a.sql\n  \\ir 'part/b.sql'  \nSELECT 4;\n",
            ["part/a.sql"] = "SELECT 2;",
            ["part/b.sql"] = "\\ir ./../c.sql\n",
            ["c.sql"] = "SELECT 3;\n",
        };

        var expanded = ScriptIncludes.Expand("entry.sql", p => files.GetValueOrDefault(p));

        Assert.Equal("SELECT 1;\nSELECT 2;\nSELECT 3;\nSELECT 4;\n", expanded);
    }

    [Theory(Timeout = TestTimeouts.Long)]
    [InlineData("\\i part/a.sql", "entry.sql:2: \\i is a psql command the migrator cannot run")]
    [InlineData("\\set ON_ERROR_STOP 1", "entry.sql:2: \\set is a psql command the migrator cannot run")]
    [InlineData("\\c otherdb", "entry.sql:2: \\c is a psql command the migrator cannot run")]
    [InlineData("\\ir", "entry.sql:2: \\ir needs exactly one file name")]
    [InlineData("\\ir part/a.sql part/b.sql", "entry.sql:2: \\ir needs exactly one file name")]
    [InlineData("\\ir part/missing.sql", "entry.sql:2: \\ir part/missing.sql: no such file")]
    [InlineData("\\ir ../outside.sql", "entry.sql:2: \\ir ../outside.sql leaves migrations/scaling")]
    [InlineData("\\ir /etc/passwd", "entry.sql:2: \\ir /etc/passwd: give a path relative to the including file")]
    [InlineData("\\ir part/loop.sql", "part/loop.sql:1: \\ir entry.sql includes itself (entry.sql -> part/loop.sql -> entry.sql)")]
    public async Task a_backslash_line_other_than_one_existing_include_stops_the_migration_naming_file_and_line(string line, string message)
    {
        await Task.CompletedTask;
        var files = new Dictionary<string, string>
        {
            ["entry.sql"] = "SELECT 1;\n" + line + "\nSELECT 2;\n",
            ["part/a.sql"] = "SELECT 3;\n",
            ["part/loop.sql"] = "\\ir ../entry.sql\n",
        };

        var error = Assert.Throws<InvalidDataException>(() => ScriptIncludes.Expand("entry.sql", p => files.GetValueOrDefault(p)));

        Assert.StartsWith(message, error.Message);
    }
}
