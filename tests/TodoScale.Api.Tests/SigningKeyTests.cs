using System.Runtime.Versioning;
using TodoScale.Api.Auth;

namespace TodoScale.Api.Tests;

[SupportedOSPlatform("linux")]
public sealed class SigningKeyTests
{
    private const UnixFileMode GroupOrOthers =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    [Fact(Timeout = TestTimeouts.Quick)]
    public async Task the_built_in_signing_key_is_created_once_readable_by_its_owner_only_and_then_reused()
    {
        var folder = Path.Combine(Path.GetTempPath(), $"todoscale-key-{Guid.NewGuid():N}");
        try
        {
            var first = await Task.Run(() => JwtSettings.LoadOrCreateLocal(folder), TestContext.Current.CancellationToken);
            var second = JwtSettings.LoadOrCreateLocal(folder);

            Assert.Equal(first.SigningKey, second.SigningKey);
            Assert.Equal(32, Convert.FromBase64String(first.SigningKey).Length);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(folder, JwtSettings.LocalKeyFileName)));
            Assert.Equal([JwtSettings.LocalKeyFileName], Directory.GetFiles(folder).Select(Path.GetFileName));
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

    [Fact(Timeout = TestTimeouts.Quick)]
    public async Task commands_starting_at_once_get_one_whole_key_and_no_one_ever_sees_the_file_open_to_others()
    {
        var parent = Directory.CreateTempSubdirectory("todoscale-keys-");
        try
        {
            for (var round = 0; round < 40; round++)
            {
                var folder = Directory.CreateDirectory(Path.Combine(parent.FullName, $"{round}")).FullName;
                using var done = new CancellationTokenSource();
                var opened = new List<string>();
                // Another local user racing the creation: a file that exists even briefly with group/other bits can
                // be opened then, and an open descriptor keeps reading after any later chmod.
                var watcher = Task.Run(() =>
                {
                    while (!done.IsCancellationRequested)
                    {
                        foreach (var file in Directory.EnumerateFiles(folder))
                        {
                            try
                            {
                                if ((File.GetUnixFileMode(file) & GroupOrOthers) != UnixFileMode.None)
                                {
                                    opened.Add(file);
                                }
                            }
                            catch (IOException)
                            {
                                // A temporary name renamed away between listing and stat.
                            }
                        }
                    }
                }, TestContext.Current.CancellationToken);
                var keys = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ =>
                    Task.Run(() => JwtSettings.LoadOrCreateLocal(folder).SigningKey, TestContext.Current.CancellationToken)));
                await done.CancelAsync();
                await watcher;

                Assert.Single(keys.Distinct());
                Assert.Equal(32, Convert.FromBase64String(keys[0]).Length);
                Assert.Empty(opened);
                Assert.Equal([JwtSettings.LocalKeyFileName], Directory.GetFiles(folder).Select(Path.GetFileName));
            }
        }
        finally
        {
            parent.Delete(recursive: true);
        }
    }

    [Theory(Timeout = TestTimeouts.Quick)]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, "0644")]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, "0640")]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherWrite, "0602")]
    public async Task an_existing_key_file_that_others_can_open_is_refused_with_a_clear_message(UnixFileMode mode, string octal)
    {
        var folder = Directory.CreateTempSubdirectory("todoscale-key-");
        var path = Path.Combine(folder.FullName, JwtSettings.LocalKeyFileName);
        try
        {
            var key = JwtSettings.NewRandom().SigningKey;
            await File.WriteAllTextAsync(path, key, TestContext.Current.CancellationToken);
            File.SetUnixFileMode(path, mode);

            var e = Assert.Throws<UnsafeSigningKeyFileException>(() => JwtSettings.LoadOrCreateLocal(folder.FullName));
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            var afterChmod = JwtSettings.LoadOrCreateLocal(folder.FullName);

            Assert.Contains(path, e.Message);
            Assert.Contains($"mode {octal}", e.Message);
            Assert.Contains($"chmod 600 {path}", e.Message);
            Assert.DoesNotContain(key, e.Message);
            // Refused, not replaced: the operator's key (and the tokens signed with it) is theirs to keep or drop.
            Assert.Equal(key, afterChmod.SigningKey);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact(Timeout = TestTimeouts.Quick)]
    public async Task a_short_signing_key_is_refused_with_a_clear_message()
    {
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            Task.Run(() => new JwtSettings("i", "a", Convert.ToBase64String(new byte[16])).SecurityKey(), TestContext.Current.CancellationToken));

        Assert.Contains("32 bytes", e.Message);
    }
}
