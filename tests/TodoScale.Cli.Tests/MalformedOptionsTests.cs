using System.CommandLine;
using System.Text.RegularExpressions;
using TodoScale.Cli.Commands;
using TodoScale.Cli.Infrastructure;

namespace TodoScale.Cli.Tests;

/// <summary>
/// Every command's options get malformed values (not numbers, out of range, huge, empty, control characters) and must
/// answer exit 2 with one clear `error:` line naming the option, no stack trace, and nothing done. Each run names a
/// database nobody listens on: a value that slipped through would reach it and end with exit 3 instead, so the checks
/// must happen before the command connects (a bad --urls found only after the demo's minutes of work helps nobody).
/// </summary>
public sealed partial class MalformedOptionsTests
{
    private const string Unreachable = "Host=127.0.0.1;Port=1;Database=none;Username=none;Timeout=2";
    /// <summary>
    /// A built-in cluster folder that cannot be created: a run that wrongly fell back to the built-in PostgreSQL (an empty
    /// --database does) fails at once instead of starting a server in the temp folder.
    /// </summary>
    private const string NoCluster = "/dev/null/todoscale-malformed-options";

    private const string Huge = "99999999999999999999";

    /// <summary>Values no numeric option takes.</summary>
    private static readonly string[] NotNumbers = ["abc", "", " ", "1,5", "0x10", "\u0001", "\u001b[2J", "5\u0007", Huge];

    private static readonly string TooLongName = new('a', 64);

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task migrate_maintain_and_users_options_refuse_malformed_values_with_exit_2_naming_the_option() =>
        await AssertRefusedAsync(
        [
            (["migrate", "run"], "--batch-size", [.. NotNumbers, "0", "-1", "1000001", "1e3", "1.5"]),
            (["migrate", "run"], "--throttle", ["abc", "-1", "600001", "1.5", Huge, "\u001b[2J"]),
            (["migrate", "run"], "--max-batches", ["abc", "0", "-1", Huge]),
            (["maintain", "cluster"], "--min-correlation", ["abc", "", "-0.1", "1.5", "NaN", "Infinity", "1e400", Huge, "\u0001"]),
            (["maintain", "cluster"], "--lock-timeout", ["abc", "", "0", "-1", "1.5", Huge]),
            (["users", "add"], "--email", ["", "   ", "no-at-sign", "a\u0001@example.com", "a\u001b[2J@example.com", "a@" + new string('x', 260)]),
            (["users", "add", "--email", "a@example.com"], "--name", ["\u0001", "a\u001bb", "line\nbreak", new string('x', 201)]),
            (["users", "add", "--email", "a@example.com"], "--days", [.. NotNumbers, "0", "-1", "3651"]),
        ],
        [["migrate", "run", "--batch-size=100", "--throttle=10", "--max-batches=1"], ["maintain", "cluster", "--min-correlation=0.5", "--lock-timeout=100"],
            ["users", "add", "--email", "a@example.com", "--name", "Ann", "--days=7"]]);

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task bench_run_options_refuse_malformed_values_with_exit_2_naming_the_option() =>
        await AssertRefusedAsync(
        [
            (["bench", "run"], "--rows", [.. NotNumbers, "999", "-1", "100000001"]),
            (["bench", "run"], "--users", ["abc", "9", "100000001", Huge]),
            (["bench", "run"], "--duration", ["abc", "", "0", "-1", "NaN", "Infinity", "1e300", "3601"]),
            (["bench", "run"], "--warmup", ["-1", "NaN", "1e300"]),
            (["bench", "run"], "--rounds", ["abc", "0", "21"]),
            (["bench", "run"], "--growth-rounds", ["abc", "0", "21"]),
            (["bench", "run"], "--clients", ["", "abc", "1,,x", "0", "129", "99999999999", "1;16", "-1", "\u0001"]),
            (["bench", "run"], "--api-clients", ["", "0", "99999999999", "abc"]),
            (["bench", "run"], "--scenarios", ["", "top21", "top20,\u0001"]),
            (["bench", "run"], "--api-warmup", ["-1", "NaN", "1e300"]),
            (["bench", "run"], "--api-pool", ["abc", "-1", "1025"]),
            (["bench", "run"], "--history-years", ["abc", "-1", "61"]),
            (["bench", "run"], "--grow-to", ["abc", "-5", "999", Huge]),
            (["bench", "run"], "--bench-database", ["", "Bad-Name", "x;drop", TooLongName, "\u0001"]),
            (["bench", "run"], "--out", ["\u0001", "docs\u001b[2J"]),
        ],
        [["bench", "run", "--rows=1000", "--duration=0.1", "--clients=1,2", "--scenarios=top20", "--no-api", "--no-pgbench", "--no-ops", "--out", ""]]);

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task bench_migration_archival_and_upkeep_options_refuse_malformed_values_with_exit_2_naming_the_option() =>
        await AssertRefusedAsync(
        [
            (["bench", "migration"], "--rows", ["abc", "999", "100000001", Huge]),
            (["bench", "migration"], "--batch-size", ["0", "1000001"]),
            (["bench", "migration"], "--writers", ["-1", "65"]),
            (["bench", "migration"], "--think-ms", ["abc", "-1", "60001"]),
            (["bench", "migration"], "--writers-alone", ["0", "-1", "3601"]),
            (["bench", "migration"], "--bench-database", ["", "Bad", "\u0001"]),
            (["bench", "archival"], "--done-rows", ["abc", "99", Huge]),
            (["bench", "archival"], "--open-rows", ["-1"]),
            (["bench", "archival"], "--recent-rows", ["-1"]),
            (["bench", "archival"], "--users", ["0"]),
            (["bench", "archival"], "--batch-size", ["0"]),
            (["bench", "archival"], "--probe-rate", ["0", "NaN", "Infinity", "20001"]),
            (["bench", "archival"], "--probe-connections", ["0", "65"]),
            (["bench", "archival"], "--idle-seconds", ["0", "NaN", "1e300"]),
            (["bench", "archival"], "--after-seconds", ["-1"]),
            (["bench", "archival"], "--warmup-seconds", ["-1", "Infinity"]),
            (["bench", "archival"], "--rounds", ["0", "21"]),
            (["bench", "archival"], "--variants", ["", "bogus", "single,\u0001"]),
            (["bench", "archival"], "--throttle-ms", ["-1", "NaN", "10001"]),
            (["bench", "archival"], "--bench-database", ["", "Bad", "\u0001"]),
            (["bench", "upkeep"], "--probe-clients", ["abc", "0", "65"]),
            (["bench", "upkeep"], "--idle-seconds", ["0", "NaN", "Infinity", "3601"]),
            (["bench", "upkeep"], "--warmup-seconds", ["-1", "NaN", "3601"]),
            (["bench", "upkeep"], "--operations", ["", "bogus", "cluster,\u0001"]),
            (["bench", "upkeep"], "--bench-database", ["", "Bad", "\u0001"]),
        ],
        [["bench", "migration", "--rows=1000", "--writers=0", "--out", ""], ["bench", "archival", "--done-rows=100", "--rounds=1", "--out", ""], ["bench", "upkeep", "--out", ""]]);

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task demo_serve_and_global_options_refuse_malformed_values_with_exit_2_naming_the_option()
    {
        await AssertRefusedAsync(
        [
            (["demo"], "--rows", ["abc", "999", "50000001", Huge]),
            (["demo"], "--demo-database", ["", "Bad Name", TooLongName, "\u0001"]),
            (["demo"], "--urls", ["", "ftp://x", "not a url", "http://127.0.0.1:99999", "\u0001"]),
            (["serve"], "--urls", ["", ";", "ftp://x", "localhost:5080", "http://[::1"]),
        ],
        [["demo", "--rows=1000", "--no-serve"], ["serve", "--urls=http://127.0.0.1:0"]]);

        // A flag takes no value: the stray word is what the message names.
        foreach (var (args, named) in new (string[], string)[]
                 {
                     (["migrate", "cutover", "--force", "maybe"], "maybe"), (["migrate", "rollback", "--drop-new-tables", "2"], "'2'"),
                     (["users", "add", "--email", "a@example.com", "--operator", "perhaps"], "perhaps"), (["maintain", "daily", "--bogus"], "--bogus"),
                 })
        {
            string[] all = [.. args, "--database", Unreachable];
            AssertUsageError(await RunAsync(all), all, named);
        }

        // The database option itself, which is parsed when the command runs (db migrate connects first thing).
        foreach (var database in new[] { "\u0001", "Host=127.0.0.1;Port=abc", "Host=127.0.0.1;Port=99999", "Bogus=1", "postgresql://h:99999/db",
                     "postgresql://h/db?connect_timeout=abc", "postgresql://h/db?connect_timeout=99999999999", "postgresql://h/db?connect_timeout=-5",
                     "postgresql://h/db?sslmode=bogus", "postgresql://h/db?sslmode=7" })
        {
            var result = await RunAsync(["db", "migrate", "--database", database]);
            AssertUsageError(result, ["db", "migrate", "--database", database], null);
        }
    }

    [Fact(Timeout = TestTimeouts.Quick)]
    public async Task a_nul_in_an_option_which_no_process_argument_can_carry_is_refused_when_the_options_are_parsed()
    {
        // execve takes C strings, so a NUL cannot reach the program through its arguments; parsing the command tree
        // directly still shows that the options' own checks refuse it rather than pass it on to a path or the database.
        var ctx = new CliContext();
        (Command Command, string[] Args, string Option)[] cases =
        [
            (UsersCommands.Create(ctx), ["add", "--email", "a\0@example.com"], "--email"),
            (UsersCommands.Create(ctx), ["add", "--email", "a@example.com", "--name", "A\0"], "--name"),
            (ServeCommands.Create(ctx), ["--urls", "http://127.0.0.1:5080\0"], "--urls"),
            (DemoCommands.Create(ctx), ["--demo-database", "demo\0"], "--demo-database"),
            (BenchCommands.Create(ctx), ["run", "--clients", "1,\0"], "--clients"),
            (BenchCommands.Create(ctx), ["run", "--scenarios", "top20\0"], "--scenarios"),
            (BenchCommands.Create(ctx), ["run", "--out", "docs\0"], "--out"),
            (BenchCommands.Create(ctx), ["archival", "--variants", "single\0"], "--variants"),
            (BenchCommands.Create(ctx), ["migration", "--bench-database", "x\0"], "--bench-database"),
            (MigrateCommands.Create(ctx), ["run", "--batch-size", "5\0"], "--batch-size"),
            (MaintainCommands.Create(ctx), ["cluster", "--lock-timeout", "5\0"], "--lock-timeout"),
        ];

        foreach (var (command, args, option) in cases)
        {
            var errors = command.Parse(args).Errors.Select(e => e.Message).ToList();
            Assert.True(errors.Any(e => e.Contains(option, StringComparison.Ordinal) && !e.Contains('\0', StringComparison.Ordinal)),
                $"{command.Name} {Shown(args)}: {(errors.Count == 0 ? "accepted" : string.Join(" | ", errors))}");
        }

        await Task.CompletedTask;
    }

    /// <summary>Runs every (command, option, value) and then the valid controls, which must get past the options (exit 3: no database).</summary>
    private static async Task AssertRefusedAsync((string[] Command, string Option, string[] Values)[] cases, string[][] controls)
    {
        var failures = new List<string>();
        foreach (var (command, option, values) in cases)
        {
            foreach (var value in values)
            {
                string[] args = [.. command, option, value, "--database", Unreachable];
                var result = await RunAsync(args);
                try
                {
                    AssertUsageError(result, args, option);
                }
                catch (Xunit.Sdk.XunitException e)
                {
                    failures.Add(e.Message);
                }
            }
        }

        foreach (var control in controls)
        {
            string[] args = [.. control, "--database", Unreachable];
            var result = await RunAsync(args);
            if (result.ExitCode != 3)
            {
                failures.Add($"valid options {Shown(args)} should get as far as the database (exit 3), got {result.ExitCode}: {result.Stderr}");
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count} runs failed:\n" + string.Join("\n", failures));
    }

    private static Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string[] args) => Todoscale.RunAsync([.. args, "--data-dir", NoCluster]);

    private static void AssertUsageError((int ExitCode, string Stdout, string Stderr) result, string[] args, string? option)
    {
        var why = new List<string>();
        if (result.ExitCode != 2)
        {
            why.Add($"exit {result.ExitCode}, expected 2");
        }

        if (!result.Stderr.StartsWith("error: ", StringComparison.Ordinal))
        {
            why.Add("stderr does not start with 'error: '");
        }

        if (option is not null && !result.Stderr.Contains(option, StringComparison.Ordinal))
        {
            why.Add($"the message does not name {option}");
        }

        var output = result.Stdout + result.Stderr;
        if (output.Contains("   at ", StringComparison.Ordinal) || ExceptionName().IsMatch(output))
        {
            why.Add("a stack trace or an exception type");
        }

        // The refused value is quoted back; raw, an ESC sequence would rewrite the user's terminal instead of showing what was wrong.
        if (result.Stderr.Any(c => char.IsControl(c) && c is not ('\n' or '\r')))
        {
            why.Add("control characters in the message");
        }

        Assert.True(why.Count == 0, $"todoscale {Shown(args)}: {string.Join("; ", why)}\n  stderr: {Shown([result.Stderr])}\n  stdout: {Shown([result.Stdout])}");
    }

    private static string Shown(IEnumerable<string> args) =>
        string.Join(' ', args.Select(a => Regex.Replace(a.Length > 300 ? a[..300] + "..." : a, @"\p{Cc}", m => m.Value is "\n" ? "\\n" : $"\\u{(int)m.Value[0]:x4}")));

    [GeneratedRegex(@"\b[A-Z]\w*Exception\b")]
    private static partial Regex ExceptionName();
}
