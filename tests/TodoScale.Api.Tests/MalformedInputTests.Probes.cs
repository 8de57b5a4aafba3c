using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace TodoScale.Api.Tests;

/// <summary>How <see cref="MalformedInputTests"/> sends its probes and judges the answers, collecting every failing request.</summary>
public sealed partial class MalformedInputTests
{
    private sealed record Probe(string Method, string Path, string? Json = null, string? ContentType = "application/json", byte[]? Raw = null)
    {
        public string? Note { get; init; }

        public override string ToString()
        {
            var body = Raw is not null ? Convert.ToHexString(Raw) : Json is null ? "" : Json.Length > 300 ? $"{Escape(Json[..200])}... ({Json.Length} chars)" : Escape(Json);
            var path = Path.Length > 300 ? $"{Path[..200]}... ({Path.Length} chars)" : Path;
            return $"{Note}{(Note is null ? "" : ": ")}{Method} {path} [{ContentType ?? "no content type"}] {body}";
        }

        private static string Escape(string s) => string.Concat(s.Select(c => c < ' ' || char.IsSurrogate(c) || c is >= '\u007f' and <= '\u009f' ? $"\\u{(int)c:x4}" : c.ToString()));
    }

    private sealed record Expect(int Status, string? Field = null, bool Check = false, object? Value = null, bool Bare = false)
    {
        /// <summary>Kestrel refuses a path with an encoded NUL (%00) before the application sees it: a 400 without a body.</summary>
        public static readonly Expect RefusedByKestrel = new(400, Bare: true);

        public static Expect Invalid(string field) => new(400, field);
        public static Expect Stored(string field, object? value) => new(0, field, true, value);
        public static Expect Answer(int status) => new(status);
    }

    /// <summary>A JSON string holding any UTF-16 text, lone surrogates too, escaped to ASCII; with a field name, a whole body.</summary>
    private static string Js(string value, string? field = null)
    {
        var s = "\"" + string.Concat(value.Select(c => c is >= ' ' and < '\u007f' and not ('"' or '\\') ? c.ToString() : $"\\u{(int)c:x4}")) + "\"";
        return field is null ? s : $"{{\"{field}\":{s}}}";
    }

    private static Probe Body(TextField f, string value) => Body(f.Path, f.Name, value) with { Method = f.Method };

    /// <summary>The endpoint's valid body with <paramref name="field"/> set to a raw JSON fragment.</summary>
    private static Probe Body(string path, string field, string value)
    {
        var valid = ValidBodies[path];
        var body = RequiredField(path) == field ? $"{{\"{field}\":{value}}}" : $"{valid[..^1]},\"{field}\":{value}}}";
        return new Probe(path is "/api/todos" or "/api/projects" || path.EndsWith("ai-interactions", StringComparison.Ordinal) ? "POST" : "PUT", path, body);
    }

    private static string RequiredField(string path) => ValidBodies[path][2..ValidBodies[path].IndexOf('"', 2)];

    private async Task RunAsync(IEnumerable<(Probe Probe, Expect Expect)> probes, HttpClient? client = null)
    {
        var failures = new List<string>();
        foreach (var (probe, expect) in probes)
        {
            using var request = new HttpRequestMessage(new HttpMethod(probe.Method), probe.Path.Replace("{todo}", _todo.ToString()).Replace("{project}", _project.ToString()));
            if (probe.Json is not null || probe.Raw is not null)
            {
                request.Content = new ByteArrayContent(probe.Raw ?? Encoding.UTF8.GetBytes(probe.Json!));
                // As curl does for a large body: the server refuses it by its Content-Length before the client sends it,
                // instead of closing the connection while the client still writes (a broken pipe, no status).
                request.Headers.ExpectContinue = request.Content.Headers.ContentLength > 1_000_000;
                if (probe.ContentType is not null)
                {
                    request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(probe.ContentType);
                }
            }

            using var response = await (client ?? _user).SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            if (Failure((int)response.StatusCode, response.Content.Headers.ContentType?.MediaType, text, expect) is { } why)
            {
                failures.Add($"{probe}\n    -> {why}; got {(int)response.StatusCode} {response.Content.Headers.ContentType}: {(text.Length > 400 ? text[..400] + "..." : text)}");
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count} of the requests failed:\n" + string.Join("\n", failures));
    }

    private static string? Failure(int status, string? mediaType, string body, Expect expect)
    {
        if (status >= 500)
        {
            return "a server error";
        }

        if (expect.Check)
        {
            if (status is not (200 or 201))
            {
                return "expected the value to be stored";
            }

            var stored = JsonDocument.Parse(body).RootElement.GetProperty(expect.Field!);
            var same = expect.Value switch
            {
                null => stored.ValueKind == JsonValueKind.Null,
                int n => stored.ValueKind == JsonValueKind.Number && stored.GetInt32() == n,
                string s when expect.Field == "dueDate" => stored.GetDateTimeOffset() == DateTimeOffset.Parse(s, System.Globalization.CultureInfo.InvariantCulture),
                string s => stored.ValueKind == JsonValueKind.String && stored.GetString() == s,
                _ => false,
            };
            return same ? null : $"stored {stored.GetRawText()}, expected {JsonSerializer.Serialize(expect.Value)}";
        }

        if (status != expect.Status)
        {
            return $"expected {expect.Status}";
        }

        if (expect.Bare)
        {
            return mediaType is null && body.Length == 0 ? null : "expected Kestrel's bare 400";
        }

        if (status is 400 or 404 or 413 or 415 && mediaType != "application/problem+json")
        {
            return "expected a problem document";
        }

        if (expect.Field is { } field && !(JsonDocument.Parse(body).RootElement.TryGetProperty("errors", out var errors) && errors.TryGetProperty(field, out _)))
        {
            return $"expected an error for '{field}'";
        }

        return null;
    }

    /// <summary>Refused requests wrote nothing: the user still has the one todo and project of the setup, unchanged, and no AI interaction.</summary>
    private async Task AssertNothingWrittenAsync()
    {
        Assert.Equal("existing", Assert.Single((await _user.ListAsync("?include_archived=true")).Items).Title);
        Assert.Equal("existing", Assert.Single(await (await _user.GetAsync("/api/projects")).ReadAsync<List<ProjectView>>(HttpStatusCode.OK)).Name);
        Assert.Equal(0L, await _host.ScalarAsync<long>("SELECT count(*) FROM ai_todo_interactions"));
    }
}
