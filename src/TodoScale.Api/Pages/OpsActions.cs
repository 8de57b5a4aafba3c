using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Npgsql;
using TodoScale.Database.Maintenance;
using TodoScale.Database.Migration;

namespace TodoScale.Api.Pages;

/// <summary>
/// The console's actions (run the daily job, validate the migration) run in the background: a daily run with a large
/// archival backlog or a validation of millions of rows takes longer than a browser or proxy keeps a request open.
/// The POST answers 202 with the action at once and the page polls it, showing that it runs and for how long. One
/// action of each kind at a time: a second click while one runs gets the running one back (the maintenance lock would
/// only make a second daily run SKIPPED anyway). The last 20 stay visible after a reload of the page.
/// </summary>
public sealed class OpsActions(string connectionString, IHostApplicationLifetime lifetime)
{
    public const string DailyMaintenance = "daily-maintenance";
    public const string ValidateMigration = "validate-migration";
    public static readonly IReadOnlyList<string> Kinds = [DailyMaintenance, ValidateMigration];

    private readonly ConcurrentDictionary<Guid, OpsAction> _actions = new();
    private readonly Lock _startLock = new();

    public IReadOnlyList<OpsActionView> Recent() =>
        [.. _actions.Values.OrderByDescending(a => a.StartedAt).Take(20).Select(a => a.View())];

    public OpsActionView? Find(Guid id) => _actions.GetValueOrDefault(id)?.View();

    /// <summary>The last finished validation, for the migration panel.</summary>
    public OpsActionView? LastValidation() =>
        _actions.Values.Where(a => a.Kind == ValidateMigration && a.FinishedAt is not null).MaxBy(a => a.StartedAt)?.View();

    public (OpsActionView Action, bool AlreadyRunning) Start(string kind, string? startedBy)
    {
        lock (_startLock)
        {
            if (_actions.Values.FirstOrDefault(a => a.Kind == kind && a.FinishedAt is null) is { } running)
            {
                return (running.View(), true);
            }

            var action = new OpsAction(Guid.NewGuid(), kind, startedBy, DateTimeOffset.UtcNow);
            _actions[action.Id] = action;
            foreach (var old in _actions.Values.OrderByDescending(a => a.StartedAt).Skip(20).Where(a => a.FinishedAt is not null))
            {
                _actions.TryRemove(old.Id, out _);
            }

            // Not the request's token: the action goes on when the operator closes the page; the host's stopping token
            // cancels it on shutdown (a cancelled daily run rolls back and the next run does the work).
            _ = Task.Run(() => RunAsync(action, lifetime.ApplicationStopping));
            return (action.View(), false);
        }
    }

    private async Task RunAsync(OpsAction action, CancellationToken ct)
    {
        try
        {
            action.Result = action.Kind switch
            {
                DailyMaintenance => await RunDailyAsync(ct),
                ValidateMigration => (await new LegacyMigration(connectionString).ValidateAsync(ct))
                    .Select(c => new Dictionary<string, object?> { ["check"] = c.CheckName, ["expected"] = c.Expected, ["actual"] = c.Actual, ["status"] = c.Status })
                    .ToList(),
                _ => throw new InvalidOperationException($"unknown action {action.Kind}"),
            };
            action.Outcome = action.Kind == ValidateMigration
                ? ((List<Dictionary<string, object?>>)action.Result).All(r => (string?)r["status"] == "PASS") ? "PASS" : "FAIL"
                : "done";
        }
        catch (OperationCanceledException)
        {
            action.Outcome = "cancelled";
            action.Error = "The server is shutting down.";
        }
        catch (PostgresException e)
        {
            action.Outcome = "failed";
            action.Error = e.SqlState is PostgresErrorCodes.UndefinedFunction or PostgresErrorCodes.UndefinedTable
                ? $"{e.MessageText}: apply the scripts first (todoscale db migrate)."
                : e.MessageText;
        }
        catch (NpgsqlException e)
        {
            action.Outcome = "failed";
            action.Error = e.Message;
        }
        finally
        {
            action.FinishedAt = DateTimeOffset.UtcNow;
        }
    }

    private async Task<object> RunDailyAsync(CancellationToken ct)
    {
        var run = await new MaintenanceRunner(connectionString).RunDailyAsync(ct);
        return new Dictionary<string, object?>
        {
            ["runId"] = run.RunId,
            ["skipped"] = run.Skipped,
            ["failed"] = run.Failed,
            ["steps"] = run.AllSteps.Select(s => new { s.Step, s.Status, s.RowsAffected, s.DurationMs, s.Detail }).ToList(),
        };
    }

    private sealed class OpsAction(Guid id, string kind, string? startedBy, DateTimeOffset startedAt)
    {
        public Guid Id { get; } = id;
        public string Kind { get; } = kind;
        public DateTimeOffset StartedAt { get; } = startedAt;
        public volatile object? Result;
        public volatile string? Outcome;
        public volatile string? Error;
        private DateTimeOffset? _finishedAt;
        private readonly Lock _lock = new();

        public DateTimeOffset? FinishedAt
        {
            get { lock (_lock) { return _finishedAt; } }
            set { lock (_lock) { _finishedAt = value; } }
        }

        public OpsActionView View()
        {
            var finished = FinishedAt;
            var state = finished is null ? "running" : Outcome ?? "done";
            return new OpsActionView(Id, Kind, state, startedBy, StartedAt, finished,
                (long)((finished ?? DateTimeOffset.UtcNow) - StartedAt).TotalMilliseconds, finished is null ? null : Result, Error);
        }
    }
}

/// <summary>An action as the console shows it: state running, done, PASS/FAIL (validation), failed or cancelled.</summary>
public sealed record OpsActionView(Guid Id, string Kind, string State, string? StartedBy, DateTimeOffset StartedAt, DateTimeOffset? FinishedAt,
    long ElapsedMs, object? Result, string? Error);
