"""`import reasonscope` from the build tree (ctest puts <build>/python on
PYTHONPATH): open the bundled model, run strategies, read the tree as Python
objects, record a run in a store and load it back."""
import os
import sys
import tempfile
import unittest

import reasonscope

PATTERN = r"Answer:\s*(-?\d+)"


def shape(tree):
    return [(n.id, n.parent, n.text, n.status, n.answer, [t.id for t in n.tokens]) for n in tree]


class ModuleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.model = reasonscope.open_model()  # the bundled model

    def test_lists_cpp_and_python_strategies(self):
        ids = {s["id"]: s for s in reasonscope.strategies()}
        for sid in ("self-consistency", "py-self-consistency", "beam-search", "py-beam-search"):
            self.assertIn(sid, ids)
        self.assertTrue(ids["py-self-consistency"]["path"].endswith(".py"))
        self.assertEqual([p["name"] for p in ids["self-consistency"]["parameters"]],
                         [p["name"] for p in ids["py-self-consistency"]["parameters"]])

    def test_run_gives_the_tree(self):
        r = self.model.run("Q: 13+7*4\n", "self-consistency", {"n": 3}, seed=3,
                           answer_pattern=PATTERN, expected="41")
        self.assertEqual(r.status, "ok", r.error)
        self.assertEqual(r.params["n"], 3)
        self.assertGreaterEqual(len(r.tree), 4)
        self.assertEqual(r.tree[0].text, "Q: 13+7*4\n")
        self.assertEqual(len(r.tree[0].children), 3)
        chosen = r.tree[r.chosen_node]
        self.assertEqual(chosen.answer, r.answer)
        self.assertIn("Answer: " + r.answer, r.tree.path_text(r.chosen_node))
        self.assertEqual(r.tree.path(r.chosen_node)[0], 0)
        self.assertTrue(all(t.logprob <= 0 for t in chosen.tokens))
        self.assertEqual(r.metrics["nodes"], len(r.tree))
        # The Python port, the same seed: the same tree.
        p = self.model.run("Q: 13+7*4\n", "py-self-consistency", {"n": 3}, seed=3,
                           answer_pattern=PATTERN, expected="41")
        self.assertEqual(shape(p.tree), shape(r.tree))
        self.assertEqual((p.answer, p.chosen_node), (r.answer, r.chosen_node))

    def test_task_from_a_suite(self):
        r = self.model.run(task="arith-easy:easy-002", strategy="chain-of-thought")
        self.assertEqual(r.status, "ok", r.error)
        self.assertIn(r.correct, (0, 1))

    def test_store_round_trip(self):
        with tempfile.TemporaryDirectory() as d:
            store = reasonscope.open_store(os.path.join(d, "runs.sqlite"))
            r = self.model.run("Q: 2+3\n", "best-of-n", {"n": 2}, answer_pattern=PATTERN,
                               store=store)
            self.assertGreater(r.run_id, 0)
            rows = store.runs(strategy="best-of-n")
            self.assertEqual([row["id"] for row in rows], [r.run_id])
            self.assertEqual(rows[0]["status"], r.status)
            self.assertEqual(rows[0]["params"]["n"], 2)
            loaded = store.load(r.run_id)
            self.assertEqual(shape(loaded["tree"]), shape(r.tree))
            self.assertEqual(reasonscope.open_store(store.path, read_only=True).runs()[0]["id"],
                             r.run_id)

    def test_errors(self):
        with self.assertRaisesRegex(reasonscope.Error, "unknown strategy 'nope'"):
            self.model.run("Q: 1+1\n", "nope")
        with self.assertRaisesRegex(reasonscope.Error, "parameter n = 0 is outside"):
            self.model.run("Q: 1+1\n", "self-consistency", {"n": 0})
        r = self.model.run("Q: 1+1\n", "self-consistency", {"n": 1})
        with self.assertRaises(IndexError):
            r.tree[len(r.tree)]


if __name__ == "__main__":
    unittest.main(verbosity=2, argv=sys.argv[:1])
