"""``predicate_parse``'s program: the walked tokens of a filter as a flat list of
predicates, each falling through or jumping forward, built with the kernel's
operator stack instead of recursion."""

from __future__ import annotations

from dataclasses import dataclass

from .parse import Pred, Token

_INVERT, _PROCESS_AND, _PROCESS_OR = 1, 2, 4


@dataclass(slots=True)
class Program:
    """``predicate_parse``'s program: entry ``i`` runs ``preds[i]`` and, when the
    result equals ``when[i]``, jumps past ``target[i]``; falling off the end at
    index ``len(preds)`` is TRUE, one further is FALSE."""

    preds: list[Pred]
    when: list[bool]
    target: list[int]


def build_program(tokens: list[Token]) -> Program | None:
    """The program ``predicate_parse`` builds from the walked tokens, or None where
    its last pass refuses one that would not move forward (``WARN_ON``, EINVAL).

    The kernel's three passes, with its operator stack instead of recursion, so
    that nesting as deep as the text allows costs no Python stack: the first
    pass links each predicate to the one an ``&&`` or ``||`` after it affects
    (``update_preds``), the second short-cuts a jump into a jump of the same
    sense, the third folds the ``!``s in scope into when to branch.
    """
    preds: list[Pred] = []
    inverts: list[bool] = []
    when: list[bool] = []
    target: list[int] = []
    stack = [0]
    invert = 0

    def update(n: int, branch: int) -> None:
        t = target[n]
        s = target[t]
        when[t] = bool(branch)
        target[t] = n
        target[n] = s

    for token in tokens:
        if token == "(":
            stack.append(invert)
        elif token == "!":
            invert ^= _INVERT
        elif isinstance(token, Pred):
            inverts.append(bool(invert))
            target.append(len(preds) - 1)
            when.append(False)
            preds.append(token)
        else:  # "&&", "||" or ")": what follows a predicate
            n = len(preds) - 1
            invert = stack[-1] & _INVERT
            if stack[-1] & _PROCESS_AND:
                update(n, invert)
                stack[-1] &= ~_PROCESS_AND
            if token == "&&":
                stack[-1] |= _PROCESS_AND
                continue
            if stack[-1] & _PROCESS_OR:
                update(n, not invert)
                stack[-1] &= ~_PROCESS_OR
            if token == "||":
                stack[-1] |= _PROCESS_OR
                continue
            stack.pop()
    if tokens[-1] == ")" or isinstance(tokens[-1], Pred):
        # The text ends after a predicate: the end is what a ")" does, without
        # the pop. After a dangling "&&", "||" or "!" the kernel's outer loop
        # just stops, and what they asked for is never done.
        n = len(preds) - 1
        invert = stack[-1] & _INVERT
        if stack[-1] & _PROCESS_AND:
            update(n, invert)
        if stack[-1] & _PROCESS_OR:
            update(n, not invert)
    count = len(preds)
    target[count - 1] = count
    when[count - 1] = False
    for i in range(count - 2, -1, -1):
        t = target[i]
        if t < count and when[i] == when[t]:
            target[i] = target[t]
    for i in range(count):
        when[i] = inverts[i] ^ when[i]
        if target[i] <= i:
            return None
    return Program(preds, when, target)
