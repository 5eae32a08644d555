"""docs/tutorial.md runs as written: every code block, in order, in a fresh directory.

``sh`` blocks run in bash (``set -e``); one whose first line says ``(keeps running)`` is
started in the background, as in a terminal of its own, and the next block waits until it
says it is ready. ``python`` blocks run as scripts with the venv's python; a ``text`` block
right after one is the output the tutorial promises, compared line by line. At the end the
background processes get Ctrl-C (SIGINT) and must stop cleanly.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from connector.runtime.ports import bindable

TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "tutorial.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)
READY = re.compile(r"serving on |ready participant=")
KEEPS_RUNNING = "(keeps running)"


@dataclass
class Block:
    language: str
    code: str
    output: str | None = None  # the ``text`` block that follows, if any


def blocks(markdown: str) -> list[Block]:
    found: list[Block] = []
    for language, code in BLOCK.findall(markdown):
        if language == "text":
            assert found and found[-1].language == "python", "text block after no python"
            found[-1].output = code
        else:
            assert language in ("sh", "python"), f"unknown block language {language!r}"
            found.append(Block(language, code))
    return found


@dataclass
class Terminal:
    """A command that keeps running, started as the reader would in another terminal."""

    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, code: str, cwd: Path, env: dict[str, str]) -> Terminal:
        proc = subprocess.Popen(["bash", "-c", f"exec {code.strip().splitlines()[-1]}"],
                                cwd=cwd, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        terminal = cls(proc)
        stdout = proc.stdout
        assert stdout is not None
        threading.Thread(target=lambda: terminal.lines.extend(stdout), daemon=True).start()
        return terminal

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(READY.search(line) for line in list(self.lines)):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"not ready (exit {self.proc.poll()}): {self.lines[-10:]}")

    def interrupt(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # Ctrl-C, as the tutorial says
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)


def test_the_block_parser_sees_every_block():
    parsed = blocks(TUTORIAL.read_text(encoding="utf-8"))
    fences = TUTORIAL.read_text(encoding="utf-8").count("\n```") // 2
    outputs = sum(1 for b in parsed if b.output is not None)
    assert len(parsed) + outputs == fences
    assert sum(KEEPS_RUNNING in b.code.splitlines()[0] for b in parsed) == 3


def test_the_tutorial_runs_as_written(tmp_path):
    tsunagu = Path(sys.executable).parent / "tsunagu"
    assert tsunagu.is_file(), f"{tsunagu} missing: install the package (pip install -e .)"
    for port in (8470,):
        assert bindable(port), f"port {port} is taken: the tutorial serves the authority there"
    env = {**os.environ, "PATH": f"{tsunagu.parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("CI", None)
    cwd, where = tmp_path, tmp_path / ".cwd"
    scripts = tmp_path / ".scripts"
    scripts.mkdir()
    terminals: list[Terminal] = []
    try:
        for number, block in enumerate(blocks(TUTORIAL.read_text(encoding="utf-8")), 1):
            for terminal in terminals:
                terminal.wait_ready()
            if block.language == "sh" and KEEPS_RUNNING in block.code.splitlines()[0]:
                terminals.append(Terminal.start(block.code, cwd, env))
                continue
            if block.language == "sh":
                args = ["bash", "-e", "-c", f"{block.code}\npwd > {where}"]
            else:
                script = scripts / f"block{number}.py"
                script.write_text(block.code, encoding="utf-8")
                args = [sys.executable, str(script)]
            done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                                  timeout=120)
            assert done.returncode == 0, (f"block {number} failed:\n{block.code}\n"
                                          f"{done.stdout}\n{done.stderr}")
            if block.language == "sh":
                cwd = Path(where.read_text().strip())
            if block.output is not None:
                assert done.stdout.splitlines() == block.output.splitlines(), done.stdout
    finally:
        codes = [terminal.interrupt() for terminal in reversed(terminals)]
    assert len(terminals) == 3 and codes == [0, 0, 0], [t.lines[-5:] for t in terminals]
