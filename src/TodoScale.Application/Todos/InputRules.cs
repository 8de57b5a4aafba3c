using TodoScale.Application.Ai;
using TodoScale.Application.Models;
using TodoScale.Application.Paging;

namespace TodoScale.Application.Todos;

/// <summary>Whether a text field holds one line (a title, a name) or free text (a description, a prompt).</summary>
public enum TextShape
{
    SingleLine,
    MultiLine,
}

/// <summary>
/// The checks every value the application accepts passes before a statement sees it, each error naming its field.
/// Characters refused in any text:
/// <list type="bullet">
/// <item>NUL (U+0000): PostgreSQL text cannot hold it; the insert failed with 22021 and the API answered 500.</item>
/// <item>Unpaired UTF-16 surrogates (U+D800-U+DFFF alone): not Unicode characters, so neither UTF-8 (the
/// database's encoding) nor a JSON reader on the other side can carry them; Npgsql's strict encoder throws.</item>
/// <item>The other C0 controls (U+0001-U+001F) except tab, line feed and carriage return, DEL (U+007F) and the C1
/// controls (U+0080-U+009F): PostgreSQL would store them, but they are never text a person typed. They come from
/// binary pasted as text or a Windows-1252 string decoded as Latin-1, and ESC/CSI (U+001B, U+009B) rewrite the
/// terminal of whoever later prints the row (psql, the CLI's tables, a log line).</item>
/// </list>
/// A single-line field also refuses tab and line breaks: a title is shown as one line everywhere, and the AI prompt
/// embeds it as its "Task:" line, where a line break would let a title add lines of instructions of its own.
/// </summary>
public static class InputRules
{
    /// <summary>Descriptions of todos and projects. The column is unbounded text; the API bounds what one request may store.</summary>
    public const int DescriptionMaxLength = 10_000;

    /// <summary>Short labels: an AI interaction's type and model, a user's display name.</summary>
    public const int LabelMaxLength = 200;

    /// <summary>An AI interaction's prompt and response, which may quote a whole todo and the model's answer.</summary>
    public const int AiTextMaxLength = 100_000;

    /// <summary>The longest address SMTP allows (RFC 5321); users.email is also a unique btree key, which refuses long values.</summary>
    public const int EmailMaxLength = 254;

    /// <summary>Why <paramref name="value"/> cannot be stored as a field of <paramref name="shape"/>, or null when it can.</summary>
    public static string? CharacterProblem(string value, TextShape shape)
    {
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '\0')
            {
                return $"must not contain NUL (U+0000, character {i + 1}): PostgreSQL text cannot store it";
            }

            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
                continue;
            }

            if (char.IsSurrogate(c))
            {
                return $"contains an unpaired UTF-16 surrogate (U+{(int)c:X4}, character {i + 1}), which is not a Unicode character and cannot be stored as UTF-8";
            }

            if (!char.IsControl(c))
            {
                continue;
            }

            if (shape == TextShape.SingleLine)
            {
                return $"must be one line without control characters (found U+{(int)c:X4}, character {i + 1})";
            }

            if (c is not ('\t' or '\n' or '\r'))
            {
                return $"must not contain control characters other than tab and line breaks (found U+{(int)c:X4}, character {i + 1})";
            }
        }

        return null;
    }

    /// <summary>
    /// <paramref name="value"/> without the characters <see cref="CharacterProblem"/> refuses, for text the application
    /// did not get from the caller (a chat model's answer), which it must store rather than refuse.
    /// </summary>
    public static string WithoutRefusedCharacters(string value, TextShape shape)
    {
        if (CharacterProblem(value, shape) is null)
        {
            return value;
        }

        var kept = new System.Text.StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                kept.Append(c).Append(value[++i]);
            }
            else if (!char.IsSurrogate(c) && (!char.IsControl(c) || (shape == TextShape.MultiLine && c is '\t' or '\n' or '\r')))
            {
                kept.Append(c);
            }
        }

        return kept.ToString();
    }

    /// <summary>Adds the field's error when the value is too long or holds a character <see cref="CharacterProblem"/> refuses.</summary>
    public static void Text(IDictionary<string, string[]> errors, string field, string? value, TextShape shape, int maxLength, bool required = false)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            if (required)
            {
                errors[field] = ["is required"];
                return;
            }

            // An optional field of blanks is kept as sent, so it still must be characters the field may hold.
            if (value is null)
            {
                return;
            }
        }

        if (value.Length > maxLength)
        {
            errors[field] = [$"must be at most {maxLength} characters (got {value.Length})"];
        }
        else if (CharacterProblem(value, shape) is { } problem)
        {
            errors[field] = [problem];
        }
    }

    internal static void NewTodo(NewTodo input, IDictionary<string, string[]> errors)
    {
        Text(errors, "title", input.Title, TextShape.SingleLine, TodoLimits.TitleMaxLength, required: true);
        Text(errors, "description", input.Description, TextShape.MultiLine, DescriptionMaxLength);
        Priority(input.Priority, errors);
    }

    internal static void Update(TodoUpdate input, IDictionary<string, string[]> errors)
    {
        Text(errors, "title", input.Title, TextShape.SingleLine, TodoLimits.TitleMaxLength, required: true);
        Text(errors, "description", input.Description, TextShape.MultiLine, DescriptionMaxLength);
        Priority(input.Priority, errors);
        if (input.Status is not null && !TodoStatus.IsValid(input.Status))
        {
            errors["status"] = [$"must be one of {string.Join(", ", TodoStatus.All)}"];
        }
    }

    /// <summary>A list's filters and size, and its cursor: <paramref name="cursor"/> is <see cref="TodoListQuery.Cursor"/> parsed (null when it does not parse).</summary>
    internal static void ListQuery(TodoListQuery query, PageCursor? cursor, IDictionary<string, string[]> errors)
    {
        if (query.Status is not null && !TodoStatus.IsValid(query.Status))
        {
            errors["status"] = [$"must be one of {string.Join(", ", TodoStatus.All)}"];
        }

        if (query.Limit is < 1 or > TodoListQuery.MaxLimit)
        {
            errors["limit"] = [$"must be between 1 and {TodoListQuery.MaxLimit}"];
        }

        // A cursor of the archived part on a list without archived todos would page into rows the caller did not ask for.
        if (query.Cursor is not null && (cursor is null || (cursor.Archived && !query.IncludeArchived)))
        {
            errors["cursor"] = ["is not a cursor returned by this list"];
        }
    }

    internal static void Project(string? name, string? description, IDictionary<string, string[]> errors)
    {
        Text(errors, "name", name, TextShape.SingleLine, TodoLimits.TitleMaxLength, required: true);
        Text(errors, "description", description, TextShape.MultiLine, DescriptionMaxLength);
    }

    internal static void AiInteraction(NewAiInteraction input, IDictionary<string, string[]> errors)
    {
        Text(errors, "interactionType", input.InteractionType, TextShape.SingleLine, LabelMaxLength, required: true);
        Text(errors, "prompt", input.Prompt, TextShape.MultiLine, AiTextMaxLength);
        Text(errors, "response", input.Response, TextShape.MultiLine, AiTextMaxLength);
        Text(errors, "model", input.Model, TextShape.SingleLine, LabelMaxLength);
        foreach (var (field, value) in new[] { ("promptTokens", input.PromptTokens), ("completionTokens", input.CompletionTokens), ("latencyMs", input.LatencyMs) })
        {
            if (value < 0)
            {
                errors[field] = ["must not be negative"];
            }
        }
    }

    /// <summary>An email as users.email stores it; also what `todoscale users add --email` checks before connecting.</summary>
    public static string? EmailProblem(string? email)
    {
        var trimmed = email?.Trim() ?? "";
        if (trimmed.Length == 0 || !trimmed.Contains('@', StringComparison.Ordinal))
        {
            return "must be an email address";
        }

        if (trimmed.Length > EmailMaxLength)
        {
            return $"must be at most {EmailMaxLength} characters (got {trimmed.Length})";
        }

        return CharacterProblem(trimmed, TextShape.SingleLine);
    }

    internal static void NewUser(string email, string? displayName, IDictionary<string, string[]> errors)
    {
        if (EmailProblem(email) is { } emailProblem)
        {
            errors["email"] = [emailProblem];
        }

        Text(errors, "displayName", displayName, TextShape.SingleLine, LabelMaxLength);
    }

    internal static void Priority(int priority, IDictionary<string, string[]> errors)
    {
        if (priority is < TodoLimits.MinPriority or > TodoLimits.MaxPriority)
        {
            errors["priority"] = [$"must be between {TodoLimits.MinPriority} and {TodoLimits.MaxPriority}"];
        }
    }

    internal static void ThrowIfAny(IDictionary<string, string[]> errors)
    {
        if (errors.Count > 0)
        {
            throw new TodoValidationException(errors.ToDictionary());
        }
    }
}
