using Microsoft.Extensions.AI;

namespace TodoScale.Api.Tests;

public sealed class AiSuggestionTests(PostgresServer server)
{
    [Fact(Timeout = TestTimeouts.Database)]
    public async Task suggest_subtasks_stores_the_models_subtasks_as_ai_generated_todos_and_logs_the_interaction()
    {
        var chat = new FakeChatClient("""["Book the venue", "Send invitations", "Order the cake"]""");
        await using var host = await ApiHost.StartAsync(server, "aisuggest", b => b.Services.AddSingleton<IChatClient>(chat));
        var (userId, client) = await host.NewUserAsync();
        var party = await client.CreateTodoAsync(new { title = "Plan the party", description = "30 guests", priority = 3 });

        var created = await (await client.PostAsync($"/api/todos/{party.Id}/suggest-subtasks", null))
            .ReadAsync<List<TodoView>>(HttpStatusCode.Created);

        Assert.Equal(["Book the venue", "Send invitations", "Order the cake"], created.Select(t => t.Title));
        Assert.All(created, t => Assert.True(t.AiGenerated && t.ParentTodoId == party.Id && t.Priority == 3));
        var subtasks = await (await client.GetAsync($"/api/todos/{party.Id}/subtasks")).ReadAsync<List<TodoView>>(HttpStatusCode.OK);
        Assert.Equal(created.Select(t => t.Id).Order(), subtasks.Select(t => t.Id).Order());
        Assert.Contains("Plan the party", chat.LastPrompt);

        var log = Assert.Single(await (await client.GetAsync($"/api/todos/{party.Id}/ai-interactions"))
            .ReadAsync<List<AiInteractionView>>(HttpStatusCode.OK));
        Assert.Equal(("suggest_subtasks", "fake-model-1", 42, 17), (log.InteractionType, log.Model, log.PromptTokens, log.CompletionTokens));
        Assert.Contains("Plan the party", log.Prompt);
        Assert.Contains("Order the cake", log.Response);
        Assert.NotNull(log.LatencyMs);
        Assert.Equal(1L, await host.ScalarAsync<long>("SELECT count(*) FROM ai_todo_interactions WHERE user_id = $1 AND todo_id = $2", userId, party.Id));
        Assert.Equal(3L, await host.ScalarAsync<long>(
            "SELECT count(*) FROM todos_active WHERE user_id = $1 AND parent_todo_id = $2 AND ai_generated", userId, party.Id));
    }

    [Fact(Timeout = TestTimeouts.Database)]
    public async Task without_a_configured_model_suggest_subtasks_answers_503_with_a_problem_and_stores_nothing()
    {
        await using var host = await ApiHost.StartAsync(server, "ainomodel");
        var (_, client) = await host.NewUserAsync();
        var todo = await client.CreateTodoAsync(new { title = "Plan the party" });

        var response = await client.PostAsync($"/api/todos/{todo.Id}/suggest-subtasks", null);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("Ai:Model", await response.Content.ReadAsStringAsync());
        Assert.Equal(1L, await host.ScalarAsync<long>("SELECT count(*) FROM todos_active"));
        Assert.Equal(0L, await host.ScalarAsync<long>("SELECT count(*) FROM ai_todo_interactions"));
    }

    [Theory(Timeout = TestTimeouts.Quick)]
    [InlineData("""["a", "b"]""", new[] { "a", "b" })]
    [InlineData("Sure! Here you go:\n```json\n[\"a\", \"b\"]\n```", new[] { "a", "b" })]
    [InlineData("1. First step\n2) Second step\n- Third step\n\n", new[] { "First step", "Second step", "Third step" })]
    public async Task the_models_answer_is_read_as_a_json_array_or_one_subtask_per_line(string answer, string[] expected)
    {
        // Yield first, so the body runs on the pool and the Timeout can end it should it never return.
        await Task.Yield();
        Assert.Equal(expected, SubtaskSuggester.ParseTitles(answer));
    }
}
