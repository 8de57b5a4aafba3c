namespace TodoScale.Database.Files;

/// <summary>
/// Secrets on disk (the built-in cluster's password file, the API's token signing key): files that exist
/// with mode 0600 from their first byte, and that a reader sees either whole or not at all.
/// </summary>
public static class OwnerOnlyFile
{
    public const UnixFileMode Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private const UnixFileMode GroupOrOthers =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>Writes <paramref name="content"/> to <paramref name="path"/>, replacing any earlier file.</summary>
    public static void Write(string path, string content)
    {
        var full = Path.GetFullPath(path);
        var folder = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(folder);
        // Same folder as the target, so the rename below stays on one file system and is atomic.
        var temp = Path.Combine(folder, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, Options(FileMode.CreateNew, FileAccess.Write)))
            using (var writer = new StreamWriter(stream))
            {
                writer.Write(content);
                writer.Flush();
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>
    /// Creates <paramref name="path"/> with <paramref name="content"/> unless it already exists; false when another
    /// writer got there first (two commands starting at once then both use the first file, not one each).
    /// </summary>
    public static bool TryCreate(string path, string content)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        // File.Move without overwrite checks and renames in two steps, so racing creators each replaced the other's
        // file and went on with a key of their own. They take turns on a lock file instead (FileShare.None is an
        // flock on Unix); readers never need it, since the rename shows them nothing or the whole file.
        using var turn = Lock(Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.lock"));
        if (File.Exists(full))
        {
            return false;
        }

        Write(full, content);
        return true;
    }

    /// <summary>The permission bits group or others hold on <paramref name="path"/> (none on Windows, where modes do not apply).</summary>
    public static UnixFileMode GroupOrOtherAccess(string path) =>
        OperatingSystem.IsWindows() ? UnixFileMode.None : File.GetUnixFileMode(path) & GroupOrOthers;

    /// <summary>A mode as chmod writes it (0644).</summary>
    public static string Octal(string path) =>
        OperatingSystem.IsWindows() ? "" : "0" + Convert.ToString((int)File.GetUnixFileMode(path) & 0x1FF, 8);

    private static FileStreamOptions Options(FileMode mode, FileAccess access)
    {
        var options = new FileStreamOptions { Mode = mode, Access = access, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            // Created with 0600: writing with the default umask and restricting afterwards leaves a window in
            // which another local user can open the file, and an open descriptor keeps reading after the chmod.
            options.UnixCreateMode = Mode;
        }

        return options;
    }

    private static FileStream Lock(string path)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return new FileStream(path, Options(FileMode.OpenOrCreate, FileAccess.ReadWrite));
            }
            // Another creator holds it for the few milliseconds a write takes; 30 s means a stuck process, not a turn.
            catch (IOException) when (attempt < 3000)
            {
                Thread.Sleep(10);
            }
        }
    }
}
