namespace VfioFuzz.Tests;

/// <summary>A test class's own scratch folder, made fresh for each test and removed after it.</summary>
public abstract class TempFolder(string prefix) : IDisposable
{
    protected string Dir { get; } = Directory.CreateTempSubdirectory($"vfio-fuzz-{prefix}-").FullName;

    public void Dispose()
    {
        Directory.Delete(Dir, recursive: true);
        GC.SuppressFinalize(this);
    }
}
