using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using TodoScale.Api.Auth;
using TodoScale.Application.Todos;

namespace TodoScale.Api.Endpoints;

public sealed record CreateTodoRequest(
    string? Title,
    string? Description,
    int? Priority,
    DateTimeOffset? DueDate,
    Guid? ProjectId,
    Guid? ParentTodoId);

/// <summary>Replaces every editable field (absent = empty); status is optional and kept when absent.</summary>
public sealed record UpdateTodoRequest(
    string? Title,
    string? Description,
    int? Priority,
    DateTimeOffset? DueDate,
    Guid? ProjectId,
    string? Status);

/// <summary>The list's query string, declared for binding and the OpenAPI document; values are parsed by <see cref="RequestParsing.ListQuery"/>.</summary>
public sealed record TodoListParameters(
    [property: FromQuery(Name = "status")] string? Status,
    [property: FromQuery(Name = "project_id")] string? ProjectId,
    [property: FromQuery(Name = "due_before")] string? DueBefore,
    [property: FromQuery(Name = "due_after")] string? DueAfter,
    [property: FromQuery(Name = "include_archived")] string? IncludeArchived,
    [property: FromQuery(Name = "limit")] string? Limit,
    [property: FromQuery(Name = "cursor")] string? Cursor);

public sealed record ProjectRequest(string? Name, string? Description);

public sealed record AiInteractionRequest(
    string? InteractionType,
    string? Prompt,
    string? Response,
    string? Model,
    int? PromptTokens,
    int? CompletionTokens,
    int? LatencyMs);

internal static class RequestParsing
{
    public static readonly string[] ListParameters = ["status", "project_id", "due_before", "due_after", "include_archived", "limit", "cursor"];

    /// <summary>The acting user; the JWT middleware has already rejected tokens without a valid signature.</summary>
    public static Guid UserId(ClaimsPrincipal user) =>
        Guid.TryParse(user.FindFirst(TokenIssuer.SubjectClaim)?.Value, out var id)
            ? id
            : throw new BadHttpRequestException("The token has no user id (sub).", StatusCodes.Status401Unauthorized);

    public static Guid Id(string value, string field = "id") =>
        Guid.TryParse(value, out var id) ? id : throw TodoValidationException.For(field, $"{Shown(value)} is not a valid id (a UUID)");

    /// <summary>
    /// A refused value as an error message quotes it: at most 40 characters, and control characters and unpaired
    /// surrogates as \uXXXX. A 2 kB id came back whole in its 400, and the JSON writer turns a lone surrogate into
    /// U+FFFD, which hid the very character that was wrong.
    /// </summary>
    public static string Shown(string value)
    {
        var text = new System.Text.StringBuilder("'");
        var end = Math.Min(value.Length, 40);
        if (end < value.Length && char.IsHighSurrogate(value[end - 1]))
        {
            end--;
        }

        for (var i = 0; i < end; i++)
        {
            var c = value[i];
            var paired = char.IsHighSurrogate(c) ? i + 1 < value.Length && char.IsLowSurrogate(value[i + 1])
                : char.IsLowSurrogate(c) && i > 0 && char.IsHighSurrogate(value[i - 1]);
            if (char.IsControl(c) || (char.IsSurrogate(c) && !paired))
            {
                text.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            }
            else
            {
                text.Append(c);
            }
        }

        return text.Append(end < value.Length ? $"...' ({value.Length} characters)" : "'").ToString();
    }

    /// <summary>
    /// The list's query string. Unknown parameters are refused rather than ignored: a misspelt filter
    /// (includeArchived, state=done) would otherwise silently return the unfiltered list.
    /// </summary>
    public static TodoListQuery ListQuery(IQueryCollection query)
    {
        var errors = new Dictionary<string, string[]>();
        foreach (var key in query.Keys)
        {
            if (!ListParameters.Contains(key))
            {
                errors[key] = [$"unknown query parameter; allowed: {string.Join(", ", ListParameters)}"];
            }
            else if (query[key].Count > 1)
            {
                errors[key] = ["give this parameter once"];
            }
            // The parsers forgive too much: bool.TryParse ignores trailing NULs, so include_archived=TRUE%00 listed the archive.
            else if (InputRules.CharacterProblem(query[key][0] ?? "", TextShape.SingleLine) is { } problem)
            {
                errors[key] = [problem];
            }
        }

        string? One(string key) => query.TryGetValue(key, out var v) && v.Count == 1 ? v[0] : null;

        Guid? projectId = null;
        if (One("project_id") is { } p)
        {
            if (Guid.TryParse(p, out var g))
            {
                projectId = g;
            }
            else
            {
                errors["project_id"] = [$"{Shown(p)} is not a valid id (a UUID)"];
            }
        }

        DateTime? Date(string key)
        {
            if (One(key) is not { } s)
            {
                return null;
            }

            if (DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var d))
            {
                return d.UtcDateTime;
            }

            errors[key] = [$"{Shown(s)} is not a date (ISO 8601, e.g. 2026-01-31 or 2026-01-31T12:00:00Z)"];
            return null;
        }

        var dueBefore = Date("due_before");
        var dueAfter = Date("due_after");

        var includeArchived = false;
        if (One("include_archived") is { } ia && !bool.TryParse(ia, out includeArchived))
        {
            errors["include_archived"] = ["must be true or false"];
        }

        var limit = TodoListQuery.DefaultLimit;
        if (One("limit") is { } l && !int.TryParse(l, NumberStyles.None, CultureInfo.InvariantCulture, out limit))
        {
            errors["limit"] = [$"must be a whole number between 1 and {TodoListQuery.MaxLimit}"];
        }

        if (errors.Count > 0)
        {
            throw new TodoValidationException(errors);
        }

        return new TodoListQuery
        {
            Status = One("status"),
            ProjectId = projectId,
            DueBefore = dueBefore,
            DueAfter = dueAfter,
            IncludeArchived = includeArchived,
            Limit = limit,
            Cursor = One("cursor"),
        };
    }
}
