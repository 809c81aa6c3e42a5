using VfioFuzz.Machine;
using VfioFuzz.Memory;
using VfioFuzz.Programs;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>The World flattens the way QEMU's memory core does.</summary>
public class FlatViewTests
{
    [Fact]
    public void Msix_table_overlay_splits_the_bar_mmap_into_two_ram_device_sections()
    {
        var world = new World(Profile.VrCxlType2);
        var bar0 = world.Devices[0].Bar(0);
        var pieces = world.View.Sections.Where(s => ReferenceEquals(s.Mr, bar0.Mmap)).ToArray();
        Assert.Equal(2, pieces.Length);
        Assert.Equal((bar0.Address, 0x2000UL, 0UL), (pieces[0].Gpa, pieces[0].Size, pieces[0].OffsetInRegion));
        Assert.Equal((bar0.Address + 0x3000, 0xd000UL, 0x3000UL), (pieces[1].Gpa, pieces[1].Size, pieces[1].OffsetInRegion));
        Assert.Contains(world.View.Sections, s => s.Mr.Role == RegionRole.MsixTable && s.Gpa == bar0.Address + 0x2000);
    }

    [Fact]
    public void Moving_a_bar_with_mem_on_is_a_delete_transaction_then_an_add_transaction()
    {
        var world = new World(Profile.VrCxlType2);
        var events = new Recorder();
        world.Apply(new MoveBar("cxl0", 2, 0x100_3000_0000UL), events);
        Assert.Equal(2, events.Transactions.Count);
        Assert.True(events.Transactions[0].Before.Sections.Length > events.Transactions[0].After.Sections.Length);
        Assert.Contains(events.Transactions[1].After.Sections, s => s.Gpa == 0x100_3000_0000UL && s.Mr.Name == "cxl0 BAR2 mmaps[0]");
    }

    [Fact]
    public void A_later_bar_covers_an_earlier_one_it_overlaps()
    {
        var world = new World(Profile.VrCxlType2);
        // Move BAR2 (64 KiB) onto cxl0's BAR0 (window 0, slot 1 = +64 KiB).
        world.Apply(new MoveBar("cxl0", 2, Profile.VrCxlType2.BarSlot(0, 1, 0x10000)), IgnoreWorldEvents.Instance);
        Assert.DoesNotContain(world.View.Sections, s => s.Mr.Name == "cxl0 BAR0 mmaps[0]");
    }

    [Fact]
    public void The_cxl_dpa_follows_its_hdm_decoder_and_resets_not_the_command_register()
    {
        var world = new World(Profile.VrCxlType2);
        var hdm = world.Device("cxl0").Hdm!;
        Section Dpa() => Assert.Single(world.View.Sections, s => s.Mr.Role == RegionRole.CxlDpa);
        // machine_done committed decoder 0 at the window's base; the rest of the window is MMIO.
        Assert.Equal((hdm.Spec.WindowBase, hdm.Spec.DpaSize), (Dpa().Gpa, Dpa().Size));
        Assert.Contains(world.View.Sections, s => s.Gpa == hdm.Spec.WindowBase + hdm.Spec.DpaSize && s.Mr.Role == RegionRole.Mmio);

        // MEM, BAR sizing and INTx mmap toggles leave it alone.
        var events = new Recorder();
        foreach (var op in new Op[] { new SetCommandMem("cxl0", false), new SetCommandMem("cxl0", true), new BarSizing("cxl0", 0), new IntxInterrupt("cxl0") })
            world.Apply(op, events);
        Assert.All(events.Transactions, t => Assert.Contains(t.Before.Sections, s => s.Mr.Role == RegionRole.CxlDpa));
        Assert.All(events.Transactions, t => Assert.Contains(t.After.Sections, s => s.Mr.Role == RegionRole.CxlDpa));

        // The guest moves the decoder: one del, one add.
        ulong moved = hdm.Spec.WindowBase + 2 * HdmSpec.Granule;
        events = new Recorder();
        world.Apply(new HdmDecommit("cxl0"), events);
        world.Apply(new HdmCommit("cxl0", moved), events);
        Assert.Equal(2, events.Transactions.Count);
        Assert.DoesNotContain(events.Transactions[0].After.Sections, s => s.Mr.Role == RegionRole.CxlDpa);
        Assert.Equal(moved, Dpa().Gpa);

        // A guest FLR: the BARs stay, the DPA is dropped while the device resets and comes back
        // at the firmware base (the re-sampled decoder), with the device initializing.
        events = new Recorder();
        world.Apply(new DeviceFlr("cxl0"), events);
        Assert.Equal(2, events.Transactions.Count);
        Assert.DoesNotContain(events.Transactions[0].After.Sections, s => s.Mr.Role == RegionRole.CxlDpa);
        Assert.Equal((hdm.Spec.WindowBase, DeviceState.Initializing), (Dpa().Gpa, world.Device("cxl0").State));
        Assert.All(events.Transactions, t => Assert.Equal(
            t.Before.Sections.Count(s => s.Mr.Role == RegionRole.BarMmap), t.After.Sections.Count(s => s.Mr.Role == RegionRole.BarMmap)));

        // A commit off the 256 MiB grid or past the window is refused.
        world.Apply(new HdmDecommit("cxl0"), IgnoreWorldEvents.Instance);
        Assert.Throws<ProgramException>(() => world.Apply(new HdmCommit("cxl0", hdm.Spec.WindowBase + 0x1000), IgnoreWorldEvents.Instance));
        Assert.Throws<ProgramException>(() => world.Apply(new HdmCommit("cxl0", hdm.Spec.WindowBase + hdm.Spec.WindowSize), IgnoreWorldEvents.Instance));
        Assert.Throws<ProgramException>(() => world.Apply(new HdmDecommit("nic0"), IgnoreWorldEvents.Instance));
    }

    [Fact]
    public void A_sub_page_bar_is_grown_to_the_host_page_only_at_a_host_page_aligned_address()
    {
        // nic0 BAR3 is 4 KiB; gb200 hosts use 64 KiB pages.
        var world = new World(Profile.Gb200Nvlink);
        var bar3 = world.Devices.Single(d => d.Id == "nic0").Bar(3);
        Assert.Contains(world.View.Sections, s => ReferenceEquals(s.Mr, bar3.Mmap) && s.Size == 0x1000);   // firmware's 4 KiB slot
        ulong aligned = Profile.Gb200Nvlink.BarSlot(1, 4, 0x10000);
        world.Apply(new MoveBar("nic0", 3, aligned), IgnoreWorldEvents.Instance);
        var grown = Assert.Single(world.View.Sections, s => s.Gpa == aligned);
        Assert.Equal((0x10000UL, true), (grown.Size, ReferenceEquals(grown.Mr, bar3.GrownMmap)));
        world.Apply(new MoveBar("nic0", 3, aligned + 0x1000), IgnoreWorldEvents.Instance);
        Assert.Contains(world.View.Sections, s => ReferenceEquals(s.Mr, bar3.Mmap) && s.Gpa == aligned + 0x1000 && s.Size == 0x1000);
        // On a 4 KiB host the same BAR is a whole page: never grown.
        Assert.Null(new World(Profile.VrCxlType2).Devices.Single(d => d.Id == "nic0").Bar(3).GrownMmap);
    }

    /// <summary>NotIn keeps each pair's answer with the view: asked again, in the other
    /// direction, or against another view, it must be what a plain set difference says, over
    /// the views random programs reach in one reused World (whose cache hands the same views
    /// back run after run).</summary>
    [Fact]
    public void Not_in_answers_what_a_plain_set_difference_says_however_often_it_is_asked()
    {
        var profile = Profile.VrCxlType2;
        var world = new World(profile);
        var boot = world.View;
        var rng = new Random(7);
        int pairs = 0;
        for (int run = 0; run < 200; run++)
        {
            var bytes = new byte[ProgramDecoder.MaxInputBytes];
            rng.NextBytes(bytes);
            var events = new Recorder();
            world.Reset();
            foreach (var op in ProgramDecoder.Decode(bytes, profile).Ops) world.Apply(op, events);
            foreach (var (before, after) in events.Transactions)
                foreach (var (a, b) in new[] { (before, after), (after, before), (after, boot), (boot, after), (before, after) })
                {
                    var expected = a.Sections.Where(s => !b.Sections.Contains(s)).ToArray();
                    Assert.Equal(expected, a.NotIn(b).ToArray());
                    pairs++;
                }
        }
        Assert.True(pairs > 1000, $"only {pairs} pairs compared");
    }

    sealed class Recorder : IWorldEvents
    {
        public List<(FlatView Before, FlatView After)> Transactions { get; } = [];
        public void Transaction(FlatView before, FlatView after) => Transactions.Add((before, after));
        public void DeviceStateChanged(PciDevice device) { }
        public void AtsAccess(PciDevice device, ulong gpa) { }
        public void Iotlb(in IotlbEvent e) { }
        public bool RamPopulate(VirtioMem vmem, ulong offset, ulong size) => true;
        public void RamDiscard(VirtioMem vmem, ulong offset, ulong size) { }
        public void DirtyTracking(bool started) { }
    }
}
