using VfioFuzz.Corpus;
using VfioFuzz.Machine;
using VfioFuzz.Programs;
using VfioFuzz.Reports;

namespace VfioFuzz.Fuzzing;

/// <summary>
/// The engines' starting inputs: the byte form of every corpus/seeds entry that encodes on a
/// profile (bug-free programs only: the engines must find bugs from nothing), and a libFuzzer/
/// AFL++ dictionary of the 4-byte ops those seeds are made of, each named by its op.
/// </summary>
public static class SeedInputs
{
    public sealed record Seed(string Id, FuzzProgram Program, byte[] Bytes);

    public static IReadOnlyList<Seed> For(string seedsDir, Profile profile)
    {
        var seeds = new List<Seed>();
        foreach (var path in Directory.Exists(seedsDir) ? CorpusFile.Find(seedsDir) : [])
        {
            var entry = CorpusFile.Load(path);
            if (ProgramEncoder.Encode(entry.Program, profile, out _) is { } bytes) seeds.Add(new Seed(entry.Id, entry.Program, bytes));
        }
        return seeds;
    }

    /// <summary>One dictionary line per distinct encoded op (`name="\xHH\xHH\xHH\xHH"`, the
    /// format AFL++'s -x and libFuzzer's -dict= both read).</summary>
    public static IEnumerable<string> Dictionary(IEnumerable<Seed> seeds)
    {
        var seen = new HashSet<string>();
        foreach (var seed in seeds)
        {
            const int opBytes = ProgramDecoder.OpBytes;
            if (seed.Bytes.Length != seed.Program.Ops.Length * opBytes) continue;   // an op the encoder could not place
            for (int i = 0; i < seed.Program.Ops.Length; i++)
            {
                string token = string.Concat(seed.Bytes.AsSpan(i * opBytes, opBytes).ToArray().Select(b => $"\\x{b:x2}"));
                if (seen.Add(token)) yield return $"op_{seed.Program.Ops[i].Name.Replace('-', '_')}_{seen.Count}=\"{token}\"";
            }
        }
    }

    /// <summary>Writes <see cref="Dictionary"/> to <paramref name="path"/> (atomically) with a
    /// header naming where the seeds came from; returns how many tokens it holds.</summary>
    public static int WriteDictionary(string path, IEnumerable<Seed> seeds, string seedsDir)
    {
        var lines = Dictionary(seeds).ToArray();
        AtomicFile.WriteAllText(path, $"# vfio-fuzz ops (4 bytes each: opcode, three argument bytes), from {seedsDir}\n" + string.Join("\n", lines) + "\n");
        return lines.Length;
    }
}
