using TodoScale.Api.Auth;

namespace TodoScale.Api.Tests;

public sealed class SigningKeyTests
{
    [Fact]
    public void the_built_in_signing_key_is_created_once_readable_by_its_owner_only_and_then_reused()
    {
        var folder = Path.Combine(Path.GetTempPath(), $"todoscale-key-{Guid.NewGuid():N}");
        try
        {
            var first = JwtSettings.LoadOrCreateLocal(folder);
            var second = JwtSettings.LoadOrCreateLocal(folder);

            Assert.Equal(first.SigningKey, second.SigningKey);
            Assert.Equal(32, Convert.FromBase64String(first.SigningKey).Length);
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(folder, JwtSettings.LocalKeyFileName)));
            }

            Assert.NotEqual(first.SigningKey, JwtSettings.LoadOrCreateLocal(folder + "-other").SigningKey);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
            if (Directory.Exists(folder + "-other"))
            {
                Directory.Delete(folder + "-other", recursive: true);
            }
        }
    }

    [Fact]
    public void a_short_signing_key_is_refused_with_a_clear_message()
    {
        var e = Assert.Throws<InvalidOperationException>(() => new JwtSettings("i", "a", Convert.ToBase64String(new byte[16])).SecurityKey());

        Assert.Contains("32 bytes", e.Message);
    }
}
