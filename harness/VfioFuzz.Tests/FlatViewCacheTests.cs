using CsCheck;
using VfioFuzz.Memory;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>A cached view is exactly what a new paint gives, and an unchanged layout is the
/// current view itself (the World's commit skips the transaction on that reference).</summary>
public class FlatViewCacheTests
{
    // Few regions and a small address grid, so layouts repeat and the cache is hit.
    static readonly MemoryRegion[] Regions =
    [
        new("ram", RegionKind.Ram, 0x4000, RegionRole.GuestRam, null),
        new("bar", RegionKind.RamDevice, 0x2000, RegionRole.BarMmap, "dev"),
        new("msix", RegionKind.Mmio, 0x1000, RegionRole.MsixTable, "dev"),
        // Equal by value to "bar", a different object: sections must keep their own region.
        new("bar", RegionKind.RamDevice, 0x2000, RegionRole.BarMmap, "dev"),
    ];

    static readonly Gen<List<Placement>> Layout =
        Gen.Select(Gen.Int[0, Regions.Length - 1], Gen.Int[0, 6], Gen.Bool)
            .Select((r, slot, ro) => new Placement(Regions[r], (ulong)slot * 0x1000, ro && r == 0))
            .List[0, 5];

    [Fact]
    public void Cached_views_equal_fresh_paints_and_unchanged_layouts_return_the_current_view()
    {
        Layout.List[1, 40].Sample(layouts =>
        {
            // A small cache, so the bound's clearing is exercised too.
            var cache = new FlatViewCache(capacity: 8);
            FlatView? current = null;
            foreach (var layout in layouts)
            {
                var fresh = FlatView.Render(layout);
                var view = cache.Paint(layout, current);
                if (current is not null && current.SameSections(fresh)) Assert.Same(current, view);
                else
                {
                    // A new view: the very sections a paint gives, each with its own region.
                    Assert.Equal(fresh.Sections.Length, view.Sections.Length);
                    for (int i = 0; i < fresh.Sections.Length; i++)
                    {
                        Assert.Equal(fresh.Sections[i], view.Sections[i]);
                        Assert.Same(fresh.Sections[i].Mr, view.Sections[i].Mr);
                    }
                }
                current = view;
            }
        }, iter: Repo.PropertyIterations);
    }
}
