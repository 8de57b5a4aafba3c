using System.Text;
using System.Text.RegularExpressions;

namespace TodoScale.Benchmarks;

/// <summary>
/// Reads the EXPLAIN ANALYZE text auto_explain reports for the archival batches: whether each batch found its rows
/// through the partial index or scanned partitions, and a condensed plan for the report.
/// </summary>
internal static class ArchivalPlanText
{
    internal static ArchivalPlan AnalysePlans(IReadOnlyList<string> plans, string? unavailable)
    {
        int usingIndex = 0, scanning = 0;
        foreach (var plan in plans)
        {
            var picked = PickedPart(plan);
            if (Regex.IsMatch(picked, @"Index (Only )?Scan using idx_todos_active_done_completed"))
            {
                usingIndex++;
            }

            if (Regex.IsMatch(picked, @"(Seq Scan|Bitmap Heap Scan) on todos_active_part_"))
            {
                scanning++;
            }
        }

        return new ArchivalPlan(plans.Count > 0 ? Condense(StripHeader(plans[^1])) : null, plans.Count, usingIndex, scanning, unavailable);
    }

    // The part of the plan that finds the batch's rows: from "CTE picked" to the next CTE.
    private static string PickedPart(string plan)
    {
        var start = plan.IndexOf("CTE picked", StringComparison.Ordinal);
        if (start < 0)
        {
            return "";
        }

        var end = plan.IndexOf("CTE removed", start, StringComparison.Ordinal);
        return end < 0 ? plan[start..] : plan[start..end];
    }

    // auto_explain's message starts with the duration and the statement's text; the report shows the plan only.
    internal static string StripHeader(string message)
    {
        var lines = message.Split('\n');
        var first = Array.FindIndex(lines, l => !l.StartsWith(' ') && !l.StartsWith("duration:", StringComparison.Ordinal)
                                                 && !l.StartsWith("Query Text:", StringComparison.Ordinal) && l.Length > 0
                                                 && char.IsUpper(l[0]) && !l.StartsWith("WITH", StringComparison.Ordinal));
        return string.Join('\n', first < 0 ? lines : lines[first..]);
    }

    // Sixteen partitions repeat the same scan; keep the first and count the others, so the plan fits on a page.
    internal static string Condense(string plan)
    {
        var lines = plan.Split('\n');
        var output = new List<string>();
        var partitionNode = new Regex(@"^(\s*)->\s+(Index Scan|Index Only Scan|Seq Scan|Bitmap Heap Scan|Tid Scan|Tid Range Scan)( using (\S+))? on todos_active_part_\d+");
        var deleteTarget = new Regex(@"^(\s*)Delete on todos_active_part_\d+ t_\d+\s*$");
        for (var i = 0; i < lines.Length; i++)
        {
            if (deleteTarget.Match(lines[i]) is { Success: true } target)
            {
                var last = i;
                while (last + 1 < lines.Length && deleteTarget.IsMatch(lines[last + 1]))
                {
                    last++;
                }

                output.Add(lines[i]);
                if (last > i)
                {
                    output.Add($"{target.Groups[1].Value}… and on {last - i} more partitions");
                }

                i = last;
                continue;
            }

            var m = partitionNode.Match(lines[i]);
            if (!m.Success)
            {
                output.Add(lines[i]);
                continue;
            }

            var indent = m.Groups[1].Value.Length;
            var index = m.Groups[4].Success ? Regex.Replace(m.Groups[4].Value, @"(_part_|_p)\d+", "$1N") : null;
            var kind = m.Groups[2].Value + index;
            var end = BlockEnd(lines, i, indent);
            output.AddRange(lines[i..end]);
            var repeats = 0;
            while (end < lines.Length && partitionNode.Match(lines[end]) is { Success: true } next && next.Groups[1].Value.Length == indent
                   && next.Groups[2].Value + (next.Groups[4].Success ? Regex.Replace(next.Groups[4].Value, @"(_part_|_p)\d+", "$1N") : null) == kind)
            {
                repeats++;
                end = BlockEnd(lines, end, indent);
            }

            if (repeats > 0)
            {
                output.Add($"{new string(' ', indent)}->  … the same {m.Groups[2].Value}{(index is null ? "" : " using " + index)} on {repeats} more partitions");
            }

            i = end - 1;
        }

        return string.Join('\n', output).TrimEnd();
    }

    private static int BlockEnd(string[] lines, int start, int indent)
    {
        var end = start + 1;
        while (end < lines.Length && (lines[end].Length - lines[end].TrimStart().Length > indent + 2
                                      || (lines[end].Length - lines[end].TrimStart().Length > indent && !lines[end].TrimStart().StartsWith("->", StringComparison.Ordinal))))
        {
            end++;
        }

        return end;
    }
}
