using System.Text.RegularExpressions;

namespace TodoScale.Database.Tests;

/// <summary>
/// Rules every test of the solution keeps, checked on the sources under tests/ (all test projects, including the
/// ones this assembly does not reference): a test added without a timeout would let one hang stall CI for hours.
/// </summary>
public sealed partial class TestHygieneTests
{
    [Fact(Timeout = TestTimeouts.Quick)]
    public async Task every_fact_and_theory_under_tests_names_a_timeout_from_TestTimeouts()
    {
        var root = TestsFolder();
        var missing = new List<string>();
        var checkedTests = 0;
        foreach (var file in Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
                     .Where(f => !f.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj")))
        {
            var relative = Path.GetRelativePath(root, file).Replace(Path.DirectorySeparatorChar, '/');
            var lines = await File.ReadAllLinesAsync(file, TestContext.Current.CancellationToken);
            for (var i = 0; i < lines.Length; i++)
            {
                if (lines[i].TrimStart().StartsWith("//", StringComparison.Ordinal))
                {
                    continue;
                }

                foreach (Match m in TestAttribute().Matches(lines[i]))
                {
                    checkedTests++;
                    if (!TimeoutArgument().IsMatch(m.Groups["args"].Value))
                    {
                        missing.Add($"{relative}:{i + 1}: {lines[i].Trim()}");
                    }
                }
            }
        }

        // A scan that found nothing would pass for the wrong reason (a moved folder, a changed attribute spelling).
        Assert.True(checkedTests > 100, $"only {checkedTests} tests found under {root}");
        Assert.True(missing.Count == 0,
            "every test needs a timeout, e.g. [Fact(Timeout = TestTimeouts.Database)] (see tests/TodoScale.Testing/TestTimeouts.cs); " +
            "xunit enforces it on async tests only, so the method must return Task. Missing:\n" + string.Join("\n", missing));
    }

    /// <summary>The repository's tests/ folder, found by walking up from the test binaries.</summary>
    private static string TestsFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests");
            if (File.Exists(Path.Combine(candidate, "TodoScale.Testing", "TestTimeouts.cs")))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException($"tests/TodoScale.Testing/TestTimeouts.cs not found above {AppContext.BaseDirectory}");
    }

    // An xunit test attribute at the start of an attribute list or after a comma in one, with its arguments if any:
    // Fact, Theory, Xunit.Fact, FactAttribute, ... ("Fact(Skip = ...)" counts too: a skipped test may be unskipped).
    [GeneratedRegex(@"(?<=[\[,]\s*)(?:Xunit\.)?(?:Fact|Theory)(?:Attribute)?\b(?:\s*\((?<args>(?:[^()""]|""[^""]*""|\([^()]*\))*)\))?")]
    private static partial Regex TestAttribute();

    [GeneratedRegex(@"\bTimeout\s*=\s*TestTimeouts\.\w+")]
    private static partial Regex TimeoutArgument();
}
