namespace TodoScale.Benchmarks;

/// <summary>
/// benchmarks.md is shared by several generators and hand-written findings: each generator owns only the block
/// between its own begin/end markers, so a re-run replaces its figures without touching anyone else's text.
/// </summary>
public static class MarkdownSections
{
    /// <summary>Writes <paramref name="markdown"/> as the marked block of benchmarks.md in <paramref name="directory"/>; returns the file's path.</summary>
    public static string WriteBlock(string directory, string beginMarker, string endMarker, string markdown)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, "benchmarks.md");
        Write(path, beginMarker, endMarker, markdown);
        return path;
    }

    public static void Write(string path, string beginMarker, string endMarker, string markdown)
    {
        var existing = File.Exists(path) ? File.ReadAllText(path) : "# Benchmarks\n\n";
        var begin = existing.IndexOf(beginMarker, StringComparison.Ordinal);
        var end = existing.IndexOf(endMarker, StringComparison.Ordinal);
        var block = beginMarker + "\n" + markdown + endMarker;
        var updated = begin >= 0 && end > begin
            ? existing[..begin] + block + existing[(end + endMarker.Length)..]
            : InsertAfterTitle(existing, block);
        File.WriteAllText(path, updated);
    }

    private static string InsertAfterTitle(string existing, string block)
    {
        var firstLineEnd = existing.StartsWith('#') ? existing.IndexOf('\n') : -1;
        return firstLineEnd < 0
            ? block + "\n\n" + existing
            : existing[..(firstLineEnd + 1)] + "\n" + block + "\n" + existing[(firstLineEnd + 1)..];
    }
}
