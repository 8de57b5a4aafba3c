using System.Text;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.AI;

namespace TodoScale.Api.Tests;

/// <summary>
/// Property-style probes of every endpoint with systematically malformed values: in each body field, route id and query
/// parameter, and in the body and its content type. None may answer 5xx; the plainly invalid ones answer a problem document
/// (400 naming the field, 404 for an unknown id, 413, 415). Each failure message is the request that failed.
/// </summary>
public sealed partial class MalformedInputTests(PostgresServer server) : IAsyncLifetime
{
    /// <summary>The random probes' seed: a failure reruns identically.</summary>
    private const int Seed = 20261211;

    private ApiHost _host = null!;
    private HttpClient _user = null!;
    private Guid _todo;
    private Guid _project;

    public async ValueTask InitializeAsync()
    {
        _host = await ApiHost.StartAsync(server, "malformed", b => b.Services.AddSingleton<IChatClient>(new FakeChatClient("""["First step"]""")));
        (_, _user) = await _host.NewUserAsync();
        _todo = (await _user.CreateTodoAsync(new { title = "existing" })).Id;
        _project = (await (await _user.PostAsJsonAsync("/api/projects", new { name = "existing" })).ReadAsync<ProjectView>(HttpStatusCode.Created)).Id;
    }

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    private sealed record TextField(string Method, string Path, string Name, bool MultiLine, int Max, bool Required, bool Trimmed = false);

    /// <summary>Every text field the API stores, with the body that is valid apart from it.</summary>
    private static readonly TextField[] TextFields =
    [
        new("POST", "/api/todos", "title", false, 500, true),
        new("POST", "/api/todos", "description", true, 10_000, false),
        new("PUT", "/api/todos/{todo}", "title", false, 500, true),
        new("PUT", "/api/todos/{todo}", "description", true, 10_000, false),
        new("POST", "/api/projects", "name", false, 500, true, Trimmed: true),
        new("POST", "/api/projects", "description", true, 10_000, false),
        new("PUT", "/api/projects/{project}", "name", false, 500, true, Trimmed: true),
        new("POST", "/api/todos/{todo}/ai-interactions", "interactionType", false, 200, true),
        new("POST", "/api/todos/{todo}/ai-interactions", "prompt", true, 100_000, false),
        new("POST", "/api/todos/{todo}/ai-interactions", "response", true, 100_000, false),
        new("POST", "/api/todos/{todo}/ai-interactions", "model", false, 200, false),
    ];

    private static readonly Dictionary<string, string> ValidBodies = new()
    {
        ["/api/todos"] = """{"title":"ok"}""",
        ["/api/todos/{todo}"] = """{"title":"ok"}""",
        ["/api/projects"] = """{"name":"ok"}""",
        ["/api/projects/{project}"] = """{"name":"ok"}""",
        ["/api/todos/{todo}/ai-interactions"] = """{"interactionType":"manual"}""",
    };

    /// <summary>Characters no text field takes: NUL, unpaired surrogates (raw JSON escapes), controls other than tab and line breaks.</summary>
    private static readonly string[] NeverStorable =
    [
        """ "a\u0000b" """, """ "\u0000" """, """ "a\ud800b" """, """ "\udc00" """, """ "x\udbff" """, """ "\udfff\ud800" """,
        """ "\u0001" """, """ "a\u0008" """, """ "\u000b" """, """ "\u000c" """, """ "\u001b[31mred" """, """ "\u001f" """,
        """ "\u007f" """, """ "\u0080" """, """ "\u0085" """, """ "\u009b2J" """,
    ];

    private static readonly string[] WrongTypes = ["5", "1.5", "true", "false", "[]", """["a"]""", "{}", """{"a":1}"""];

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task text_fields_refuse_nul_unpaired_surrogates_control_characters_overlong_values_and_wrong_types_naming_the_field()
    {
        var probes = new List<(Probe, Expect)>();
        foreach (var f in TextFields)
        {
            var values = NeverStorable.Concat(WrongTypes).Append(Js(new string('x', f.Max + 1)));
            if (!f.MultiLine)
            {
                values = values.Concat(["\"a\\nb\"", "\"a\\rb\"", "\"a\\tb\"", "\"x\\u2028\\n\""]);
            }

            if (f.Required)
            {
                values = values.Concat(["null", "\"\"", "\"   \"", "\"\\n\\t\""]);
            }

            probes.AddRange(values.Select(v => (Body(f, v), Expect.Invalid(f.Name))));
        }

        probes.Add((new Probe("POST", "/api/todos", Js(new string('x', 2_000_000), "title")), Expect.Invalid("title")));
        await RunAsync(probes);
        await AssertNothingWrittenAsync();
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task text_that_postgresql_and_json_can_hold_is_stored_and_returned_verbatim()
    {
        var probes = new List<(Probe, Expect)>();
        foreach (var f in TextFields)
        {
            string[] values = f.MultiLine
                ? ["line 1\nline 2\r\n\ttabbed", "emoji 😀, accents éü, CJK 漢字", "\ufffd\uffff\u2028", new string('x', f.Max)]
                : ["emoji 😀, accents éü, CJK 漢字", "\ufffd\uffff", "\u202eright-to-left", new string('x', f.Max)];
            probes.AddRange(values.Select(v => (Body(f, Js(v)), Expect.Stored(f.Name, f.Trimmed ? v.Trim() : v))));
            if (!f.Required)
            {
                probes.Add((Body(f, "null"), Expect.Stored(f.Name, null)));
            }
        }

        await RunAsync(probes);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task numbers_dates_ids_and_statuses_out_of_range_or_of_the_wrong_type_are_a_400_naming_the_field()
    {
        string[] notInts = ["2147483648", "-2147483649", "99999999999999999999", "1e400", "-1e400", "1.5", "1.0", "1e2", "\"x\"", "\"\"", "\"1.5\"",
            "\"NaN\"", "\"Infinity\"", "\"3\\u0000\"", "\"\\ud800\"", "true", "[]", "[1]", "{}", "-1"];
        string[] notDates = ["\"0000-01-01T00:00:00Z\"", "\"10000-01-01T00:00:00Z\"", "\"2026-13-40\"", "\"2026-13-40T00:00:00Z\"", "\"2026-02-29\"",
            "\"2026-01-01T24:00:01Z\"", "\"2026-01-01T00:00:00+25:00\"", "\"0001-01-01T00:00:00+01:00\"", "\"9999-12-31T23:59:59-01:00\"", "\"\"",
            "\"yesterday\"", "\"2026-01-01\\u0000\"", "\"2026-01-01\\ud800\"", "20260101", "1.5", "true", "[]", "{}"];
        string[] notIds = ["\"42\"", "\"\"", "\"xyz\"", "\"00000000-0000-0000-0000-00000000000g\"", "\"\\u0000\"", "\"\\ud800\"", "5", "true", "[]", "{}"];
        string[] notStatuses = ["\"finished\"", "\"\"", "\"TODO\"", "\" todo\"", "\"todo\\u0000\"", "\"todo\\ud800\"", "1", "true", "[]", "{}"];

        var probes = new List<(Probe, Expect)>();
        foreach (var (path, field, max) in new[] { ("/api/todos", "priority", "5"), ("/api/todos/{todo}", "priority", "5"),
                     ("/api/todos/{todo}/ai-interactions", "promptTokens", "-2"), ("/api/todos/{todo}/ai-interactions", "completionTokens", "-2"),
                     ("/api/todos/{todo}/ai-interactions", "latencyMs", "-2147483648") })
        {
            probes.AddRange(notInts.Append(max).Select(v => (Body(path, field, v), Expect.Invalid(field))));
        }

        foreach (var path in new[] { "/api/todos", "/api/todos/{todo}" })
        {
            probes.AddRange(notDates.Select(v => (Body(path, "dueDate", v), Expect.Invalid("dueDate"))));
            probes.AddRange(notIds.Select(v => (Body(path, "projectId", v), Expect.Invalid("projectId"))));
            probes.Add((Body(path, "projectId", Js(Guid.NewGuid().ToString())), Expect.Answer(404)));
        }

        probes.AddRange(notIds.Select(v => (Body("/api/todos", "parentTodoId", v), Expect.Invalid("parentTodoId"))));
        probes.Add((Body("/api/todos", "parentTodoId", Js(Guid.Empty.ToString())), Expect.Answer(404)));
        probes.AddRange(notStatuses.Select(v => (Body("/api/todos/{todo}", "status", v), Expect.Invalid("status"))));
        await RunAsync(probes);
        await AssertNothingWrittenAsync();

        // The edges that are valid stay valid (numbers as strings are the web defaults of ASP.NET's JSON).
        await RunAsync(
        [
            (Body("/api/todos", "priority", "\"3\""), Expect.Stored("priority", 3)),
            (Body("/api/todos", "priority", "4"), Expect.Stored("priority", 4)),
            (Body("/api/todos/{todo}/ai-interactions", "latencyMs", "2147483647"), Expect.Stored("latencyMs", int.MaxValue)),
            (Body("/api/todos", "dueDate", "\"9999-12-31T00:00:00Z\""), Expect.Stored("dueDate", "9999-12-31T00:00:00Z")),
            (Body("/api/todos", "dueDate", "\"2028-02-29T00:00:00Z\""), Expect.Stored("dueDate", "2028-02-29T00:00:00Z")),
        ]);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task malformed_bodies_are_a_400_wrong_content_types_a_415_and_an_oversized_body_a_413()
    {
        string[] malformed = ["", "{", "{\"title\":", "not json", "null", "[]", "\"title\"", "42", "{\"title\":\"a\"}garbage", "{\"title\":\"a\",}",
            "{'title':'a'}", "{\"title\":\"a\"", "{\"title\":\"a\\x\"}", "\u0000"];
        // Bytes that are not UTF-8 inside the required field's string: a stray byte, a surrogate encoded (CESU-8), a cut sequence, a 5-byte form.
        byte[][] badUtf8 = [[0xFF], [0xED, 0xA0, 0x80], [0xC3, 0x28], [0xF8, 0x88, 0x80, 0x80, 0x80]];
        string?[] wrongTypes = ["text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", null];

        var probes = new List<(Probe, Expect)>();
        foreach (var (method, path) in new[] { ("POST", "/api/todos"), ("PUT", "/api/todos/{todo}"), ("POST", "/api/projects"),
                     ("PUT", "/api/projects/{project}"), ("POST", "/api/todos/{todo}/ai-interactions") })
        {
            probes.AddRange(malformed.Select(b => (new Probe(method, path, b), Expect.Answer(400))));
            var field = RequiredField(path);
            probes.AddRange(badUtf8.Select(b => (new Probe(method, path, Raw: [.. Encoding.UTF8.GetBytes($"{{\"{field}\":\"a"), .. b, .. "\"}"u8]), Expect.Invalid(field))));
            probes.Add((new Probe(method, path, Raw: [0xFF]), Expect.Answer(400)));
            probes.AddRange(wrongTypes.Select(t => (new Probe(method, path, ValidBodies[path], t), Expect.Answer(415))));
        }

        probes.Add((new Probe("POST", "/api/todos", Js(new string('x', 31_000_000), "title")), Expect.Answer(413)));
        await RunAsync(probes);
        await AssertNothingWrittenAsync();
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task malformed_route_ids_are_a_400_naming_the_id_and_unknown_ids_a_404()
    {
        string[] ids = ["not-a-uuid", "123", "-1", "1e9", "null", "%00", "a%00b", "%01", "%1B%5B2J", "%7F", "%C2%85", "%ED%A0%80", "%FF", "%C3%28",
            "%E2%80%AE", "%20", "a%2Fb", "%22%22", "00000000-0000-0000-0000-00000000000g", new string('9', 2_000)];
        var routes = new[]
        {
            ("GET", "/api/todos/{id}", (string?)null), ("PUT", "/api/todos/{id}", ValidBodies["/api/todos/{todo}"]), ("DELETE", "/api/todos/{id}", null),
            ("POST", "/api/todos/{id}/complete", null), ("POST", "/api/todos/{id}/reopen", null), ("GET", "/api/todos/{id}/subtasks", null),
            ("POST", "/api/todos/{id}/suggest-subtasks", null), ("GET", "/api/todos/{id}/ai-interactions", null),
            ("POST", "/api/todos/{id}/ai-interactions", ValidBodies["/api/todos/{todo}/ai-interactions"]),
            ("PUT", "/api/projects/{id}", ValidBodies["/api/projects/{project}"]), ("DELETE", "/api/projects/{id}", null),
        };

        var probes = new List<(Probe, Expect)>();
        foreach (var (method, path, body) in routes)
        {
            probes.AddRange(ids.Select(id => (new Probe(method, path.Replace("{id}", id), body), id.Contains("%00", StringComparison.Ordinal) ? Expect.RefusedByKestrel : Expect.Invalid("id"))));
            probes.AddRange(new[] { Guid.Empty, Guid.NewGuid() }.Select(id => (new Probe(method, path.Replace("{id}", id.ToString()), body), Expect.Answer(404))));
        }

        await RunAsync(probes);
        await AssertNothingWrittenAsync();
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task malformed_list_parameters_are_a_400_naming_the_parameter()
    {
        string[] text = ["%00", "a%00", "%01", "%1B", "%ED%A0%80", "%FF", "", new string('z', 4_000)];
        // .NET's parsers forgive a trailing NUL (bool.TryParse("TRUE\0") is true): each parameter gets a valid value followed by one.
        var validId = Guid.NewGuid();
        var bad = new Dictionary<string, string[]>
        {
            ["status"] = ["finished", "TODO", "todo%20", "todo,done", "todo%00", .. text],
            ["project_id"] = ["xyz", "123", "00000000-0000-0000-0000-00000000000g", $"{validId}%00", .. text],
            ["due_before"] = ["0000-01-01", "10000-01-01", "2026-13-40", "2026-02-29", "yesterday", "2026-01-01T25:00:00Z", "2026-01-01%00", .. text],
            ["due_after"] = ["0000-01-01", "10000-01-01", "2026-13-40", "-1", "1e9", "2026-01-01T00:00:00Z%00", .. text],
            ["cursor"] = ["garbage", "YTo5OTk5OTk5OTk5OTk6MTox", "cjo5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5Onh5eg", "=", "%2B%2F", .. text],
            ["limit"] = ["0", "-1", "201", "2147483648", "99999999999999999999", "1e2", "1.5", "%2B5", "%205", "0x10", "five", "5%00", .. text],
            ["include_archived"] = ["maybe", "1", "yes", "TRUE%00", .. text],
        };

        var probes = bad.SelectMany(p => p.Value.Select(v => (new Probe("GET", $"/api/todos?{p.Key}={v}"), Expect.Invalid(p.Key)))).ToList();
        probes.AddRange(new[] { "status=todo&status=done", "limit=1&limit=2" }.Select(q => (new Probe("GET", "/api/todos?" + q), Expect.Invalid(q[..q.IndexOf('=')]))));
        probes.AddRange(new[] { ("includeArchived=true", "includeArchived"), ("%00=1", "\0"), ("x%1Bz=1", "x\u001bz") }
            .Select(q => (new Probe("GET", "/api/todos?" + q.Item1), Expect.Invalid(q.Item2))));
        await RunAsync(probes);
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task endpoints_without_parameters_and_the_operator_endpoints_ignore_stray_parameters_and_refuse_bad_credentials()
    {
        var (_, ops) = await _host.NewUserAsync(isOperator: true);
        string[] stray = ["", "?x=%00", "?limit=-1", "?%ED%A0%80=%FF", "?cursor=" + new string('z', 4_000)];
        var probes = new List<(Probe, Expect, HttpClient)>();
        foreach (var q in stray)
        {
            probes.Add((new Probe("GET", "/api/dashboard" + q), Expect.Answer(200), _user));
            probes.Add((new Probe("GET", "/api/projects" + q), Expect.Answer(200), _user));
            foreach (var ep in new[] { "partitions", "health", "maintenance", "migration" })
            {
                probes.Add((new Probe("GET", $"/api/ops/{ep}{q}"), Expect.Answer(200), ops));
                probes.Add((new Probe("GET", $"/api/ops/{ep}{q}"), Expect.Answer(403), _user));
            }
        }

        var forged = _host.Client("not.a.jwt");
        foreach (var path in new[] { "/api/dashboard", "/api/projects", "/api/todos", "/api/ops/health" })
        {
            probes.Add((new Probe("GET", path), Expect.Answer(401), forged));
        }

        probes.Add((new Probe("POST", "/api/ops/health", "{}"), Expect.Answer(405), ops));
        probes.Add((new Probe("GET", "/api/ops/%00"), Expect.RefusedByKestrel, ops));
        probes.Add((new Probe("GET", "/api/ops/health/%ED%A0%80"), Expect.Answer(404), ops));
        probes.Add((new Probe("POST", "/api/todos/{todo}/complete", "{\"title\":\u0000"), Expect.Answer(200), _user));
        probes.Add((new Probe("POST", "/api/todos/{todo}/reopen", "\uD800", "text/plain"), Expect.Answer(200), _user));
        probes.Add((new Probe("POST", "/api/todos/{todo}/suggest-subtasks", "[[["), Expect.Answer(201), _user));
        foreach (var (probe, expect, client) in probes)
        {
            await RunAsync([(probe, expect)], client);
        }
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task random_text_from_a_fixed_seed_is_either_stored_verbatim_or_a_400_naming_the_field()
    {
        // Characters on both sides of every rule: NUL, controls, tab and line breaks, lone and paired surrogates, noncharacters, JSON's own.
        char[] alphabet = ['\0', '\u0001', '\u001b', '\u007f', '\u0085', '\u009b', '\t', '\n', '\r', '\ud800', '\udbff', '\udc00', '\udfff',
            '\ufffd', '\uffff', '\u2028', '\u202e', '"', '\\', '/', ' ', 'a', 'Z', '0', 'é', '漢'];
        var random = new Random(Seed);
        var probes = new List<(Probe, Expect)>();
        for (var i = 0; i < 400; i++)
        {
            var f = TextFields[random.Next(TextFields.Length)];
            var value = new string(Enumerable.Range(0, random.Next(1, 12)).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray());
            var probe = Body(f, Js(value)) with { Note = $"random probe {i} of seed {Seed}" };
            probes.Add((probe, Storable(value, f) ? Expect.Stored(f.Name, f.Trimmed ? value.Trim() : value) : Expect.Invalid(f.Name)));
        }

        Assert.InRange(probes.Count(p => p.Item2.Status == 400), 100, 390);
        await RunAsync(probes);

        // An independent statement of the rules: what strict UTF-8 can encode, without NUL, and without controls (tab and line breaks in free text).
        static bool Storable(string value, TextField f)
        {
            try
            {
                new UTF8Encoding(false, throwOnInvalidBytes: true).GetByteCount(value);
            }
            catch (EncoderFallbackException)
            {
                return false;
            }

            return !(f.Required && string.IsNullOrWhiteSpace(value))
                   && value.All(c => c >= ' ' && c is not ('\u007f' or (>= '\u0080' and <= '\u009f')) || (f.MultiLine && c is '\t' or '\n' or '\r'));
        }
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_database_error_for_an_unstorable_character_is_a_400_problem_without_the_sql()
    {
        // The validation stops every such value before a statement runs, so the safety net is driven with the errors
        // PostgreSQL (NUL) and Npgsql (an unpaired surrogate, refused by its strict UTF-8 encoder) really raise.
        await using var conn = new NpgsqlConnection(_host.ConnectionString);
        await conn.OpenAsync();
        async Task<Exception> StoreTitleAsync(string title)
        {
            await using var update = new NpgsqlCommand("UPDATE todos_active SET title = $1 WHERE id = $2", conn) { Parameters = { new() { Value = title }, new() { Value = _todo } } };
            return await Assert.ThrowsAnyAsync<Exception>(() => update.ExecuteNonQueryAsync());
        }

        var nul = Assert.IsType<PostgresException>(await StoreTitleAsync("a\0b"));
        Assert.Equal(PostgresErrorCodes.CharacterNotInRepertoire, nul.SqlState);
        var loneSurrogate = await StoreTitleAsync("a\ud800b");
        Assert.IsType<EncoderFallbackException>(loneSurrogate);

        foreach (var exception in new[] { nul, new Microsoft.EntityFrameworkCore.DbUpdateException("saving", nul), loneSurrogate })
        {
            var http = new DefaultHttpContext { RequestServices = _host.App.Services };
            http.Response.Body = new MemoryStream();
            var handled = false;
            foreach (var handler in _host.App.Services.GetServices<IExceptionHandler>())
            {
                handled = handled || await handler.TryHandleAsync(http, exception, CancellationToken.None);
            }

            var body = Encoding.UTF8.GetString(((MemoryStream)http.Response.Body).ToArray());
            Assert.True(handled && http.Response.StatusCode == 400, $"{exception.GetType().Name}: {http.Response.StatusCode} {body}");
            Assert.StartsWith("application/problem+json", http.Response.ContentType);
            Assert.Contains("cannot be stored", body);
            Assert.DoesNotContain("UTF8", body);
            Assert.DoesNotContain("todos_active", body);
        }
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task a_models_answer_with_characters_the_database_refuses_is_stored_without_them_instead_of_failing_the_caller()
    {
        // NUL and ESC escaped in the JSON array, a raw lone surrogate, a raw NUL after it, and a title whose cut at 500 splits a surrogate pair.
        var answer = "[\"Book\\u0000 the venue\", \"Send\\u001b[31m invitations\", \"Call\ud800 the caterer\", \"" + new string('x', 499) + "😀\"]\u0000";
        await using var host = await ApiHost.StartAsync(server, "malformedai", b => b.Services.AddSingleton<IChatClient>(new FakeChatClient(answer)));
        var (_, client) = await host.NewUserAsync();
        var todo = await client.CreateTodoAsync(new { title = "Plan the party" });

        var created = await (await client.PostAsync($"/api/todos/{todo.Id}/suggest-subtasks", null)).ReadAsync<List<TodoView>>(HttpStatusCode.Created);

        Assert.Equal(["Book the venue", "Send[31m invitations", "Call the caterer", new string('x', 499)], created.Select(t => t.Title));
        var log = Assert.Single(await (await client.GetAsync($"/api/todos/{todo.Id}/ai-interactions")).ReadAsync<List<AiInteractionView>>(HttpStatusCode.OK));
        Assert.StartsWith("[\"Book\\u0000 the venue\"", log.Response);
        Assert.DoesNotContain('\0', log.Response!);
        Assert.DoesNotContain('\ud800', log.Response!);
    }
}
