using VfioFuzz.Listener;
using VfioFuzz.PlantedBugs;
using VfioFuzz.Programs;
using VfioFuzz.Running;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>The bench's planted bugs are what they claim: each shows only after its whole
/// chain (every op of its reproducer is needed), upstream stays quiet on the same program,
/// and users never see them among the targets.</summary>
public class PlantedBugTests
{
    static readonly TargetCatalog Planted = new(typeof(PlantedBug).Assembly);

    public static TheoryData<string> Ids() => [.. Planted.Targets.Select(t => t.Id).Where(id => Planted.Create(id) is PlantedBug)];

    static (RunResult Result, PlantedBug Bug) Run(string id, FuzzProgram program)
    {
        PlantedBug? created = null;
        var result = new ProgramRunner(((PlantedBug)Planted.Create(id)).Profile, () => created = (PlantedBug)Planted.Create(id)).Run(program);
        return (result, created!);
    }

    [Theory]
    [MemberData(nameof(Ids))]
    public void The_reproducer_completes_the_chain_and_shows_the_planted_finding(string id)
    {
        var reproducer = ((PlantedBug)Planted.Create(id)).Reproducer;
        var (result, bug) = Run(id, reproducer);
        Assert.Equal(bug.Depth, bug.Stage);
        Assert.Contains(PlantedBug.Signature, result.Signatures);
        Assert.InRange(reproducer.Ops.Length, 5, 12);
    }

    [Theory]
    [MemberData(nameof(Ids))]
    public void Every_op_of_the_reproducer_is_needed(string id)
    {
        var reproducer = ((PlantedBug)Planted.Create(id)).Reproducer;
        for (int i = 0; i < reproducer.Ops.Length; i++)
        {
            RunResult result;
            PlantedBug bug;
            // Without some ops a later one is illegal (an init-done with no reset before it):
            // that program does not show the bug either.
            try { (result, bug) = Run(id, new FuzzProgram(reproducer.Ops.RemoveAt(i))); }
            catch (Machine.ProgramException) { continue; }
            Assert.True(!result.Signatures.Contains(PlantedBug.Signature),
                $"{id} without op {i + 1} ({reproducer.Ops[i].Name}) still shows {PlantedBug.Signature} (chain at {bug.Stage}/{bug.Depth})");
        }
    }

    [Theory]
    [MemberData(nameof(Ids))]
    public void Upstream_on_the_reproducer_and_the_bug_on_the_empty_program_stay_quiet(string id)
    {
        var bug = (PlantedBug)Planted.Create(id);
        var upstream = new ProgramRunner(bug.Profile, () => Repo.Catalog.Create("qemu-11.0")).Run(bug.Reproducer);
        Assert.DoesNotContain(PlantedBug.Signature, upstream.Signatures);
        Assert.DoesNotContain(PlantedBug.Signature, Run(id, FuzzProgram.Empty).Result.Signatures);
    }

    [Fact]
    public void Users_never_see_a_planted_target()
    {
        Assert.True(Planted.Targets.Count >= 6);
        Assert.All(Planted.Targets, t => Assert.Equal(TargetKind.Planted, t.Kind));
        Assert.DoesNotContain(Repo.Catalog.Targets, t => t.Kind == TargetKind.Planted || Planted.Contains(t.Id));
    }
}
