/*
 * der_tree.h: a lenient DER tree for structure-aware mutation.
 *
 * der_tree_parse splits any input into elements (tag, length, content),
 * descending into constructed ones; whatever does not parse becomes a raw
 * node kept byte for byte. der_tree_write writes the tree back with one
 * edit applied and every enclosing length recomputed, so a change deep
 * inside a certificate still yields consistent outer lengths.
 */
#ifndef PINSSL_FUZZ_DER_TREE_H
#define PINSSL_FUZZ_DER_TREE_H

#include <stddef.h>

#define DER_TREE_MAX_NODES 1024
#define DER_TREE_MAX_DEPTH 24
#define DER_WRITE_FAILED ((size_t)-1)

struct der_node {
    size_t start;    /* first tag octet, or first raw octet */
    size_t content;  /* first content octet */
    size_t end;      /* one past the last octet */
    int raw;         /* 1: bytes [start, end) that did not parse */
    int constructed; /* 1: content is the list of children */
    int first_child; /* index, or -1 */
    int next;        /* next sibling's index, or -1 */
};

struct der_tree {
    const unsigned char *data;
    size_t size;
    int count;
    int first; /* the top-level list */
    struct der_node nodes[DER_TREE_MAX_NODES];
    size_t written[DER_TREE_MAX_NODES]; /* scratch for der_tree_write */
};

/* How the edited node's length octets are written. */
enum der_length_form {
    DER_FORM_MINIMAL,
    DER_FORM_NON_MINIMAL, /* 0x81 for a short length, or a 0x00 lead */
    DER_FORM_INDEFINITE,  /* 0x80, the content, then end-of-contents */
    DER_FORM_PLUS_ONE,
    DER_FORM_MINUS_ONE,
    DER_FORM_ZERO,
    DER_FORM_FOUR_OCTETS,
    DER_FORM_HUGE,        /* 0x83 ff ff ff */
    DER_FORM_MANY_OCTETS, /* 0xff and no more */
    DER_FORM_COUNT
};

enum der_edit_op {
    DER_EDIT_NONE,
    DER_EDIT_CONTENT,   /* replace the content with bytes */
    DER_EDIT_DELETE,
    DER_EDIT_DUPLICATE,
    DER_EDIT_LENGTH,    /* write the length in length_form */
    DER_EDIT_TAG,       /* replace the first tag octet with tag */
    DER_EDIT_INSERT,    /* insert bytes before the node */
    DER_EDIT_SWAP,      /* swap the node with its next sibling */
    DER_EDIT_COUNT
};

struct der_edit {
    int node;
    enum der_edit_op op;
    enum der_length_form length_form;
    unsigned char tag;
    const unsigned char *bytes;
    size_t bytes_len;
};

/* Parse data[0:size]; returns 1, or 0 when it has more nodes than fit. */
int der_tree_parse(struct der_tree *tree, const unsigned char *data,
                   size_t size);

/* Write the tree with edit applied (NULL: none) into out[0:max]. Returns
 * the size written, or DER_WRITE_FAILED when it does not fit. */
size_t der_tree_write(struct der_tree *tree, const struct der_edit *edit,
                      unsigned char *out, size_t max);

#endif /* PINSSL_FUZZ_DER_TREE_H */
