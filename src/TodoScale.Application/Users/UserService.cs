using Microsoft.EntityFrameworkCore;
using TodoScale.Application.Data;
using TodoScale.Application.Models;
using TodoScale.Application.Todos;

namespace TodoScale.Application.Users;

/// <summary>The application's users (`todoscale users add`, the API's test and demo hosts). EF Core only (see <see cref="PreparedStatements"/>).</summary>
public sealed class UserService(TodoDbContext db)
{
    /// <summary>Creates the user, or returns the existing one with that email (Created false).</summary>
    public async Task<(User User, bool Created)> EnsureUserAsync(string email, string? displayName = null, CancellationToken ct = default)
    {
        var errors = new Dictionary<string, string[]>();
        InputRules.NewUser(email, displayName, errors);
        InputRules.ThrowIfAny(errors);
        email = email.Trim();

        var existing = await db.Users.Where(u => u.Email == email).FirstOrDefaultAsync(ct);
        if (existing is not null)
        {
            return (existing, false);
        }

        var user = new User { Id = Guid.CreateVersion7(), Email = email, DisplayName = displayName };
        db.Users.Add(user);
        await db.SaveChangesAsync(ct);
        db.ChangeTracker.Clear();
        return (user, true);
    }
}
