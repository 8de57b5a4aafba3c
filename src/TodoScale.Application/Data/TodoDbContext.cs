using Microsoft.EntityFrameworkCore;
using Npgsql;
using TodoScale.Application.Models;

namespace TodoScale.Application.Data;

/// <summary>
/// EF Core mapping onto the tables that migrations/scaling creates. The DDL stays in those SQL files:
/// this context never creates or migrates anything (no EF migrations), it only maps names and keys.
/// </summary>
public sealed class TodoDbContext(DbContextOptions<TodoDbContext> options) : DbContext(options)
{
    public DbSet<User> Users => Set<User>();
    public DbSet<Project> Projects => Set<Project>();
    public DbSet<TodoActive> TodosActive => Set<TodoActive>();
    public DbSet<TodoArchived> TodosArchived => Set<TodoArchived>();
    public DbSet<AiTodoInteraction> AiInteractions => Set<AiTodoInteraction>();

    public static TodoDbContext Create(NpgsqlDataSource dataSource) =>
        new(new DbContextOptionsBuilder<TodoDbContext>().UseTodoScale(dataSource).Options);

    protected override void OnModelCreating(ModelBuilder b)
    {
        b.Entity<User>(e =>
        {
            e.ToTable("users");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).HasColumnName("id").ValueGeneratedNever();
            e.Property(x => x.Email).HasColumnName("email");
            e.Property(x => x.DisplayName).HasColumnName("display_name");
            e.Property(x => x.CreatedAt).HasColumnName("created_at").HasDefaultValueSql("now()");
        });

        b.Entity<Project>(e =>
        {
            e.ToTable("projects");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).HasColumnName("id").ValueGeneratedNever();
            e.Property(x => x.UserId).HasColumnName("user_id");
            e.Property(x => x.Name).HasColumnName("name");
            e.Property(x => x.Description).HasColumnName("description");
            e.Property(x => x.CreatedAt).HasColumnName("created_at").HasDefaultValueSql("now()");
            e.Property(x => x.UpdatedAt).HasColumnName("updated_at").HasDefaultValueSql("now()");
        });

        b.Entity<TodoActive>(e =>
        {
            e.ToTable("todos_active");
            // (user_id, id): the partition key leads, so an UPDATE or DELETE by key prunes to one partition.
            e.HasKey(x => new { x.UserId, x.Id });
            MapTodoColumns(e);
            e.Property(x => x.CompletedAt).HasColumnName("completed_at");
        });

        b.Entity<TodoArchived>(e =>
        {
            e.ToTable("todos_archived");
            e.HasKey(x => new { x.Id, x.CompletedAt });
            MapTodoColumns(e);
            e.Property(x => x.CompletedAt).HasColumnName("completed_at");
            e.Property(x => x.ArchivedAt).HasColumnName("archived_at").HasDefaultValueSql("now()");
        });

        b.Entity<AiTodoInteraction>(e =>
        {
            e.ToTable("ai_todo_interactions");
            e.HasKey(x => new { x.Id, x.CreatedAt });
            e.Property(x => x.Id).HasColumnName("id").ValueGeneratedNever();
            e.Property(x => x.UserId).HasColumnName("user_id");
            e.Property(x => x.TodoId).HasColumnName("todo_id");
            e.Property(x => x.InteractionType).HasColumnName("interaction_type");
            e.Property(x => x.Prompt).HasColumnName("prompt");
            e.Property(x => x.Response).HasColumnName("response");
            e.Property(x => x.Model).HasColumnName("model");
            e.Property(x => x.PromptTokens).HasColumnName("prompt_tokens");
            e.Property(x => x.CompletionTokens).HasColumnName("completion_tokens");
            e.Property(x => x.LatencyMs).HasColumnName("latency_ms");
            e.Property(x => x.CreatedAt).HasColumnName("created_at").ValueGeneratedNever();
        });
    }

    private static void MapTodoColumns<T>(Microsoft.EntityFrameworkCore.Metadata.Builders.EntityTypeBuilder<T> e) where T : class
    {
        e.Property<Guid>("Id").HasColumnName("id").ValueGeneratedNever();
        e.Property<Guid>("UserId").HasColumnName("user_id");
        e.Property<Guid?>("ParentTodoId").HasColumnName("parent_todo_id");
        e.Property<Guid?>("ProjectId").HasColumnName("project_id");
        e.Property<string>("Title").HasColumnName("title");
        e.Property<string?>("Description").HasColumnName("description");
        e.Property<string>("Status").HasColumnName("status");
        e.Property<int>("Priority").HasColumnName("priority");
        e.Property<DateTime?>("DueDate").HasColumnName("due_date");
        e.Property<bool>("AiGenerated").HasColumnName("ai_generated");
        e.Property<DateTime>("CreatedAt").HasColumnName("created_at").HasDefaultValueSql("now()");
        e.Property<DateTime>("UpdatedAt").HasColumnName("updated_at").HasDefaultValueSql("now()");
    }
}

public static class TodoDbContextOptions
{
    public static DbContextOptionsBuilder UseTodoScale(this DbContextOptionsBuilder options, NpgsqlDataSource dataSource) =>
        options.UseNpgsql(dataSource).UseQueryTrackingBehavior(QueryTrackingBehavior.NoTracking);

    public static DbContextOptionsBuilder<TodoDbContext> UseTodoScale(this DbContextOptionsBuilder<TodoDbContext> options, NpgsqlDataSource dataSource)
    {
        ((DbContextOptionsBuilder)options).UseTodoScale(dataSource);
        return options;
    }
}
