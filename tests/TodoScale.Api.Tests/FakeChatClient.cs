using Microsoft.Extensions.AI;

namespace TodoScale.Api.Tests;

/// <summary>A chat model that answers a fixed text with fixed token counts, and counts its calls.</summary>
public sealed class FakeChatClient(string answer) : IChatClient
{
    public int Calls { get; private set; }
    public string? LastPrompt { get; private set; }

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        Calls++;
        LastPrompt = string.Join("\n", messages.Select(m => m.Text));
        return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, answer))
        {
            ModelId = "fake-model-1",
            Usage = new UsageDetails { InputTokenCount = 42, OutputTokenCount = 17 },
        });
    }

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public object? GetService(Type serviceType, object? serviceKey = null) => null;

    public void Dispose()
    {
    }
}
