using System.Globalization;
using Npgsql;
using NpgsqlTypes;

namespace TodoScale.Testing;

/// <summary>
/// What a plan test needs to EXPLAIN a statement with the values the application binds: each parameter's SQL type
/// name (for PREPARE ... (types)) and its value as a literal (for EXPLAIN EXECUTE ... (values), where Citus cannot take
/// bound parameters). Shared by the single-node plan tests and the Citus routing tests.
/// </summary>
public static class ExplainParameters
{
    public static string TypeName(NpgsqlParameter p) => p.NpgsqlDbType switch
    {
        NpgsqlDbType.Uuid => "uuid",
        NpgsqlDbType.Text => "text",
        NpgsqlDbType.Integer => "integer",
        NpgsqlDbType.TimestampTz => "timestamptz",
        var other => throw new ArgumentOutOfRangeException(nameof(p), other, "no SQL type name for this parameter"),
    };

    // Only the tests' own values (uuids, integers, instants and a few fixed words) come through here; the quote is doubled anyway.
    public static string Literal(NpgsqlParameter p) => p.Value switch
    {
        DBNull => "NULL",
        int i => i.ToString(CultureInfo.InvariantCulture),
        DateTime t => $"'{t.ToString("yyyy-MM-dd HH:mm:ss.ffffff", CultureInfo.InvariantCulture)}+00'",
        var v => $"'{Convert.ToString(v, CultureInfo.InvariantCulture)!.Replace("'", "''", StringComparison.Ordinal)}'",
    };
}
