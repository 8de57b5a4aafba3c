using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Npgsql;
using TodoScale.Application.Todos;

namespace TodoScale.Api.Endpoints;

/// <summary>Turns the application's exceptions into RFC 7807 problem details with the right status.</summary>
internal sealed class ProblemExceptionHandler : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken ct)
    {
        IResult? result = exception switch
        {
            TodoValidationException e => TypedResults.ValidationProblem(e.Errors.ToDictionary(k => k.Key, k => k.Value)),
            TodoNotFoundException e => TypedResults.Problem(statusCode: 404, title: "Not found", detail: $"The {e.What} does not exist."),
            TodoConflictException e => TypedResults.Problem(statusCode: 409, title: "Conflict", detail: e.Message),
            AiUnavailableException e => TypedResults.Problem(statusCode: 503, title: "AI assistance unavailable", detail: e.Message),
            BadHttpRequestException e => BadRequest(e),
            // The operator endpoints call functions of other phases; missing means "not installed yet", not a crash.
            PostgresException { SqlState: PostgresErrorCodes.UndefinedFunction or PostgresErrorCodes.UndefinedTable } e =>
                TypedResults.Problem(statusCode: 503, title: "Not installed",
                    detail: $"{e.MessageText}. Apply the maintenance and migration scripts (todoscale db migrate)."),
            // The token names a user that no longer exists (users row deleted): nothing to attach the todo to.
            // EF wraps the same violation in DbUpdateException: without this case a create answered a bare 500.
            PostgresException { SqlState: PostgresErrorCodes.ForeignKeyViolation } or
            Microsoft.EntityFrameworkCore.DbUpdateException { InnerException: PostgresException { SqlState: PostgresErrorCodes.ForeignKeyViolation } } =>
                TypedResults.Problem(statusCode: 409, title: "Conflict",
                    detail: "The user of this token does not exist in this database (was the token issued with `users add` for another --database?)."),
            // Behind InputRules: a text the validation let through that cannot be stored (NUL, an invalid byte
            // sequence, a character the server encoding lacks) is the request's fault, not the server's. A NUL title
            // answered 500; this says what is wrong without the statement or the server's message.
            _ when UnstorableText(exception) => TypedResults.Problem(statusCode: 400, title: "Bad request",
                detail: "A text value contains a character that cannot be stored (NUL, an unpaired surrogate or an invalid byte sequence). Remove it and send the request again."),
            _ => null,
        };
        if (result is null)
        {
            return false;
        }

        await result.ExecuteAsync(http);
        return true;
    }

    private static bool UnstorableText(Exception exception) => exception switch
    {
        PostgresException { SqlState: PostgresErrorCodes.CharacterNotInRepertoire or PostgresErrorCodes.UntranslatableCharacter } => true,
        // Npgsql encodes parameters strictly: an unpaired surrogate throws this before the statement is sent.
        EncoderFallbackException => true,
        // EF Core wraps the database's error (DbUpdateException from SaveChanges).
        { InnerException: { } inner } => UnstorableText(inner),
        _ => false,
    };

    /// <summary>A body that is not JSON or has a value of the wrong type: name the field (System.Text.Json's path, $.dueDate -> dueDate).</summary>
    private static IResult BadRequest(BadHttpRequestException e)
    {
        if (e.InnerException is JsonException { Path: { Length: > 2 } path })
        {
            var field = path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path;
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = ["has a value of the wrong type or format"] });
        }

        return TypedResults.Problem(statusCode: e.StatusCode, title: "Bad request", detail: e.Message);
    }
}
