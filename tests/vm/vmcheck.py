"""What the checks of one guest result directory share: its files, the
scenario's ground truth, the list of problems and the one closing line."""
import json
import sys
from pathlib import Path


class Result:
    def __init__(self, name, directory):
        self.name = name
        self.out = Path(directory)
        self.problems = []

    def check(self, cond, what):
        if not cond:
            self.problems.append(what)
        return cond

    def read(self, file):
        p = self.out / file
        return p.read_text().strip() if p.exists() else ""

    def truth(self):
        """The scenario's pid and the pfns it pinned; ends the check without them."""
        truth = json.loads(self.read("truth.json") or "{}")
        pid = truth.get("pid")
        pinned = [e["pfn"] for e in truth.get("expect", [])]
        if not self.check(pid and pinned, "no scenario ground truth (scenario.err: %s)" % self.read("scenario.err")[-300:]):
            self.finish()
        return truth, pid, pinned

    def finish(self, passed=None):
        """Prints FAIL with the first problems, or the pass line; exits."""
        if self.problems:
            print("FAIL %s: %s" % (self.name, "; ".join(self.problems[:6])))
            sys.exit(1)
        print(passed or "ok " + self.name)
        sys.exit(0)
