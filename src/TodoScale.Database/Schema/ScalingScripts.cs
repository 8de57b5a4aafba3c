using System.Reflection;

namespace TodoScale.Database.Schema;

/// <summary>
/// The migrations/scaling/*.sql files, embedded in this assembly, in the order they apply. The files they
/// include with psql's <c>\ir</c> (migrations/scaling/maintenance/*.sql) are embedded too, but are not scripts
/// of their own: <see cref="Read"/> returns a script with its includes expanded (<see cref="ScriptIncludes"/>).
/// </summary>
public static class ScalingScripts
{
    private const string Prefix = "TodoScale.Scripts.";

    // Resource name by path below migrations/scaling ('/' between folders: MSBuild writes the folder part
    // with the separator of the machine that built the assembly).
    private static readonly Dictionary<string, string> Resources = typeof(ScalingScripts).Assembly.GetManifestResourceNames()
        .Where(n => n.StartsWith(Prefix, StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
        .ToDictionary(n => n[Prefix.Length..].Replace('\\', '/'), n => n, StringComparer.Ordinal);

    /// <summary>The scripts the migrator applies and journals: the files directly in migrations/scaling.</summary>
    public static IReadOnlyList<string> Names { get; } = Resources.Keys
        .Where(p => !p.Contains('/'))
        .Order(StringComparer.Ordinal)
        .ToArray();

    /// <summary>The script's text as psql would run it: every <c>\ir</c> line replaced by the file it includes.</summary>
    public static string Read(string name)
    {
        if (!Names.Contains(name))
        {
            throw new ArgumentException($"No scaling script named {name}.", nameof(name));
        }

        return ScriptIncludes.Expand(name, ReadEmbedded);
    }

    private static string? ReadEmbedded(string path)
    {
        if (!Resources.TryGetValue(path, out var resource))
        {
            return null;
        }

        using var stream = typeof(ScalingScripts).Assembly.GetManifestResourceStream(resource)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
