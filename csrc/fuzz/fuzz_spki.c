/*
 * fuzz_spki.c: libFuzzer harness for pinssl_spki_span.
 *
 * Every input goes through every kind; a broken invariant (invariants.h)
 * is reported on stderr and stops the run with a trap, so libFuzzer saves
 * the input. Memory errors are caught by the sanitizers the build adds.
 *
 * Byte-level mutations rarely keep the nested lengths of a certificate
 * consistent, so two mutations in three are structural instead: the input
 * is read as a DER tree (der_tree.h), one element is edited, and the tree
 * is written back with every enclosing length recomputed.
 *
 *   clang -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *       fuzz_spki.c der_tree.c ../pinssl_spki.c -o fuzz_spki
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "der_tree.h"
#include "invariants.h"

#define SCRATCH_SIZE 65536

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
                               unsigned int seed);

/* Tags worth trying where another one stood. */
static const unsigned char tags[] = {0x02, 0x03, 0x04, 0x05, 0x06, 0x30,
                                     0x31, 0x80, 0x81, 0x82, 0x83, 0xa0,
                                     0xa1, 0xa3, 0x1f, 0x00, 0xff};

/* Small elements worth inserting. */
static const unsigned char inserts[][5] = {
    {0x05, 0x00},       {0x03, 0x00},       {0x03, 0x01, 0x08},
    {0x02, 0x00},       {0x02, 0x01, 0x00}, {0xa0, 0x00},
    {0x81, 0x01, 0x00}, {0x82, 0x00},       {0xa3, 0x00},
    {0x06, 0x00},       {0x30, 0x00},       {0x00, 0x00},
};
static const size_t insert_sizes[] = {2, 2, 3, 2, 3, 2, 3, 2, 2, 2, 2, 2};

static struct der_tree tree;
static unsigned char input[SCRATCH_SIZE];
static unsigned char piece[SCRATCH_SIZE];

static unsigned int next_random(unsigned int *state)
{
    *state = *state * 1103515245u + 12345u;
    return *state >> 8;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *broken = check_input(data, size);

    if (broken != NULL) {
        fprintf(stderr, "pinssl invariant broken: %s\n", broken);
        __builtin_trap();
    }
    return 0;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
                               unsigned int seed)
{
    unsigned int state = seed;
    const struct der_node *node;
    struct der_edit edit;
    size_t written;

    if (next_random(&state) % 3 == 0 || size == 0 || size > SCRATCH_SIZE)
        return LLVMFuzzerMutate(data, size, max_size);
    memcpy(input, data, size);
    if (!der_tree_parse(&tree, input, size) || tree.count == 0)
        return LLVMFuzzerMutate(data, size, max_size);

    memset(&edit, 0, sizeof(edit));
    edit.node = (int)(next_random(&state) % (unsigned int)tree.count);
    edit.op = (enum der_edit_op)(1 + next_random(&state) % (DER_EDIT_COUNT - 1));
    node = &tree.nodes[edit.node];

    switch (edit.op) {
    case DER_EDIT_CONTENT: {
        size_t start = node->raw ? node->start : node->content;
        size_t length = node->end - start;
        size_t room = max_size < SCRATCH_SIZE ? max_size : SCRATCH_SIZE;
        memcpy(piece, input + start, length);
        edit.bytes = piece;
        edit.bytes_len = next_random(&state) % 4 == 0
                             ? 0
                             : LLVMFuzzerMutate(piece, length, room);
        break;
    }
    case DER_EDIT_LENGTH:
        edit.length_form = (enum der_length_form)(next_random(&state) %
                                                  DER_FORM_COUNT);
        break;
    case DER_EDIT_TAG:
        edit.tag = tags[next_random(&state) % sizeof(tags)];
        break;
    case DER_EDIT_INSERT:
        if (next_random(&state) % 2 == 0) {
            size_t which = next_random(&state) % (sizeof(insert_sizes) /
                                                  sizeof(insert_sizes[0]));
            edit.bytes = inserts[which];
            edit.bytes_len = insert_sizes[which];
        } else {
            /* A copy of another element of the same input. */
            const struct der_node *other =
                &tree.nodes[next_random(&state) % (unsigned int)tree.count];
            edit.bytes = input + other->start;
            edit.bytes_len = other->end - other->start;
        }
        break;
    default:
        break;
    }

    written = der_tree_write(&tree, &edit, data, max_size);
    if (written == DER_WRITE_FAILED)
        return LLVMFuzzerMutate(data, size, max_size);
    return written;
}
