using ScottPlot;
using TodoScale.Database.Migration;

namespace TodoScale.Benchmarks;

/// <summary>
/// The batch engine over a run, one PNG per live run: each batch's size (rows, left axis) and time (ms, right axis)
/// against the seconds since the run started, the target as a line, splits and pauses marked.
/// </summary>
public static class MigrationCharts
{
    public static IReadOnlyList<string> Write(MigrationBenchResult r, string directory)
    {
        var written = new List<string>();
        foreach (var v in r.Variants)
        {
            foreach (var run in v.Result.Runs)
            {
                var name = $"bench-migration-{(v.ParentIndex ? "idx" : "plain")}-{Key(run.Name)}.png";
                var path = Path.Combine(directory, name);
                Draw(run, r.Options.Target, $"{run.Name}, {(v.ParentIndex ? "with" : "without")} the parent index, {r.Options.Writers} writers", path);
                written.Add(path);
            }
        }

        return written;
    }

    public static string Key(string runName) => runName switch
    {
        MigrationLiveRun.Fixed => "fixed",
        MigrationLiveRun.Adaptive => "adaptive",
        _ => "held",
    };

    private static void Draw(MigrationLiveRun run, TimeSpan target, string title, string path)
    {
        var plot = new Plot();
        var batches = run.Run.Samples.Where(s => s.Outcome == "batch").ToList();
        if (batches.Count > 0)
        {
            var size = plot.Add.Scatter(batches.Select(b => b.At.TotalSeconds).ToArray(), batches.Select(b => (double)b.BatchRows).ToArray());
            size.LegendText = "batch size, rows";
            size.MarkerSize = 3;
            size.LineWidth = 1;
            size.Color = Color.FromHex("#4e79a7");
            var time = plot.Add.Scatter(batches.Select(b => b.At.TotalSeconds).ToArray(), batches.Select(b => b.ElapsedMs).ToArray());
            time.LegendText = "batch time, ms (right)";
            time.MarkerSize = 3;
            time.LineWidth = 0;
            time.Color = Color.FromHex("#f28e2b");
            time.Axes.YAxis = plot.Axes.Right;
            var line = plot.Add.HorizontalLine(target.TotalMilliseconds);
            line.Axes.YAxis = plot.Axes.Right;
            line.LinePattern = LinePattern.Dashed;
            line.Color = Color.FromHex("#f28e2b");
            line.LegendText = $"target {target.TotalMilliseconds:N0} ms";
        }

        foreach (var s in run.Run.Samples.Where(s => s.Outcome is "split" or "paused"))
        {
            var mark = plot.Add.VerticalLine(s.At.TotalSeconds);
            mark.Color = s.Outcome == "split" ? Color.FromHex("#e15759").WithAlpha(0.5) : Color.FromHex("#9c9c9c").WithAlpha(0.5);
            mark.LineWidth = 1;
        }

        plot.Axes.Bottom.Label.Text = "seconds since the run started (red: split and retried, grey: paused on a signal)";
        plot.Axes.Left.Label.Text = "batch size, rows";
        plot.Axes.Right.Label.Text = "batch time, ms";
        plot.Title(title);
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SavePng(path, 1200, 500);
    }
}
