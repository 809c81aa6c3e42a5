namespace VfioFuzz.Reports;

/// <summary>
/// Checks, before any work starts, that a folder the command will write into can be written:
/// a campaign that runs for hours and then cannot save its report has lost the night.
/// </summary>
public static class OutputFolder
{
    /// <summary>Creates the folder if needed and writes and removes a probe file in it; an
    /// input error naming the option and the path when that fails.</summary>
    public static void EnsureWritable(string path, string option)
    {
        if (File.Exists(path)) throw new InputException($"{option} {path}: is a file; expected a folder");
        string probe = Path.Combine(path, $".vfio-fuzz-probe.{Environment.ProcessId}");
        try
        {
            Directory.CreateDirectory(path);
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InputException($"{option} {path}: cannot write there ({e.Message})");
        }
    }

    /// <summary>For an output file: its folder must be writable and the path must not be a folder.</summary>
    public static void EnsureWritableFile(string path, string option)
    {
        if (Directory.Exists(path)) throw new InputException($"{option} {path}: is a directory; expected a file name");
        EnsureWritable(Path.GetDirectoryName(Path.GetFullPath(path))!, option);
    }
}
