"""The runner of the project's Python self-tests (python/dynaspa/test_tune.py,
benchmarks/test_*.py): checks register with `@check`, `run` calls each, prints
one PASS/FAIL line per check (a check may return a note) and "N passed, N
failed", which lit tests FileCheck, and returns the exit status."""

import traceback


class Checks(list):
    """A list of check functions; an instance is also their decorator."""

    def __call__(self, fn):
        self.append(fn)
        return fn

    def run(self, call=lambda fn: fn()):
        """Runs every check through `call` (for checks that take arguments);
        returns 1 if any failed, else 0."""
        failed = 0
        for fn in self:
            try:
                note = call(fn)
                print("PASS %s%s" % (fn.__name__, " (%s)" % note if note else ""))
            except Exception:  # noqa: BLE001 (a failing check is reported, not raised)
                failed += 1
                print("FAIL", fn.__name__)
                traceback.print_exc()
        print("%d passed, %d failed" % (len(self) - failed, failed))
        return 1 if failed else 0
