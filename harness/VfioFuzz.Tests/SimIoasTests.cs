using VfioFuzz.Iommufd;
using VfioFuzz.Machine;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>The simulator answers as the kernel's io_pagetable does (iommufd.md, lab probe).</summary>
public class SimIoasTests
{
    const IoasMapFlags RW = IoasMapFlags.Readable | IoasMapFlags.Writeable | IoasMapFlags.FixedIova;
    const ulong Page = 0x1000;

    readonly World _world = new(Profile.VrCxlType2);
    readonly SimIoas _ioas;
    readonly ulong _ramVa;

    public SimIoasTests()
    {
        _ioas = new SimIoas(_world.Profile, _world.Host);
        _ramVa = _world.Host[_world.Ram].Va;
    }

    Errno Map(ulong iova, ulong length) => _ioas.Map(iova, length, _ramVa, RW);

    Errno Unmap(ulong iova, ulong length, out ulong unmapped)
    {
        unmapped = length;
        return _ioas.Unmap(iova, ref unmapped);
    }

    [Fact]
    public void Fixed_map_overlapping_an_area_even_partly_is_EEXIST()
    {
        Assert.Equal(Errno.Ok, Map(0x100000, 4 * Page));
        Assert.Equal(Errno.EEXIST, Map(0x100000 + 3 * Page, 2 * Page));
        Assert.Equal(Errno.EEXIST, Map(0x100000 - Page, 2 * Page));
        Assert.Equal(Errno.Ok, Map(0x100000 + 4 * Page, Page));
    }

    [Theory]
    [InlineData(0x100800UL, 0x1000UL, Errno.EINVAL)]      // iova off the IOAS alignment
    [InlineData(0x100000UL, 0x800UL, Errno.EINVAL)]       // length off the alignment
    [InlineData(0x100000UL, 0UL, Errno.EINVAL)]           // empty
    [InlineData(0x8000000UL, 0x1000UL, Errno.EINVAL)]     // inside the reserved MSI window
    [InlineData(0xfffffffffffff000UL, 0x2000UL, Errno.EOVERFLOW)]
    public void Bad_map_ranges_get_the_kernels_errno(ulong iova, ulong length, Errno expected) =>
        Assert.Equal(expected, Map(iova, length));

    [Fact]
    public void Map_without_read_or_write_is_EINVAL() =>
        Assert.Equal(Errno.EINVAL, _ioas.Map(0x100000, Page, _ramVa, IoasMapFlags.FixedIova));

    [Fact]
    public void Va_map_of_a_pfnmap_bar_is_EFAULT_and_map_file_of_its_dmabuf_succeeds()
    {
        var bar = _world.Devices[0].Bar(2).Mmap;
        var backing = _world.Host[bar];
        Assert.Equal(Errno.EFAULT, _ioas.Map(0x200000, Page, backing.Va, RW));
        Assert.Equal(Errno.Ok, _ioas.MapFile(0x200000, Page, backing.Fd, 0, RW));
    }

    [Fact]
    public void Map_file_on_a_kernel_without_it_is_ENOTTY()
    {
        var world = new World(Profile.VrCxlType2 with { Kernel = KernelFlavor.NoDmabuf });
        var ioas = new SimIoas(world.Profile, world.Host);
        Assert.Equal(Errno.ENOTTY, ioas.MapFile(0x200000, Page, 20, 0, RW));
    }

    [Fact]
    public void Unmap_of_nothing_is_ENOENT_and_of_nothing_at_length_zero_is_EINVAL()
    {
        Assert.Equal(Errno.ENOENT, Unmap(0x100000, Page, out _));
        Assert.Equal(Errno.EINVAL, Unmap(0x100000, 0, out _));
    }

    [Fact]
    public void Unmap_of_a_superset_with_holes_returns_only_the_bytes_removed()
    {
        Map(0x100000, Page);
        Map(0x104000, 2 * Page);
        Assert.Equal(Errno.Ok, Unmap(0x100000, 0x10 * Page, out ulong unmapped));
        Assert.Equal(3 * Page, unmapped);
        Assert.Equal(0, _ioas.Count);
    }

    [Fact]
    public void Unmap_covering_one_area_and_part_of_another_is_ENOENT_after_the_first_is_gone()
    {
        Map(0x100000, Page);
        Map(0x102000, 2 * Page);
        Assert.Equal(Errno.ENOENT, Unmap(0x100000, 3 * Page, out _));
        Assert.Empty(_ioas.AreasIn(0x100000, 0x101000));
        Assert.Single(_ioas.AreasIn(0x102000, 0x104000));
    }

    [Fact]
    public void Unmap_that_splits_an_area_is_ENOENT_and_removes_nothing()
    {
        Map(0x100000, 4 * Page);
        Assert.Equal(Errno.ENOENT, Unmap(0x101000, Page, out _));
        Assert.Equal(1, _ioas.Count);
    }

    [Fact]
    public void Unmap_all_empties_the_ioas_and_is_ok_even_when_empty()
    {
        Assert.Equal(Errno.Ok, Unmap(0, ulong.MaxValue, out ulong none));
        Assert.Equal(0UL, none);
        Map(0x100000, Page);
        Map(0x300000, Page);
        Assert.Equal(Errno.Ok, Unmap(0, ulong.MaxValue, out ulong all));
        Assert.Equal(2 * Page, all);
    }

    [Fact]
    public void Unmap_range_that_wraps_is_EOVERFLOW() =>
        Assert.Equal(Errno.EOVERFLOW, Unmap(0x1000, ulong.MaxValue, out _));
}
