using System.Security.Claims;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using TodoScale.Application.Ai;
using TodoScale.Application.Dashboards;
using TodoScale.Application.Projects;
using TodoScale.Application.Todos;
using static TodoScale.Api.Endpoints.RequestParsing;

namespace TodoScale.Api.Endpoints;

/// <summary>
/// The todo API under /api; each route group calls its own service (todos, projects, AI, dashboard).
/// Every handler passes the token's user id to the service, which filters every
/// statement on it: another user's todo or project answers 404, exactly like one that does not exist.
/// Ids are taken as strings so that a malformed id is a 400 naming the field, not a 404 from routing.
/// </summary>
public static class TodoApi
{
    public static IEndpointRouteBuilder MapTodoApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api").RequireAuthorization();

        var todos = api.MapGroup("/todos").WithTags("Todos");
        todos.MapGet("/", ListTodos).WithSummary("List your todos: filters status, project_id, due_before, due_after, include_archived; keyset pages (limit, cursor).");
        todos.MapPost("/", CreateTodo).WithSummary("Create a todo (optionally a subtask: parentTodoId).");
        todos.MapGet("/{id}", GetTodo).WithSummary("One todo, active or archived.");
        todos.MapPut("/{id}", UpdateTodo).WithSummary("Replace the editable fields of an active todo.");
        todos.MapDelete("/{id}", DeleteTodo).WithSummary("Delete a todo and, recursively, its subtasks.");
        todos.MapPost("/{id}/complete", CompleteTodo).WithSummary("Mark done (completed_at = now).");
        todos.MapPost("/{id}/reopen", ReopenTodo).WithSummary("Reopen; an archived todo moves back to the active table.");
        todos.MapGet("/{id}/subtasks", Subtasks).WithSummary("Direct subtasks of a todo.");
        todos.MapPost("/{id}/suggest-subtasks", SuggestSubtasks).WithSummary("Ask the AI model for subtasks and store them (503 without a model).");
        todos.MapGet("/{id}/ai-interactions", ListInteractions).WithSummary("The AI interactions logged for a todo, newest first.");
        todos.MapPost("/{id}/ai-interactions", RecordInteraction).WithSummary("Log an AI interaction for a todo.");

        var projects = api.MapGroup("/projects").WithTags("Projects");
        projects.MapGet("/", ListProjects).WithSummary("Your projects with open and done counts.");
        projects.MapPost("/", CreateProject);
        projects.MapPut("/{id}", RenameProject).WithSummary("Rename a project.");
        projects.MapDelete("/{id}", DeleteProject).WithSummary("Delete a project; its todos stay, without a project.");

        api.MapGet("/dashboard", Dashboard).WithTags("Dashboard")
            .WithSummary("Counts by status, overdue, due today / this week (UTC), completed this week, top open todos, projects, recent AI interactions.");
        return app;
    }

    // The declared parameters document the query string; ListQuery reads the raw query so it can also refuse unknown and repeated ones.
    private static async Task<Ok<TodoPage>> ListTodos([AsParameters] TodoListParameters parameters, HttpContext http, ClaimsPrincipal user,
        TodoService service, CancellationToken ct) =>
        TypedResults.Ok(await service.ListTodosAsync(UserId(user), ListQuery(http.Request.Query), ct));

    private static async Task<Created<TodoView>> CreateTodo(CreateTodoRequest body, ClaimsPrincipal user, TodoService service, CancellationToken ct)
    {
        var todo = await service.CreateTodoAsync(UserId(user),
            new NewTodo(body.Title, body.Description, body.Priority ?? 0, body.DueDate?.UtcDateTime, body.ProjectId, body.ParentTodoId), ct);
        return TypedResults.Created($"/api/todos/{todo.Id}", todo);
    }

    private static async Task<Ok<TodoView>> GetTodo(string id, ClaimsPrincipal user, TodoService service, CancellationToken ct) =>
        TypedResults.Ok(await service.GetRequiredTodoAsync(UserId(user), Id(id), ct));

    private static async Task<Ok<TodoView>> UpdateTodo(string id, UpdateTodoRequest body, ClaimsPrincipal user, TodoService service, CancellationToken ct)
    {
        var todoId = Id(id);
        return TypedResults.Ok(await service.UpdateTodoAsync(UserId(user), todoId,
            new TodoUpdate(body.Title, body.Description, body.Priority ?? 0, body.DueDate?.UtcDateTime, body.ProjectId, body.Status), ct));
    }

    private static async Task<NoContent> DeleteTodo(string id, ClaimsPrincipal user, TodoService service, CancellationToken ct)
    {
        await service.DeleteTodoAsync(UserId(user), Id(id), ct);
        return TypedResults.NoContent();
    }

    private static async Task<Ok<TodoView>> CompleteTodo(string id, ClaimsPrincipal user, TodoService service, CancellationToken ct) =>
        TypedResults.Ok(await service.CompleteTodoAsync(UserId(user), Id(id), ct));

    private static async Task<Ok<TodoView>> ReopenTodo(string id, ClaimsPrincipal user, TodoService service, CancellationToken ct) =>
        TypedResults.Ok(await service.ReopenTodoAsync(UserId(user), Id(id), ct));

    private static async Task<Ok<IReadOnlyList<TodoView>>> Subtasks(string id, ClaimsPrincipal user, TodoService service, CancellationToken ct) =>
        TypedResults.Ok(await service.GetSubtasksAsync(UserId(user), Id(id), ct));

    private static async Task<Created<IReadOnlyList<TodoView>>> SuggestSubtasks(string id, ClaimsPrincipal user, SubtaskSuggester suggester, CancellationToken ct)
    {
        var todoId = Id(id);
        var created = await suggester.SuggestAsync(UserId(user), todoId, ct);
        return TypedResults.Created($"/api/todos/{todoId}/subtasks", created);
    }

    private static async Task<Ok<IReadOnlyList<AiInteractionView>>> ListInteractions(string id, ClaimsPrincipal user, AiInteractionService service,
        CancellationToken ct) =>
        TypedResults.Ok(await service.ListAiInteractionsAsync(UserId(user), Id(id), ct));

    private static async Task<Created<AiInteractionView>> RecordInteraction(string id, AiInteractionRequest body, ClaimsPrincipal user, AiInteractionService service,
        CancellationToken ct)
    {
        var todoId = Id(id);
        var saved = await service.RecordAiInteractionAsync(UserId(user), todoId, new NewAiInteraction(body.InteractionType ?? "", body.Prompt, body.Response,
            body.Model, body.PromptTokens, body.CompletionTokens, body.LatencyMs), ct);
        return TypedResults.Created($"/api/todos/{todoId}/ai-interactions", saved);
    }

    private static async Task<Ok<IReadOnlyList<ProjectView>>> ListProjects(ClaimsPrincipal user, ProjectService service, CancellationToken ct) =>
        TypedResults.Ok(await service.ListProjectsAsync(UserId(user), ct));

    private static async Task<Created<ProjectView>> CreateProject(ProjectRequest body, ClaimsPrincipal user, ProjectService service, CancellationToken ct)
    {
        var project = await service.CreateProjectAsync(UserId(user), body.Name, body.Description, ct);
        return TypedResults.Created($"/api/projects/{project.Id}", project);
    }

    private static async Task<Ok<ProjectView>> RenameProject(string id, ProjectRequest body, ClaimsPrincipal user, ProjectService service, CancellationToken ct)
    {
        var projectId = Id(id);
        return TypedResults.Ok(await service.RenameProjectAsync(UserId(user), projectId, body.Name, ct));
    }

    private static async Task<NoContent> DeleteProject(string id, ClaimsPrincipal user, ProjectService service, CancellationToken ct)
    {
        await service.DeleteProjectAsync(UserId(user), Id(id), ct);
        return TypedResults.NoContent();
    }

    private static async Task<Ok<Dashboard>> Dashboard(ClaimsPrincipal user, DashboardService service, CancellationToken ct) =>
        TypedResults.Ok(await service.GetDashboardAsync(UserId(user), ct));
}
