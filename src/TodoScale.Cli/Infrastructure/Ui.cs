using Spectre.Console;
using Spectre.Console.Rendering;

namespace TodoScale.Cli.Infrastructure;

/// <summary>Console output: Spectre widgets on a terminal, plain text when redirected.</summary>
public static class Ui
{
    public static void Info(string message) => AnsiConsole.MarkupLine(Markup.Escape(message));

    public static void Success(string message) =>
        AnsiConsole.MarkupLine(CliContext.Interactive ? $"[green]{Markup.Escape(message)}[/]" : Markup.Escape(message));

    public static void Error(string message) => Console.Error.WriteLine($"error: {message}");

    public static void Warn(string message) => Console.Error.WriteLine($"warning: {message}");

    /// <summary>A table with a header row; plain, tab-free columns when not on a terminal.</summary>
    public static void Table(IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows, Func<IReadOnlyList<string>, Color?>? rowColor = null)
    {
        var table = new Table();
        if (!CliContext.Interactive)
        {
            table.Border(TableBorder.Ascii);
        }

        foreach (var h in headers)
        {
            table.AddColumn(new TableColumn(Markup.Escape(h)));
        }

        foreach (var row in rows)
        {
            var color = rowColor?.Invoke(row);
            table.AddRow(row.Select(cell => (IRenderable)(color is { } c && CliContext.Interactive
                ? new Markup(Markup.Escape(cell), new Style(c))
                : new Text(cell))).ToArray());
        }

        AnsiConsole.Write(table);
    }
}
