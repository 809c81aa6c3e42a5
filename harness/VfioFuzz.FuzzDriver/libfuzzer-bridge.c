// libfuzzer-bridge: lets libFuzzer (clang -fsanitize=fuzzer) drive a .NET program that calls
// SharpFuzz's Fuzzer.LibFuzzer.Run. This process owns libFuzzer's loop; the .NET program runs
// as a child and executes each input.
//
//   libfuzzer-bridge [libFuzzer flags] [corpus dirs] --driver=PROGRAM [--driver-arg=ARG]...
//
// libFuzzer ignores arguments that start with "--", so ours never reach its flag parser.
//
// The protocol, as SharpFuzz 2.x documents and implements its side of it:
//   __LIBFUZZER_SHM_ID           a System V shared memory id. Bytes [0, 64 KiB) are the edge
//                                counters the instrumented assemblies bump; the input follows.
//   __LIBFUZZER_CONTROL_PIPE_ID  a file descriptor the child reads an int32 input size from.
//   __LIBFUZZER_STATUS_PIPE_ID   a file descriptor the child writes int32 statuses to: 0 once
//                                it is attached, then per input 0 (ok) or 2 (an exception
//                                escaped: a crash; the child exits after reporting it).
// After each input the counters are copied into libFuzzer's extra-counters section, which is
// how libFuzzer sees the child's coverage. A child that dies without a status is a crash too.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include "op-mutator.h"

enum { COUNTERS_SIZE = 1 << 16, INPUT_SIZE = 1 << 20, MAX_DRIVER_ARGS = 32 };
enum { STATUS_OK = 0, STATUS_CRASH = 2 };

// libFuzzer collects coverage from every byte of this section (__start_/__stop_ symbols).
__attribute__((section("__libfuzzer_extra_counters"), used)) static uint8_t extra_counters[COUNTERS_SIZE];

static uint8_t *shared;
static int shm_id = -1;
static int control_fd = -1, status_fd = -1;
static pid_t child = -1;

static void fail(const char *what)
{
    fprintf(stderr, "libfuzzer-bridge: %s: %s\n", what, errno ? strerror(errno) : "failed");
    exit(2);
}

static void remove_shared(void)
{
    if (shm_id >= 0) shmctl(shm_id, IPC_RMID, NULL);
    shm_id = -1;
}

static int read_all(int fd, void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len > 0)
    {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0)
    {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void start_child(char **driver_argv)
{
    int control[2], status[2];
    if (pipe(control) != 0 || pipe(status) != 0) fail("pipe");
    child = fork();
    if (child < 0) fail("fork");
    if (child == 0)
    {
        // The child must not outlive us (libFuzzer exits on a timeout or crash).
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(control[1]);
        close(status[0]);
        char value[32];
        snprintf(value, sizeof value, "%d", shm_id);
        setenv("__LIBFUZZER_SHM_ID", value, 1);
        snprintf(value, sizeof value, "%d", control[0]);
        setenv("__LIBFUZZER_CONTROL_PIPE_ID", value, 1);
        snprintf(value, sizeof value, "%d", status[1]);
        setenv("__LIBFUZZER_STATUS_PIPE_ID", value, 1);
        execvp(driver_argv[0], driver_argv);
        fprintf(stderr, "libfuzzer-bridge: cannot run %s: %s\n", driver_argv[0], strerror(errno));
        _exit(127);
    }
    close(control[0]);
    close(status[1]);
    control_fd = control[1];
    status_fd = status[0];
    int32_t ready;
    if (read_all(status_fd, &ready, sizeof ready) != 0 || ready != STATUS_OK)
        fail("the driver did not attach (it exited before its first status)");
    // Both sides are attached: the segment now lives exactly as long as they do.
    remove_shared();
}

// libFuzzer's fork mode runs each worker as `sh -c "<this program> ... > log"`: a worker's
// parent is that shell, which outlives a SIGKILLed top-level bridge. So the first bridge
// exports its pid and every worker watches it, exiting when it is gone.
#define ROOT_VARIABLE "VFIO_FUZZ_BRIDGE_ROOT"

static void *watch_root(void *arg)
{
    pid_t root = (pid_t)(intptr_t)arg;
    while (kill(root, 0) == 0 || errno == EPERM) usleep(200 * 1000);
    _exit(0);
    return NULL;
}

static void die_with_campaign(void)
{
    // Die with whoever started us (the CLI, or libFuzzer's fork-mode shell), even when it is
    // killed with SIGKILL: no bridge or driver outlives a campaign.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    const char *root = getenv(ROOT_VARIABLE);
    if (root == NULL)
    {
        char value[32];
        snprintf(value, sizeof value, "%d", (int)getpid());
        setenv(ROOT_VARIABLE, value, 1);
        return;
    }
    pthread_t watcher;
    if (pthread_create(&watcher, NULL, watch_root, (void *)(intptr_t)atoi(root)) != 0) fail("pthread_create");
    pthread_detach(watcher);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    die_with_campaign();
    static char *driver_argv[MAX_DRIVER_ARGS + 2];
    int n = 0;
    for (int i = 1; i < *argc; i++)
    {
        const char *a = (*argv)[i];
        if (strncmp(a, "--driver=", 9) == 0) driver_argv[0] = (char *)a + 9;
        else if (strncmp(a, "--driver-arg=", 13) == 0)
        {
            if (n == MAX_DRIVER_ARGS) { errno = E2BIG; fail("too many --driver-arg"); }
            driver_argv[++n] = (char *)a + 13;
        }
    }
    if (driver_argv[0] == NULL)
    {
        fprintf(stderr, "usage: libfuzzer-bridge [libFuzzer flags] [corpus dirs] --driver=PROGRAM [--driver-arg=ARG]...\n");
        exit(2);
    }
    driver_argv[n + 1] = NULL;
    shm_id = shmget(IPC_PRIVATE, COUNTERS_SIZE + INPUT_SIZE, IPC_CREAT | 0600);
    if (shm_id < 0) fail("shmget");
    atexit(remove_shared);
    shared = shmat(shm_id, NULL, 0);
    if (shared == (void *)-1) fail("shmat");
    signal(SIGPIPE, SIG_IGN);
    start_child(driver_argv);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > INPUT_SIZE) size = INPUT_SIZE;
    memset(shared, 0, COUNTERS_SIZE);
    memcpy(shared + COUNTERS_SIZE, data, size);
    int32_t length = (int32_t)size, status;
    if (write_all(control_fd, &length, sizeof length) != 0 || read_all(status_fd, &status, sizeof status) != 0)
    {
        fprintf(stderr, "libfuzzer-bridge: the driver died during this input\n");
        abort();
    }
    memcpy(extra_counters, shared, COUNTERS_SIZE);
    if (status == STATUS_CRASH)
    {
        // The child printed the exception (our oracle signature) to stderr; let it finish.
        waitpid(child, NULL, 0);
        abort();
    }
    return 0;
}

// Half of libFuzzer's mutations are op-level (op-mutator.h: ops kept whole, as syzkaller
// mutates calls), half its own byte-level ones (which also use -dict=).
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    if (seed & 1) return LLVMFuzzerMutate(data, size, max_size);
    op_rng rng = { 0x9E3779B97F4A7C15ULL ^ seed };
    return op_mutate(&rng, data, size, max_size, NULL, 0);
}
