using ScottPlot;

namespace TodoScale.Benchmarks;

/// <summary>PNG charts of one run, drawn with ScottPlot.</summary>
public static class BenchCharts
{
    private static readonly Color[] Palette =
    [
        Color.FromHex("#4e79a7"), Color.FromHex("#a0cbe8"), Color.FromHex("#f28e2b"), Color.FromHex("#ffbe7d"),
        Color.FromHex("#59a14f"),
    ];

    // DB-only, C# client, wrk.
    private static readonly Color[] ApiPalette = [Color.FromHex("#4e79a7"), Color.FromHex("#f28e2b"), Color.FromHex("#59a14f")];

    /// <summary>The layouts in chart order with the stage each is taken from (baselines from the later stage).</summary>
    private static IReadOnlyList<(string Stage, BenchLayout Layout, string Label)> Columns(BenchResult r) =>
    [
        (BenchRunner.StageMaintained, BenchLayouts.Legacy, "(a) legacy"),
        (BenchRunner.StageMaintained, BenchLayouts.Indexed, "(b) single+idx"),
        (BenchRunner.StageMaintained, BenchLayouts.Covering, "(b+) single+TS idx"),
        (BenchRunner.StageMigrated, BenchLayouts.TodoScaleCustom, "TS custom"),
        (BenchRunner.StageMigrated, BenchLayouts.TodoScaleGeneric, "TS generic"),
        (BenchRunner.StageMaintained, BenchLayouts.TodoScaleGenericClustered, "TS final"),
    ];

    public static IReadOnlyList<string> Write(BenchResult r, string directory)
    {
        var written = new List<string>();
        var columns = Columns(r);
        var clients = r.Options.Clients.Min();
        foreach (var query in r.Options.Queries)
        {
            var series = new (string Name, Func<LatencyStats, double> Value, string Set)[]
            {
                ($"skewed p50", s => s.P50Ms, UserSets.Skewed), ($"skewed p99", s => s.P99Ms, UserSets.Skewed),
                ($"heavy p50", s => s.P50Ms, UserSets.Heavy), ($"heavy p99", s => s.P99Ms, UserSets.Heavy),
            };
            var plot = new Plot();
            var bars = new List<Bar>();
            const double floor = -2; // 0.01 ms: bars grow up from here on the log axis
            for (var g = 0; g < columns.Count; g++)
            {
                for (var s = 0; s < series.Length; s++)
                {
                    var cell = r.Cell(columns[g].Stage, columns[g].Layout.Key, query, series[s].Set, clients);
                    if (cell is null || double.IsNaN(series[s].Value(cell.Stats)))
                    {
                        continue;
                    }

                    bars.Add(new Bar
                    {
                        Position = g * (series.Length + 1) + s,
                        Value = Math.Log10(Math.Max(0.01, series[s].Value(cell.Stats))),
                        ValueBase = floor,
                        FillColor = Palette[s],
                    });
                }
            }

            plot.Add.Bars(bars);
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
                columns.Select((_, g) => g * (series.Length + 1) + (series.Length - 1) / 2.0).ToArray(),
                columns.Select(c => c.Label).ToArray());
            var decades = Enumerable.Range(-2, 7).Select(e => (double)e).ToArray();
            plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
                decades, decades.Select(e => Math.Pow(10, e).ToString(e < 0 ? "0.##" : "0", System.Globalization.CultureInfo.InvariantCulture)).ToArray());
            var top = bars.Count == 0 ? 1 : Math.Ceiling(bars.Max(b => b.Value) + 0.2);
            plot.Axes.SetLimitsY(floor, top);
            plot.Axes.Left.Label.Text = "latency, ms (log scale)";
            plot.Title($"{BenchQueries.Title(query)}: latency per layout, {clients} client, {r.Data?.Rows ?? r.Options.Rows:N0} rows");
            for (var s = 0; s < series.Length; s++)
            {
                plot.Legend.ManualItems.Add(new LegendItem { LabelText = series[s].Name, FillColor = Palette[s] });
            }

            plot.ShowLegend(Alignment.UpperRight);
            var path = Path.Combine(directory, $"bench-latency-{BenchQueries.Key(query)}.png");
            plot.SavePng(path, 1000, 500);
            written.Add(path);
        }

        written.Add(ThroughputChart(r, directory, columns));
        if (r.ApiCells.Count > 0)
        {
            written.AddRange(ApiEndpoints.All.Select(e => ApiChart(r, directory, e)));
        }
        if (r.GrownRows > 0 && r.Data is not null)
        {
            written.Add(GrowthChart(r, directory));
        }

        return written;
    }

    private static string GrowthChart(BenchResult r, string directory)
    {
        var plot = new Plot();
        var i = 0;
        double[] xs = [r.Data!.Rows / 1e6, r.GrownRows / 1e6];
        foreach (var query in r.Options.Queries)
        {
            foreach (var (small, grown) in new[] { (BenchLayouts.IndexedSmall, BenchLayouts.IndexedGrown), (BenchLayouts.FinalSmall, BenchLayouts.FinalGrown) })
            {
                var layout = small;
                var (before, after) = BenchReport.GrowthPair(r, small, grown, query, UserSets.Skewed, 1);
                if (before is null || after is null)
                {
                    continue;
                }

                var line = plot.Add.Scatter(xs, new[] { before.Stats.P50Ms, after.Stats.P50Ms });
                line.LegendText = $"{BenchQueries.Title(query)}, {(layout.Kind == LayoutKind.TodoScale ? "TodoScale" : "(b) single table")}";
                line.Color = Palette[query switch { QueryKind.Top20 => 0, QueryKind.Dashboard => 2, QueryKind.ArchivedById => 4, _ => 1 }];
                line.LinePattern = layout.Kind == LayoutKind.TodoScale ? LinePattern.Solid : LinePattern.Dashed;
                line.LineWidth = 2;
                line.MarkerSize = 8;
                i++;
            }
        }

        plot.Axes.Bottom.Label.Text = "total rows (millions), same open todos";
        plot.Axes.Left.Label.Text = "p50 latency, ms (1 client, skewed users)";
        plot.Axes.SetLimitsY(0, plot.Axes.GetLimits().Top * 1.15);
        plot.Title("Latency against history size");
        plot.ShowLegend(Alignment.UpperLeft);
        var path = Path.Combine(directory, "bench-history-growth.png");
        plot.SavePng(path, 1000, 500);
        return path;
    }

    /// <summary>req/s against clients (log2 axis) for the database-only run and the API through each generator.</summary>
    private static string ApiChart(BenchResult r, string directory, ApiEndpoint endpoint)
    {
        var plot = new Plot();
        var clients = r.Options.ApiClients;
        var xs = clients.Select(c => Math.Log2(c)).ToArray();
        var generators = new[] { (ApiGenerators.Database, "DB-only (same statements)"), (ApiGenerators.CSharp, "API, C# client"), (ApiGenerators.Wrk, "API, wrk") };
        for (var g = 0; g < generators.Length; g++)
        {
            foreach (var set in new[] { UserSets.Skewed, UserSets.Heavy })
            {
                var cells = clients.Select(c => r.Api(endpoint, set, c, generators[g].Item1)).ToList();
                if (cells.Any(c => c is null))
                {
                    continue;
                }

                var line = plot.Add.Scatter(xs, cells.Select(c => c!.Stats.PerSecond).ToArray());
                line.LegendText = $"{generators[g].Item2}, {set} users";
                line.Color = ApiPalette[g];
                line.LinePattern = set == UserSets.Skewed ? LinePattern.Solid : LinePattern.Dashed;
                line.LineWidth = 2;
                line.MarkerSize = 7;
            }
        }

        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(xs, clients.Select(c => c.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray());
        plot.Axes.Bottom.Label.Text = "concurrent clients";
        plot.Axes.Left.Label.Text = "requests per second";
        plot.Axes.SetLimitsY(0, plot.Axes.GetLimits().Top * 1.1);
        plot.Title($"API {ApiEndpoints.Key(endpoint)} endpoint against the database-only rate ({r.Machine.Cores} shared cores)");
        // Outside the data area: inside, the legend hid the database-only line at 4 clients.
        plot.ShowLegend(Edge.Right);
        var path = Path.Combine(directory, $"bench-api-{ApiEndpoints.Key(endpoint)}.png");
        plot.SavePng(path, 1200, 500);
        return path;
    }

    private static string ThroughputChart(BenchResult r, string directory, IReadOnlyList<(string Stage, BenchLayout Layout, string Label)> columns)
    {
        var clients = r.Options.Clients.Max();
        var plot = new Plot();
        var bars = new List<Bar>();
        var queries = r.Options.Queries;
        for (var g = 0; g < columns.Count; g++)
        {
            for (var q = 0; q < queries.Count; q++)
            {
                var cell = r.Cell(columns[g].Stage, columns[g].Layout.Key, queries[q], UserSets.Skewed, clients);
                var b = r.Cell(columns[g].Stage, BenchLayouts.Indexed.Key, queries[q], UserSets.Skewed, clients);
                if (cell is null || b is null || b.Stats.PerSecond <= 0)
                {
                    continue;
                }

                bars.Add(new Bar
                {
                    Position = g * (queries.Count + 1) + q,
                    Value = cell.Stats.PerSecond / b.Stats.PerSecond,
                    FillColor = Palette[q % Palette.Length],
                });
            }
        }

        plot.Add.Bars(bars);
        plot.Add.HorizontalLine(1.0, 1, Colors.Gray, LinePattern.Dashed);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            columns.Select((_, g) => g * (queries.Count + 1) + (queries.Count - 1) / 2.0).ToArray(),
            columns.Select(c => c.Label).ToArray());
        plot.Axes.Left.Label.Text = "throughput relative to (b) in the same stage";
        plot.Axes.SetLimitsY(0, bars.Count == 0 ? 2 : Math.Max(1.2, bars.Max(b => b.Value) * 1.1));
        plot.Title($"Throughput at {clients} clients, skewed users, relative to the single table with composite indexes (b)");
        for (var q = 0; q < queries.Count; q++)
        {
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = BenchQueries.Title(queries[q]), FillColor = Palette[q % Palette.Length] });
        }

        plot.ShowLegend(Alignment.UpperLeft);
        var path = Path.Combine(directory, "bench-throughput.png");
        plot.SavePng(path, 1000, 500);
        return path;
    }
}
