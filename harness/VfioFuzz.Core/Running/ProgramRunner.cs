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
/// section): at the end, or when the last device is hot-unplugged (a hot-plug then opens a
/// new container and registers a new listener on it). The oracles watch throughout. A ProgramException means the program is not
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
        var trace = _options.Trace ? new TraceLog() : TraceLog.Disabled;
        var driver = new ListenerDriver(this, world, container, trace);
        try { return Run(ops, world, driver, trace); }
        finally
        {
            driver.CloseContainer();   // the real backend holds an fd and mappings
            Volatile.Write(ref _spare, world);
        }
    }

    ListenerTarget CreateTarget() => createTarget();

    /// <summary>A container of the run's kind, its kernel side as the options say.</summary>
    IDmaMappings OpenKernel(World world, ContainerKind container) => container == ContainerKind.Type1
        ? _options.CreateType1(profile, world.Host)
        : _options.CreateIoas(profile, world.Host);

    RunResult Run(IOpSource ops, World world, ListenerDriver driver, TraceLog trace)
    {
        // Millisecond ticks, not a Stopwatch: the watchdog is checked after every op.
        long deadline = Environment.TickCount64 + (long)_options.WatchdogOrDefault.TotalMilliseconds;

        // A fail-nth first in the program is armed before the listener registers: the
        // registration replay's maps count (how an initialization failure is reached).
        int steps = 0;
        driver.OpenContainer();
        var first = ops.Next(world);
        if (first is FailNth armed)
        {
            steps = 1;
            if (trace.Enabled) trace.Note($"step 1: {ProgramText.Describe(armed)} (armed before the listener registers)");
            world.Apply(armed, driver);
            first = ops.Next(world);
        }

        driver.Ctx.Step = 0;
        if (!driver.Guard(driver.Register)) return Result(driver.Ctx, trace, steps);

        for (var op = first; op is not null; op = ops.Next(world))
        {
            driver.Ctx.Step = ++steps;
            if (trace.Enabled) trace.Note($"step {steps}: {ProgramText.Describe(op)}");
            if (!driver.Apply(world, op)) return Result(driver.Ctx, trace, steps);
            if (Environment.TickCount64 >= deadline)
            {
                driver.Ctx.Report(new Finding(FindingKinds.Timeout, $"{FindingKinds.Timeout}:watchdog", steps,
                    $"program exceeded its {_options.WatchdogOrDefault.TotalSeconds:0.#} s budget at step {steps}",
                    "The listener (or a backend call) took longer than the per-program watchdog allows: a stuck call or a loop.",
                    "hang"));
                return Result(driver.Ctx, trace, steps);
            }
        }

        driver.Ctx.Step = steps + 1;
        // Every device still plugged is detached, the last one's container unregisters its
        // listener; with none plugged that happened at the last unplug.
        if (driver.HasContainer)
        {
            if (trace.Enabled) trace.Note($"step {steps + 1}: teardown (memory_listener_unregister)");
            driver.Guard(driver.Release);
        }
        return Result(driver.Ctx, trace, steps + 1);
    }

    static RunResult Result(RunContext ctx, TraceLog trace, int steps) => new(ctx.Findings, trace.Lines, steps);

    /// <summary>
    /// Turns World events into listener callbacks and oracle hooks, for the container open now:
    /// from the listener's registration to its release, one container with its kernel side,
    /// target instance, oracles and context. Hot-unplug of the last device releases it; a
    /// hot-plug with none open opens the next (QEMU finds no container to join in the address
    /// space and makes one). Between the two no listener exists and the World's changes reach
    /// nobody.
    /// </summary>
    sealed class ListenerDriver(ProgramRunner runner, World world, ContainerKind container, TraceLog trace) : IWorldEvents
    {
        ListenerTarget _target = null!;
        Oracle[] _oracles = [];
        IDmaMappings? _kernel;

        /// <summary>The open container's context, or the last one's when none is open (they
        /// share the findings).</summary>
        public RunContext Ctx { get; private set; } = null!;

        public bool HasContainer => _kernel is not null;

        /// <summary>A container and a fresh target instance with its oracles, nothing registered yet.</summary>
        public void OpenContainer()
        {
            var baseKernel = runner.OpenKernel(world, container);
            var before = Ctx;
            Ctx = new RunContext(world, baseKernel, container, before) { Step = before?.Step ?? 0 };
            _kernel = baseKernel;
            _oracles = runner._options.CreateOracles();
            foreach (var o in _oracles) o.Attach(Ctx);
            _target = runner.CreateTarget();
        }

        /// <summary>memory_listener_register: the replay of the view, then initialization.</summary>
        public void Register()
        {
            IDmaMappings kernel = _kernel switch
            {
                IType1Iommu type1 => new ObservedType1(type1, Ctx, _oracles),
                IIoas ioas => new ObservedIoas(ioas, Ctx, _oracles),
                _ => throw new ArgumentException($"no container interface for {_kernel?.GetType().Name}"),
            };
            _target.Register(new ListenerEnvironment(kernel, world.Host, world.Profile.HostPageSize, world.Devices, trace,
                world.Viommu, gpa => world.SystemView.Find(gpa), Ctx.Refs,
                world.DiscardManagerOf, Ctx.DirtyLog));
            Transaction(FlatView.Empty, world.View);
            Ctx.BootView = world.View;
            _target.Initialized();
            InitializedDespiteFailure();
            Ctx.ListenerInitialized = true;
        }

        /// <summary>memory_listener_unregister as the last device's container goes: every
        /// section deleted (the World still holds its view; the per-commit checks do not apply),
        /// the teardown checks, and the container closed.</summary>
        public void Release()
        {
            Ctx.DevicesDetached = true;
            try
            {
                Transaction(world.View, FlatView.Empty, afterCommit: false);
                foreach (var o in _oracles) o.AtTeardown(Ctx);
            }
            finally { CloseContainer(); }
        }

        /// <summary>The container's kernel side closed (type1: the container fd; iommufd: the
        /// IOAS), whatever the listener left in it.</summary>
        public void CloseContainer()
        {
            (_kernel as IDisposable)?.Dispose();
            _kernel = null;
        }

        public void DeviceHotplug(PciDevice device, bool plugged)
        {
            if (!plugged && HasContainer && !world.AnyDevicePlugged)
            {
                if (trace.Enabled) trace.Note($"{device.Id} was the last device: memory_listener_unregister, the container closes");
                Release();
            }
            else if (plugged && !HasContainer)
            {
                if (trace.Enabled) trace.Note($"{device.Id} opens a new container: memory_listener_register");
                OpenContainer();
                Register();
            }
            else if (HasContainer)
                foreach (var o in _oracles) o.OnDeviceHotplug(Ctx, device, plugged);
        }

        public void Transaction(FlatView before, FlatView after)
        {
            if (HasContainer) Transaction(before, after, afterCommit: true);
        }

        /// <summary>At teardown the World still holds its view while the listener deletes it
        /// all: the per-commit checks do not apply there.</summary>
        void Transaction(FlatView before, FlatView after, bool afterCommit)
        {
            _target.Begin();
            // All deletions first, then all additions, each in address order.
            foreach (var s in before.NotIn(after)) Call(s, add: false);
            foreach (var s in after.NotIn(before)) Call(s, add: true);
            _target.Commit();
            if (!afterCommit) return;
            Ctx.Offers.Committed(Ctx.World);
            foreach (var o in _oracles) o.AfterCommit(Ctx);
        }

        void Call(Section s, bool add)
        {
            // A vIOMMU that refuses vfio's MAP notifier: QEMU's region_add fails, and so does
            // the registration (at boot) or QEMU itself (hw_error, at run time).
            if (add && s.Mr.IsIommu && Ctx.World.Viommu.MapNotifierRefusal is { } refusal)
                Ctx.AbortExpected ??= ExpectedAbort.NotifierRefused(s, refusal);
            Ctx.Section = s;
            Ctx.Deleting = !add;
            try
            {
                if (add) _target.RegionAdd(s);
                else _target.RegionDel(s);
            }
            finally { Ctx.Section = null; Ctx.Deleting = false; }
            if (add && Ctx.ListenerInitialized && Ctx.AbortExpected is { } abort) IgnoredFailure(abort, "region_add went on");
        }

        /// <summary>After registration: a RAM map of the replay failed (fail-nth), and QEMU
        /// fails the registration, but the target's Initialized did not.</summary>
        public void InitializedDespiteFailure()
        {
            if (Ctx.AbortExpected is { } abort) IgnoredFailure(abort, "the listener's registration succeeded");
        }

        /// <summary>A target that goes on where QEMU stops: after a failed RAM map or a refused
        /// vIOMMU notifier QEMU keeps the first error and fails the registration (before
        /// initialization) or calls hw_error (after); either way the VM does not run on.</summary>
        void IgnoredFailure(ExpectedAbort abort, string what)
        {
            Ctx.AbortExpected = null;
            string sig = $"{FindingKinds.UnexpectedErrno}:ignored-map-failure:{abort.Role.Name()}";
            if (Ctx.Seen(sig)) return;
            Ctx.Report(new Finding(FindingKinds.UnexpectedErrno, sig, Ctx.Step, $"{abort.Why}, and {what}", abort.Consequence,
                "the VM runs on with memory the device cannot reach"));
        }

        public void FailNth(int n, Errno errno)
        {
            if (trace.Enabled) trace.Note($"fail-nth: map call {n} from here fails with {errno}");
            if (HasContainer) Ctx.ArmFailure(n, errno);   // with no container there is no map to fail
        }

        public void DeviceStateChanged(PciDevice device)
        {
            if (trace.Enabled) trace.Note($"{device.Id} is {device.State.Name()}");
            if (!HasContainer) return;
            long calls = Ctx.IoasCalls;
            _target.DeviceStateChanged(device);
            // A patch may act on a state change (flush deferred unmaps): re-check the IOAS if
            // it did. The view did not change, so with no call the checks would see the same.
            if (Ctx.IoasCalls == calls) return;
            foreach (var o in _oracles) o.AfterCommit(Ctx);
        }

        /// <summary>memory_region_notify_iommu: each registered notifier covering the IOVA gets
        /// the event; the _oracles see the IOAS afterwards. The context names the notification
        /// so a map or unmap it causes is attributed to the IOTLB, not to a section.</summary>
        public void Iotlb(in IotlbEvent e)
        {
            if (trace.Enabled) trace.Note($"guest IOTLB {(e.IsMap ? "MAP" : "UNMAP")} iova 0x{e.Iova:x} size 0x{e.Size:x}" + (e.IsMap ? $" -> gpa 0x{e.Gpa:x}" : ""));
            if (!HasContainer) return;
            Ctx.Offers.Notified(Ctx.World, e);
            Ctx.Notification = e;
            try
            {
                foreach (var n in Ctx.World.Viommu.Notifiers.ToArray())
                    if (n.Covers(e.Iova)) n.Notify(e);
            }
            finally { Ctx.Notification = null; }
            foreach (var o in _oracles) o.AfterCommit(Ctx);
        }

        /// <summary>virtio_mem_notify_plug: populate, for each listener, the part of the range
        /// inside its section; on the first failure the ones before are told to discard theirs again.</summary>
        public bool RamPopulate(VirtioMem vmem, ulong offset, ulong size)
        {
            if (trace.Enabled) trace.Note($"virtio-mem plug [0x{offset:x}, +0x{size:x}) of {vmem.Region.Name}");
            if (!HasContainer) return true;
            var done = new List<(RamDiscardListener Listener, ulong Start, ulong Length)>();
            bool ok = true;
            Ctx.RamDiscard = (true, offset, size);
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
                    Ctx.RamDiscard = (false, offset, size);
                    foreach (var (l, start, length) in done) l.Discard(start, length);
                }
            }
            finally { Ctx.RamDiscard = null; }
            // A refused plug is checked at the next commit, once the World has taken it back.
            if (ok) foreach (var o in _oracles) o.AfterCommit(Ctx);
            return ok;
        }

        /// <summary>virtio_mem_notify_unplug: discard, for each listener, the part of the range inside its section.</summary>
        public void RamDiscard(VirtioMem vmem, ulong offset, ulong size)
        {
            if (trace.Enabled) trace.Note($"virtio-mem unplug [0x{offset:x}, +0x{size:x}) of {vmem.Region.Name}");
            if (!HasContainer) return;
            Ctx.RamDiscard = (false, offset, size);
            try
            {
                foreach (var l in vmem.Listeners.ToArray())
                    if (VirtioMem.Intersect(l, offset, size, out ulong start, out ulong length)) l.Discard(start, length);
            }
            finally { Ctx.RamDiscard = null; }
            foreach (var o in _oracles) o.AfterCommit(Ctx);
        }

        public void DirtyTracking(bool started)
        {
            if (trace.Enabled) trace.Note($"global dirty tracking {(started ? "started" : "stopped")}");
            if (HasContainer) _target.LogGlobal(started);
        }

        public void AtsAccess(PciDevice device, ulong gpa)
        {
            if (HasContainer) foreach (var o in _oracles) o.OnAtsAccess(Ctx, device, gpa);
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
            catch (BackendDivergenceException e)
            {
                Ctx.Report(new Finding(FindingKinds.BackendDivergence, $"{FindingKinds.BackendDivergence}:{e.Difference}", Ctx.Step,
                    $"{e.Call} for {Ctx.Section?.Key ?? "(no section)"}: {e.Detail}",
                    "The real kernel and the simulator disagree on a call the listener made: the simulator's answers (and every verdict " +
                    "the simulated backend gives on this path) are wrong for this kernel, or the kernel changed. The run stops here: " +
                    "after it the two IOASes no longer hold the same thing.",
                    "the simulator misjudges this path"));
            }
            catch (IoctlTimeoutException e)
            {
                Ctx.Report(new Finding(FindingKinds.Timeout, $"{FindingKinds.Timeout}:ioctl", Ctx.Step,
                    $"{e.Call} did not return: {e.Message}",
                    "A call into the kernel's iommufd did not return within the backend watchdog: in QEMU this is a vCPU or the main loop stuck in an ioctl.",
                    "hang"));
            }
            catch (QemuAbortException e) when (Ctx.AbortExpected is { Why: var why })
            {
                // QEMU's own reaction to the injected failure: the VM stops, nothing to report.
                if (trace.Enabled) trace.Note($"QEMU stops here, as it does when {why}: {e.Message}");
            }
            catch (QemuAbortException e)
            {
                Ctx.Report(new Finding(FindingKinds.Crash, $"{FindingKinds.Crash}:qemu-abort", Ctx.Step,
                    $"QEMU aborted: {e.Message}",
                    "The listener hit a fatal path (hw_error after a failed RAM mapping, or a failed initial replay): the VM is gone.",
                    "fatal: QEMU exits"));
            }
            catch (Exception e)
            {
                Ctx.Report(new Finding(FindingKinds.Crash, $"{FindingKinds.Crash}:{e.GetType().Name}", Ctx.Step,
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
