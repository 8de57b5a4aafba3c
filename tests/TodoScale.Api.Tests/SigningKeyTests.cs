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
            Assert.Empty(Directory.GetFiles(folder, "*.tmp", SearchOption.AllDirectories));
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
        const int starters = 4;
        var parent = Directory.CreateTempSubdirectory("todoscale-keys-");
        try
        {
            for (var round = 0; round < 150; round++)
            {
                var folder = Directory.CreateDirectory(Path.Combine(parent.FullName, $"{round}")).FullName;
                var path = Path.Combine(folder, JwtSettings.LocalKeyFileName);
                var keys = new string?[starters];
                var failures = new List<string>();
                var open = false;
                using var go = new Barrier(starters + 1);
                var threads = Enumerable.Range(0, starters + 1).Select(i => new Thread(() =>
                {
                    go.SignalAndWait();
                    if (i == starters)
                    {
                        // Another local user racing the creation: a key file that exists even briefly with group or
                        // other bits can be opened then, and an open descriptor keeps reading after a later chmod.
                        for (var spin = 0; spin < 200_000 && keys.Any(k => k is null); spin++)
                        {
                            try
                            {
                                open |= File.Exists(path) && (File.GetUnixFileMode(path) & GroupOrOthers) != UnixFileMode.None;
                            }
                            catch (IOException)
                            {
                            }
                        }

                        return;
                    }

                    try
                    {
                        keys[i] = JwtSettings.LoadOrCreateLocal(folder).SigningKey;
                    }
                    catch (Exception e)
                    {
                        lock (failures)
                        {
                            failures.Add(e.Message);
                        }

                        keys[i] = "";
                    }
                })).ToList();
                threads.ForEach(t => t.Start());
                await Task.Run(() => threads.ForEach(t => t.Join()), TestContext.Current.CancellationToken);

                Assert.Empty(failures);
                Assert.Single(keys.Distinct());
                Assert.Equal(32, Convert.FromBase64String(keys[0]!).Length);
                Assert.False(open, $"round {round}: the key file was open to group or others while it was being created");
                Assert.Empty(Directory.GetFiles(folder, "*.tmp", SearchOption.AllDirectories));
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
