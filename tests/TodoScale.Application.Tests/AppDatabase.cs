namespace TodoScale.Application.Tests;

/// <summary>A fresh migrated database with the services wired to it, as the API wires them per request.</summary>
public sealed class AppDatabase : IAsyncDisposable
{
    private AppDatabase(string connectionString, TimeProvider? clock)
    {
        ConnectionString = connectionString;
        DataSource = NpgsqlDataSource.Create(connectionString);
        Db = TodoDbContext.Create(DataSource);
        Service = new TodoService(DataSource, Db);
        Projects = new ProjectService(DataSource, Db, clock);
        Dashboard = new DashboardService(DataSource, clock);
        Ai = new AiInteractionService(Db, Service, clock);
        Users = new UserService(Db);
    }

    public string ConnectionString { get; }
    public NpgsqlDataSource DataSource { get; }
    public TodoDbContext Db { get; }
    public TodoService Service { get; }
    public ProjectService Projects { get; }
    public DashboardService Dashboard { get; }
    public AiInteractionService Ai { get; }
    public UserService Users { get; }

    public static async Task<AppDatabase> CreateAsync(PostgresServer server, string prefix, TimeProvider? clock = null) =>
        new(await server.CreateMigratedDatabaseAsync(prefix), clock);

    public async Task<Guid> NewUserAsync(string? email = null) =>
        (await Users.EnsureUserAsync(email ?? $"{Guid.NewGuid():N}@example.com")).User.Id;

    public Task<T> ScalarAsync<T>(string sql, params object[] parameters) => Sql.ScalarAsync<T>(DataSource, sql, parameters);

    public Task ExecuteAsync(string sql, params object[] parameters) => Sql.ExecAsync(DataSource, sql, parameters);

    public Task ArchiveAsync(Guid userId, Guid id) => TestArchive.ArchiveTodoAsync(ConnectionString, userId, id);

    public async ValueTask DisposeAsync()
    {
        await Db.DisposeAsync();
        await DataSource.DisposeAsync();
    }
}

/// <summary>A clock stopped at a chosen instant, so day and week boundaries in tests are fixed.</summary>
public sealed class FixedClock(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
}
