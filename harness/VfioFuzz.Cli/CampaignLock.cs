namespace VfioFuzz.Cli;

/// <summary>
/// One engine campaign per work folder: two CLIs fuzzing the same target and profile at once
/// would delete and overwrite each other's AFL++ or libFuzzer folder. The lock is a file beside
/// the folder opened with no sharing (the kernel drops it if the process dies); a second
/// campaign is refused with one line instead of corrupting the first.
/// </summary>
static class CampaignLock
{
    public static FileStream Acquire(string folder)
    {
        string path = folder.TrimEnd(Path.DirectorySeparatorChar) + ".lock";
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
        catch (IOException)
        {
            throw new InputException($"{folder}: another campaign on this target and profile is running there; " +
                                     "wait for it, or join it from another AFL++ box with --afl-sync");
        }
    }
}
