// Op-level mutation of vfio-fuzz inputs, shared by the AFL++ custom mutator (op-mutator.c) and
// the libFuzzer bridge (LLVMFuzzerCustomMutator). An input is a sequence of fixed-size ops (an
// opcode byte and argument bytes: harness/VfioFuzz.Core/Programs/ProgramDecoder.cs); a byte
// inserted or deleted by a byte-level mutator shifts every op after it into new meanings, so
// a chain of ops an input has built is lost with it. These mutations keep op boundaries, as
// syzkaller mutates calls rather than bytes: insert an op (random, or one taken from another
// queue entry), delete, duplicate or swap ops, rewrite one byte of one op.
// The build passes OP_BYTES and MAX_INPUT from the decoder's constants.
#ifndef VFIO_FUZZ_OP_MUTATOR_H
#define VFIO_FUZZ_OP_MUTATOR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifndef OP_BYTES
#error "build with -DOP_BYTES=<ProgramDecoder's op size>"
#endif
#ifndef MAX_INPUT
#error "build with -DMAX_INPUT=<ProgramDecoder.MaxInputBytes>"
#endif

typedef struct { uint64_t state; } op_rng;

static uint64_t op_next(op_rng *rng)
{
    // xorshift64*: small, fast, good enough to pick positions and bytes.
    uint64_t x = rng->state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng->state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static size_t op_below(op_rng *rng, size_t n) { return n == 0 ? 0 : (size_t)(op_next(rng) % n); }

// Mutates the ops in buf (size bytes, room for capacity) in place; returns the new size, a
// whole number of ops, at most capacity and MAX_INPUT. other/other_size: another input whose
// ops may be spliced in (may be NULL).
static size_t op_mutate(op_rng *rng, uint8_t *buf, size_t size, size_t capacity, const uint8_t *other, size_t other_size)
{
    size_t limit = capacity < MAX_INPUT ? capacity : MAX_INPUT;
    size_t ops = (size < limit ? size : limit) / OP_BYTES, max_ops = limit / OP_BYTES;
    size_t other_ops = other ? other_size / OP_BYTES : 0;
    int rounds = 1 + (int)op_below(rng, 4);
    for (int r = 0; r < rounds; r++)
    {
        switch (op_below(rng, 6))
        {
        case 0:   // insert a random op
        case 1:   // insert an op of another input (or of this one)
        {
            if (ops >= max_ops) break;
            size_t at = op_below(rng, ops + 1);
            uint8_t op[OP_BYTES];
            const uint8_t *from = other_ops > 0 ? other : buf;
            size_t from_ops = other_ops > 0 ? other_ops : ops;
            if (r % 2 == 0 || from_ops == 0)
                for (int i = 0; i < OP_BYTES; i++) op[i] = (uint8_t)op_next(rng);
            else
                memcpy(op, from + op_below(rng, from_ops) * OP_BYTES, OP_BYTES);
            memmove(buf + (at + 1) * OP_BYTES, buf + at * OP_BYTES, (ops - at) * OP_BYTES);
            memcpy(buf + at * OP_BYTES, op, OP_BYTES);
            ops++;
            break;
        }
        case 2:   // delete an op
        {
            if (ops <= 1) break;
            size_t at = op_below(rng, ops);
            memmove(buf + at * OP_BYTES, buf + (at + 1) * OP_BYTES, (ops - at - 1) * OP_BYTES);
            ops--;
            break;
        }
        case 3:   // rewrite one byte of one op (its opcode or an argument)
            if (ops > 0) buf[op_below(rng, ops) * OP_BYTES + op_below(rng, OP_BYTES)] = (uint8_t)op_next(rng);
            break;
        case 4:   // duplicate an op elsewhere
        {
            if (ops == 0 || ops >= max_ops) break;
            uint8_t op[OP_BYTES];
            memcpy(op, buf + op_below(rng, ops) * OP_BYTES, OP_BYTES);
            size_t at = op_below(rng, ops + 1);
            memmove(buf + (at + 1) * OP_BYTES, buf + at * OP_BYTES, (ops - at) * OP_BYTES);
            memcpy(buf + at * OP_BYTES, op, OP_BYTES);
            ops++;
            break;
        }
        default:  // swap two ops
        {
            if (ops < 2) break;
            size_t a = op_below(rng, ops), b = op_below(rng, ops);
            uint8_t tmp[OP_BYTES];
            memcpy(tmp, buf + a * OP_BYTES, OP_BYTES);
            memcpy(buf + a * OP_BYTES, buf + b * OP_BYTES, OP_BYTES);
            memcpy(buf + b * OP_BYTES, tmp, OP_BYTES);
            break;
        }
        }
    }
    return ops * OP_BYTES;
}

#endif
