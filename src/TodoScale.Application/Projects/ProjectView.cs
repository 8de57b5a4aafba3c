namespace TodoScale.Application.Projects;

public sealed record ProjectView(Guid Id, string Name, string? Description, DateTime CreatedAt, DateTime UpdatedAt, long OpenCount, long DoneCount);
