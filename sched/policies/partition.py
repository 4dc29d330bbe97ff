"""Contiguous min-max partition, shared by `pipedream` and `layerpipe`."""

from __future__ import annotations

from layerpipe.core.tasks import Task


def min_max_partition(weights: list[int], parts: int) -> list[int]:
    """Cut points splitting ``weights`` into at most ``parts`` contiguous groups of least maximum sum.

    Returns the start index of each group (the first is 0). Among optimal splits the
    dynamic programme prefers fewer groups, so no processor is left with an empty stage.
    """
    count = len(weights)
    parts = min(parts, count)
    prefix = [0]
    for w in weights:
        prefix.append(prefix[-1] + w)
    infinity = float("inf")
    # best[k][i]: least max group sum covering weights[:i] with k groups; cut[k][i]: start of the last group
    best = [[infinity] * (count + 1) for _ in range(parts + 1)]
    cut = [[0] * (count + 1) for _ in range(parts + 1)]
    best[0][0] = 0
    for k in range(1, parts + 1):
        for i in range(k, count + 1):
            for j in range(k - 1, i):
                value = max(best[k - 1][j], prefix[i] - prefix[j])
                if value < best[k][i]:
                    best[k][i], cut[k][i] = value, j
    groups = min(range(1, parts + 1), key=lambda k: (best[k][count], -k))
    starts, i = [], count
    for k in range(groups, 0, -1):
        i = cut[k][i]
        starts.append(i)
    return starts[::-1]


def stage_order(tasks: list[Task]) -> list[Task]:
    """Order within a stage: forward tasks by layer, then backward tasks from the deepest layer.

    Forward work first is what makes a chain of stages come out with Delay(l) = 2·S(l)
    (docs/semantics.md).
    """
    forward = sorted((t for t in tasks if t.kind == "F"), key=lambda t: t.layer)
    backward = sorted((t for t in tasks if t.kind != "F"), key=lambda t: (-t.layer, t.kind))
    return forward + backward


def split(sequence: list[Task], weights: list[int], processors: int) -> list[list[Task]]:
    starts = min_max_partition(weights, processors) + [len(sequence)]
    return [stage_order(sequence[a:b]) for a, b in zip(starts, starts[1:], strict=False)]
