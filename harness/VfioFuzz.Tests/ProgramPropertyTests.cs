using CsCheck;
using VfioFuzz.Corpus;
using VfioFuzz.Machine;
using VfioFuzz.Programs;
using VfioFuzz.Running;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>The decoder is total, its programs are legal, and their YAML form round-trips.</summary>
public class ProgramPropertyTests
{
    static readonly Gen<byte[]> Bytes = Gen.Byte.Array[0, 300];

    [Theory]
    [InlineData("gb200-nvlink")]
    [InlineData("vr-cxl-type2")]
    public void Any_bytes_decode_to_a_program_the_world_accepts(string profileName)
    {
        var profile = Profile.Resolve(profileName);
        Bytes.Sample(bytes =>
        {
            var program = ProgramDecoder.Decode(bytes, profile);
            Assert.True(program.Ops.Length <= ProgramDecoder.MaxOps);
            var world = new World(profile);
            foreach (var op in program.Ops) world.Apply(op, IgnoreWorldEvents.Instance);
        }, iter: Repo.PropertyIterations);
    }

    [Theory]
    [InlineData("gb200-nvlink", "nv-d814a45")]
    [InlineData("vr-cxl-type2", "nv-2e963ff+e227a6b")]
    public void A_runner_reusing_its_world_gives_what_a_fresh_world_gives(string profileName, string target)
    {
        // The runner resets one World between executions instead of building a new one: any
        // state a program leaves behind (moved BARs, plugged regions, devices in reset) must
        // be gone by the next run.
        var profile = Profile.Resolve(profileName);
        var reused = new ProgramRunner(profile, () => Repo.Catalog.Create(target), new RunOptions(Trace: true));
        Gen.Select(Bytes, Bytes).Sample((first, second) =>
        {
            reused.Run(first, out _);
            var again = reused.Run(second, out var program);
            var fresh = new ProgramRunner(profile, () => Repo.Catalog.Create(target), new RunOptions(Trace: true)).Run(program);
            Assert.Equal(fresh.Signatures, again.Signatures);
            Assert.Equal(fresh.Trace, again.Trace);
        }, iter: Repo.PropertyIterations / 4);
    }

    [Fact]
    public void Truncated_and_empty_input_decodes()
    {
        Assert.Empty(ProgramDecoder.Decode([], Profile.VrCxlType2).Ops);
        Assert.Single(ProgramDecoder.Decode([4], Profile.VrCxlType2).Ops);   // system-reset, no argument bytes
    }

    [Theory]
    [InlineData("gb200-nvlink")]
    [InlineData("vr-cxl-type2")]
    [InlineData("q35-mbochs")]   // with the pam op
    public void Every_decoded_program_encodes_back_to_bytes_that_decode_to_it(string profileName)
    {
        var profile = Profile.Resolve(profileName);
        Bytes.Sample(bytes =>
        {
            var program = ProgramDecoder.Decode(bytes, profile);
            var encoded = ProgramEncoder.Encode(program, profile, out int failed);
            Assert.True(encoded is not null, $"op {failed} has no byte form: {(failed >= 0 && failed < program.Ops.Length ? program.Ops[failed] : null)}");
            Assert.Equal(program, ProgramDecoder.Decode(encoded, profile));
        }, iter: Repo.PropertyIterations / 4);
    }

    [Fact]
    public void A_gpa_off_the_decoders_grid_has_no_byte_form()
    {
        var program = new FuzzProgram([new MapRegion("dimm0", World.HotplugBase + 0x2000)]);
        Assert.Null(ProgramEncoder.Encode(program, Profile.VrCxlType2, out int failed));
        Assert.Equal(0, failed);
    }

    [Fact]
    public void Decoded_programs_survive_the_yaml_round_trip()
    {
        Bytes.Sample(bytes =>
        {
            var program = ProgramDecoder.Decode(bytes, Profile.VrCxlType2);
            string text = CorpusFile.ToYaml("p", "d", Profile.VrCxlType2, program,
                new Dictionary<string, IReadOnlyCollection<string>>());
            var back = CorpusFile.Parse("round-trip.yaml", text);
            Assert.Equal(program, back.Program);
            Assert.Equal(Profile.VrCxlType2, back.Profile);
        }, iter: Repo.PropertyIterations / 4);
    }

    [Fact]
    public void Decoded_programs_run_on_the_correct_target_without_findings_on_gb200_with_dmabuf()
    {
        // The no-false-positive property: no program the decoder can produce may make an
        // oracle fire on upstream, except for what upstream's own code does (UpstreamFindings).
        Bytes.Sample(bytes =>
        {
            var program = ProgramDecoder.Decode(bytes, Profile.Gb200Nvlink);
            var result = new ProgramRunner(Profile.Gb200Nvlink, () => Repo.Catalog.Create("qemu-11.0")).Run(program);
            Assert.True(result.Signatures.All(UpstreamFindings.All.Contains), string.Join("; ", result.Signatures));
        }, iter: Repo.PropertyIterations / 4);
    }
}
