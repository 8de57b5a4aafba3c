using Microsoft.EntityFrameworkCore;
using Npgsql;
using TodoScale.Application.Data;
using TodoScale.Application.Models;
using TodoScale.Application.Todos;
using static TodoScale.Application.Data.PreparedStatements;

namespace TodoScale.Application.Projects;

/// <summary>
/// A user's projects: create, rename, list with counts, delete. Every statement filters on the acting user's id:
/// someone else's project is "not found". Which statements go through EF Core and which are
/// <see cref="TodoQueries"/>: see <see cref="PreparedStatements"/>.
/// </summary>
public sealed class ProjectService(NpgsqlDataSource dataSource, TodoDbContext db, TimeProvider? clock = null)
{
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;

    public async Task<ProjectView> CreateProjectAsync(Guid userId, string? name, string? description, CancellationToken ct = default)
    {
        var errors = new Dictionary<string, string[]>();
        InputRules.Project(name, description, errors);
        InputRules.ThrowIfAny(errors);
        var project = new Project { Id = Guid.CreateVersion7(), UserId = userId, Name = name!.Trim(), Description = description };
        db.Projects.Add(project);
        await db.SaveChangesAsync(ct);
        db.ChangeTracker.Clear();
        return new ProjectView(project.Id, project.Name, project.Description, project.CreatedAt, project.UpdatedAt, 0, 0);
    }

    public async Task<ProjectView> RenameProjectAsync(Guid userId, Guid id, string? name, CancellationToken ct = default)
    {
        var errors = new Dictionary<string, string[]>();
        InputRules.Project(name, null, errors);
        InputRules.ThrowIfAny(errors);
        var changed = await db.Projects.Where(p => p.UserId == userId && p.Id == id)
            .ExecuteUpdateAsync(s => s.SetProperty(p => p.Name, name!.Trim()).SetProperty(p => p.UpdatedAt, _clock.GetUtcNow().UtcDateTime), ct);
        if (changed == 0)
        {
            throw new TodoNotFoundException("project");
        }

        return (await ListProjectsAsync(userId, ct)).Single(p => p.Id == id);
    }

    public async Task<IReadOnlyList<ProjectView>> ListProjectsAsync(Guid userId, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        return await ReadAllAsync(conn, TodoQueries.ProjectsWithCounts, [P(userId)], ProjectRows.Read, ct);
    }

    /// <summary>Deletes a project; its todos (active and archived) stay, without a project.</summary>
    public async Task DeleteProjectAsync(Guid userId, Guid id, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var del = Command(conn, "DELETE FROM projects WHERE user_id = $1 AND id = $2", [P(userId), P(id)]))
        {
            del.Transaction = tx;
            if (await del.ExecuteNonQueryAsync(ct) == 0)
            {
                throw new TodoNotFoundException("project");
            }
        }

        foreach (var sql in new[] { TodoQueries.DetachProjectActive, TodoQueries.DetachProjectArchived })
        {
            await using var detach = Command(conn, sql, [P(userId), P(id)]);
            detach.Transaction = tx;
            await detach.ExecuteNonQueryAsync(ct);
        }

        await tx.CommitAsync(ct);
    }
}
