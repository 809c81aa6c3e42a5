using VfioFuzz.Cli;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>--duration is the whole command's budget: the campaigns' slices add up to no more
/// than it (less the triage reserve), whatever the number of targets and jobs.</summary>
public class CampaignPlanTests
{
    [Theory]
    [InlineData(120, 7, 1)]
    [InlineData(120, 7, 2)]
    [InlineData(60, 3, 4)]
    public void Slices_share_the_budget(int seconds, int targets, int parallel)
    {
        var budget = TimeSpan.FromSeconds(seconds);
        var plan = new CampaignPlan(budget, perTarget: false, targets, parallel, TimeSpan.Zero);
        var slices = Enumerable.Range(0, targets).Select(_ => plan.NextSlice()).ToArray();
        // Slices taken at once (no time passes): each round's campaigns get the same share.
        int rounds = (targets + parallel - 1) / parallel;
        Assert.True(slices.Take(parallel).Sum(s => s.TotalSeconds) / parallel * rounds <= seconds);
        Assert.All(slices, s => Assert.True(s > TimeSpan.Zero));
        Assert.StartsWith($"{CampaignPlan.Seconds(budget)} in all", plan.Describe());
    }

    [Fact]
    public void Per_target_gives_each_the_whole_duration()
    {
        var plan = new CampaignPlan(TimeSpan.FromSeconds(30), perTarget: true, 7, 1, TimeSpan.Zero);
        Assert.Equal(TimeSpan.FromSeconds(30), plan.NextSlice());
        Assert.InRange((plan.Deadline - DateTime.UtcNow).TotalSeconds, 30 * 7 - 1, 30 * 7);
    }

    [Fact]
    public void A_budget_too_small_for_the_engines_says_so_up_front()
    {
        var plan = new CampaignPlan(TimeSpan.FromSeconds(10), perTarget: false, 7, 1, CampaignPlan.EngineMinimum);
        Assert.Equal(CampaignPlan.EngineMinimum, plan.NextSlice());
        Assert.Contains("too small", plan.Describe());
    }
}
