using VfioFuzz.Machine;
using VfioFuzz.Memory;
using VfioFuzz.Programs;
using VfioFuzz.RealQemu;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>q35's chipset read-only flips: the MCH's PAM segments over the legacy window
/// (QEMU 7.2's pam.c and q35.c as read), in the World, the decoder and the guest-visible form
/// the real-QEMU lab performs.</summary>
public class PamTests
{
    static World Apply(params Op[] ops)
    {
        var world = new World(Profile.Q35Mbochs);
        foreach (var op in ops) world.Apply(op, IgnoreWorldEvents.Instance);
        return world;
    }

    static Section At(World world, ulong gpa) => world.View.Find(gpa) ?? throw new InvalidOperationException($"nothing at 0x{gpa:x}");

    [Fact]
    public void A_writable_segment_shows_the_ram_beneath_merged_with_the_ram_beside_it()
    {
        var boot = Apply();
        Assert.Equal("pc.rom", At(boot, 0xc_0000).Mr.Name);
        Assert.Equal(0xc_0000UL, At(boot, 0x0).Size);
        var world = Apply(new SetPam(1, 3));
        var ram = At(world, 0xc_0000);
        Assert.Same(world.Ram, ram.Mr);
        Assert.Equal((0UL, (UInt128)0xc_4000, false), (ram.Gpa, ram.Size, ram.ReadOnly));   // one FlatRange, as flatview_simplify makes
        Assert.Equal(("pc.rom", 0x4000UL), (At(world, 0xc_4000).Mr.Name, At(world, 0xc_4000).OffsetInRegion));
    }

    [Fact]
    public void A_read_only_segment_is_the_ram_at_the_same_offset_read_only_and_mode_0_brings_the_rom_back()
    {
        var world = Apply(new SetPam(0, 1));
        var bios = At(world, 0xf_0000);
        Assert.Same(world.Ram, bios.Mr);
        Assert.Equal((0xf_0000UL, (UInt128)0x1_0000, 0xf_0000UL, true), (bios.Gpa, bios.Size, bios.OffsetInRegion, bios.ReadOnly));
        Assert.Equal("isa-bios", At(world, 0xe_0000).Mr.Name);
        world.Apply(new SetPam(0, 0), IgnoreWorldEvents.Instance);
        Assert.Equal("isa-bios", At(world, 0xf_0000).Mr.Name);
        Assert.True(Apply().View.SameSections(world.View));
    }

    [Fact]
    public void A_machine_reset_keeps_the_pam_registers_and_a_fresh_world_clears_them()
    {
        // mch_reset and pci_do_device_reset leave config 0x90-0x96 alone in 7.2.
        var world = Apply(new SetPam(1, 3), new SystemReset());
        Assert.Equal(3, world.PamMode(1));
        Assert.Same(world.Ram, At(world, 0xc_0000).Mr);
        world.Reset();
        Assert.Equal(0, world.PamMode(1));
        Assert.Equal("pc.rom", At(world, 0xc_0000).Mr.Name);
    }

    [Fact]
    public void Pam_is_q35s_alone_and_its_arguments_are_checked()
    {
        var cxl = new World(Profile.VrCxlType2);
        Assert.Contains("no chipset PAM", Assert.Throws<ProgramException>(() => cxl.Apply(new SetPam(1, 3), IgnoreWorldEvents.Instance)).Message);
        Assert.Throws<ProgramException>(() => Apply(new SetPam(13, 3)));
        Assert.Throws<ProgramException>(() => Apply(new SetPam(1, 4)));
        // The decoder makes it on q35 and never elsewhere.
        var rng = new Random(3);
        bool seen = false;
        for (int i = 0; i < 500; i++)
        {
            var bytes = new byte[64];
            rng.NextBytes(bytes);
            seen |= ProgramDecoder.Decode(bytes, Profile.Q35Mbochs).Ops.OfType<SetPam>().Any();
            Assert.Empty(ProgramDecoder.Decode(bytes, Profile.VrCxlType2).Ops.OfType<SetPam>());
        }
        Assert.True(seen);
    }

    [Fact]
    public void The_guest_writes_the_whole_register_keeping_the_other_segments_mode()
    {
        // Segments 1 and 2 share PAM1 (0x91): 1 in the low nibble, 2 in the high one; 0 is PAM0's high nibble.
        var world = Apply(new SetPam(2, 1));
        Assert.Equal([new ConfigWrite(GuestActions.HostBridge, 0x91, 1, 0x13)], GuestActions.For(new SetPam(1, 3), world));
        Assert.Equal([new ConfigWrite(GuestActions.HostBridge, 0x90, 1, 0x30)], GuestActions.For(new SetPam(0, 3), world));
        Assert.Equal([new ConfigWrite(GuestActions.HostBridge, 0x96, 1, 0x20)], GuestActions.For(new SetPam(12, 2), world));
    }

    [Fact]
    public void The_op_reads_and_writes_as_yaml()
    {
        var program = new FuzzProgram([new SetPam(12, 1)]);
        var yaml = ProgramYaml.ToYaml(program);
        var doc = new YamlDotNet.RepresentationModel.YamlStream(new YamlDotNet.RepresentationModel.YamlDocument(yaml));
        var text = new StringWriter();
        doc.Save(text, assignAnchors: false);
        Assert.Contains("pam: {segment: 12, mode: 1}", text.ToString());
    }
}
