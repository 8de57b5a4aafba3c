using Npgsql;

namespace TodoScale.Application.Data;

/// <summary>Reads of columns that may be NULL, for the row mappers of the prepared statements.</summary>
internal static class NullableColumns
{
    public static Guid? GuidOrNull(this NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetGuid(i);
    public static string? StringOrNull(this NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);
    public static int? IntOrNull(this NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetInt32(i);
    public static DateTime? DateTimeOrNull(this NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetDateTime(i);
}
