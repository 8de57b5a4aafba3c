using System.Reflection;

namespace TodoScale.Database.Schema;

/// <summary>The migrations/scaling/*.sql files, embedded in this assembly, in the order they apply.</summary>
public static class ScalingScripts
{
    private const string Prefix = "TodoScale.Scripts.";

    public static IReadOnlyList<string> Names { get; } = typeof(ScalingScripts).Assembly.GetManifestResourceNames()
        .Where(n => n.StartsWith(Prefix, StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
        .Select(n => n[Prefix.Length..])
        .Order(StringComparer.Ordinal)
        .ToArray();

    public static string Read(string name)
    {
        using var stream = typeof(ScalingScripts).Assembly.GetManifestResourceStream(Prefix + name)
            ?? throw new ArgumentException($"No scaling script named {name}.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
