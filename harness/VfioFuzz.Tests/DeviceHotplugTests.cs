using VfioFuzz.Machine;
using VfioFuzz.Memory;
using VfioFuzz.Programs;
using VfioFuzz.RealQemu;
using VfioFuzz.Running;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>Device hot-unplug and replug: the device's BARs leave BAR by BAR, the last device's
/// container unregisters its listener and closes, a replug opens a new container whose listener
/// replays the view; no op can name an unplugged device, and a correct listener shows nothing.</summary>
public class DeviceHotplugTests
{
    static FuzzProgram Program(params Op[] ops) => new([.. ops]);

    static RunResult Run(Profile profile, string target, FuzzProgram program, RunOptions? options = null) =>
        new ProgramRunner(profile, () => Repo.Catalog.Create(target), options ?? new RunOptions(Trace: true)).Run(program);

    /// <summary>What the listener holds (sections and mappings) after each step: boot, then each op.</summary>
    static List<IReadOnlyList<ListenerEventView>> HeldAfterEachStep(RunResult run)
    {
        var steps = ListenerSteps.FromModelTrace(run.Trace);
        var held = new List<IReadOnlyList<ListenerEventView>>();
        var so_far = new List<StepEvent>();
        foreach (var step in steps)
        {
            so_far.AddRange(step);
            held.Add([.. ListenerSteps.FinalView(so_far).Select(e => new ListenerEventView(e.What, e.A))]);
        }
        return held;
    }

    sealed record ListenerEventView(string What, ulong A);

    [Fact]
    public void Unplugging_the_only_device_releases_everything_and_a_replug_maps_the_ram_again_with_no_finding()
    {
        var mdev = Profile.Q35Mbochs;
        var program = Program(new DeviceUnplug("mdev0"), new DeviceReplug("mdev0"),
            new MoveBar("mdev0", 0, 0xe000_0000), new SetCommandMem("mdev0", true));
        foreach (var target in new[] { "qemu-7.2", "qemu-11.0" })
        {
            var run = Run(mdev, target, program, NestedMachine.Mbochs.Options);
            Assert.True(run.Clean, $"{target}: {string.Join(", ", run.Signatures)}");
            var held = HeldAfterEachStep(run);
            var boot = held[0];
            Assert.Contains(boot, e => e.What == "map" && e.A == 0xe400_0000);   // BAR0 at its boot slot
            Assert.Empty(held[1]);                                              // unplugged: no section, no mapping
            Assert.Contains("memory_listener_unregister", string.Join('\n', run.Trace));
            // Replugged: the boot view again but for the BARs (unprogrammed), whose window is 3.5-3.75 GiB.
            Assert.Equal(boot.Where(e => e.A is < 0xe000_0000 or >= 0xf000_0000), held[2]);
            Assert.Contains(held[4], e => e.What == "map" && e.A == 0xe000_0000);   // the guest placed BAR0 and turned MEM on
        }
    }

    [Fact]
    public void Each_bar_leaves_in_its_own_transaction_in_bar_order_and_one_of_two_devices_keeps_the_container()
    {
        var world = new World(Profile.Gb200Nvlink);
        var events = new Recorder();
        world.Apply(new DeviceUnplug("gpu0"), events);
        // gpu0's BAR0 and BAR4, each del'd by itself (pci_unregister_io_regions), then the hotplug.
        Assert.Equal(["transaction", "transaction", "unplugged gpu0"], events.Log);
        Assert.True(world.AnyDevicePlugged);
        Assert.DoesNotContain(world.View.Sections, s => s.Mr.Owner == "gpu0");
        Assert.Contains(world.View.Sections, s => s.Mr.Owner == "nic0");

        var run = Run(Profile.Gb200Nvlink, "qemu-11.0", Program(new DeviceUnplug("gpu0"), new DeviceReplug("gpu0")));
        Assert.True(run.Clean, string.Join(", ", run.Signatures));
        Assert.DoesNotContain(run.Trace, l => l.Contains("was the last device", StringComparison.Ordinal));
    }

    sealed class Recorder : IWorldEvents
    {
        public List<string> Log { get; } = [];
        public void Transaction(FlatView before, FlatView after) => Log.Add("transaction");
        public void DeviceStateChanged(PciDevice device) => Log.Add($"{device.Id} {device.State}");
        public void AtsAccess(PciDevice device, ulong gpa) { }
        public void Iotlb(in IotlbEvent e) { }
        public bool RamPopulate(VirtioMem vmem, ulong offset, ulong size) => true;
        public void RamDiscard(VirtioMem vmem, ulong offset, ulong size) { }
        public void DirtyTracking(bool started) { }
        public void DeviceHotplug(PciDevice device, bool plugged) => Log.Add($"{(plugged ? "plugged" : "unplugged")} {device.Id}");
    }

    [Fact]
    public void No_op_names_an_unplugged_device_and_no_hotplug_runs_during_a_migration()
    {
        var world = new World(Profile.Q35Mbochs);
        Assert.Throws<ProgramException>(() => world.Apply(new DeviceReplug("mdev0"), IgnoreWorldEvents.Instance));
        world.Apply(new DeviceUnplug("mdev0"), IgnoreWorldEvents.Instance);
        foreach (var op in new Op[] { new SetCommandMem("mdev0", true), new MoveBar("mdev0", 0, 0xe000_0000), new DeviceFlr("mdev0"), new DeviceUnplug("mdev0") })
            Assert.Throws<ProgramException>(() => world.Apply(op, IgnoreWorldEvents.Instance));
        world.Apply(new SystemReset(), IgnoreWorldEvents.Instance);   // the reset does not bring it back
        Assert.Throws<ProgramException>(() => world.Device("mdev0"));
        world.Apply(new SetDirtyTracking(true), IgnoreWorldEvents.Instance);
        var e = Assert.Throws<ProgramException>(() => world.Apply(new DeviceReplug("mdev0"), IgnoreWorldEvents.Instance));
        Assert.Contains("migrating", e.Message);
    }

    [Fact]
    public void The_decoder_toggles_a_device_out_and_back_and_skips_ops_on_it_while_it_is_out()
    {
        // Opcode 18 with the top two bits of the last byte set: hot-unplug or replug; a
        // command-mem (opcode 2) in between names the unplugged device and is dropped.
        byte[] bytes = [18, 0, 0, 0xc0, 2, 0, 1, 0, 18, 0, 0, 0xc0, 2, 0, 1, 0];
        var program = ProgramDecoder.Decode(bytes, Profile.Q35Mbochs);
        Assert.Equal<Op>([new DeviceUnplug("mdev0"), new DeviceReplug("mdev0"), new SetCommandMem("mdev0", true)], program.Ops.ToArray());
        var encoded = ProgramEncoder.Encode(program, Profile.Q35Mbochs, out _);
        Assert.NotNull(encoded);
        Assert.Equal<Op>(program.Ops.ToArray(), ProgramDecoder.Decode(encoded, Profile.Q35Mbochs).Ops.ToArray());
    }

    [Fact]
    public void A_replugged_device_has_cached_nothing_of_what_it_translated_before()
    {
        // cxl0 translates a page of nic0's BAR through ATS, leaves and comes back (nic0 keeps the
        // container); the reset then unmaps that BAR while cxl0 resets, which only the old cxl0
        // could have cached: no ATC invalidation reaches the new one.
        var world = new World(Profile.VrCxlType2);
        ulong nicBar = world.Device("nic0").Bar(0).Address;
        var program = Program(new AtsAccess("cxl0", nicBar), new DeviceUnplug("cxl0"), new DeviceReplug("cxl0"), new SystemReset());
        var run = Run(Profile.VrCxlType2, "qemu-11.0", program);
        Assert.DoesNotContain("timeout:atc-inv:cxl-type2", run.Signatures);
        // Without the unplug and replug, the same translation does time out.
        var kept = Run(Profile.VrCxlType2, "qemu-11.0", Program(new AtsAccess("cxl0", nicBar), new HdmDecommit("cxl0"), new SystemReset()));
        Assert.Contains("timeout:atc-inv:cxl-type2", kept.Signatures);
    }

    [Fact]
    public void A_bar_the_buggy_pick_never_mapped_is_unmapped_at_the_unplug_step()
    {
        // nv-d814a45 skips the DMA map of ram_device sections on add: the unplug's region_del of
        // gpu0's BAR0 unmaps what was never mapped, in the unplug step, before any teardown.
        var run = Run(Profile.Gb200Nvlink, "nv-d814a45", Program(new SetCommandMem("nic0", false), new DeviceUnplug("gpu0")));
        var atUnplug = run.Findings.Where(f => f.Step == 2).Select(f => f.Signature).ToList();
        Assert.Contains(atUnplug, s => s.StartsWith("asymmetric-unmap:", StringComparison.Ordinal));
        Assert.True(Run(Profile.Gb200Nvlink, "qemu-11.0", Program(new SetCommandMem("nic0", false), new DeviceUnplug("gpu0"))).Clean);
    }
}
