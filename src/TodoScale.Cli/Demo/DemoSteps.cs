using System.Diagnostics;
using Spectre.Console;
using TodoScale.Cli.Infrastructure;

namespace TodoScale.Cli.Demo;

/// <summary>Prints each demo step with what it did and how long it took.</summary>
internal static class DemoSteps
{
    public static async Task<T> RunAsync<T>(string title, Func<Task<T>> body, Func<T, string> summary)
    {
        if (CliContext.Interactive)
        {
            AnsiConsole.Write(new Rule($"[bold]{Markup.Escape(title)}[/]").LeftJustified());
        }
        else
        {
            Console.WriteLine($"== {title}");
        }

        var sw = Stopwatch.StartNew();
        var result = await body();
        Ui.Success($"{summary(result)} ({Format(sw.Elapsed)})");
        Console.WriteLine();
        return result;
    }

    public static Task RunAsync(string title, Func<Task<string>> body) => RunAsync(title, body, s => s);

    public static string Format(TimeSpan t) => t.TotalSeconds < 1 ? $"{t.TotalMilliseconds:0} ms" : t.TotalMinutes < 1 ? $"{t.TotalSeconds:0.0} s" : $"{t:m\\:ss} min";

    /// <summary>A progress bar on a terminal; a plain line every few seconds elsewhere.</summary>
    public static Task WithProgressAsync(string label, long total, Func<IProgress<long>, Task> body) =>
        WithProgressAsync(label, total, (IProgress<(long Done, long Total)> p) => body(new Progress<long>(done => p.Report((done, total)))));

    /// <summary>As above, for work whose total changes while it runs (reported with each step).</summary>
    public static async Task WithProgressAsync(string label, long total, Func<IProgress<(long Done, long Total)>, Task> body)
    {
        if (CliContext.Interactive)
        {
            await AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                .StartAsync(async ctx =>
                {
                    var task = ctx.AddTask(label, maxValue: Math.Max(1, total));
                    await body(new Progress<(long Done, long Total)>(p =>
                    {
                        task.MaxValue = Math.Max(1, p.Total);
                        task.Value = p.Done;
                    }));
                    task.Value = task.MaxValue;
                });
            return;
        }

        var last = Stopwatch.StartNew();
        long printed = -1;
        await body(new Progress<(long Done, long Total)>(p =>
        {
            if (p.Done != printed && (last.Elapsed.TotalSeconds >= 2 || p.Done >= p.Total))
            {
                Console.WriteLine($"  {label}: {p.Done:N0} of {p.Total:N0}");
                printed = p.Done;
                last.Restart();
            }
        }));
    }
}
