namespace VfioFuzz.Reports;

/// <summary>Writes a file so readers see the old content or the new, never a torn one: a
/// temporary file in the same folder, flushed, then renamed over the target.</summary>
public static class AtomicFile
{
    public static void WriteAllText(string path, string text)
    {
        string dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        string tmp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(text);
            writer.Flush();
            stream.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }
}
