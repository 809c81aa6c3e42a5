#!/bin/bash -eu
# ClusterFuzzLite / OSS-Fuzz build of vfio-fuzz: leaves in $OUT one libFuzzer fuzz target per
# listener target and profile, $OUT/vfio_fuzz_<target>_<profile>, runnable as
#   $OUT/vfio_fuzz_nv-cdf5e75_vr-cxl-type2 -runs=1000 DIR
# with <name>_seed_corpus.zip (corpus/seeds in byte form), <name>.options and vfio-fuzz.dict.
# Each target is a small script around our libFuzzer bridge (libfuzzer-bridge.c, libFuzzer's
# loop in C) and the SharpFuzz-instrumented .NET driver, published self-contained so the runner
# needs no .NET runtime; both live in $OUT/vfio-fuzz/, a folder, so only the scripts are found
# as targets. Needs: the .NET 10 SDK, clang with libFuzzer ($CC/$CXX/$LIB_FUZZING_ENGINE as
# OSS-Fuzz sets them, else clang-14 -fsanitize=fuzzer), python3 (for the zips).
# Runs as they run it (SRC, OUT, WORK set), or locally with those pointing anywhere.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
: "${OUT:?set OUT to the folder the fuzz targets go to}" "${WORK:?set WORK to a scratch folder}"
mkdir -p "$OUT" "$WORK"
cd "$repo"

# The driver, self-contained, with Core and Targets instrumented (the driver itself is not).
dotnet tool restore >/dev/null
rm -rf "$WORK/driver"
dotnet publish harness/VfioFuzz.FuzzDriver/VfioFuzz.FuzzDriver.csproj -c Release -r linux-x64 --self-contained \
  -o "$WORK/driver" --nologo -v quiet
for asm in VfioFuzz.Core.dll VfioFuzz.Targets.dll; do dotnet sharpfuzz "$WORK/driver/$asm"; done
rm -rf "$OUT/vfio-fuzz" && mkdir -p "$OUT/vfio-fuzz"
cp -r "$WORK/driver" "$OUT/vfio-fuzz/driver"

# The bridge: libFuzzer's main and loop, feeding the driver through SharpFuzz's protocol.
cc="${CC:-clang-14}" cxx="${CXX:-clang++-14}" engine="${LIB_FUZZING_ENGINE:--fsanitize=fuzzer}"
# Its op mutator needs the decoder's op size and input limit (ProgramDecoder.OpBytes and
# MaxInputBytes; a test holds these to them).
$cc ${CFLAGS:-} -O2 -Wall -DOP_BYTES=4 -DMAX_INPUT=256 -c harness/VfioFuzz.FuzzDriver/libfuzzer-bridge.c -o "$WORK/libfuzzer-bridge.o"
$cxx ${CXXFLAGS:-} "$WORK/libfuzzer-bridge.o" $engine -o "$OUT/vfio-fuzz/libfuzzer-bridge"

# Seeds per profile and the op dictionary, from the CLI (built here with the same SDK).
rm -rf "$WORK/seeds"
./vfio-fuzz seeds --profile all --out "$WORK/seeds" --dict "$OUT/vfio-fuzz.dict"

for profile_dir in "$WORK/seeds"/*/; do
  profile="$(basename "$profile_dir")"
  for target in $(./vfio-fuzz targets --ids); do
    name="vfio_fuzz_${target}_${profile}"
    cat > "$OUT/$name" <<SCRIPT
#!/bin/sh
# LLVMFuzzerTestOneInput: this script is a libFuzzer target (the string is how ClusterFuzz finds
# script targets). vfio-fuzz target $target on profile $profile: libFuzzer runs in the bridge, the
# instrumented .NET driver executes each input against the listener model.
this_dir=\$(dirname "\$0")
exec "\$this_dir/vfio-fuzz/libfuzzer-bridge" "\$@" --driver="\$this_dir/vfio-fuzz/driver/VfioFuzz.FuzzDriver" \\
  --driver-arg=$target --driver-arg=$profile --driver-arg=default
SCRIPT
    chmod +x "$OUT/$name"
    printf '[libfuzzer]\nmax_len = 256\ntimeout = 5\ndict = vfio-fuzz.dict\n' > "$OUT/$name.options"
    rm -f "$OUT/${name}_seed_corpus.zip"
    (cd "$profile_dir" && python3 -m zipfile -c "$OUT/${name}_seed_corpus.zip" .)
  done
done
echo "build.sh: $(find "$OUT" -maxdepth 1 -type f -name 'vfio_fuzz_*' -perm -u+x | wc -l) fuzz targets in $OUT"
