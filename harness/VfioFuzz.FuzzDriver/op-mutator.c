// AFL++ custom mutator (AFL_CUSTOM_MUTATOR_LIBRARY): op-level mutations (op-mutator.h), run by
// afl-fuzz as its custom stage beside its own byte-level havoc, which stays on.
#include <stdlib.h>
#include "op-mutator.h"

typedef struct
{
    op_rng rng;
    uint8_t out[MAX_INPUT];
} op_mutator;

void *afl_custom_init(void *afl, unsigned int seed)
{
    (void)afl;
    op_mutator *m = calloc(1, sizeof *m);
    if (m) m->rng.state = 0x9E3779B97F4A7C15ULL ^ seed;
    return m;
}

size_t afl_custom_fuzz(void *data, uint8_t *buf, size_t buf_size, uint8_t **out_buf,
                       uint8_t *add_buf, size_t add_buf_size, size_t max_size)
{
    op_mutator *m = data;
    size_t size = buf_size < MAX_INPUT ? buf_size : MAX_INPUT;
    memcpy(m->out, buf, size);
    *out_buf = m->out;
    return op_mutate(&m->rng, m->out, size, max_size < MAX_INPUT ? max_size : MAX_INPUT, add_buf, add_buf_size);
}

void afl_custom_deinit(void *data) { free(data); }
