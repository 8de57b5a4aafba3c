namespace TodoScale.Cli.Infrastructure;

/// <summary>What a todoscale exit code means; scripts and cron rely on these staying stable.</summary>
public static class ExitCodes
{
    public const int Success = 0;
    /// <summary>The command ran and found a problem: a validation FAIL, a CRITICAL health check, a failed maintenance step.</summary>
    public const int CheckFailed = 1;
    /// <summary>Bad arguments or input.</summary>
    public const int Usage = 2;
    /// <summary>The database refused or failed (PostgreSQL error, script failure, connection refused).</summary>
    public const int DatabaseError = 3;
    /// <summary>No PostgreSQL server programs on this machine for the built-in database, or no Citus where a Citus cluster is needed.</summary>
    public const int PostgresMissing = 4;
    /// <summary>Another instance holds the lock (migration or maintenance already running).</summary>
    public const int Busy = 5;
    /// <summary>Stopped by Ctrl-C after finishing the current step; running again resumes.</summary>
    public const int Interrupted = 130;
}
