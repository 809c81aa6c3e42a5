using VfioFuzz.Reports;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>Run ids never collide, even for runs started in the same millisecond by several
/// threads (50 quick replays once gave 17 folders, the rest silently overwritten).</summary>
public sealed class RunIdTests() : TempFolder("runids")
{
    [Fact]
    public void Fifty_runs_at_once_get_fifty_folders()
    {
        var ids = new string[50];
        Parallel.For(0, ids.Length, i => ids[i] = RunIds.Claim(Dir, "replay-same-stamp"));
        Assert.Equal(50, ids.Distinct().Count());
        Assert.Equal(50, Directory.GetDirectories(Dir).Length);
    }

    [Fact]
    public void File_reports_claim_files()
    {
        var ids = Enumerable.Range(0, 5).Select(_ => RunIds.Claim(Dir, "bench-x", ".yaml")).ToArray();
        Assert.Equal(["bench-x", "bench-x-2", "bench-x-3", "bench-x-4", "bench-x-5"], ids);
        Assert.Equal(5, Directory.GetFiles(Dir, "*.yaml").Length);
    }
}
