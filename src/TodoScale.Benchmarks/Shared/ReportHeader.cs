using System.Globalization;
using System.Text;

namespace TodoScale.Benchmarks;

/// <summary>
/// The opening every generated benchmark section shares: its title, when it ran and for how long, and the command
/// that repeats it, so a figure in docs/benchmarks.md can always be traced back to a reproducible run.
/// </summary>
public static class ReportHeader
{
    /// <param name="title">The section's heading (without ##); null when the surrounding document already has it.</param>
    public static void Write(StringBuilder sb, string? title, DateTime startedUtc, TimeSpan total, string commandLine)
    {
        if (title is not null)
        {
            sb.AppendLine("## " + title);
            sb.AppendLine();
        }

        sb.AppendLine(CultureInfo.InvariantCulture, $"Run of {startedUtc:yyyy-MM-dd HH:mm} UTC, {total.TotalMinutes:F1} minutes in all. Repeat it with:");
        sb.AppendLine();
        sb.AppendLine("```bash");
        sb.AppendLine(commandLine);
        sb.AppendLine("```");
        sb.AppendLine();
    }
}
