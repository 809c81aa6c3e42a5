using System.Runtime.InteropServices;
using VfioFuzz.Benchmarking;
using VfioFuzz.Cassettes;
using VfioFuzz.Conformance;
using VfioFuzz.Corpus;
using VfioFuzz.Iommufd;
using VfioFuzz.Listener;
using VfioFuzz.Running;
using VfioFuzz.Lab;
using VfioFuzz.Targets;

// vfio-fuzz-lab conformance OUT.yaml        the suite on the real kernel (mock domain), recorded,
//                                           then the simulator compared with the recording
// vfio-fuzz-lab record-corpus CORPUS OUTDIR every bug-corpus entry on every target against the
//                                           real kernel, one cassette per entry
// vfio-fuzz-lab fuzz SECONDS SEED OUTDIR   the differential campaign: random programs on every iommufd
//                                           target and profile, each call on the kernel's domain-attached
//                                           IOAS and the simulator in lockstep (DifferentialRun)
// vfio-fuzz-lab bench-ioctl PAIRS           IOAS map+unmap pairs/s through Tmds.LibC directly and
//                                           through IommufdIoas (BENCH lines, as ioctl-loop.c prints)
// vfio-fuzz-lab realqemu PROGRAMS OUTDIR MDEV SHIM [EDU]
//                                           each program (profile q35-mbochs, or q35-edu when EDU, a PCI
//                                           address, is given) on a nested QEMU with vfio-pci on the mdev
//                                           or edu and on the qemu-7.2 model; one recording (the nested
//                                           stderr) per program, op-by-op verdicts; on edu, Stage-2 probes
//                                           by its DMA after each op (NAME.probes), judged by the model
// vfio-fuzz-lab realqemu-fuzz SECONDS SEED OUTDIR MDEV SHIM [MODEL [EDU]]
//                                           random programs on both for SECONDS (MODEL: qemu-7.2);
//                                           with EDU every other one on the edu machine, probes
//                                           included; each new divergence minimized and kept
// vfio-fuzz-lab realqemu-patched PROGRAMS OUTDIR MDEV SHIM BINARY
//                                           each program on a QEMU built from source with a patch
//                                           under test; recordings only (import-trace judges them)
// vfio-fuzz-lab type1-conformance OUT.yaml MDEV
//                                           the type1 suite on a real type1 container holding the
//                                           mdev's group (no IOMMU domain), recorded, then the
//                                           simulator compared with the recording
// vfio-fuzz-lab type1-compat-conformance OUT.yaml
//                                           the same suite on a type1 container served by iommufd's VFIO
//                                           compatibility layer (no group; a whole-aperture mock domain)
// Runs inside the lab guest (harness/lab/run); any machine with /dev/iommu works too.
if (args.Length < 2) return Usage();
var watchdog = TimeSpan.FromSeconds(10);
// A domain-attached IOAS pins at map time: 4 GiB in this TCG guest can take longer than 10 s.
var pinningWatchdog = TimeSpan.FromMinutes(5);
string release = File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
string machine = $"{RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant()} {File.ReadAllText("/proc/sys/kernel/hostname").Trim()}";
var flavor = ConformanceSuite.FlavorOf(release);
string now = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ");
try
{
    switch (args[0])
    {
        case "conformance":
        {
            var sessions = ConformanceSuite.Record(flavor,
                host => new IommufdIoas(host, watchdog, MockDomain.Selftest, reserved: [ConformanceSuite.MsiWindow]),
                ioas => ((IommufdIoas)ioas).Geometry);
            var cassette = new Cassette(args[1], release, machine, "iommufd (mock domain, MSI window reserved)", now, sessions);
            CassetteFile.Save(args[1], cassette);
            var differences = ConformanceSuite.Compare(cassette, flavor);
            foreach (var d in differences) Console.WriteLine($"DIFFERS {d}");
            Console.WriteLine(ConformanceSuite.Summary(differences, $"kernel {release} ({sessions.Sum(s => s.Calls.Length)} ioctls)"));
            return differences.Count == 0 ? 0 : 1;
        }
        case "record-corpus" when args.Length == 3:
        {
            var catalog = new TargetCatalog(typeof(Qemu110).Assembly);
            var sessions = KernelSessions.Probe(pinningWatchdog, requireDomain: true);
            Directory.CreateDirectory(args[2]);
            // One entry per vCPU at a time: a recording is mostly the guest kernel's work under
            // TCG (about 13 s each on one vCPU, seen 2026-11-30), and each recording has its own
            // IOAS, watchdog thread and host mappings (the mapping pools are shared, thread-safe).
            // Each entry's recordings stay in target order, in its own cassette.
            Parallel.ForEach(CorpusFile.Find(args[1]), new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, path =>
            {
                // The World of this kernel: a BAR is a dmabuf only where the kernel exports one.
                var loaded = CorpusFile.Load(path);
                var entry = loaded with { Profile = loaded.Profile with { Kernel = flavor } };
                var recorded = new List<CassetteSession>();
                // Cassettes record iommufd sessions: a target with type1 alone has none.
                foreach (var target in catalog.Targets.Where(t => t.Has(ContainerKind.Iommufd)))
                {
                    RecordingIoas? recorder = null;
                    // A domain attached first, as QEMU attaches the device before its listener
                    // maps: pinning at map time (a VM_PFNMAP BAR is EFAULT), the profile's
                    // reserved windows refused. Pinning 2 GiB in a TCG guest takes seconds:
                    // the run's watchdog is the lab's, not a campaign's.
                    var options = new RunOptions(Watchdog: TimeSpan.FromHours(1), Backend: (profile, host) =>
                    {
                        var real = sessions.Open(profile, host, pinningWatchdog);
                        return recorder = new RecordingIoas(real, real.Geometry);
                    });
                    var clock = System.Diagnostics.Stopwatch.StartNew();
                    var real = new ProgramRunner(entry.Profile, () => catalog.Create(target.Id), options).Run(entry.Program);
                    var sim = new ProgramRunner(entry.Profile, () => catalog.Create(target.Id)).Run(entry.Program);
                    recorded.Add(recorder!.Session(target.Id));
                    string verdict = real.Signatures.SequenceEqual(sim.Signatures) ? "same findings as the simulator" : $"real [{string.Join(", ", real.Signatures)}] vs simulator [{string.Join(", ", sim.Signatures)}]";
                    Console.WriteLine($"record {entry.Id} on {target.Id}: {recorder.Calls.Count} calls in {clock.Elapsed.TotalSeconds:0.0} s, {verdict}");
                }
                string output = Path.Combine(args[2], $"{entry.Id}.yaml");
                CassetteFile.Save(output, new Cassette(output, release, machine, $"iommufd ({sessions.Describe}; the profile's reserved windows)", now, [.. recorded]));
            });
            return 0;
        }
        case "fuzz" when args.Length == 4 && int.TryParse(args[1], out int fuzzSeconds) && ulong.TryParse(args[2], out ulong fuzzSeed):
            return DifferentialRun.Run(fuzzSeconds, fuzzSeed, args[3], new TargetCatalog(typeof(Qemu110).Assembly), pinningWatchdog);
        case "bench-ioctl" when args.Length == 2 && int.TryParse(args[1], out int pairs):
        {
            // Warm the JIT and the kernel's page pinning first; then three measured rounds of
            // each (the host takes the median, as it does of the C loop's three).
            IoctlRoundTrips.Direct(Math.Max(1, pairs / 10));
            IoctlRoundTrips.Harness(Math.Max(1, pairs / 10));
            for (int round = 0; round < 3; round++)
            {
                var (direct, mock) = IoctlRoundTrips.Direct(pairs);
                Console.WriteLine($"BENCH ioctl-tmds {direct:0} mock-domain={(mock ? 1 : 0)}");
                var (harness, mock2) = IoctlRoundTrips.Harness(pairs);
                Console.WriteLine($"BENCH ioctl-harness {harness:0} mock-domain={(mock2 ? 1 : 0)} cpus={Environment.ProcessorCount}");
            }
            return 0;
        }
        case "type1-conformance" when args.Length == 3:
        {
            // The mdev's IOMMU group: /sys/bus/mdev/devices/UUID/iommu_group -> .../N.
            string group = "/dev/vfio/" + Path.GetFileName(new DirectoryInfo(Path.Combine(args[2], "iommu_group")).ResolveLinkTarget(true)?.FullName
                ?? throw new IommufdUnavailableException($"{args[2]}: no iommu_group link (is the mdev created?)"));
            return RecordType1(args[1], $"type1v2 on {group} (an mbochs mdev: no IOMMU domain)", domain: false, VfioFuzz.Type1.Type1Kernel.VfioIommuType1,
                host => new VfioFuzz.Type1.VfioType1Container(group, host, watchdog));
        }
        case "type1-compat-conformance" when args.Length == 2:
            return RecordType1(args[1], "type1v2 served by iommufd's VFIO compatibility layer (vfio_compat.c) on /dev/iommu, a mock domain with the whole aperture", domain: true,
                VfioFuzz.Type1.Type1Kernel.IommufdCompat, host => VfioFuzz.Type1.VfioType1Container.OnIommufdCompat(new IommufdIoas(host, watchdog, MockDomain.WholeAperture), host, watchdog));
        case "realqemu-patched" when args.Length == 6:
            return RealQemuRun.Patched(args[1], args[2], args[3], args[4], args[5]);
        case "realqemu" when args.Length is 5 or 6:
            return RealQemuRun.Run(args[1], args[2], args[3], args[4], args.Length == 6 ? args[5] : null);
        case "realqemu-fuzz" when args.Length is >= 6 and <= 8 && int.TryParse(args[1], out int seconds) && int.TryParse(args[2], out int seed):
            return RealQemuRun.Fuzz(seconds, seed, args[3], args[4], args[5], args.Length >= 7 ? args[6] : "qemu-7.2", args.Length == 8 ? args[7] : null);
        default:
            return Usage();
    }
}
catch (Exception e) when (e is IommufdUnavailableException or ArgumentException)
{
    Console.Error.WriteLine($"vfio-fuzz-lab: {e.Message}");
    return 2;
}

// The type1 conformance suite on containers from `open`, recorded to `output`, then the
// simulator compared with the recording (DIFFERS lines).
int RecordType1(string output, string container, bool domain, VfioFuzz.Type1.Type1Kernel servedBy, Func<VfioFuzz.Machine.HostMemory, VfioFuzz.Type1.VfioType1Container> open)
{
    var probe = open(new VfioFuzz.Machine.HostMemory());
    var (pgsizes, unmapAll) = (probe.IovaPgsizes, probe.UnmapAllSupported);
    probe.Dispose();
    var cases = Type1Conformance.Record(host => open(host));
    var recording = new Type1Recording(output, release, machine, container, Domain: domain, pgsizes, unmapAll, now, cases, servedBy);
    Type1RecordingFile.Save(output, recording);
    var differences = Type1Conformance.Compare(recording);
    foreach (var d in differences) Console.WriteLine($"DIFFERS {d}");
    Console.WriteLine(Type1Conformance.Summary(differences, $"kernel {release} ({cases.Sum(c => c.Calls.Length)} ioctls)"));
    return differences.Count == 0 ? 0 : 1;
}

static int Usage()
{
    Console.Error.WriteLine("usage: vfio-fuzz-lab conformance OUT.yaml | record-corpus CORPUS-DIR OUT-DIR | fuzz SECONDS SEED OUT-DIR | bench-ioctl PAIRS | realqemu PROGRAMS OUT-DIR MDEV-SYSFS SHIM [EDU-PCI-ADDRESS] | realqemu-fuzz SECONDS SEED OUT-DIR MDEV-SYSFS SHIM [MODEL [EDU-PCI-ADDRESS]] | type1-conformance OUT.yaml MDEV-SYSFS | type1-compat-conformance OUT.yaml | realqemu-patched PROGRAMS OUT-DIR MDEV-SYSFS SHIM BINARY");
    return 2;
}
