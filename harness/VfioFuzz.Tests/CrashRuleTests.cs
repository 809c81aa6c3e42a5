using VfioFuzz.Fuzzing;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>What the fuzz driver hands the engine as a crash.</summary>
public class CrashRuleTests
{
    const string Wanted = "asymmetric-unmap:iotlb-never-mapped:cxl-dpa";
    const string Other = "missing-stage2:viommu:cxl-dpa";

    [Fact]
    public void A_campaign_crashes_on_new_signatures_and_not_on_known_ones()
    {
        var rule = CrashRule.Unknown([Other]);
        Assert.False(rule.IsCrash(Other));
        Assert.True(rule.IsCrash(Wanted));
    }

    [Fact]
    public void A_time_to_one_bug_run_crashes_on_that_signature_alone()
    {
        // The other bug is new too, but an input showing it must stay in the engine's queue:
        // the wanted bug may lie one mutation past it.
        var rule = CrashRule.Only(Wanted);
        Assert.False(rule.IsCrash(Other));
        Assert.True(rule.IsCrash(Wanted));
    }

    [Fact]
    public void A_signature_saved_mid_campaign_stops_being_a_crash()
    {
        string file = Path.Combine(Path.GetTempPath(), $"known-{Guid.NewGuid():N}.txt");
        try
        {
            CrashRule.WriteKnownFile(file, [Other]);
            var rule = CrashRule.Unknown([], file);
            Assert.False(rule.IsCrash(Other));
            Assert.True(rule.IsCrash(Wanted));
            CrashRule.WriteKnownFile(file, [Other, Wanted]);   // the CLI saved it
            File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddSeconds(1));
            var until = DateTime.UtcNow.AddSeconds(5);
            while (rule.IsCrash(Wanted) && DateTime.UtcNow < until) Thread.Sleep(100);
            Assert.False(rule.IsCrash(Wanted));
        }
        finally { File.Delete(file); }
    }
}
