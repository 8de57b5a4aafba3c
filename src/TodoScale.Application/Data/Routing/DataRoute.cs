using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace TodoScale.Application.Data.Routing;

/// <summary>
/// The node one request's statements go to (scoped: one per request). The services get their data source and
/// EF context from here, so a read request's service runs entirely on the standby chosen for it and a write request's
/// entirely on the primary; the services themselves do not know about replicas. Unset, it is the primary.
/// </summary>
public sealed class DataRoute(IServiceProvider services) : IAsyncDisposable
{
    private TodoDbContext? _standbyContext;

    /// <summary>The standby chosen for this request, or null for the primary.</summary>
    public ReplicaNode? Standby { get; private set; }

    public NpgsqlDataSource DataSource => Standby?.DataSource ?? services.GetRequiredService<NpgsqlDataSource>();

    /// <summary>The EF context of the chosen node: the host's pooled primary context, or one from the standby's own pool.</summary>
    public TodoDbContext Context => Standby is { } s
        ? _standbyContext ??= s.CreateContext()
        : services.GetRequiredService<TodoDbContext>();

    /// <summary>Chooses the node; only before a service has been resolved from this scope (the middleware does it first).</summary>
    public void Use(ReplicaNode? standby) => Standby = standby;

    public async ValueTask DisposeAsync()
    {
        if (_standbyContext is not null)
        {
            await _standbyContext.DisposeAsync();
        }
    }
}

public static class DataRouteServices
{
    /// <summary>The request's <see cref="DataRoute"/>.</summary>
    public static DataRoute Route(this IServiceProvider services) => services.GetRequiredService<DataRoute>();
}
