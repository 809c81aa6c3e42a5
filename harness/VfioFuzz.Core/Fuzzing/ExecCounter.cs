using System.IO.MemoryMappedFiles;

namespace VfioFuzz.Fuzzing;

/// <summary>
/// Live execution counts from the fuzz driver to the CLI. AFL++ 4.04c writes neither
/// fuzzer_stats nor plot_data during a campaign's first minute (and then fuzzer_stats only
/// once a minute), so a progress line built on them said `exec/s: 0`. Instead each driver
/// process counts its executions in an 8-byte memory-mapped file of its own under the folder
/// named by <see cref="DirectoryVariable"/> (one file per process, so AFL++ secondaries and
/// libFuzzer's fork-mode workers never race on one counter), and the CLI sums the files.
/// </summary>
public sealed class ExecCounter : IDisposable
{
    public const string DirectoryVariable = "VFIO_FUZZ_EXEC_COUNTERS";

    readonly MemoryMappedFile _file;
    readonly MemoryMappedViewAccessor _view;
    long _count;

    ExecCounter(string path)
    {
        _file = MemoryMappedFile.CreateFromFile(path, FileMode.Create, null, sizeof(long), MemoryMappedFileAccess.ReadWrite);
        _view = _file.CreateViewAccessor(0, sizeof(long));
    }

    /// <summary>The counter of this process, when the engine asked for one.</summary>
    public static ExecCounter? FromEnvironment() =>
        Environment.GetEnvironmentVariable(DirectoryVariable) is { Length: > 0 } dir && Directory.Exists(dir)
            ? new ExecCounter(Path.Combine(dir, $"{Environment.ProcessId}.count"))
            : null;

    public void Increment() => _view.Write(0, ++_count);

    /// <summary>Executions counted so far by every driver process that used this folder.</summary>
    public static long Total(string dir)
    {
        if (!Directory.Exists(dir)) return 0;
        long total = 0;
        foreach (var file in Directory.EnumerateFiles(dir, "*.count"))
        {
            try
            {
                var bytes = File.ReadAllBytes(file);
                if (bytes.Length >= sizeof(long)) total += BitConverter.ToInt64(bytes, 0);
            }
            catch (IOException) { }   // a driver creating its file right now: counted next time
        }
        return total;
    }

    public void Dispose()
    {
        _view.Dispose();
        _file.Dispose();
    }
}
