using System.Numerics;
using System.Runtime.InteropServices;
using SharpFuzz.Common;
using VfioFuzz.Programs;

/// <summary>
/// The driver's own coverage-guided loop (engine `guided`): SharpFuzz's instrumentation
/// writes edge hits into a map this process owns, as it does into AFL++'s shared memory, and
/// the loop runs every input in this process, with no fork server between two executions.
/// What it keeps and what it mutates are AFL's ideas cut to this input format:
/// - an input is kept when it hits an edge, or an edge's hit-count bucket (1, 2, 3, 4-7, 8-15,
///   16-31, 32-127, 128+), no earlier execution hit;
/// - the next input to mutate is drawn with weight 1/h, h the number of executions that have
///   hit the entry's rarest edge (the edge of it the fewest executions had hit when it was
///   kept; FairFuzz's rare-branch idea, AFLFast's "rare" schedule): an entry that reaches a
///   step of a chain nothing else reached gets most of the executions until another entry
///   gets further, and less as its own mutations hit that edge;
/// - mutations work on whole 4-byte ops (ProgramDecoder.OpBytes), because the decoder resolves
///   each op against the ops before it: appending an op keeps the whole program, while a byte
///   inserted in the middle re-decodes every op after it. Half the mutations append; one new
///   op in four is one of the seeds' ops (the engines' op dictionary), the rest random bytes.
/// Deterministic for a seed (single thread, no clock in any choice).
/// </summary>
sealed unsafe class GuidedLoop : IDisposable
{
    const int MapSize = 1 << 16;   // SharpFuzz's instrumentation indexes a 64 KiB map
    const int OpBytes = ProgramDecoder.OpBytes;

    readonly byte* _map = (byte*)NativeMemory.AllocZeroed(MapSize);
    readonly byte[] _virgin = new byte[MapSize];   // bucket bits some execution has shown
    readonly uint[] _hits = new uint[MapSize];      // executions that hit each edge (saturating)
    readonly List<Entry> _queue = [];
    readonly List<byte[]> _dictionary;
    readonly Random _rng;
    double[] _cumulative = [];
    long _weightsAt = -1;

    /// <summary>A kept input and the edge it hit that the fewest executions had hit when it
    /// was kept (its new edge, or the rarest of its edges when only a bucket was new): the
    /// edge whose hit count sets its weight.</summary>
    sealed record Entry(byte[] Input, int Rarest);

    /// <summary>Executions so far, entries in the queue and edges seen.</summary>
    public long Execs { get; private set; }
    public int QueueSize => _queue.Count;
    public int Edges { get; private set; }

    public GuidedLoop(ulong seed, IEnumerable<byte[]> dictionary)
    {
        _rng = new Random(unchecked((int)seed ^ (int)(seed >> 32)));
        _dictionary = dictionary.Where(d => d.Length == OpBytes).ToList();
        Trace.SharedMem = _map;
    }

    /// <summary>Runs <paramref name="input"/> and keeps it when it shows new coverage;
    /// <paramref name="execute"/> returns whether the input crashed (crashes are kept out of the queue).</summary>
    public bool Offer(byte[] input, Func<byte[], bool> execute)
    {
        new Span<byte>(_map, MapSize).Clear();
        Trace.PrevLocation = 0;
        bool crashed = execute(input);
        Execs++;
        if (Observe() && !crashed) _queue.Add(new Entry(input, RarestHit()));
        return crashed;
    }

    /// <summary>The next input: a mutation of a queue entry drawn by rarity (random ops while
    /// the queue is empty).</summary>
    public byte[] Next()
    {
        if (_queue.Count == 0) return RandomOps(1 + _rng.Next(8));
        var child = _queue[Pick()].Input;
        int rounds = 1 + _rng.Next(3);
        for (int i = 0; i < rounds; i++) child = Mutate(child);
        return child;
    }

    int Pick()
    {
        // The weights move with every execution's hits: recomputed every 256 executions (and
        // whenever the queue grew), which is close enough.
        if (_cumulative.Length != _queue.Count || Execs - _weightsAt >= 256)
        {
            if (_cumulative.Length != _queue.Count) _cumulative = new double[_queue.Count];
            double sum = 0;
            for (int i = 0; i < _queue.Count; i++) _cumulative[i] = sum += 1.0 / Math.Max(1u, _hits[_queue[i].Rarest]);
            _weightsAt = Execs;
        }
        double x = _rng.NextDouble() * _cumulative[^1];
        int at = Array.BinarySearch(_cumulative, x);
        return Math.Min(at < 0 ? ~at : at, _queue.Count - 1);
    }

    /// <summary>Counts this execution's hit edges; true when one of them (or its hit-count
    /// bucket) is new. Only the map's non-zero 32-byte blocks are looked at.</summary>
    bool Observe()
    {
        bool novel = false;
        var map = new ReadOnlySpan<byte>(_map, MapSize);
        int width = Vector<byte>.Count;
        for (int block = 0; block < MapSize; block += width)
        {
            if (new Vector<byte>(map.Slice(block, width)) == Vector<byte>.Zero) continue;
            for (int i = block; i < block + width; i++)
            {
                if (map[i] == 0) continue;
                if (_hits[i] != uint.MaxValue) _hits[i]++;
                byte bucket = Buckets[map[i]];
                if ((_virgin[i] & bucket) != 0) continue;
                if (_virgin[i] == 0) Edges++;
                _virgin[i] |= bucket;
                novel = true;
            }
        }
        return novel;
    }

    /// <summary>The edge of this execution that the fewest executions have hit (a second
    /// pass, only for an input that is kept).</summary>
    int RarestHit()
    {
        int rarest = 0;
        for (int i = 0; i < MapSize; i++)
            if (_map[i] != 0 && (_map[rarest] == 0 || _hits[i] < _hits[rarest])) rarest = i;
        return rarest;
    }

    // AFL's hit-count buckets: 1, 2, 3, 4-7, 8-15, 16-31, 32-127, 128+ (one bit each).
    static readonly byte[] Buckets = [.. Enumerable.Range(0, 256).Select(n => (byte)(n switch
    {
        0 => 0, 1 => 1, 2 => 2, 3 => 4, <= 7 => 8, <= 15 => 16, <= 31 => 32, <= 127 => 64, _ => 128,
    }))];

    byte[] Mutate(byte[] parent)
    {
        int ops = parent.Length / OpBytes;
        int max = ProgramDecoder.MaxInputBytes / OpBytes;
        int choice = _rng.Next(100);
        if (ops == 0 || (choice < 50 && ops < max)) return Insert(parent, ops, RandomOp());   // append
        if (choice < 65 && ops < max) return Insert(parent, _rng.Next(ops + 1), RandomOp());
        if (choice < 75) return Replace(parent, _rng.Next(ops), RandomOp());
        if (choice < 83) return Remove(parent, _rng.Next(ops));
        if (choice < 93)
        {
            var copy = (byte[])parent.Clone();
            copy[_rng.Next(copy.Length)] = (byte)_rng.Next(256);
            return copy;
        }
        // Splice: this entry's first ops, then another entry's ops from some point on.
        var other = _queue[_rng.Next(_queue.Count)].Input;
        int keep = _rng.Next(ops + 1) * OpBytes;
        int from = other.Length == 0 ? 0 : _rng.Next(other.Length / OpBytes + 1) * OpBytes;
        int length = Math.Min(ProgramDecoder.MaxInputBytes, keep + other.Length - from);
        var spliced = new byte[length];
        parent.AsSpan(0, keep).CopyTo(spliced);
        other.AsSpan(from, length - keep).CopyTo(spliced.AsSpan(keep));
        return spliced;
    }

    byte[] RandomOp()
    {
        if (_dictionary.Count > 0 && _rng.Next(4) == 0) return _dictionary[_rng.Next(_dictionary.Count)];
        var op = new byte[OpBytes];
        _rng.NextBytes(op);
        return op;
    }

    byte[] RandomOps(int count)
    {
        var bytes = new byte[count * OpBytes];
        for (int i = 0; i < count; i++) RandomOp().CopyTo(bytes, i * OpBytes);
        return bytes;
    }

    static byte[] Insert(byte[] parent, int at, byte[] op)
    {
        var child = new byte[parent.Length + OpBytes];
        parent.AsSpan(0, at * OpBytes).CopyTo(child);
        op.CopyTo(child, at * OpBytes);
        parent.AsSpan(at * OpBytes).CopyTo(child.AsSpan((at + 1) * OpBytes));
        return child;
    }

    static byte[] Replace(byte[] parent, int at, byte[] op)
    {
        var child = (byte[])parent.Clone();
        op.CopyTo(child, at * OpBytes);
        return child;
    }

    static byte[] Remove(byte[] parent, int at)
    {
        var child = new byte[parent.Length - OpBytes];
        parent.AsSpan(0, at * OpBytes).CopyTo(child);
        parent.AsSpan((at + 1) * OpBytes).CopyTo(child.AsSpan(at * OpBytes));
        return child;
    }

    public void Dispose()
    {
        Trace.SharedMem = null;
        NativeMemory.Free(_map);
    }
}
