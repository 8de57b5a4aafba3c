namespace TodoScale.Testing;

/// <summary>
/// Every test names one of these as its xunit Timeout (<c>[Fact(Timeout = TestTimeouts.Database)]</c>): a hang
/// (a lock nobody releases, a server that never answers) must fail that test instead of stalling CI.
/// Generous on purpose: the CI machine has 2 noisy cores and runs the test projects side by side.
/// </summary>
public static class TestTimeouts
{
    /// <summary>No database, or a few statements: seconds at worst.</summary>
    public const int Quick = 60_000;

    /// <summary>A test that builds its own database and moves rows through it.</summary>
    public const int Database = 180_000;

    /// <summary>Child processes (the CLI, psql, a second cluster) or tens of thousands of rows.</summary>
    public const int Long = 420_000;

    /// <summary>Explicit measurement runs only, never in CI (a million rows and more): still bounded, so a hang ends.</summary>
    public const int Measurement = 3_600_000;
}
