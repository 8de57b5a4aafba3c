using System.Text;

namespace TodoScale.Database.Schema;

/// <summary>
/// psql's <c>\ir</c> (include a file relative to the including one) for the migrator. An entry script such as
/// 003_create_maintenance_jobs.sql installs its phase by including one file per concern; psql expands those
/// lines itself, but DbUp sends a script's text to the server, which knows no backslash commands. Expanding
/// them here keeps <c>psql -f 003…</c> and <c>todoscale db migrate</c> running the very same statements.
/// Only <c>\ir</c> is expanded: any other line starting with a backslash (<c>\i</c>, <c>\set</c>, <c>\c</c>…) is
/// an error, because leaving it out would make the migrator run something psql does not. Lines are read as
/// lines, not parsed as SQL: a line starting with a backslash inside a dollar-quoted body is refused too.
/// </summary>
public static class ScriptIncludes
{
    /// <summary>The script at <paramref name="path"/> with every <c>\ir</c> line replaced by the included text.</summary>
    /// <param name="path">The script's path below migrations/scaling, with '/' between folders.</param>
    /// <param name="read">The text of the script at such a path, or null when there is none.</param>
    /// <exception cref="InvalidDataException">A backslash command other than <c>\ir</c>, an include that is
    /// missing, leaves migrations/scaling, or includes itself; the message names the file and line.</exception>
    public static string Expand(string path, Func<string, string?> read)
    {
        ArgumentNullException.ThrowIfNull(read);
        var text = read(path) ?? throw new InvalidDataException($"{path}: no such script");
        return Expand(path, text, read, [path]);
    }

    private static string Expand(string path, string text, Func<string, string?> read, List<string> including)
    {
        var lines = text.Split('\n');
        if (!lines.Any(l => l.TrimStart().StartsWith('\\')))
        {
            return text;
        }

        var sb = new StringBuilder(text.Length * 4);
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            var command = line.Trim();
            if (!command.StartsWith('\\'))
            {
                sb.Append(line);
                if (i < lines.Length - 1)
                {
                    sb.Append('\n');
                }

                continue;
            }

            var where = $"{path}:{i + 1}";
            var target = Resolve(where, path, IncludeArgument(where, command));
            if (including.Contains(target))
            {
                throw new InvalidDataException($"{where}: \\ir {target} includes itself ({string.Join(" -> ", including)} -> {target})");
            }

            var included = read(target) ?? throw new InvalidDataException($"{where}: \\ir {target}: no such file");
            including.Add(target);
            var expanded = Expand(target, included, read, including);
            including.RemoveAt(including.Count - 1);
            sb.Append(expanded);
            if (!expanded.EndsWith('\n'))
            {
                sb.Append('\n');
            }
        }

        return sb.ToString();
    }

    // psql's \ir takes one file name, bare or in single quotes.
    private static string IncludeArgument(string where, string command)
    {
        var parts = command.Split((char[]?)null, 2, StringSplitOptions.RemoveEmptyEntries);
        if (parts[0] != "\\ir")
        {
            throw new InvalidDataException(
                $"{where}: {parts[0]} is a psql command the migrator cannot run; only \\ir (include a file of this folder tree) is expanded");
        }

        var argument = parts.Length > 1 ? parts[1].Trim() : "";
        if (argument.Length >= 2 && argument[0] == '\'' && argument[^1] == '\'')
        {
            argument = argument[1..^1];
        }

        if (argument.Length == 0 || argument.Any(char.IsWhiteSpace) || argument.Contains('\''))
        {
            throw new InvalidDataException($"{where}: \\ir needs exactly one file name (got \"{command}\")");
        }

        return argument;
    }

    // Relative to the including file's folder, as psql resolves it; the result must stay below migrations/scaling,
    // the only tree the assembly embeds.
    private static string Resolve(string where, string includingPath, string argument)
    {
        if (argument.StartsWith('/') || argument.Contains('\\') || argument.Contains(':'))
        {
            throw new InvalidDataException($"{where}: \\ir {argument}: give a path relative to the including file, with '/'");
        }

        var segments = includingPath.Split('/').SkipLast(1).ToList();
        foreach (var segment in argument.Split('/'))
        {
            switch (segment)
            {
                case "" or ".":
                    break;
                case "..":
                    if (segments.Count == 0)
                    {
                        throw new InvalidDataException($"{where}: \\ir {argument} leaves migrations/scaling");
                    }

                    segments.RemoveAt(segments.Count - 1);
                    break;
                default:
                    segments.Add(segment);
                    break;
            }
        }

        return string.Join('/', segments);
    }
}
