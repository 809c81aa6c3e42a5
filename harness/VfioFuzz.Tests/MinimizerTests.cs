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
    public void Noise_around_the_atc_inv_timeout_is_removed()
    {
        var runner = new ProgramRunner(Profile.VrCxlType2, () => Repo.Catalog.Create("qemu-11.0"));
        Op[] noisy =
        [
            new MapRegion("dimm0", World.HotplugBase),
            new SetCommandMem("nic0", false),
            new HdmDecommit("cxl0"),
            new SetCommandMem("nic0", true),
            new UnmapRegion("dimm0"),
            new SetCommandMem("cxl0", false),
            new AtsAccess("cxl0", 0x4000_0000UL),
            new DeviceFlr("cxl0"),
            new MoveBar("cxl0", 2, 0x100_3000_0000UL),
            new DeviceInitDone("cxl0"),
        ];
        // The decommitted decoder comes back with the FLR's rescan; only the second FLR's
        // revocation unmaps the DPA while the device resets.
        noisy = [.. noisy, new DeviceFlr("cxl0")];
        var minimal = new Minimizer(runner).Minimize(new FuzzProgram([.. noisy]), "timeout:atc-inv:cxl-type2");
        Assert.Equal<Op>([new DeviceFlr("cxl0")], minimal.Ops);
        Assert.Contains("timeout:atc-inv:cxl-type2", runner.Run(minimal).Signatures);
    }

    [Fact]
    public void A_reproducer_that_needs_several_ops_keeps_them_in_order()
    {
        // nv-2e963ff-fixed leaves the DPA out of Stage-2: the device's ATS access to it livelocks
        // only where the guest committed the decoder, so decommit, commit and access all stay.
        var runner = new ProgramRunner(Profile.VrCxlType2, () => Repo.Catalog.Create("nv-2e963ff-fixed"));
        ulong moved = World.CxlWindowBase + HdmSpec.Granule;
        Op[] noisy =
        [
            new SetCommandMem("nic0", false),
            new HdmDecommit("cxl0"),
            new MapRegion("dimm0", World.HotplugBase),
            new HdmCommit("cxl0", moved),
            new SetCommandMem("nic0", true),
            new AtsAccess("cxl0", World.HotplugBase),
            new AtsAccess("cxl0", moved + 0x1000),
            new UnmapRegion("dimm0"),
        ];
        const string Signature = "missing-stage2:ats-fault-livelock:cxl-dpa";
        var minimal = new Minimizer(runner).Minimize(new FuzzProgram([.. noisy]), Signature);
        Assert.Equal<Op>([new HdmDecommit("cxl0"), new HdmCommit("cxl0", moved), new AtsAccess("cxl0", moved + 0x1000)], minimal.Ops);
        Assert.Contains(Signature, runner.Run(minimal).Signatures);
    }

    [Fact]
    public void A_program_without_the_signature_is_refused() =>
        Assert.Throws<ArgumentException>(() =>
            new Minimizer(new ProgramRunner(Profile.VrCxlType2, () => Repo.Catalog.Create("qemu-11.0")))
                .Minimize(FuzzProgram.Empty, "timeout:atc-inv:cxl-type2"));
}
