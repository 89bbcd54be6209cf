/*
 * replay.c: run pinssl_spki_span under the sanitizers on files given on the
 * command line and on deterministic mutations of each.
 *
 * For every file: the file itself, every truncation, one appended octet,
 * every single-bit flip, and, for inputs up to SMALL_INPUT octets, every
 * octet replaced by a set of telling values and every octet deleted. Then
 * the length octets of every element are corrupted in place, and every
 * element is edited through der_tree.h (length forms, deletion,
 * duplication, swaps, other tags, insertions) with the enclosing lengths
 * kept consistent. Each input is checked with invariants.h, in a buffer of
 * exactly its size so that AddressSanitizer sees any read past its end.
 *
 *   replay FILE...     exit 0: all held; 1: an invariant broke; 2: usage
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "der_tree.h"
#include "invariants.h"

#define SMALL_INPUT 2048
#define MAX_FILE (4 * PINSSL_MAX_INPUT)
#define MAX_REPORTS 20

struct run {
    const char *file;
    unsigned long inputs;
    unsigned long violations;
};

/* Octets that mean something to a DER reader. */
static const unsigned char values[] = {0x00, 0x01, 0x02, 0x03, 0x05, 0x06,
                                       0x07, 0x08, 0x1f, 0x30, 0x7f, 0x80,
                                       0x81, 0x82, 0x83, 0x84, 0xa0, 0xff};
static const unsigned char tags[] = {0x02, 0x03, 0x05, 0x06,
                                     0x30, 0x81, 0xa0, 0x1f};
static const unsigned char inserts[][3] = {
    {0x05, 0x00}, {0x03, 0x00}, {0x02, 0x01, 0x00}, {0xa0, 0x00},
    {0x81, 0x00}, {0xa3, 0x00}, {0x00, 0x00},
};
static const size_t insert_sizes[] = {2, 2, 3, 2, 2, 2, 2};

static struct der_tree tree;

static void *allocate(size_t size)
{
    void *block = malloc(size == 0 ? 1 : size);

    if (block == NULL) {
        fprintf(stderr, "replay: out of memory\n");
        exit(2);
    }
    return block;
}

/* Check data[0:size] where it lies: the caller sized the buffer exactly. */
static void check_exact(struct run *run, const unsigned char *data,
                        size_t size, const char *what, size_t position)
{
    const char *broken = check_input(data, size);
    size_t i;

    run->inputs++;
    if (broken == NULL)
        return;

    run->violations++;
    if (run->violations > MAX_REPORTS)
        return;
    fprintf(stderr, "replay: %s: %s at %zu (%zu octets): %s\n  ", run->file,
            what, position, size, broken);
    for (i = 0; i < size && i < 48; i++)
        fprintf(stderr, "%02x", data[i]);
    fprintf(stderr, "%s\n", size > 48 ? "..." : "");
}

/* Check a copy of data[0:size] in a buffer of exactly that size. */
static void check_copy(struct run *run, const unsigned char *data,
                       size_t size, const char *what, size_t position)
{
    unsigned char *copy = allocate(size);

    if (size > 0)
        memcpy(copy, data, size);
    check_exact(run, copy, size, what, position);
    free(copy);
}

static void replay_octets(struct run *run, const unsigned char *data,
                          size_t size)
{
    unsigned char *buffer = allocate(size + 1);
    size_t i, j;
    unsigned int bit;

    check_copy(run, data, size, "original", 0);
    for (i = 0; i < size; i++)
        check_copy(run, data, i, "truncation", i);
    memcpy(buffer, data, size);
    buffer[size] = 0x00;
    check_copy(run, buffer, size + 1, "appended octet", size);

    /* In place, in a buffer of exactly size octets. */
    memcpy(buffer, data, size);
    for (i = 0; i < size; i++) {
        for (bit = 0; bit < 8; bit++) {
            buffer[i] = (unsigned char)(data[i] ^ (1u << bit));
            check_exact(run, buffer, size, "bit flip", i);
        }
        buffer[i] = data[i];
    }
    if (size > SMALL_INPUT) {
        free(buffer);
        return;
    }

    for (i = 0; i < size; i++) {
        for (j = 0; j < sizeof(values); j++) {
            if (values[j] == data[i])
                continue;
            buffer[i] = values[j];
            check_exact(run, buffer, size, "octet replaced", i);
        }
        buffer[i] = data[i];
    }
    for (i = 0; i < size; i++) {
        memcpy(buffer, data, i);
        memcpy(buffer + i, data + i + 1, size - i - 1);
        check_copy(run, buffer, size - 1, "octet deleted", i);
    }
    free(buffer);
}

/* Corrupt the length octets of every element in place. */
static void replay_lengths(struct run *run, const unsigned char *data,
                           size_t size)
{
    unsigned char *buffer = allocate(size);
    int index;
    size_t pos, j;

    memcpy(buffer, data, size);
    for (index = 0; index < tree.count; index++) {
        const struct der_node *node = &tree.nodes[index];
        if (node->raw)
            continue;
        for (pos = node->start + 1; pos < node->content; pos++) {
            const unsigned char original = data[pos];
            const unsigned char bad[] = {0x00, 0x7f, 0x80, 0x81, 0x84, 0xff,
                                         (unsigned char)(original + 1),
                                         (unsigned char)(original - 1)};
            for (j = 0; j < sizeof(bad); j++) {
                buffer[pos] = bad[j];
                check_exact(run, buffer, size, "length octet", pos);
            }
            buffer[pos] = original;
        }
    }
    free(buffer);
}

static void replay_edit(struct run *run, const struct der_edit *edit,
                        unsigned char *out, size_t room, const char *what)
{
    size_t written = der_tree_write(&tree, edit, out, room);

    if (written != DER_WRITE_FAILED)
        check_copy(run, out, written, what, tree.nodes[edit->node].start);
}

/* Edit every element through the tree, enclosing lengths recomputed. */
static void replay_tree(struct run *run, const unsigned char *data,
                        size_t size)
{
    size_t room = 2 * size + 64, j;
    unsigned char *out = allocate(room);
    unsigned char *grown = allocate(size + 1);
    struct der_edit edit;
    int index, form;

    for (index = 0; index < tree.count; index++) {
        const struct der_node *node = &tree.nodes[index];
        size_t start = node->raw ? node->start : node->content;

        memset(&edit, 0, sizeof(edit));
        edit.node = index;
        edit.op = DER_EDIT_DELETE;
        replay_edit(run, &edit, out, room, "element deleted");
        edit.op = DER_EDIT_DUPLICATE;
        replay_edit(run, &edit, out, room, "element duplicated");
        edit.op = DER_EDIT_SWAP;
        replay_edit(run, &edit, out, room, "element swapped");

        edit.op = DER_EDIT_CONTENT;
        edit.bytes = data + start;
        edit.bytes_len = 0;
        replay_edit(run, &edit, out, room, "content emptied");
        memcpy(grown, data + start, node->end - start);
        grown[node->end - start] = 0x00;
        edit.bytes = grown;
        edit.bytes_len = node->end - start + 1;
        replay_edit(run, &edit, out, room, "content grown");
        if (node->end - start > 1) {
            edit.bytes_len = node->end - start - 1;
            replay_edit(run, &edit, out, room, "content shrunk");
        }

        edit.op = DER_EDIT_INSERT;
        for (j = 0; j < sizeof(insert_sizes) / sizeof(insert_sizes[0]); j++) {
            edit.bytes = inserts[j];
            edit.bytes_len = insert_sizes[j];
            replay_edit(run, &edit, out, room, "element inserted");
        }
        if (node->raw)
            continue;

        edit.op = DER_EDIT_LENGTH;
        for (form = 1; form < DER_FORM_COUNT; form++) {
            edit.length_form = (enum der_length_form)form;
            replay_edit(run, &edit, out, room, "length form");
        }
        edit.op = DER_EDIT_TAG;
        for (j = 0; j < sizeof(tags); j++) {
            edit.tag = tags[j];
            replay_edit(run, &edit, out, room, "tag replaced");
        }
    }
    free(grown);
    free(out);
}

static void replay(struct run *run, const unsigned char *data, size_t size)
{
    replay_octets(run, data, size);
    if (!der_tree_parse(&tree, data, size)) {
        fprintf(stderr, "replay: %s: too many elements for the tree edits\n",
                run->file);
        return;
    }
    replay_lengths(run, data, size);
    replay_tree(run, data, size);
}

/* A bare public key of exactly size octets: a long Ed25519 BIT STRING. */
static unsigned char *large_public_key(size_t size)
{
    static const unsigned char algorithm[] = {0x30, 0x05, 0x06, 0x03,
                                              0x2b, 0x65, 0x70};
    unsigned char *der = allocate(size);
    size_t outer = size - 5, key = outer - sizeof(algorithm) - 5;

    memset(der, 0, size);
    der[0] = 0x30;
    der[1] = 0x83;
    der[2] = (unsigned char)(outer >> 16);
    der[3] = (unsigned char)(outer >> 8);
    der[4] = (unsigned char)outer;
    memcpy(der + 5, algorithm, sizeof(algorithm));
    der[12] = 0x03;
    der[13] = 0x83;
    der[14] = (unsigned char)(key >> 16);
    der[15] = (unsigned char)(key >> 8);
    der[16] = (unsigned char)key;
    return der;
}

/* The size limit: PINSSL_MAX_INPUT octets parse, one more is refused. */
static void replay_limit(struct run *run)
{
    const long long expected =
        (long long)PINSSL_KIND_PUBLIC_KEY << PINSSL_KIND_SHIFT |
        PINSSL_MAX_INPUT;
    unsigned char *der = large_public_key(PINSSL_MAX_INPUT);

    run->file = "(a public key of PINSSL_MAX_INPUT octets)";
    check_exact(run, der, PINSSL_MAX_INPUT, "original", 0);
    if (span(der, PINSSL_MAX_INPUT, PINSSL_KIND_ANY) != expected) {
        run->violations++;
        fprintf(stderr, "replay: a public key of PINSSL_MAX_INPUT octets "
                        "is not accepted whole\n");
    }
    free(der);

    der = large_public_key(PINSSL_MAX_INPUT + 1);
    run->file = "(a public key of PINSSL_MAX_INPUT + 1 octets)";
    check_exact(run, der, PINSSL_MAX_INPUT + 1, "original", 0);
    free(der);
}

static unsigned char *read_file(const char *path, size_t *size)
{
    FILE *file = fopen(path, "rb");
    unsigned char *data;

    if (file == NULL) {
        perror(path);
        exit(2);
    }
    data = allocate(MAX_FILE);
    *size = fread(data, 1, MAX_FILE, file);
    if (ferror(file) || !feof(file)) {
        fprintf(stderr, "replay: %s: unreadable or over %d octets\n", path,
                MAX_FILE);
        exit(2);
    }
    fclose(file);
    return data;
}

int main(int argc, char **argv)
{
    struct run run = {NULL, 0, 0};
    unsigned char *data;
    size_t size;
    int i;

    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE...\n", argv[0]);
        return 2;
    }
    for (i = 1; i < argc; i++) {
        run.file = argv[i];
        data = read_file(argv[i], &size);
        replay(&run, data, size);
        free(data);
    }
    replay_limit(&run);

    printf("replay: %d files, %lu inputs, %lu violations\n", argc - 1,
           run.inputs, run.violations);
    return run.violations == 0 ? 0 : 1;
}
