# Included by _kernels.pyx (one extension, one file per structure, as msgpack's _cmsgpack.pyx):
# the exact n-best search of the couplet decoder. Its pure-Python twin: pure/assignments.py.

# ---------------------------------------------------------------- the exact n-best search of the couplet decoder

cdef struct SearchNode:
    double score
    int64_t token  # the id chosen at depth - 1
    int32_t parent  # -1 for the root
    int32_t depth  # groups assigned
    int32_t index  # position of `token` in its group's candidate list


cdef struct QueueEntry:
    double key  # -bound
    int64_t sequence  # push order: ties pop first-in first-out, as the twin's heapq tuples
    int32_t node


cdef inline bint _queue_less(QueueEntry a, QueueEntry b) noexcept nogil:
    return a.key < b.key or (a.key == b.key and a.sequence < b.sequence)


cdef inline void _queue_push(QueueEntry* queue, Py_ssize_t* size, QueueEntry entry) noexcept nogil:
    cdef Py_ssize_t i = size[0], parent
    size[0] += 1
    while i > 0:
        parent = (i - 1) >> 1
        if not _queue_less(entry, queue[parent]):
            break
        queue[i] = queue[parent]
        i = parent
    queue[i] = entry


cdef inline QueueEntry _queue_pop(QueueEntry* queue, Py_ssize_t* size) noexcept nogil:
    cdef QueueEntry top = queue[0], last
    cdef Py_ssize_t i = 0, child
    size[0] -= 1
    last = queue[size[0]]
    while True:
        child = 2 * i + 1
        if child >= size[0]:
            break
        if child + 1 < size[0] and _queue_less(queue[child + 1], queue[child]):
            child += 1
        if not _queue_less(queue[child], last):
            break
        queue[i] = queue[child]
        i = child
    queue[i] = last
    return top


cdef inline int32_t _next_free(const int64_t[:, ::1] ids, Py_ssize_t group, int32_t start, int32_t length,
                               SearchNode* nodes, int32_t node) noexcept nogil:
    """The first position from ``start`` in the group's list whose id is not chosen on ``node``'s path."""
    cdef int32_t walk
    cdef bint taken
    while start < length:
        taken = False
        walk = node
        while nodes[walk].depth > 0:
            if nodes[walk].token == ids[group, start]:
                taken = True
                break
            walk = nodes[walk].parent
        if not taken:
            return start
        start += 1
    return start


def best_assignments(const int64_t[:, ::1] ids, const double[:, ::1] scores, int n=1,
                     int max_expansions=100_000):
    """Twin of pure.best_assignments: the same search on arrays, without the GIL."""
    cdef Py_ssize_t groups = ids.shape[0], width = ids.shape[1], g, h, d, key_a, key_b
    cdef int32_t* lengths = <int32_t*>malloc((groups + 1) * sizeof(int32_t))
    cdef Py_ssize_t* order = <Py_ssize_t*>malloc((groups + 1) * sizeof(Py_ssize_t))
    cdef double* rest = <double*>malloc((groups + 1) * sizeof(double))
    cdef int* unique_first = <int*>malloc((groups + 1) * sizeof(int))
    cdef Py_ssize_t capacity = 256, queue_size = 0, node_count = 0, found_count = 0
    cdef SearchNode* nodes = <SearchNode*>malloc(capacity * sizeof(SearchNode))
    cdef QueueEntry* queue = <QueueEntry*>malloc(capacity * sizeof(QueueEntry))
    cdef int32_t* found = <int32_t*>malloc((n + 1) * sizeof(int32_t))
    cdef int64_t pushed = 1
    cdef QueueEntry entry
    cdef int32_t node, child, sibling, index, parent, depth, walk
    cdef double score, new_score
    cdef bint empty = False, out_of_memory = False
    cdef void* grown
    if not (lengths and order and rest and unique_first and nodes and queue and found):
        free(lengths); free(order); free(rest); free(unique_first); free(nodes); free(queue); free(found)
        raise MemoryError()
    try:
        with nogil:
            for g in range(groups):
                lengths[g] = 0
                while lengths[g] < width and scores[g, lengths[g]] > -INFINITY:
                    lengths[g] += 1
                if lengths[g] == 0:
                    empty = True
            if not empty:
                for g in range(groups):
                    unique_first[g] = 1
                    for h in range(groups):
                        if h != g and ids[h, 0] == ids[g, 0]:
                            unique_first[g] = 0
                # a stable insertion sort by (best id unique, -best score): the twin's sorted()
                for g in range(groups):
                    h = g
                    while h > 0:
                        key_a = order[h - 1]
                        if unique_first[key_a] > unique_first[g] or (
                                unique_first[key_a] == unique_first[g] and -scores[key_a, 0] > -scores[g, 0]):
                            order[h] = key_a
                            h -= 1
                        else:
                            break
                    order[h] = g
                rest[groups] = 0.0
                for d in range(groups - 1, -1, -1):
                    rest[d] = rest[d + 1] + scores[order[d], 0]
                nodes[0].score = 0.0
                nodes[0].token = -1
                nodes[0].parent = -1
                nodes[0].depth = 0
                nodes[0].index = -1
                node_count = 1
                entry.key = -rest[0]
                entry.sequence = 0
                entry.node = 0
                _queue_push(queue, &queue_size, entry)
                while queue_size and found_count < n and pushed < max_expansions:
                    if node_count + 2 > capacity:  # room for this pop's two pushes
                        capacity *= 2
                        grown = realloc(nodes, capacity * sizeof(SearchNode))
                        if grown == NULL:
                            out_of_memory = True
                            break
                        nodes = <SearchNode*>grown
                        grown = realloc(queue, capacity * sizeof(QueueEntry))
                        if grown == NULL:
                            out_of_memory = True
                            break
                        queue = <QueueEntry*>grown
                    entry = _queue_pop(queue, &queue_size)
                    node = entry.node
                    score = nodes[node].score
                    depth = nodes[node].depth
                    index = nodes[node].index
                    if depth == groups:
                        found[found_count] = node
                        found_count += 1
                    else:  # the best free child
                        g = order[depth]
                        child = _next_free(ids, g, 0, lengths[g], nodes, node)
                        if child < lengths[g]:
                            new_score = score + scores[g, child]
                            nodes[node_count].score = new_score
                            nodes[node_count].token = ids[g, child]
                            nodes[node_count].parent = node
                            nodes[node_count].depth = depth + 1
                            nodes[node_count].index = child
                            entry.key = -(new_score + rest[depth + 1])
                            entry.sequence = pushed
                            entry.node = <int32_t>node_count
                            _queue_push(queue, &queue_size, entry)
                            node_count += 1
                            pushed += 1
                    if depth:  # the next free sibling: same parent, the next id for the last group
                        g = order[depth - 1]
                        parent = nodes[node].parent
                        sibling = _next_free(ids, g, index + 1, lengths[g], nodes, parent)
                        if sibling < lengths[g]:
                            new_score = score - scores[g, index] + scores[g, sibling]
                            nodes[node_count].score = new_score
                            nodes[node_count].token = ids[g, sibling]
                            nodes[node_count].parent = parent
                            nodes[node_count].depth = depth
                            nodes[node_count].index = sibling
                            entry.key = -(new_score + rest[depth])
                            entry.sequence = pushed
                            entry.node = <int32_t>node_count
                            _queue_push(queue, &queue_size, entry)
                            node_count += 1
                            pushed += 1
        if out_of_memory:
            raise MemoryError()
        if empty:
            return []
        results = []
        for h in range(found_count):
            tokens = [0] * groups
            walk = found[h]
            while nodes[walk].depth > 0:
                tokens[order[nodes[walk].depth - 1]] = nodes[walk].token
                walk = nodes[walk].parent
            results.append((nodes[found[h]].score, tokens))
        return results
    finally:
        free(lengths); free(order); free(rest); free(unique_first); free(nodes); free(queue); free(found)
