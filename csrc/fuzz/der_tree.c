/*
 * der_tree.c: parse any input into a lenient DER tree and write it back
 * with one structural edit, recomputing every enclosing length.
 */
#include "der_tree.h"

#include <string.h>

static int add_node(struct der_tree *tree)
{
    struct der_node *node;

    if (tree->count >= DER_TREE_MAX_NODES)
        return -1;
    node = &tree->nodes[tree->count];
    memset(node, 0, sizeof(*node));
    node->first_child = -1;
    node->next = -1;
    return tree->count++;
}

/* Parse the elements of data[pos:end] into a sibling list. Returns the
 * index of the first, -1 for an empty list, -2 when nodes run out. */
static int parse_list(struct der_tree *tree, size_t pos, size_t end,
                      int depth)
{
    const unsigned char *data = tree->data;
    int first = -1, last = -1;

    while (pos < end) {
        size_t header = 2, value = 0, count, i;
        int index = add_node(tree);
        struct der_node *node;
        int valid = 1;

        if (index < 0)
            return -2;
        node = &tree->nodes[index];
        node->start = pos;
        if (last >= 0)
            tree->nodes[last].next = index;
        else
            first = index;
        last = index;

        if ((data[pos] & 0x1f) == 0x1f || end - pos < 2 || data[pos + 1] == 0x80)
            valid = 0;
        if (valid && data[pos + 1] < 0x80) {
            value = data[pos + 1];
        } else if (valid) {
            count = data[pos + 1] & 0x7fu;
            if (count > 4 || end - pos - 2 < count) {
                valid = 0;
            } else {
                for (i = 0; i < count; i++)
                    value = (value << 8) | data[pos + 2 + i];
                header += count;
            }
        }
        if (valid && value > end - pos - header)
            valid = 0;
        if (!valid) {
            /* The rest of the list is kept as it is. */
            node->raw = 1;
            node->content = pos;
            node->end = end;
            break;
        }

        node->content = pos + header;
        node->end = node->content + value;
        if ((data[pos] & 0x20) && depth < DER_TREE_MAX_DEPTH) {
            int child = parse_list(tree, node->content, node->end, depth + 1);
            if (child == -2)
                return -2;
            node->constructed = 1;
            node->first_child = child;
        }
        pos = node->end;
    }
    return first;
}

int der_tree_parse(struct der_tree *tree, const unsigned char *data,
                   size_t size)
{
    tree->data = data;
    tree->size = size;
    tree->count = 0;
    tree->first = parse_list(tree, 0, size, 0);
    return tree->first != -2;
}

/* Encode the length octets for content of size value in form; returns how
 * many were written to out (at most 5). */
static size_t encode_length(unsigned char *out, size_t value,
                            enum der_length_form form)
{
    size_t count = 0, shift, octets = 0, i;

    switch (form) {
    case DER_FORM_INDEFINITE:
        out[0] = 0x80;
        return 1;
    case DER_FORM_ZERO:
        out[0] = 0x00;
        return 1;
    case DER_FORM_HUGE:
        out[0] = 0x83;
        out[1] = out[2] = out[3] = 0xff;
        return 4;
    case DER_FORM_MANY_OCTETS:
        out[0] = 0xff;
        return 1;
    case DER_FORM_PLUS_ONE:
        value += 1;
        break;
    case DER_FORM_MINUS_ONE:
        value = value == 0 ? 0x7f : value - 1;
        break;
    default:
        break;
    }

    /* Values here stay below 1 << 24: three octets at most, four with a
     * redundant leading zero. */
    for (shift = value; shift != 0; shift >>= 8)
        octets++;
    if (form == DER_FORM_FOUR_OCTETS)
        octets = 4;
    else if (form == DER_FORM_NON_MINIMAL)
        octets = value < 0x80 ? 1 : octets + 1;
    else if (value < 0x80) {
        out[0] = (unsigned char)value;
        return 1;
    }

    out[count++] = (unsigned char)(0x80 | octets);
    for (i = octets; i > 0; i--)
        out[count++] = (unsigned char)((value >> (8 * (i - 1))) & 0xff);
    return count;
}

static int edited(const struct der_edit *edit, int index, enum der_edit_op op)
{
    return edit != NULL && edit->node == index && edit->op == op;
}

static enum der_length_form form_of(const struct der_edit *edit, int index)
{
    return edited(edit, index, DER_EDIT_LENGTH) ? edit->length_form
                                                : DER_FORM_MINIMAL;
}

static size_t measure_list(struct der_tree *tree, const struct der_edit *edit,
                           int first);

/* The size of one node as written, once; its content size is kept in
 * tree->written for the writer. */
static size_t measure_node(struct der_tree *tree, const struct der_edit *edit,
                           int index)
{
    const struct der_node *node = &tree->nodes[index];
    unsigned char header[8];
    enum der_length_form form = form_of(edit, index);
    size_t content;

    if (edited(edit, index, DER_EDIT_CONTENT))
        content = edit->bytes_len;
    else if (node->raw)
        content = node->end - node->start;
    else if (node->constructed)
        content = measure_list(tree, edit, node->first_child);
    else
        content = node->end - node->content;
    tree->written[index] = content;
    if (node->raw)
        return content;
    return 1 + encode_length(header, content, form) + content +
           (form == DER_FORM_INDEFINITE ? 2 : 0);
}

static size_t measure_list(struct der_tree *tree, const struct der_edit *edit,
                           int first)
{
    size_t total = 0, size;
    int index;

    for (index = first; index >= 0; index = tree->nodes[index].next) {
        size = measure_node(tree, edit, index);
        if (edited(edit, index, DER_EDIT_DELETE))
            continue;
        if (edited(edit, index, DER_EDIT_DUPLICATE))
            total += size;
        if (edited(edit, index, DER_EDIT_INSERT))
            total += edit->bytes_len;
        total += size;
    }
    return total;
}

struct writer {
    unsigned char *out;
    size_t size;
    size_t max;
};

/* der_tree_write measures first, so everything fits; the check stays. */
static void put(struct writer *w, const unsigned char *bytes, size_t count)
{
    if (count == 0 || count > w->max - w->size)
        return;
    memcpy(w->out + w->size, bytes, count);
    w->size += count;
}

static void write_list(struct der_tree *tree, const struct der_edit *edit,
                       int first, struct writer *w);

static void write_node(struct der_tree *tree, const struct der_edit *edit,
                       int index, struct writer *w)
{
    const struct der_node *node = &tree->nodes[index];
    const unsigned char *data = tree->data;
    static const unsigned char end_of_contents[2] = {0, 0};
    unsigned char header[8];
    enum der_length_form form = form_of(edit, index);

    if (edited(edit, index, DER_EDIT_INSERT))
        put(w, edit->bytes, edit->bytes_len);
    if (!node->raw) {
        header[0] = edited(edit, index, DER_EDIT_TAG) ? edit->tag
                                                      : data[node->start];
        put(w, header, 1);
        put(w, header, encode_length(header, tree->written[index], form));
    }
    if (edited(edit, index, DER_EDIT_CONTENT))
        put(w, edit->bytes, edit->bytes_len);
    else if (node->raw)
        put(w, data + node->start, node->end - node->start);
    else if (node->constructed)
        write_list(tree, edit, node->first_child, w);
    else
        put(w, data + node->content, node->end - node->content);
    if (!node->raw && form == DER_FORM_INDEFINITE)
        put(w, end_of_contents, 2);
}

static void write_list(struct der_tree *tree, const struct der_edit *edit,
                       int first, struct writer *w)
{
    int index = first;

    while (index >= 0) {
        int next = tree->nodes[index].next;

        if (edited(edit, index, DER_EDIT_SWAP) && next >= 0) {
            write_node(tree, edit, next, w);
            write_node(tree, edit, index, w);
            index = tree->nodes[next].next;
            continue;
        }
        if (!edited(edit, index, DER_EDIT_DELETE)) {
            write_node(tree, edit, index, w);
            if (edited(edit, index, DER_EDIT_DUPLICATE))
                write_node(tree, NULL, index, w);
        }
        index = next;
    }
}

size_t der_tree_write(struct der_tree *tree, const struct der_edit *edit,
                      unsigned char *out, size_t max)
{
    struct writer w;

    if (measure_list(tree, edit, tree->first) > max)
        return DER_WRITE_FAILED;
    w.out = out;
    w.size = 0;
    w.max = max;
    write_list(tree, edit, tree->first, &w);
    return w.size;
}
