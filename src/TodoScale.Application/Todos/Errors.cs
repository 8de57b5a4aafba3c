namespace TodoScale.Application.Todos;

/// <summary>The todo, project or parent does not exist for this user (someone else's is reported the same way).</summary>
public sealed class TodoNotFoundException(string what) : Exception($"{what} not found")
{
    public string What { get; } = what;
}

/// <summary>Bad input, with the message for each offending field.</summary>
public sealed class TodoValidationException(IReadOnlyDictionary<string, string[]> errors)
    : Exception("invalid input: " + string.Join("; ", errors.Select(e => $"{e.Key}: {string.Join(", ", e.Value)}")))
{
    public IReadOnlyDictionary<string, string[]> Errors { get; } = errors;

    public static TodoValidationException For(string field, string message) => new(new Dictionary<string, string[]> { [field] = [message] });
}

/// <summary>The request is valid but the todo is in a state that forbids it (an archived todo cannot be edited).</summary>
public sealed class TodoConflictException(string message) : Exception(message);

/// <summary>No chat model is configured (Ai:Endpoint / Ai:Model), or the model could not be reached.</summary>
public sealed class AiUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
