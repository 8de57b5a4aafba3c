using System.ClientModel;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.IdentityModel.Tokens;
using Microsoft.OpenApi;
using Npgsql;
using OpenAI;
using Scalar.AspNetCore;
using TodoScale.Api.Auth;
using TodoScale.Api.Endpoints;
using TodoScale.Api.Pages;
using TodoScale.Application.Data;
using TodoScale.Application.Data.Routing;
using TodoScale.Application.Ai;
using TodoScale.Application.Dashboards;
using TodoScale.Application.Projects;
using TodoScale.Application.Todos;
using TodoScale.Application.Users;
using TodoScale.Database.Maintenance;

namespace TodoScale.Api.Hosting;

/// <summary>What the host needs beyond configuration; each value, when set, wins over appsettings and environment.</summary>
public sealed class TodoScaleApiOptions
{
    /// <summary>Npgsql connection string of a database that has the TodoScale schema (ConnectionStrings:TodoScale).</summary>
    public string? ConnectionString { get; init; }

    /// <summary>Token settings; when null, the "Auth" configuration section must provide them.</summary>
    public JwtSettings? Jwt { get; init; }

    /// <summary>Listen addresses, e.g. http://127.0.0.1:5080; http://127.0.0.1:0 picks a free port (tests).</summary>
    public IReadOnlyList<string> Urls { get; init; } = [];

    /// <summary>Runs the phase-3 maintenance scheduler inside the host (todoscale serve: yes; tests: no).</summary>
    public bool RunMaintenanceScheduler { get; init; }
}

/// <summary>
/// Builds the TodoScale HTTP API host. Used by `todoscale serve`, the demo and the tests:
/// <code>
/// var app = TodoScaleApi.Build([], new TodoScaleApiOptions { ConnectionString = cs, Jwt = jwt, Urls = ["http://127.0.0.1:5080"] });
/// await app.StartAsync();            // or app.RunAsync()
/// var url = TodoScaleApi.ListeningUrls(app)[0];
/// </code>
/// </summary>
public static class TodoScaleApi
{
    public const string ConnectionStringName = "TodoScale";
    public const string OperatorPolicy = "operator";

    public static WebApplication Build(string[] args, TodoScaleApiOptions? options = null, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = CreateBuilder(args, options);
        configure?.Invoke(builder);
        return Configure(builder.Build());
    }

    public static WebApplicationBuilder CreateBuilder(string[] args, TodoScaleApiOptions? options = null)
    {
        options ??= new TodoScaleApiOptions();
        var builder = WebApplication.CreateBuilder(args);
        // A line per request at Information drowns the server's own messages; appsettings or Logging__LogLevel__*
        // in the environment still win, since this default is the first configuration source.
        builder.Configuration.Sources.Insert(0, new Microsoft.Extensions.Configuration.Memory.MemoryConfigurationSource
        {
            InitialData = [new("Logging:LogLevel:Microsoft.AspNetCore", "Warning"),
                // EF logs every SQL statement at Information, which buries the URL and token lines of serve/demo.
                new("Logging:LogLevel:Microsoft.EntityFrameworkCore.Database.Command", "Warning")],
        });
        var overrides = new Dictionary<string, string?>();
        if (options.ConnectionString is not null)
        {
            overrides[$"ConnectionStrings:{ConnectionStringName}"] = options.ConnectionString;
        }

        if (options.Jwt is not null)
        {
            overrides[$"{JwtSettings.Section}:Issuer"] = options.Jwt.Issuer;
            overrides[$"{JwtSettings.Section}:Audience"] = options.Jwt.Audience;
            overrides[$"{JwtSettings.Section}:SigningKey"] = options.Jwt.SigningKey;
        }

        builder.Configuration.AddInMemoryCollection(overrides);
        if (options.Urls.Count > 0)
        {
            builder.WebHost.UseUrls([.. options.Urls]);
        }

        var config = builder.Configuration;
        var connectionString = config.GetConnectionString(ConnectionStringName)
            ?? throw new InvalidOperationException($"No database: set ConnectionStrings:{ConnectionStringName}.");
        var jwt = JwtSettings.FromConfiguration(config)
            ?? throw new InvalidOperationException($"No token signing key: set {JwtSettings.Section}:SigningKey (base64, 32 bytes).");

        var services = builder.Services;
        services.AddSingleton(_ => AppConnection.CreateDataSource(connectionString));
        // Reads may go to standbys (ReadReplicas:*): each read service below gets the request's node from DataRoute.
        services.AddReadReplicas(AppConnection.ForApplication(connectionString));
        // Pooled contexts (options built once, contexts reused): AddDbContext rebuilt the options for every request
        // scope and a DbContext's constructor copies its core options again, which every request paid because
        // TodoService takes a context even when, as the list, it never touches it. perf of the API under wrk (list
        // endpoint, 16 connections): EF Core's options code was 8% of the API process's CPU, still 3% with the options
        // built once.
        services.AddDbContextPool<TodoDbContext>((sp, o) => o.UseTodoScale(sp.GetRequiredService<NpgsqlDataSource>()));
        // One service per route group; each endpoint resolves only its own (the dashboard's takes no DbContext at all).
        services.AddScoped(sp => new TodoService(sp.Route().DataSource, sp.Route().Context));
        services.AddScoped(sp => new ProjectService(sp.Route().DataSource, sp.Route().Context,
            sp.GetService<TimeProvider>()));
        services.AddScoped(sp => new DashboardService(sp.Route().DataSource, sp.GetService<TimeProvider>()));
        services.AddScoped(sp => new AiInteractionService(sp.Route().Context, sp.GetRequiredService<TodoService>(),
            sp.GetService<TimeProvider>()));
        services.AddScoped(sp => new UserService(sp.GetRequiredService<TodoDbContext>()));
        services.AddScoped(sp => new SubtaskSuggester(sp.GetRequiredService<TodoService>(), sp.GetRequiredService<AiInteractionService>(),
            sp.GetService<IChatClient>(), config["Ai:Model"]));
        services.AddSingleton(jwt);
        services.AddSingleton(new TokenIssuer(jwt));
        AddChatModel(services, config);

        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(o =>
        {
            // Keep "sub" and "role" as they are in the token instead of the long WS-* claim type names.
            o.MapInboundClaims = false;
            o.TokenValidationParameters = new TokenValidationParameters
            {
                ValidIssuer = jwt.Issuer,
                ValidAudience = jwt.Audience,
                IssuerSigningKey = jwt.SecurityKey(),
                ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
                NameClaimType = TokenIssuer.SubjectClaim,
                RoleClaimType = TokenIssuer.RoleClaim,
                ClockSkew = TimeSpan.FromSeconds(30),
            };
        });
        services.AddAuthorizationBuilder().AddPolicy(OperatorPolicy, p => p.RequireRole(TokenIssuer.OperatorRole));
        // The web pages (/ and /ops): their session cookie next to bearer tokens, sign-in codes, the console's actions.
        services.AddTodoScalePages(connectionString);

        services.AddProblemDetails();
        services.AddExceptionHandler<ProblemExceptionHandler>();
        // Malformed JSON bodies throw so ProblemExceptionHandler can name the offending field in the 400.
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.AddOpenApi(o => o.AddDocumentTransformer((doc, _, _) =>
        {
            // Lets the reference UI (/scalar) send the bearer token that `todoscale users add` prints.
            doc.Components ??= new OpenApiComponents();
            doc.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            doc.Components.SecuritySchemes["Bearer"] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                BearerFormat = "JWT",
                Description = "A token from `todoscale users add --email you@example.com`.",
            };
            doc.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("Bearer", doc)] = [] }];
            return Task.CompletedTask;
        }));
        services.AddHealthChecks().AddCheck<DatabaseHealthCheck>("database", tags: ["ready"]);

        if (options.RunMaintenanceScheduler)
        {
            // Phase 3 inside the host: daily and weekly maintenance on the configured cron plan, guarded by an
            // advisory lock so that of many app instances only one does the work. Only under `todoscale serve`,
            // never in API tests, where a 02:00 archival run would move rows under a test's feet.
            services.AddTodoScaleMaintenance(config, connectionString);
        }

        return builder;
    }

    public static WebApplication Configure(WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseReadReplicas();

        app.MapOpenApi().AllowAnonymous();
        app.MapScalarApiReference().AllowAnonymous();
        app.MapHealthChecks("/health").AllowAnonymous();
        app.MapHealthChecks("/health/live", new() { Predicate = _ => false }).AllowAnonymous();
        app.MapHealthChecks("/health/ready", new() { Predicate = c => c.Tags.Contains("ready") }).AllowAnonymous();
        app.MapTodoApi();
        app.MapOperatorApi();
        app.MapTodoScalePages();
        return app;
    }

    /// <summary>
    /// Creates the user (or finds it by email) in the host's database and returns a bearer token for it,
    /// signed with the host's key: what `todoscale users add` prints, for callers that hold the host (demo).
    /// </summary>
    public static async Task<string> CreateUserTokenAsync(WebApplication app, string email, bool isOperator = false, CancellationToken ct = default)
    {
        await using var scope = app.Services.CreateAsyncScope();
        var (user, _) = await scope.ServiceProvider.GetRequiredService<UserService>().EnsureUserAsync(email, ct: ct);
        return app.Services.GetRequiredService<TokenIssuer>().Issue(user.Id, user.Email, isOperator);
    }

    /// <summary>The addresses Kestrel actually listens on (resolves port 0), once the app is started.</summary>
    public static IReadOnlyList<string> ListeningUrls(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.ToList() ?? [];

    /// <summary>An OpenAI-compatible chat model when Ai:Endpoint and Ai:Model are set; otherwise none, and suggestions answer 503.</summary>
    private static void AddChatModel(IServiceCollection services, IConfiguration config)
    {
        var endpoint = config["Ai:Endpoint"];
        var model = config["Ai:Model"];
        if (string.IsNullOrWhiteSpace(endpoint) || string.IsNullOrWhiteSpace(model))
        {
            return;
        }

        var key = config["Ai:ApiKey"];
        services.AddChatClient(_ => new OpenAI.Chat.ChatClient(model,
                new ApiKeyCredential(string.IsNullOrWhiteSpace(key) ? "unused" : key),
                new OpenAIClientOptions { Endpoint = new Uri(endpoint) })
            .AsIChatClient());
    }
}

/// <summary>Session settings the application's connections need.</summary>
public static class AppConnection
{
    /// <summary>
    /// Statements each physical connection keeps prepared (Npgsql automatic preparation): the application's hand-written
    /// statements and EF's queries are a few dozen.
    /// </summary>
    public const int MaxAutoPrepare = 64;

    /// <summary>
    /// Every todo query names one user, so PostgreSQL's default (custom plans for the first executions of a
    /// prepared statement, re-planned with the partition pruned) re-plans a 16-partition query on every call.
    /// A generic plan prunes at run time instead and is planned once per connection: the benchmark measured
    /// 1.4-3.2x the throughput on the top-20 and dashboard queries (docs/benchmarks.md, "Tuning").
    /// That holds for prepared statements only: an unprepared statement (Npgsql's default) is planned on every
    /// execution, and with force_generic_plan that plan covers all 16 partitions. pgbench on 100k rows, list statement,
    /// one client: 0.13 ms prepared, 1.36 ms unprepared with force_generic_plan (0.29 ms unprepared with the default);
    /// the API answered its list endpoint at 5% of the database-only rate. Automatic preparation makes every
    /// statement the application repeats a prepared one on each pooled connection.
    /// </summary>
    public static string ForApplication(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(WithGenericPlans(connectionString));
        if (builder.MaxAutoPrepare == 0)
        {
            builder.MaxAutoPrepare = MaxAutoPrepare;
        }

        // Npgsql resets a pooled connection on every return (RESET ALL, CLOSE ALL, UNLISTEN *, pg_advisory_unlock_all(),
        // DISCARD SEQUENCES/TEMP: seven statements and one more round of messages, sent with the next request's query).
        // These connections never change session state: no SET, LISTEN, session advisory lock or temporary table
        // outlives a statement (the maintenance runner has its own connections), and an open transaction is still
        // rolled back on return. Without the reset, the list statement on a pooled connection took 0.09-0.10 ms
        // instead of 0.22-0.25 ms (in-process probe, 1 client).
        builder.NoResetOnClose = true;

        return builder.ConnectionString;
    }

    /// <summary>
    /// The application's data source: <see cref="ForApplication"/>, and on a database with Citus each new physical
    /// connection goes back to plan_cache_mode=auto. Citus cannot route a generic plan of a statement that joins or
    /// nests tables with an unbound $1 (the dashboard's counts, projects with counts, delete with subtasks): it fails
    /// with "could not create distributed plan"; with auto it plans each execution with the user's id and routes it
    /// to that user's worker (Task Count: 1). Checked per physical connection, not per request (NoResetOnClose keeps
    /// the session setting), and before distribution too, so connections opened while `db distribute` runs are right.
    /// </summary>
    public static NpgsqlDataSource CreateDataSource(string connectionString)
    {
        var builder = new NpgsqlDataSourceBuilder(ForApplication(connectionString));
        builder.UsePhysicalConnectionInitializer(
            conn =>
            {
                using var cmd = new NpgsqlCommand(CustomPlansOnCitus, conn);
                cmd.ExecuteNonQuery();
            },
            async conn =>
            {
                await using var cmd = new NpgsqlCommand(CustomPlansOnCitus, conn);
                await cmd.ExecuteNonQueryAsync();
            });
        // A multi-host connection string names the primary and its standbys: this pool is the primary's, so writes,
        // maintenance and /api/ops never land on a standby (reads are routed by ReadReplicaHosting).
        return ReadReplicaOptions.IsMultiHost(connectionString)
            ? builder.BuildMultiHost().WithTargetSession(TargetSessionAttributes.Primary)
            : builder.Build();
    }

    private const string CustomPlansOnCitus =
        "SELECT set_config('plan_cache_mode', 'auto', false) WHERE EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')";

    /// <summary>The connection string with <c>plan_cache_mode=force_generic_plan</c> added to its session options (see <see cref="ForApplication"/>).</summary>
    public static string WithGenericPlans(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        builder.Options = string.IsNullOrWhiteSpace(builder.Options)
            ? "-c plan_cache_mode=force_generic_plan"
            : builder.Options + " -c plan_cache_mode=force_generic_plan";
        return builder.ConnectionString;
    }
}

/// <summary>Readiness: the database answers a query.</summary>
internal sealed class DatabaseHealthCheck(NpgsqlDataSource dataSource) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var cmd = dataSource.CreateCommand("SELECT 1");
            await cmd.ExecuteScalarAsync(cancellationToken);
            return HealthCheckResult.Healthy("database reachable");
        }
        catch (NpgsqlException e)
        {
            return HealthCheckResult.Unhealthy("database unreachable", e);
        }
    }
}
