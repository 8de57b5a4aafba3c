using TodoScale.Application.Ai;
using TodoScale.Application.Projects;
using TodoScale.Application.Todos;

namespace TodoScale.Application.Dashboards;

public sealed record StatusCounts(long Todo, long InProgress, long Done, long Cancelled);

public sealed record Dashboard(
    StatusCounts ByStatus,
    long Overdue,
    long DueToday,
    long DueThisWeek,
    long CompletedThisWeek,
    IReadOnlyList<TodoView> TopOpen,
    IReadOnlyList<ProjectView> Projects,
    IReadOnlyList<AiInteractionView> RecentAiInteractions);
