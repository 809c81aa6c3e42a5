using System.Diagnostics;
using System.Runtime.InteropServices;
using VfioFuzz.Programs;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>The AFL++ custom mutator (harness/VfioFuzz.FuzzDriver/op-mutator.c), loaded as
/// afl-fuzz loads it: every output is whole ops within the decoder's limit, and ops survive a
/// mutation whole, which is the point of it (a byte-level insert shifts every later op).</summary>
public sealed unsafe class OpMutatorTests() : TempFolder("op-mutator")
{
    string Build()
    {
        string so = Path.Combine(Dir, "op-mutator.so");
        var psi = new ProcessStartInfo("cc") { RedirectStandardError = true };
        foreach (var a in new[] { "-O2", "-Wall", "-Werror", "-shared", "-fPIC", $"-DOP_BYTES={ProgramDecoder.OpBytes}",
                     $"-DMAX_INPUT={ProgramDecoder.MaxInputBytes}", "-o", so, Path.Combine(Repo.Root, "harness", "VfioFuzz.FuzzDriver", "op-mutator.c") })
            psi.ArgumentList.Add(a);
        using var cc = Process.Start(psi) ?? throw new InvalidOperationException("cc (build-essential, which afl++ brings) is needed");
        string errors = cc.StandardError.ReadToEnd();
        cc.WaitForExit();
        Assert.True(cc.ExitCode == 0, errors);
        return so;
    }

    [Fact]
    public void Outputs_are_whole_ops_within_the_limit_and_keep_all_but_a_few_ops_whole()
    {
        var lib = NativeLibrary.Load(Build());
        try
        {
            var init = (delegate* unmanaged<IntPtr, uint, IntPtr>)NativeLibrary.GetExport(lib, "afl_custom_init");
            var fuzz = (delegate* unmanaged<IntPtr, byte*, nuint, byte**, byte*, nuint, nuint, nuint>)NativeLibrary.GetExport(lib, "afl_custom_fuzz");
            var deinit = (delegate* unmanaged<IntPtr, void>)NativeLibrary.GetExport(lib, "afl_custom_deinit");
            const int ops = 12, opBytes = ProgramDecoder.OpBytes;
            // Ops that are each distinct, so an op of the input found whole in an output is that op.
            var input = Enumerable.Range(0, ops * opBytes).Select(i => (byte)(i * 7 + 1)).ToArray();
            var other = Enumerable.Range(0, 8 * opBytes).Select(i => (byte)(200 + i)).ToArray();
            var inputOps = input.Chunk(opBytes).Select(Convert.ToHexString).ToArray();
            IntPtr state = init(IntPtr.Zero, 7);
            var sizes = new HashSet<int>();
            fixed (byte* inp = input, oth = other)
                for (int i = 0; i < 2000; i++)
                {
                    byte* output;
                    int size = (int)fuzz(state, inp, (nuint)input.Length, &output, oth, (nuint)other.Length, (nuint)ProgramDecoder.MaxInputBytes);
                    Assert.Equal(0, size % opBytes);
                    Assert.InRange(size, opBytes, ProgramDecoder.MaxInputBytes);
                    var outOps = new ReadOnlySpan<byte>(output, size).ToArray().Chunk(opBytes).Select(Convert.ToHexString).ToHashSet();
                    // At most four rounds, each changing or removing at most one op.
                    Assert.True(inputOps.Count(outOps.Contains) >= ops - 4, $"mutation {i} kept {inputOps.Count(outOps.Contains)} of {ops} ops whole");
                    sizes.Add(size / opBytes);
                }
            deinit(state);
            Assert.Contains(sizes, s => s > ops);   // inserts happen
            Assert.Contains(sizes, s => s < ops);   // and deletes
        }
        finally { NativeLibrary.Free(lib); }
    }
}
