using System.Globalization;
using System.Text;
using TodoScale.Application.Todos;

namespace TodoScale.Application.Paging;

/// <summary>
/// Where a page of the todo list ends (keyset paging): in the active part (priority, created_at, id of the last
/// row) or in the archived part (completed_at, id; no position = the start of the archived part). Opaque to clients.
/// </summary>
internal sealed record PageCursor(bool Archived, int? Priority, DateTime? Time, Guid? Id)
{
    public static readonly PageCursor ArchivedStart = new(true, null, null, null);

    public static PageCursor ForActive(TodoView t) => new(false, t.Priority, t.CreatedAt, t.Id);
    public static PageCursor ForArchived(TodoView t) => new(true, null, t.CompletedAt, t.Id);

    public string Encode()
    {
        var text = Archived
            ? Time is null ? "r" : string.Create(CultureInfo.InvariantCulture, $"r:{Time.Value.Ticks}:{Id:N}")
            : string.Create(CultureInfo.InvariantCulture, $"a:{Priority}:{Time!.Value.Ticks}:{Id:N}");
        return Convert.ToBase64String(Encoding.ASCII.GetBytes(text)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    public static PageCursor? TryParse(string value)
    {
        try
        {
            var b64 = value.Replace('-', '+').Replace('_', '/');
            b64 = b64.PadRight(b64.Length + ((4 - (b64.Length % 4)) % 4), '=');
            var parts = Encoding.ASCII.GetString(Convert.FromBase64String(b64)).Split(':');
            return parts switch
            {
                ["r"] => ArchivedStart,
                ["r", var ticks, var id] => new PageCursor(true, null, UtcTicks(ticks), System.Guid.ParseExact(id, "N")),
                ["a", var p, var ticks, var id] => new PageCursor(false, int.Parse(p, CultureInfo.InvariantCulture), UtcTicks(ticks),
                    System.Guid.ParseExact(id, "N")),
                _ => null,
            };
        }
        catch (FormatException)
        {
            return null;
        }
        catch (OverflowException)
        {
            return null;
        }
        catch (ArgumentOutOfRangeException)
        {
            return null;
        }
    }

    private static DateTime UtcTicks(string s) => new(long.Parse(s, CultureInfo.InvariantCulture), DateTimeKind.Utc);
}
