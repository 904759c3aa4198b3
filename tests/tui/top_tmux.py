#!/usr/bin/env python3
"""Drives `pintrace top --replay` in a real terminal (tmux), as a person
would: keys in, the screen as they would read it out.

usage: top_tmux.py BUILD_DIR

Prints "ok NAME" or "FAIL NAME: why" per check, then
"tui: N passed, M failed" (setup.sh counts it); exit 1 on any failure.
The trace is the replay benchmark's synthetic one (deterministic).
"""
import os
import re
import subprocess
import sys
import tempfile
import time

build = os.path.abspath(sys.argv[1])
work = tempfile.mkdtemp(prefix="pintrace-tui-")
sock = os.path.join(work, "tmux.sock")  # a private server: never the user's tmux
trace = os.path.join(work, "pins.trace")
results = []


def tmux(*args, check=True):
    return subprocess.run(["tmux", "-S", sock, *args], check=check, capture_output=True, text=True).stdout


def pane(session, escapes=False):
    return tmux("capture-pane", "-p", *(["-e"] if escapes else []), "-t", session)


def wait_for(session, pattern, timeout=8.0):
    """The pane once it matches pattern (a regex) and has settled, or None.

    Settled means two captures 100 ms apart are equal: curses draws a frame
    top to bottom, so a capture can hold a new header over a half-drawn
    table (seen in CI: "(ended)" above three of the table's rows)."""
    end = time.time() + timeout
    last = None
    while time.time() < end:
        text = pane(session)
        if re.search(pattern, text, re.M):
            if text == last:
                return text
            last = text
        else:
            last = None
        time.sleep(0.1)
    return None


def check(name, ok, why=""):
    results.append(ok)
    print(f"ok {name}" if ok else f"FAIL {name}: {why}")


def start(session, env="", width=120, height=32):
    cmd = f"{env} {build}/pintrace top --replay {trace} --speed 1; echo EXIT=$?; sleep 120"
    # Killing a server's last session makes it exit; a new-session in that
    # moment can reach the exiting server and fail (seen once in CI): retry.
    for attempt in range(5):
        try:
            tmux("new-session", "-d", "-s", session, "-x", str(width), "-y", str(height), cmd)
            break
        except subprocess.CalledProcessError:
            if attempt == 4:
                raise
            time.sleep(0.3)
    return wait_for(session, r"^F1/h Help")


def keys(session, *k):
    tmux("send-keys", "-t", session, *k)


def table_rows(text):
    """(pid, pages, longterm, selected) of the table's rows."""
    rows = []
    for line in text.splitlines():
        m = re.match(r"^(>| ) +(\d+) +\S+ +cgroup \d+ +(\d+) +(\d+) ", line)
        if m:
            rows.append((int(m.group(2)), int(m.group(3)), int(m.group(4)), m.group(1) == ">"))
    return rows


def sort_by(session, name):
    keys(session, "s")
    menu = wait_for(session, r"^SORT BY")
    if not menu:
        return False
    order = [l[2:].split()[0] for l in menu.splitlines() if re.match(r"^(> |  )[a-z]+( |$)", l)]
    keys(session, "Up", "Up", "Up", "Up", "Up", "Up", "Up", *(["Down"] * order.index(name)), "Enter")
    return wait_for(session, rf"sort: {name},") is not None


def main():
    subprocess.run([f"{build}/bench_replay", "--events", "20000", "--live-pins", "2000", "--trace", trace],
                   check=True, capture_output=True)
    s = "top"
    first = start(s)
    check("top starts full screen", first is not None and "pintrace top - kernel synthetic on bench" in first
          and re.search(r"PID COMM +CGROUP +PAGES\*", first) is not None, repr(first)[:300])
    if first is None:
        return
    text = wait_for(s, r"\(ended\)")
    rows = table_rows(text or "")
    check("the pinner with the most pages is first and selected",
          len(rows) > 3 and rows[0][3] and rows[0][1] == max(r[1] for r in rows), str(rows[:4]))
    check("the failures panel explains the last migration",
          text is not None and re.search(r"^RECENT FAILURES \(1, newest first\)", text, re.M) is not None
          and re.search(r"migration \(syscall_or_cpuset\) by pid 9000 \(worker\): 4 failed", text) is not None
          and "    next: io_uring fixed buffers stay pinned" in text, repr(text)[:400])

    ok = sort_by(s, "pid")
    rows = table_rows(pane(s))
    check("s sorts by pid", ok and len(rows) > 3 and [r[0] for r in rows] == sorted(r[0] for r in rows)
          and "PID*" in pane(s), str(rows[:5]))
    ok = sort_by(s, "longterm")
    rows = table_rows(pane(s))
    check("sort by longterm puts the most long-term pages first",
          ok and rows and rows[0][2] == max(r[2] for r in rows) and "LONGTERM*" in pane(s), str(rows[:3]))

    keys(s, "/", "5002", "Enter")
    text = wait_for(s, r"filter: 5002")
    rows = table_rows(text or "")
    check("/ filters to one pid", text is not None and [r[0] for r in rows] == [5002], str(rows))
    keys(s, "/", "BSpace", "BSpace", "BSpace", "BSpace", "Enter")
    text = wait_for(s, r"sort: longterm,pages$")
    check("an empty filter shows everyone again", text is not None and len(table_rows(text)) > 3, repr(text)[-300:])

    keys(s, "Home", "Enter")
    text = wait_for(s, r"^PFN RANGES HELD")
    check("Enter opens the selected pinner's detail: stacks, pfn ranges, ages",
          text is not None and re.search(r"^pid \d+ \(worker\)", text, re.M) is not None
          and "kernel stack:" in text and re.search(r"^    try_grab_page\+0x10$", text, re.M) is not None
          and re.search(r"^  0x[0-9a-f]+(-0x[0-9a-f]+)? +\d+ +\d+  \d+ ms", text, re.M) is not None,
          repr(text)[:600])
    keys(s, "Escape")
    check("Esc goes back to the table", wait_for(s, r"^F1/h Help") is not None, pane(s)[-200:])

    keys(s, "?")
    text = wait_for(s, r"^PINTRACE TOP: who pins pages")
    check("? shows the keys", text is not None and "s, F6            sort by" in text, repr(text)[:300])
    keys(s, "x")
    wait_for(s, r"^F1/h Help")

    tmux("resize-window", "-t", s, "-x", "60", "-y", "20")
    text = wait_for(s, r"^ +PID COMM +PAGES")
    check("a resize redraws for 60 columns, dropping the least useful columns",
          text is not None and "CGROUP" not in text and max(len(l) for l in text.splitlines()) <= 60
          and len(text.splitlines()) == 20, repr(text)[:300])

    keys(s, "q")
    check("q quits with status 0", wait_for(s, r"^EXIT=0$") is not None, pane(s)[-200:])
    tmux("kill-session", "-t", s, check=False)

    color = pane("c", escapes=True) if start("c") else ""
    check("with colors, bars are colored", "\x1b[" in color and re.search(r"\x1b\[[0-9;]*4[0-7]m", color) is not None,
          repr(color)[:200])
    keys("c", "C-c")
    check("Ctrl-C quits with status 0", wait_for("c", r"^EXIT=0$") is not None, pane("c")[-200:])
    mono = pane("m", escapes=True) if start("m", env="NO_COLOR=1") else ""
    check("NO_COLOR: no color, selection and bars in reverse video",
          mono != "" and re.search(r"\x1b\[[0-9;]*[34][0-7]m", mono) is None and "\x1b[7m" in mono,
          repr(mono)[:200])
    keys("m", "q")


try:
    main()
except Exception as e:  # a broken driver is a failed test, never a silent pass
    check("driver", False, repr(e))
finally:
    subprocess.run(["tmux", "-S", sock, "kill-server"], capture_output=True)
passed = sum(results)
print(f"tui: {passed} passed, {len(results) - passed} failed")
sys.exit(0 if results and all(results) else 1)
