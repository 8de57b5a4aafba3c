using System.Globalization;
using Cronos;
using Microsoft.Extensions.Configuration;

namespace TodoScale.Database.Maintenance;

/// <summary>
/// The configuration section "Maintenance": when the host runs the jobs.
/// <code>
/// "Maintenance": { "Enabled": true, "DailyCron": "0 2 * * *", "WeeklyCron": "0 3 * * 0", "TimeZone": "UTC" }
/// </code>
/// Cron expressions have five fields, or six with seconds first.
/// </summary>
public sealed class MaintenanceOptions
{
    public const string SectionName = "Maintenance";

    public bool Enabled { get; init; } = true;

    public string DailyCron { get; init; } = "0 2 * * *";

    public string WeeklyCron { get; init; } = "0 3 * * 0";

    public TimeZoneInfo TimeZone { get; init; } = TimeZoneInfo.Utc;

    /// <summary>Reads and validates the section; a bad value fails at startup, not at 02:00.</summary>
    public static MaintenanceOptions FromConfiguration(IConfiguration configuration)
    {
        var section = configuration.GetSection(SectionName);
        var defaults = new MaintenanceOptions();
        var enabledText = section["Enabled"];
        bool enabled = defaults.Enabled;
        if (!string.IsNullOrWhiteSpace(enabledText) && !bool.TryParse(enabledText, out enabled))
        {
            throw new ArgumentException($"{SectionName}:Enabled must be true or false, not '{enabledText}'.");
        }

        var options = new MaintenanceOptions
        {
            Enabled = enabled,
            DailyCron = NonEmpty(section["DailyCron"]) ?? defaults.DailyCron,
            WeeklyCron = NonEmpty(section["WeeklyCron"]) ?? defaults.WeeklyCron,
            TimeZone = NonEmpty(section["TimeZone"]) is { } tz ? FindTimeZone(tz) : defaults.TimeZone,
        };
        _ = ParseCron(options.DailyCron, "DailyCron");
        _ = ParseCron(options.WeeklyCron, "WeeklyCron");
        return options;
    }

    public CronExpression Daily => ParseCron(DailyCron, nameof(DailyCron));

    public CronExpression Weekly => ParseCron(WeeklyCron, nameof(WeeklyCron));

    internal static CronExpression ParseCron(string expression, string name)
    {
        var fields = expression.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
        try
        {
            return CronExpression.Parse(expression, fields == 6 ? CronFormat.IncludeSeconds : CronFormat.Standard);
        }
        catch (CronFormatException e)
        {
            throw new ArgumentException($"{SectionName}:{name} '{expression}' is not a cron expression: {e.Message}", e);
        }
    }

    private static TimeZoneInfo FindTimeZone(string id)
    {
        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(id);
        }
        catch (TimeZoneNotFoundException e)
        {
            throw new ArgumentException($"{SectionName}:TimeZone '{id}' is not a known time zone.", e);
        }
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"Enabled={Enabled}, DailyCron='{DailyCron}', WeeklyCron='{WeeklyCron}', TimeZone={TimeZone.Id}");
}
