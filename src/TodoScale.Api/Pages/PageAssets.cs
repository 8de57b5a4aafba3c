using System.Collections.Frozen;
using System.Reflection;
using System.Security.Cryptography;

namespace TodoScale.Api.Pages;

/// <summary>
/// The pages' files, embedded in this assembly (Pages/Assets, see the .csproj): `todoscale serve` needs no wwwroot
/// folder beside the binary and no network. Read once; served with an ETag so a reload revalidates cheaply.
/// </summary>
internal static class PageAssets
{
    private const string Prefix = "TodoScale.Pages.";

    private static readonly FrozenDictionary<string, Asset> Files = Load();

    public static Asset? Find(string name) => Files.GetValueOrDefault(name);

    public static Asset Get(string name) => Files[name];

    private static FrozenDictionary<string, Asset> Load()
    {
        var assembly = typeof(PageAssets).Assembly;
        var files = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var bytes = copy.ToArray();
            var name = resource[Prefix.Length..];
            files[name] = new Asset(name, bytes, ContentType(name), $"\"{Convert.ToHexString(SHA256.HashData(bytes))[..16]}\"");
        }

        return files.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private static string ContentType(string name) => Path.GetExtension(name) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".svg" => "image/svg+xml",
        _ => "application/octet-stream",
    };
}

internal sealed record Asset(string Name, byte[] Content, string ContentType, string ETag);
