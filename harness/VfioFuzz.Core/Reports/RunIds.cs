namespace VfioFuzz.Reports;

/// <summary>
/// Run ids that never collide: the command and the UTC time to the millisecond, and a
/// suffix (-2, -3, ...) when another run (this process or another) already claimed that
/// name. Claiming creates the run's report folder (or, for a single-file report, the file)
/// with a create-if-new open, which the file system answers atomically.
/// </summary>
public static class RunIds
{
    public static string Stamp(string command) => $"{command}-{DateTime.UtcNow:yyyyMMddTHHmmssfffZ}";

    /// <summary>Claims <c>reportsDir/stem</c> (a folder) or, with a suffix such as ".yaml",
    /// <c>reportsDir/stem.yaml</c> (a file), or the first free <c>stem-N</c>; returns the id.</summary>
    public static string Claim(string reportsDir, string stem, string fileSuffix = "")
    {
        Directory.CreateDirectory(reportsDir);
        for (int n = 1; ; n++)
        {
            string id = n == 1 ? stem : $"{stem}-{n}";
            string path = Path.Combine(reportsDir, id + fileSuffix);
            string claim = fileSuffix.Length > 0 ? path : Path.Combine(path, ".run-id");
            if (fileSuffix.Length == 0)
            {
                if (File.Exists(path)) continue;
                Directory.CreateDirectory(path);
            }
            try
            {
                using var stream = new FileStream(claim, FileMode.CreateNew, FileAccess.Write);
                if (fileSuffix.Length == 0) stream.Write(System.Text.Encoding.UTF8.GetBytes(id + "\n"));
                return id;
            }
            catch (IOException) when (File.Exists(claim)) { }
        }
    }
}
