using TodoScale.Api.Auth;
using TodoScale.Api.Pages;

namespace TodoScale.Cli.Tests;

/// <summary>`todoscale users sign-in-link`: the one-time link for the web pages, signed with the key serve checks.</summary>
public sealed class SignInLinkCommandTests(PostgresServer server)
{
    [Fact(Timeout = TestTimeouts.Long)]
    public async Task users_sign_in_link_prints_a_link_to_the_given_url_whose_code_signs_the_user_in_once()
    {
        var cs = await server.CreateMigratedDatabaseAsync("clilink");
        var jwt = JwtSettings.NewRandom();
        var env = new Dictionary<string, string?> { ["Auth__SigningKey"] = jwt.SigningKey };

        var result = await Todoscale.RunAsync(
            ["users", "sign-in-link", "--email", "link@example.com", "--operator", "--url", "https://todo.example.com", "--database", cs], env);

        Assert.True(result.ExitCode == 0, result.Stderr);
        var link = result.Stdout.Trim().Split('\n')[^1];
        Assert.StartsWith("https://todo.example.com/sign-in#code=", link);
        var userId = await Sql.ScalarAsync<Guid>(cs, "SELECT id FROM users WHERE email = $1", "link@example.com");
        // What serve does with the code the page posts: valid once, for this user, with the operator role.
        var codes = new SignInCodes(jwt);
        var code = Uri.UnescapeDataString(link[(link.IndexOf("#code=", StringComparison.Ordinal) + 6)..]);
        var identity = await codes.RedeemAsync(code);
        Assert.NotNull(identity);
        Assert.Equal((userId.ToString(), "operator"), (identity.FindFirst(TokenIssuer.SubjectClaim)?.Value, identity.FindFirst(TokenIssuer.RoleClaim)?.Value));
        Assert.Null(await codes.RedeemAsync(code));
        // Signed with another key (another machine's serve): refused.
        Assert.Null(await new SignInCodes(JwtSettings.NewRandom()).RedeemAsync(code));
    }

    [Fact(Timeout = TestTimeouts.Long)]
    public async Task users_sign_in_link_refuses_a_bad_email_or_url_with_exit_2()
    {
        var badEmail = await Todoscale.RunAsync(["users", "sign-in-link", "--email", "no-at-sign"]);
        var badUrl = await Todoscale.RunAsync(["users", "sign-in-link", "--email", "a@example.com", "--url", "ftp://example.com"]);

        Assert.Equal((2, 2), (badEmail.ExitCode, badUrl.ExitCode));
        Assert.StartsWith("error: --email", badEmail.Stderr);
        Assert.StartsWith("error: --url", badUrl.Stderr);
    }
}
