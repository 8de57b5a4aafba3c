using System.Diagnostics;
using Npgsql;
using NpgsqlTypes;

namespace TodoScale.Simulation.LegacyData;

/// <summary>
/// Creates the pre-TodoScale application schema and fills it with realistic data through binary COPY:
/// a skewed user population (1% of users own about a third of all todos), months of history, most todos
/// done, subtasks, projects and AI-generated todos. Deterministic for a given seed.
/// </summary>
public static class LegacyDatabase
{
    public static readonly string[] Statuses = ["todo", "in_progress", "done", "cancelled"];

    public static string SchemaSql()
    {
        using var stream = typeof(LegacyDatabase).Assembly.GetManifestResourceStream("TodoScale.Simulation.legacy_app_schema.sql")!;
        return new StreamReader(stream).ReadToEnd();
    }

    public static async Task CreateSchemaAsync(NpgsqlConnection conn, CancellationToken ct = default)
    {
        await using var cmd = new NpgsqlCommand(SchemaSql(), conn);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Generates users, projects and todos. <paramref name="progress"/> receives todo rows written so far.</summary>
    public static async Task<LegacyDataSummary> GenerateAsync(
        NpgsqlConnection conn, LegacyDataOptions options, IProgress<long>? progress = null, CancellationToken ct = default)
    {
        var sw = Stopwatch.StartNew();
        var random = new Random(options.Seed);
        var now = DateTime.UtcNow;
        var userCount = options.UserCount;
        var users = new Guid[userCount];
        for (var i = 0; i < userCount; i++)
        {
            users[i] = NewGuid(random);
        }

        await using (var import = await conn.BeginBinaryImportAsync(
            "COPY users (id, email, display_name, created_at) FROM STDIN (FORMAT BINARY)", ct))
        {
            for (var i = 0; i < userCount; i++)
            {
                await import.StartRowAsync(ct);
                await import.WriteAsync(users[i], NpgsqlDbType.Uuid, ct);
                await import.WriteAsync($"user{i}.{users[i]:N}@example.com", NpgsqlDbType.Text, ct);
                await import.WriteAsync($"User {i}", NpgsqlDbType.Text, ct);
                await import.WriteAsync(now.AddMonths(-options.MonthsOfHistory - 1), NpgsqlDbType.TimestampTz, ct);
            }

            await import.CompleteAsync(ct);
        }

        // Every user has 0-3 projects.
        var projects = new Guid[userCount][];
        await using (var import = await conn.BeginBinaryImportAsync(
            "COPY projects (id, user_id, name, created_at, updated_at) FROM STDIN (FORMAT BINARY)", ct))
        {
            for (var i = 0; i < userCount; i++)
            {
                projects[i] = new Guid[random.Next(0, 4)];
                for (var p = 0; p < projects[i].Length; p++)
                {
                    projects[i][p] = NewGuid(random);
                    await import.StartRowAsync(ct);
                    await import.WriteAsync(projects[i][p], NpgsqlDbType.Uuid, ct);
                    await import.WriteAsync(users[i], NpgsqlDbType.Uuid, ct);
                    await import.WriteAsync($"Project {p + 1}", NpgsqlDbType.Text, ct);
                    await import.WriteAsync(now.AddMonths(-options.MonthsOfHistory), NpgsqlDbType.TimestampTz, ct);
                    await import.WriteAsync(now.AddMonths(-options.MonthsOfHistory), NpgsqlDbType.TimestampTz, ct);
                }
            }

            await import.CompleteAsync(ct);
        }

        var heavyUsers = Math.Max(1, (int)(userCount * options.HeavyUserFraction));
        var lastTodoOfUser = new Guid?[userCount];
        var historySeconds = (now - now.AddMonths(-options.MonthsOfHistory)).TotalSeconds;
        long done = 0;
        await using (var import = await conn.BeginBinaryImportAsync(
            "COPY todos (id, user_id, parent_todo_id, project_id, title, description, status, priority, due_date, " +
            "completed_at, ai_generated, created_at, updated_at) FROM STDIN (FORMAT BINARY)", ct))
        {
            for (long row = 0; row < options.Rows; row++)
            {
                var u = random.NextDouble() < options.HeavyUserShareOfRows
                    ? random.Next(0, heavyUsers)
                    : random.Next(heavyUsers, Math.Max(heavyUsers + 1, userCount));
                u = Math.Min(u, userCount - 1);
                var id = NewGuid(random);
                var created = now.AddSeconds(-random.NextDouble() * historySeconds);
                var roll = random.NextDouble();
                var status = roll < options.DoneFraction ? "done"
                    : roll < options.DoneFraction + 0.05 ? "cancelled"
                    : roll < options.DoneFraction + 0.15 ? "in_progress"
                    : "todo";
                DateTime? completed = status == "done" ? created.AddSeconds(random.NextDouble() * (now - created).TotalSeconds) : null;
                DateTime? due = random.NextDouble() < 0.6 ? created.AddDays(random.Next(1, 45)) : null;
                Guid? parent = lastTodoOfUser[u] is { } last && random.NextDouble() < 0.1 ? last : null;
                Guid? project = projects[u].Length > 0 && random.NextDouble() < 0.5 ? projects[u][random.Next(projects[u].Length)] : null;
                var updated = completed ?? created.AddSeconds(random.NextDouble() * Math.Min(86_400, (now - created).TotalSeconds));

                await import.StartRowAsync(ct);
                await import.WriteAsync(id, NpgsqlDbType.Uuid, ct);
                await import.WriteAsync(users[u], NpgsqlDbType.Uuid, ct);
                await WriteNullableAsync(import, parent, NpgsqlDbType.Uuid, ct);
                await WriteNullableAsync(import, project, NpgsqlDbType.Uuid, ct);
                await import.WriteAsync($"Todo {row}: {Words[random.Next(Words.Length)]} {Words[random.Next(Words.Length)]}", NpgsqlDbType.Varchar, ct);
                await WriteNullableAsync(import, random.NextDouble() < 0.4 ? $"Details for todo {row}" : null, NpgsqlDbType.Text, ct);
                await import.WriteAsync(status, NpgsqlDbType.Varchar, ct);
                await import.WriteAsync(random.Next(0, 5), NpgsqlDbType.Integer, ct);
                await WriteNullableAsync(import, due, NpgsqlDbType.TimestampTz, ct);
                await WriteNullableAsync(import, completed, NpgsqlDbType.TimestampTz, ct);
                await import.WriteAsync(random.NextDouble() < 0.1, NpgsqlDbType.Boolean, ct);
                await import.WriteAsync(created, NpgsqlDbType.TimestampTz, ct);
                await import.WriteAsync(updated, NpgsqlDbType.TimestampTz, ct);

                lastTodoOfUser[u] = id;
                if (status == "done")
                {
                    done++;
                }

                if ((row + 1) % 10_000 == 0)
                {
                    progress?.Report(row + 1);
                }
            }

            await import.CompleteAsync(ct);
        }

        progress?.Report(options.Rows);
        await using (var analyze = new NpgsqlCommand("ANALYZE users; ANALYZE projects; ANALYZE todos;", conn))
        {
            await analyze.ExecuteNonQueryAsync(ct);
        }

        return new LegacyDataSummary(userCount, options.Rows, done, heavyUsers, sw.Elapsed);
    }

    private static readonly string[] Words =
        ["write", "report", "call", "review", "plan", "buy", "fix", "email", "draft", "book", "prepare", "update", "clean", "design", "test"];

    private static Task WriteNullableAsync<T>(NpgsqlBinaryImporter import, T? value, NpgsqlDbType type, CancellationToken ct)
        where T : struct =>
        value is { } v ? import.WriteAsync(v, type, ct) : import.WriteNullAsync(ct);

    private static Task WriteNullableAsync(NpgsqlBinaryImporter import, string? value, NpgsqlDbType type, CancellationToken ct) =>
        value is not null ? import.WriteAsync(value, type, ct) : import.WriteNullAsync(ct);

    private static Guid NewGuid(Random random)
    {
        Span<byte> bytes = stackalloc byte[16];
        random.NextBytes(bytes);
        bytes[7] = (byte)((bytes[7] & 0x0F) | 0x40); // version 4
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80); // RFC 4122 variant
        return new Guid(bytes);
    }
}

public sealed record LegacyDataSummary(int Users, long Todos, long Done, int HeavyUsers, TimeSpan Elapsed);
