namespace VfioFuzz.Reports;

/// <summary>Writes a file so readers see the old content or the new, never a torn one: a
/// temporary file in the same folder, flushed, then renamed over the target. A target that
/// cannot be written (a directory, an unwritable folder) is an input error naming it, and no
/// temporary file is left behind.</summary>
public static class AtomicFile
{
    public static void WriteAllText(string path, string text) => Write(path, stream =>
    {
        using var writer = new StreamWriter(stream, leaveOpen: true);   // the stream is flushed to disk after
        writer.Write(text);
    });

    /// <summary><paramref name="durable"/> false skips the flush to disk (still renamed into
    /// place): for files a power cut may lose at no cost, written often, such as a fuzzer's queue.</summary>
    public static void WriteAllBytes(string path, byte[] bytes, bool durable = true) => Write(path, stream => stream.Write(bytes), durable);

    static void Write(string path, Action<Stream> write, bool durable = true)
    {
        if (Directory.Exists(path)) throw new InputException($"{path}: is a directory; cannot write a file there");
        string dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        string tmp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Environment.ProcessId}.{Environment.CurrentManagedThreadId}.tmp");
        try
        {
            Directory.CreateDirectory(dir);
            using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: durable);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(tmp); } catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
            throw new InputException($"{path}: cannot write: {e.Message}");
        }
    }
}
