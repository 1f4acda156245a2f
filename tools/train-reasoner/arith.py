"""Synthetic multi-step arithmetic with worked solutions.

A problem is an expression over + - * with non-negative integers and the
fewest parentheses needed. Its solution reduces one operation per line,
leftmost ready operation first, showing the rewritten expression:

    Q: 3+4*(12-5)
    12-5=7: 3+4*7
    4*7=28: 3+28
    3+28=31: 31
    Answer: 31

Difficulty grows with the number of operations and operand size. Every
intermediate value stays within [0, MAX_VALUE].
"""
import random

MAX_VALUE = 999
PREC = {"+": 1, "-": 1, "*": 2}

# level -> (min ops, max ops, max operand, max multiplier operand)
LEVELS = {
    "easy": (1, 2, 20, 9),
    "medium": (3, 4, 30, 9),
    "hard": (5, 7, 50, 12),
}


class Node:
    __slots__ = ("op", "left", "right", "value")

    def __init__(self, op=None, left=None, right=None, value=None):
        self.op, self.left, self.right, self.value = op, left, right, value

    def is_leaf(self):
        return self.op is None


def evaluate(n):
    if n.is_leaf():
        return n.value
    a, b = evaluate(n.left), evaluate(n.right)
    return a + b if n.op == "+" else a - b if n.op == "-" else a * b


def render(n, parent_prec=0, right_side=False):
    if n.is_leaf():
        return str(n.value)
    p = PREC[n.op]
    s = render(n.left, p, False) + n.op + render(n.right, p, True)
    # Parentheses when the child binds looser, or equally on the right of - (or of * for symmetry).
    if p < parent_prec or (right_side and p == parent_prec):
        return "(" + s + ")"
    return s


def _valid(n):
    if n.is_leaf():
        return True
    if not (_valid(n.left) and _valid(n.right)):
        return False
    v = evaluate(n)
    return 0 <= v <= MAX_VALUE


def random_tree(rng, n_ops, max_operand, max_mul):
    """Random expression tree with exactly n_ops operations (rejection-sampled for validity)."""
    for _ in range(1000):
        leaves = [Node(value=rng.randint(1, max_operand)) for _ in range(n_ops + 1)]
        nodes = leaves[:]
        while len(nodes) > 1:
            i = rng.randrange(len(nodes) - 1)
            op = rng.choice("+-*")
            a, b = nodes[i], nodes[i + 1]
            if op == "*":
                # keep products small: shrink leaf operands used in a product
                for x in (a, b):
                    if x.is_leaf() and x.value > max_mul:
                        x.value = rng.randint(2, max_mul)
            nodes[i : i + 2] = [Node(op, a, b)]
        root = nodes[0]
        if _valid(root):
            return root
    raise RuntimeError("could not sample a valid expression")


def _ready_nodes(n, out):
    """Operations whose operands are both numbers, in print order."""
    if n.is_leaf():
        return
    _ready_nodes(n.left, out)
    if n.left.is_leaf() and n.right.is_leaf():
        out.append(n)
    _ready_nodes(n.right, out)


def _ready_respecting_precedence(root):
    ready = []
    _ready_nodes(root, ready)
    return ready[0]


def _regroupable(n, out):
    """Nodes (x op a) op b with op in + or *, a and b numbers: computing a op b
    first is also correct (associativity), and a different computation."""
    if n.is_leaf():
        return
    _regroupable(n.left, out)
    _regroupable(n.right, out)
    l = n.left
    if n.op in "+*" and not l.is_leaf() and l.op == n.op and l.right.is_leaf() and n.right.is_leaf():
        out.append(n)


def solve(root, rng=None, regroup=False, commute=False):
    """Worked solution lines (without the question) and the answer.

    With rng, each step reduces a random ready operation instead of the
    leftmost one (every order gives the same answer); with regroup too, a
    step may also combine the last two numbers of a + or * chain
    ("46+110+7" -> "110+7=117: 46+117"); with commute, a + or * step may
    write its operands either way round ("7*23=161")."""
    lines = []
    while not root.is_leaf():
        if rng is None:
            n = _ready_respecting_precedence(root)
        else:
            ready = []
            _ready_nodes(root, ready)
            if regroup:
                extra = []
                _regroupable(root, extra)
                ready += extra
            n = rng.choice(ready)
            if not (n.left.is_leaf() and n.right.is_leaf()):
                # (x op a) op b -> x op (a op b), then a op b is the step
                x, a, b = n.left.left, n.left.right, n.right
                if 0 <= evaluate(Node(n.op, a, b)) <= MAX_VALUE:
                    n.left, n.right = x, Node(n.op, a, b)
                    n = n.right
                else:
                    n = n.left if n.left.left.is_leaf() else ready[0]
        a, b = n.left.value, n.right.value
        v = evaluate(n)
        if commute and rng is not None and n.op in "+*" and rng.random() < 0.5:
            a, b = b, a
        step = f"{a}{n.op}{b}={v}"
        n.op, n.left, n.right, n.value = None, None, None, v
        lines.append(f"{step}: {render(root)}")
    answer = root.value
    lines.append(f"Answer: {answer}")
    return lines, answer


def make_problem(rng, level, any_order=False, regroup=False, commute=False):
    lo, hi, max_operand, max_mul = LEVELS[level]
    n_ops = rng.randint(lo, hi)
    root = random_tree(rng, n_ops, max_operand, max_mul)
    expr = render(root)
    lines, answer = solve(root, rng if any_order else None, regroup, commute)
    return expr, lines, answer


def prompt_for(expr):
    return f"Q: {expr}\n"


def verification_step(rng):
    """A single step for verification, right or wrong with equal odds:
    (a, op, b, claimed result, whether it is right)."""
    a, b = rng.randint(1, 60), rng.randint(1, 60)
    op = rng.choice("+-*")
    if op == "*":
        b = rng.randint(2, 12)
    if op == "-" and b > a:
        a, b = b, a
    v = a + b if op == "+" else a - b if op == "-" else a * b
    good = rng.random() < 0.5
    return a, op, b, (v if good else corrupt_step(rng, a, op, b)), good


def corrupt_step(rng, a, op, b):
    """A wrong result for a op b (for verification training)."""
    v = a + b if op == "+" else a - b if op == "-" else a * b
    for _ in range(20):
        w = v + rng.choice([-10, -2, -1, 1, 2, 10, rng.randint(-20, 20)])
        if w != v and w >= 0:
            return w
    return v + 1
