namespace VfioFuzz;

/// <summary>
/// Reads a file the user named, turning every way it can be the wrong thing (missing, a
/// directory, unreadable) into one <see cref="InputException"/> that names it. On Linux
/// reading a directory throws UnauthorizedAccessException, not IOException, so callers that
/// caught only IOException let it through as a stack trace.
/// </summary>
public static class InputFile
{
    public static string ReadAllText(string path) => Read(path, File.ReadAllText);

    public static byte[] ReadAllBytes(string path) => Read(path, File.ReadAllBytes);

    /// <summary>The one-line reason a path cannot be read as a file, or null when it can be tried.</summary>
    public static string? Problem(string path) =>
        Directory.Exists(path) ? $"{path}: is a directory; expected a file"
        : !File.Exists(path) ? $"{path}: no such file"
        : null;

    static T Read<T>(string path, Func<string, T> read)
    {
        if (Problem(path) is { } problem) throw new InputException(problem);
        try { return read(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InputException($"{path}: cannot read: {e.Message}");
        }
    }
}
