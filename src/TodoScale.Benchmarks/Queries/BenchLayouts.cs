namespace TodoScale.Benchmarks;

/// <summary>
/// One way of storing and querying the same rows. PlanCacheMode is the session setting the application
/// would set in its connection string (Options=-c plan_cache_mode=...); null leaves PostgreSQL's default (auto).
/// Setup, when set, is run before each of the layout's turns: it puts the database into the state the layout
/// stands for (the history growth stage switches the archive between its small and grown history this way).
/// </summary>
public sealed record BenchLayout(string Key, string Name, LayoutKind Kind, string Table, string? PlanCacheMode, bool Baseline, string? Setup = null, string? Settings = null, int MaxClients = int.MaxValue)
{
    public string ConnectionOptions => string.Join(' ', new[] { PlanCacheMode is null ? null : $"-c plan_cache_mode={PlanCacheMode}", Settings }.Where(o => o is not null));
}

public static class BenchLayouts
{
    /// <summary>(a) the legacy table as applications have it: primary key and an index on user_id.</summary>
    public static readonly BenchLayout Legacy = new("a", "(a) legacy todos: PK + user_id index", LayoutKind.SingleTable, "todos", null, true);

    /// <summary>
    /// (a0) the legacy table as the guide's "before" describes it: nothing but the primary key for a per-user query,
    /// i.e. the same table with index use switched off for the session (the primary key on id cannot serve a
    /// user_id filter anyway). Only measured with one client: each query scans the whole table.
    /// </summary>
    public static readonly BenchLayout LegacyPkOnly = new("a0", "(a0) legacy todos, primary key only (no user_id index)", LayoutKind.SingleTable, "todos", null, true,
        Settings: "-c enable_indexscan=off -c enable_bitmapscan=off -c enable_indexonlyscan=off", MaxClients: 1);

    /// <summary>(b) the same rows in one table with the best composite (key-only) index for each query, vacuumed.</summary>
    public static readonly BenchLayout Indexed = new("b", "(b) single table, best composite indexes", LayoutKind.SingleTable, "bench_todos_indexed", null, true);

    /// <summary>(b) with the plan cache setting TodoScale runs with: splits the plan cache's share of the gain from the rest.</summary>
    public static readonly BenchLayout IndexedGeneric = Indexed with { Key = "b-generic", Name = "(b) single table, best composite indexes, force_generic_plan", PlanCacheMode = "force_generic_plan" };

    /// <summary>
    /// (b*) the peer tuned as well as we are: (b)'s rows and indexes in a table CLUSTERed by user (the same key order
    /// cluster_partitions() gives each partition), vacuumed, run with force_generic_plan. What is left between it and
    /// TodoScale is partitioning alone.
    /// </summary>
    public static readonly BenchLayout Tuned = new("b*", "(b*) single table, best indexes, clustered by user, force_generic_plan", LayoutKind.SingleTable, "bench_todos_tuned", "force_generic_plan", true);

    /// <summary>(b+) the same rows in one table with exactly TodoScale's index set (covering, partial), vacuumed.</summary>
    public static readonly BenchLayout Covering = new("b+", "(b+) single table, TodoScale's own indexes", LayoutKind.SingleTable, "bench_todos_covering", null, true);

    public static readonly BenchLayout TodoScaleCustom = new("t-custom", "TodoScale, default plan cache (custom plans)", LayoutKind.TodoScale, "todos_active", null, false);

    public static readonly BenchLayout TodoScaleGeneric = new("t-generic", "TodoScale, plan_cache_mode=force_generic_plan", LayoutKind.TodoScale, "todos_active", "force_generic_plan", false);

    public static readonly BenchLayout TodoScaleCustomClustered = TodoScaleCustom with { Key = "t-custom-clustered", Name = "TodoScale clustered, default plan cache" };

    public static readonly BenchLayout TodoScaleGenericClustered = TodoScaleGeneric with { Key = "t-generic-clustered", Name = "TodoScale clustered, force_generic_plan (final)" };

    /// <summary>The layout the application runs in the end: after maintenance, with the recommended session setting.</summary>
    public static BenchLayout Final => TodoScaleGenericClustered;

    /// <summary>History growth stage: (b) as generated, measured in the same rounds as <see cref="IndexedGrown"/>.</summary>
    public static readonly BenchLayout IndexedSmall = Indexed with { Key = "b-small", Name = "(b) single table, best composite indexes, original history" };

    /// <summary>History growth stage: (b)'s rows plus years of finished history, same indexes (grow_history.sql).</summary>
    public static readonly BenchLayout IndexedGrown = Indexed with { Key = "b-grown", Name = "(b) single table, best composite indexes, grown history", Table = "bench_todos_grown" };

    /// <summary>History growth stage: the final layout with the added archive months detached (original history).</summary>
    public static readonly BenchLayout FinalSmall = TodoScaleGenericClustered with
    {
        Key = "t-final-small", Name = "TodoScale final, original history", Setup = "SELECT bench_set_history(false)",
    };

    /// <summary>History growth stage: the final layout with the added archive months attached.</summary>
    public static readonly BenchLayout FinalGrown = TodoScaleGenericClustered with
    {
        Key = "t-final-grown", Name = "TodoScale final, grown history", Setup = "SELECT bench_set_history(true)",
    };
}
