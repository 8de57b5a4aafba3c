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
    public static void Write(string path, string content) => WriteCore(path, content, replace: true);

    /// <summary>
    /// Creates <paramref name="path"/> with <paramref name="content"/> unless it already exists; false when another
    /// writer got there first (two commands starting at once then both use the first file, not one each).
    /// </summary>
    public static bool TryCreate(string path, string content) => WriteCore(path, content, replace: false);

    /// <summary>The permission bits group or others hold on <paramref name="path"/> (none on Windows, where modes do not apply).</summary>
    public static UnixFileMode GroupOrOtherAccess(string path) =>
        OperatingSystem.IsWindows() ? UnixFileMode.None : File.GetUnixFileMode(path) & GroupOrOthers;

    /// <summary>A mode as chmod writes it (0644).</summary>
    public static string Octal(string path) =>
        OperatingSystem.IsWindows() ? "" : "0" + Convert.ToString((int)File.GetUnixFileMode(path) & 0x1FF, 8);

    private static bool WriteCore(string path, string content, bool replace)
    {
        var full = Path.GetFullPath(path);
        var folder = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(folder);
        // Same folder as the target, so the rename below stays on one file system and is atomic.
        var temp = Path.Combine(folder, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
            if (!OperatingSystem.IsWindows())
            {
                // Created with 0600: writing with the default umask and restricting afterwards leaves a window
                // in which another local user can open the file and keep reading it after the chmod.
                options.UnixCreateMode = Mode;
            }

            using (var stream = new FileStream(temp, options))
            using (var writer = new StreamWriter(stream))
            {
                writer.Write(content);
                writer.Flush();
                stream.Flush(flushToDisk: true);
            }

            try
            {
                // Without replace, .NET moves with link()+unlink() on Unix: it fails when the target exists
                // instead of silently replacing a key another command has already handed tokens out for.
                File.Move(temp, full, overwrite: replace);
                return true;
            }
            catch (IOException) when (!replace && File.Exists(full))
            {
                return false;
            }
        }
        finally
        {
            File.Delete(temp);
        }
    }
}
