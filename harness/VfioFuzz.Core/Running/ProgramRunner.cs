using System.Collections.Immutable;
using System.Diagnostics;
using VfioFuzz.Cassettes;
using VfioFuzz.Iommufd;
using VfioFuzz.Listener;
using VfioFuzz.Machine;
using VfioFuzz.Memory;
using VfioFuzz.Oracles;
using VfioFuzz.Programs;
using VfioFuzz.Type1;

namespace VfioFuzz.Running;

/// <summary>
/// Runs one program against one target: boots the World, registers the listener (the
/// initial replay of the view), applies each op and delivers every transaction to the
/// listener exactly as memory_region_transaction_commit would (begin, region_del in address
/// order, region_add in address order, commit), then unregisters it (teardown deletes every
/// section). The oracles watch throughout. A ProgramException means the program is not
/// legal and propagates; anything the target throws is a crash finding.
/// </summary>
public sealed class ProgramRunner(Profile profile, Func<ListenerTarget> createTarget, RunOptions? options = null)
{
    readonly RunOptions _options = options ?? RunOptions.Default;

    public RunResult Run(FuzzProgram program) => Run(new ProgramOps(program));

    /// <summary>Runs what the bytes decode to, decoding each op on the run's own World (the
    /// decoder's World would be in the same state): one World per execution, not two. The
    /// program run (up to where the run stopped) comes back for triage.</summary>
    public RunResult Run(ReadOnlyMemory<byte> input, out FuzzProgram program)
    {
        var ops = new DecodingOps(input);
        var result = Run(ops);
        program = ops.Program;
        return result;
    }

    // A World kept between runs: building one (regions, devices, host mappings, the boot
    // view) costs more than many ops, and World.Reset restores it. Taken and returned with an
    // exchange, so concurrent runs on one runner each get their own.
    World? _spare;

    // A target with one container (QEMU 7.2: type1) runs there whatever was asked; with
    // `both` it then has nothing to diverge from.
    readonly ContainerKind? _only = createTarget().Info.OnlyContainer;

    RunResult Run(IOpSource ops) => _only is { } only ? Run(ops, only) : _options.Container switch
    {
        ContainerChoice.Type1 => Run(ops, ContainerKind.Type1),
        ContainerChoice.Both => ContainerDivergence.Judge(
            Run(ops, ContainerKind.Iommufd), Run(ops.Again(), ContainerKind.Type1), _options.Trace),
        _ => Run(ops, ContainerKind.Iommufd),
    };

    RunResult Run(IOpSource ops, ContainerKind container)
    {
        var world = Interlocked.Exchange(ref _spare, null);
        if (world is null) world = new World(profile);
        else world.Reset();
        IDmaMappings kernel = container == ContainerKind.Type1
            ? _options.CreateType1(profile, world.Host)
            : _options.CreateIoas(profile, world.Host);
        try { return Run(ops, world, kernel, container); }
        finally
        {
            (kernel as IDisposable)?.Dispose();   // the real backend holds an fd and mappings
            Volatile.Write(ref _spare, world);
        }
    }

    RunResult Run(IOpSource ops, World world, IDmaMappings baseKernel, ContainerKind container)
    {
        var trace = _options.Trace ? new TraceLog() : TraceLog.Disabled;
        var oracles = Oracle.CreateAll();
        var ctx = new RunContext(world, baseKernel, container);
        foreach (var o in oracles) o.Attach(ctx);
        IDmaMappings kernel = baseKernel switch
        {
            IType1Iommu type1 => new ObservedType1(type1, ctx, oracles),
            IIoas ioas => new ObservedIoas(ioas, ctx, oracles),
            _ => throw new ArgumentException($"no container interface for {baseKernel.GetType().Name}"),
        };
        var target = createTarget();
        var driver = new ListenerDriver(target, ctx, oracles, trace);
        // Millisecond ticks, not a Stopwatch: the watchdog is checked after every op.
        long deadline = Environment.TickCount64 + (long)_options.WatchdogOrDefault.TotalMilliseconds;

        // A fail-nth first in the program is armed before the listener registers: the
        // registration replay's maps count (how an initialization failure is reached).
        int steps = 0;
        var first = ops.Next(world);
        if (first is FailNth armed)
        {
            steps = 1;
            if (trace.Enabled) trace.Note($"step 1: {ProgramText.Describe(armed)} (armed before the listener registers)");
            world.Apply(armed, driver);
            first = ops.Next(world);
        }

        ctx.Step = 0;
        if (!driver.Guard(() =>
            {
                target.Register(new ListenerEnvironment(kernel, world.Host, profile.HostPageSize, world.Devices, trace,
                    world.Viommu, gpa => world.SystemView.Find(gpa), ctx.Refs,
                    world.DiscardManagerOf, ctx.DirtyLog));
                driver.Transaction(FlatView.Empty, world.View);
                ctx.BootView = world.View;
                target.Initialized();
                driver.InitializedDespiteFailure();
                ctx.ListenerInitialized = true;
            }))
            return Result(ctx, trace, steps);

        for (var op = first; op is not null; op = ops.Next(world))
        {
            ctx.Step = ++steps;
            if (trace.Enabled) trace.Note($"step {ctx.Step}: {ProgramText.Describe(op)}");
            if (!driver.Apply(world, op)) return Result(ctx, trace, ctx.Step);
            if (Environment.TickCount64 >= deadline)
            {
                ctx.Report(new Finding(FindingKinds.Timeout, $"{FindingKinds.Timeout}:watchdog", ctx.Step,
                    $"program exceeded its {_options.WatchdogOrDefault.TotalSeconds:0.#} s budget at step {ctx.Step}",
                    "The listener (or a backend call) took longer than the per-program watchdog allows: a stuck call or a loop.",
                    "hang"));
                return Result(ctx, trace, ctx.Step);
            }
        }

        ctx.Step = steps + 1;
        if (trace.Enabled) trace.Note($"step {ctx.Step}: teardown (memory_listener_unregister)");
        ctx.DevicesDetached = true;
        if (driver.Guard(() => driver.Transaction(world.View, FlatView.Empty, afterCommit: false)))
            foreach (var o in oracles) o.AtTeardown(ctx);
        return Result(ctx, trace, ctx.Step);
    }

    static RunResult Result(RunContext ctx, TraceLog trace, int steps) => new(ctx.Findings, trace.Lines, steps);

    /// <summary>Turns World events into listener callbacks and oracle hooks.</summary>
    sealed class ListenerDriver(ListenerTarget target, RunContext ctx, Oracle[] oracles, TraceLog trace) : IWorldEvents
    {
        public void Transaction(FlatView before, FlatView after) => Transaction(before, after, afterCommit: true);

        /// <summary>At teardown the World still holds its view while the listener deletes it
        /// all: the per-commit checks do not apply there.</summary>
        public void Transaction(FlatView before, FlatView after, bool afterCommit)
        {
            target.Begin();
            // All deletions first, then all additions, each in address order.
            foreach (var s in before.NotIn(after)) Call(s, add: false);
            foreach (var s in after.NotIn(before)) Call(s, add: true);
            target.Commit();
            if (!afterCommit) return;
            ctx.Offers.Committed(ctx.World);
            foreach (var o in oracles) o.AfterCommit(ctx);
        }

        void Call(Section s, bool add)
        {
            // A vIOMMU that refuses vfio's MAP notifier: QEMU's region_add fails, and so does
            // the registration (at boot) or QEMU itself (hw_error, at run time).
            if (add && s.Mr.IsIommu && ctx.World.Viommu.MapNotifierRefusal is { } refusal)
                ctx.AbortExpected ??= ExpectedAbort.NotifierRefused(s, refusal);
            ctx.Section = s;
            ctx.Deleting = !add;
            try
            {
                if (add) target.RegionAdd(s);
                else target.RegionDel(s);
            }
            finally { ctx.Section = null; ctx.Deleting = false; }
            if (add && ctx.ListenerInitialized && ctx.AbortExpected is { } abort) IgnoredFailure(abort, "region_add went on");
        }

        /// <summary>After registration: a RAM map of the replay failed (fail-nth), and QEMU
        /// fails the registration, but the target's Initialized did not.</summary>
        public void InitializedDespiteFailure()
        {
            if (ctx.AbortExpected is { } abort) IgnoredFailure(abort, "the listener's registration succeeded");
        }

        /// <summary>A target that goes on where QEMU stops: after a failed RAM map or a refused
        /// vIOMMU notifier QEMU keeps the first error and fails the registration (before
        /// initialization) or calls hw_error (after); either way the VM does not run on.</summary>
        void IgnoredFailure(ExpectedAbort abort, string what)
        {
            ctx.AbortExpected = null;
            string sig = $"{FindingKinds.UnexpectedErrno}:ignored-map-failure:{abort.Role.Name()}";
            if (ctx.Seen(sig)) return;
            ctx.Report(new Finding(FindingKinds.UnexpectedErrno, sig, ctx.Step, $"{abort.Why}, and {what}", abort.Consequence,
                "the VM runs on with memory the device cannot reach"));
        }

        public void FailNth(int n, Errno errno)
        {
            if (trace.Enabled) trace.Note($"fail-nth: map call {n} from here fails with {errno}");
            ctx.ArmFailure(n, errno);
        }

        public void DeviceStateChanged(PciDevice device)
        {
            if (trace.Enabled) trace.Note($"{device.Id} is {device.State.Name()}");
            long calls = ctx.IoasCalls;
            target.DeviceStateChanged(device);
            // A patch may act on a state change (flush deferred unmaps): re-check the IOAS if
            // it did. The view did not change, so with no call the checks would see the same.
            if (ctx.IoasCalls == calls) return;
            foreach (var o in oracles) o.AfterCommit(ctx);
        }

        /// <summary>memory_region_notify_iommu: each registered notifier covering the IOVA gets
        /// the event; the oracles see the IOAS afterwards. The context names the notification
        /// so a map or unmap it causes is attributed to the IOTLB, not to a section.</summary>
        public void Iotlb(in IotlbEvent e)
        {
            if (trace.Enabled) trace.Note($"guest IOTLB {(e.IsMap ? "MAP" : "UNMAP")} iova 0x{e.Iova:x} size 0x{e.Size:x}" + (e.IsMap ? $" -> gpa 0x{e.Gpa:x}" : ""));
            ctx.Offers.Notified(ctx.World, e);
            ctx.Notification = e;
            try
            {
                foreach (var n in ctx.World.Viommu.Notifiers.ToArray())
                    if (n.Covers(e.Iova)) n.Notify(e);
            }
            finally { ctx.Notification = null; }
            foreach (var o in oracles) o.AfterCommit(ctx);
        }

        /// <summary>virtio_mem_notify_plug: populate, for each listener, the part of the range
        /// inside its section; on the first failure the ones before are told to discard theirs again.</summary>
        public bool RamPopulate(VirtioMem vmem, ulong offset, ulong size)
        {
            if (trace.Enabled) trace.Note($"virtio-mem plug [0x{offset:x}, +0x{size:x}) of {vmem.Region.Name}");
            var done = new List<(RamDiscardListener Listener, ulong Start, ulong Length)>();
            bool ok = true;
            ctx.RamDiscard = (true, offset, size);
            try
            {
                foreach (var l in vmem.Listeners.ToArray())
                {
                    if (!VirtioMem.Intersect(l, offset, size, out ulong start, out ulong length)) continue;
                    if (l.Populate(start, length) != 0) { ok = false; break; }
                    done.Add((l, start, length));
                }
                if (!ok)
                {
                    ctx.RamDiscard = (false, offset, size);
                    foreach (var (l, start, length) in done) l.Discard(start, length);
                }
            }
            finally { ctx.RamDiscard = null; }
            // A refused plug is checked at the next commit, once the World has taken it back.
            if (ok) foreach (var o in oracles) o.AfterCommit(ctx);
            return ok;
        }

        /// <summary>virtio_mem_notify_unplug: discard, for each listener, the part of the range inside its section.</summary>
        public void RamDiscard(VirtioMem vmem, ulong offset, ulong size)
        {
            if (trace.Enabled) trace.Note($"virtio-mem unplug [0x{offset:x}, +0x{size:x}) of {vmem.Region.Name}");
            ctx.RamDiscard = (false, offset, size);
            try
            {
                foreach (var l in vmem.Listeners.ToArray())
                    if (VirtioMem.Intersect(l, offset, size, out ulong start, out ulong length)) l.Discard(start, length);
            }
            finally { ctx.RamDiscard = null; }
            foreach (var o in oracles) o.AfterCommit(ctx);
        }

        public void DirtyTracking(bool started)
        {
            if (trace.Enabled) trace.Note($"global dirty tracking {(started ? "started" : "stopped")}");
            target.LogGlobal(started);
        }

        public void AtsAccess(PciDevice device, ulong gpa)
        {
            foreach (var o in oracles) o.OnAtsAccess(ctx, device, gpa);
        }

        /// <summary>Applies one op to the World under <see cref="Guard{T}"/>'s rules, with no
        /// closure allocated per op.</summary>
        public bool Apply(World world, Op op) => Guard((world, op, this), static s => s.world.Apply(s.op, s.Item3));

        public bool Guard(Action step) => Guard(step, static s => s());

        /// <summary>Runs a step; a target exception becomes a crash finding and ends the run.</summary>
        public bool Guard<T>(T state, Action<T> step)
        {
            try
            {
                step(state);
                return true;
            }
            catch (ProgramException) { throw; }
            catch (CassetteDivergenceException) { throw; }   // the recording, not the target, is at odds
            catch (IoctlTimeoutException e)
            {
                ctx.Report(new Finding(FindingKinds.Timeout, $"{FindingKinds.Timeout}:ioctl", ctx.Step,
                    $"{e.Call} did not return: {e.Message}",
                    "A call into the kernel's iommufd did not return within the backend watchdog: in QEMU this is a vCPU or the main loop stuck in an ioctl.",
                    "hang"));
            }
            catch (QemuAbortException e) when (ctx.AbortExpected is { Why: var why })
            {
                // QEMU's own reaction to the injected failure: the VM stops, nothing to report.
                if (trace.Enabled) trace.Note($"QEMU stops here, as it does when {why}: {e.Message}");
            }
            catch (QemuAbortException e)
            {
                ctx.Report(new Finding(FindingKinds.Crash, $"{FindingKinds.Crash}:qemu-abort", ctx.Step,
                    $"QEMU aborted: {e.Message}",
                    "The listener hit a fatal path (hw_error after a failed RAM mapping, or a failed initial replay): the VM is gone.",
                    "fatal: QEMU exits"));
            }
            catch (Exception e)
            {
                ctx.Report(new Finding(FindingKinds.Crash, $"{FindingKinds.Crash}:{e.GetType().Name}", ctx.Step,
                    $"the target threw {e.GetType().Name}: {e.Message}",
                    $"The listener model itself failed, which is a bug in the target file: {e.StackTrace?.Split('\n').FirstOrDefault()?.Trim()}",
                    "the run stopped"));
            }
            return false;
        }
    }

    /// <summary>Where a run's ops come from: a program, or bytes decoded as the run goes.</summary>
    interface IOpSource
    {
        Op? Next(World world);

        /// <summary>The same ops from the start, for a second run (the other container).</summary>
        IOpSource Again();
    }

    sealed class ProgramOps(FuzzProgram program) : IOpSource
    {
        int _next;

        public Op? Next(World world) => _next < program.Ops.Length ? program.Ops[_next++] : null;

        public IOpSource Again() => new ProgramOps(program);
    }

    /// <summary>Decodes as the run goes. A second run decodes the same bytes again: the decoder
    /// reads only the World, which the listener never changes, so it yields the same ops (and,
    /// if the first run stopped early, the ones after it too).</summary>
    sealed class DecodingOps(ReadOnlyMemory<byte> input) : IOpSource
    {
        readonly ImmutableArray<Op>.Builder _ops = ImmutableArray.CreateBuilder<Op>();
        int _at;
        DecodingOps? _again;

        /// <summary>What was decoded: by the run that got furthest, when there were two.</summary>
        public FuzzProgram Program => _again is { } again && again._ops.Count > _ops.Count ? again.Program : new(_ops.ToImmutable());

        public Op? Next(World world)
        {
            if (_ops.Count >= ProgramDecoder.MaxOps || ProgramDecoder.DecodeNext(world, input.Span, ref _at) is not { } op) return null;
            _ops.Add(op);
            return op;
        }

        public IOpSource Again() => _again = new DecodingOps(input);
    }
}
