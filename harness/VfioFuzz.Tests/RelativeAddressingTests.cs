using VfioFuzz.Machine;
using VfioFuzz.Programs;
using VfioFuzz.Running;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>Relative addressing in the byte form, as syzkaller names iommufd's IOVAs by "nth
/// area + offset": a BAR placed onto the nth live section, an IOTLB entry whose IOVA is its GPA
/// or follows a live entry, so a mutated input keeps landing on live state.</summary>
public class RelativeAddressingTests
{
    static readonly Profile Cxl = Profile.VrCxlType2;

    static Op[] Decode(params byte[] bytes) => [.. ProgramDecoder.Decode(bytes, Cxl).Ops];

    [Fact]
    public void A_bar_lands_on_the_nth_live_section_at_its_start_or_at_its_end()
    {
        var world = new World(Cxl);
        var sections = world.SystemView.Sections;
        int ram = Array.FindIndex(sections.ToArray(), s => ReferenceEquals(s.Mr, world.Ram));
        // nic0 (device 1), BAR0 (64 KiB), bit 7 of the BAR byte: relative to section `ram`.
        Assert.Equal<Op>([new MoveBar("nic0", 0, sections[ram].Gpa)], Decode(3, 1, 0x80, (byte)ram));
        ulong lastPage = (ulong)(sections[ram].End - 0x1_0000);
        Assert.Equal<Op>([new MoveBar("nic0", 0, lastPage)], Decode(3, 1, 0x80, (byte)(0x80 | ram)));
        // The same bytes without bit 7 stay on the window grid, away from RAM.
        var grid = Assert.IsType<MoveBar>(Assert.Single(Decode(3, 1, 0x00, (byte)ram)));
        Assert.True(grid.Gpa >= World.BarWindowBase);
    }

    [Fact]
    public void An_iotlb_iova_is_its_gpa_or_the_page_after_a_live_entry()
    {
        ulong page = Cxl.IommuPageSize;
        var ops = Decode(8, 1, 0, 0,          // viommu on
                         9, 0x40, 0, 3,       // relative, identity: IOVA = GPA (section 0, page 3)
                         9, 0x41, 0, 5);      // relative, after live entry 0
        var identity = Assert.IsType<IotlbMap>(ops[1]);
        Assert.Equal(identity.Gpa, identity.Iova);
        var adjacent = Assert.IsType<IotlbMap>(ops[2]);
        Assert.Equal(identity.Iova + page, adjacent.Iova);
        var encoded = ProgramEncoder.Encode(new FuzzProgram([.. ops]), Cxl, out _);
        Assert.Equal<Op>(ops, ProgramDecoder.Decode(encoded, Cxl).Ops.ToArray());
    }

    [Theory]
    [InlineData(0x401fff0000UL, false)]   // over the end of block 255, nothing plugged
    [InlineData(0x4000010000UL, true)]    // inside block 0, then block 0 plugged
    public void A_bar_over_part_of_a_virtio_mem_block_is_not_read_as_the_blocks_memory(ulong gpa, bool plug)
    {
        // Seen as soon as BARs could land on live sections: the RAM-discard check took the
        // BAR's own mapping over an unplugged block for the block's (asymmetric-unmap), and the
        // block's hole under the BAR for a missing populate (missing-stage2), on upstream.
        List<Op> ops = [new MoveBar("nic0", 0, gpa)];
        if (plug) ops.Add(new VmemPlug(0));
        var run = new ProgramRunner(Cxl, () => Repo.Catalog.Create("qemu-11.0")).Run(new FuzzProgram([.. ops]));
        Assert.DoesNotContain(run.Signatures, s => s.Contains("rdm-", StringComparison.Ordinal));
    }
}
