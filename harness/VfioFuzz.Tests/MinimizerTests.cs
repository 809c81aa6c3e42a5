using VfioFuzz.Fuzzing;
using VfioFuzz.Machine;
using VfioFuzz.Programs;
using VfioFuzz.Running;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>Minimization keeps the signature and drops everything that does not cause it.</summary>
public class MinimizerTests
{
    [Fact]
    public void Noise_around_the_atc_inv_timeout_is_removed_and_order_kept()
    {
        var runner = new ProgramRunner(Profile.VrCxlType2, () => Repo.Catalog.Create("qemu-11.0"));
        Op[] noisy =
        [
            new MapRegion("dimm0", World.HotplugBase),
            new SetCommandMem("nic0", false),
            new DeviceReset("cxl0"),
            new SetCommandMem("nic0", true),
            new UnmapRegion("dimm0"),
            new SetCommandMem("cxl0", true),
            new AtsAccess("cxl0", 0x4000_0000UL),
            new MoveBar("cxl0", 2, 0x100_3000_0000UL),
            new DeviceInitDone("cxl0"),
        ];
        var minimal = new Minimizer(runner).Minimize(new FuzzProgram([.. noisy]), "timeout:atc-inv:cxl-type2");
        Assert.Equal<Op>([new DeviceReset("cxl0"), new SetCommandMem("cxl0", true), new MoveBar("cxl0", 2, 0x100_3000_0000UL)], minimal.Ops);
        Assert.Contains("timeout:atc-inv:cxl-type2", runner.Run(minimal).Signatures);
    }

    [Fact]
    public void A_program_without_the_signature_is_refused() =>
        Assert.Throws<ArgumentException>(() =>
            new Minimizer(new ProgramRunner(Profile.VrCxlType2, () => Repo.Catalog.Create("qemu-11.0")))
                .Minimize(FuzzProgram.Empty, "timeout:atc-inv:cxl-type2"));
}
