using VfioFuzz.Cli;
using VfioFuzz.Machine;
using VfioFuzz.Programs;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>What an engine starts from: the seeds' byte form in their folder, and beside it
/// (never inside, where the engine would take it for a seed) the dictionary of their ops.</summary>
public sealed class EngineSeedsTests() : TempFolder("engine-seeds")
{
    [Fact]
    public void The_dictionary_beside_the_seeds_holds_each_of_their_ops_as_one_4_byte_token()
    {
        string seeds = Path.Combine(Dir, "seeds", "afl++", "box");
        var (count, dictionary) = new FuzzDriverBuild(Repo.Root).WriteSeeds(seeds, Profile.VrCxlType2);
        Assert.Equal(count, Directory.GetFiles(seeds).Length);
        Assert.NotNull(dictionary);
        Assert.Equal(seeds + ".dict", dictionary);
        var tokens = File.ReadAllLines(dictionary).Where(l => !l.StartsWith('#')).ToArray();
        Assert.NotEmpty(tokens);
        Assert.All(tokens, t => Assert.Matches(@"^op_[a-z_]+_\d+=""(\\x[0-9a-f]{2}){4}""$", t));
        // Every token is an op of some seed: the seed files are those ops, back to back.
        var opBytes = Directory.GetFiles(seeds).SelectMany(f => File.ReadAllBytes(f).Chunk(ProgramDecoder.OpBytes))
            .Select(c => string.Concat(c.Select(b => $"\\x{b:x2}"))).ToHashSet();
        Assert.All(tokens, t => Assert.Contains(t[(t.IndexOf('"') + 1)..^1], opBytes));
    }

    [Fact]
    public void The_ClusterFuzzLite_build_gives_the_op_mutator_the_decoders_op_size_and_input_limit()
    {
        // FuzzDriverBuild passes them from ProgramDecoder; the shell build states them.
        string build = File.ReadAllText(Path.Combine(Repo.Root, ".clusterfuzzlite", "build.sh"));
        Assert.Contains($"-DOP_BYTES={ProgramDecoder.OpBytes} -DMAX_INPUT={ProgramDecoder.MaxInputBytes}", build);
    }
}
