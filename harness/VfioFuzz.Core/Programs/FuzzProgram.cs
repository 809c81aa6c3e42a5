using System.Collections.Immutable;

namespace VfioFuzz.Programs;

/// <summary>A sequence of ops, applied after the machine has booted (firmware enumerated
/// the devices: BARs programmed, MEM on).</summary>
public sealed record FuzzProgram(ImmutableArray<Op> Ops)
{
    public static readonly FuzzProgram Empty = new(ImmutableArray<Op>.Empty);

    public bool Equals(FuzzProgram? other) => other is not null && Ops.SequenceEqual(other.Ops);
    public override int GetHashCode() => Ops.Aggregate(0, (h, op) => HashCode.Combine(h, op));
}
