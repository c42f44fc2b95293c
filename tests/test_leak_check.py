"""The leak check of conftest.py catches what it promises to (run on throwaway tests by pytester)."""

from __future__ import annotations

from pathlib import Path

import pytest

LEAKY = """
import asyncio, subprocess, threading, time

def test_task():
    async def main():
        asyncio.create_task(asyncio.sleep(100), name="forgotten")
        await asyncio.sleep(0)
    asyncio.run(main())

def test_thread():
    threading.Thread(target=time.sleep, args=(30,), name="forgotten-thread", daemon=True).start()

def test_process():
    subprocess.Popen(["sleep", "30"])

def test_clean():
    async def main():
        task = asyncio.create_task(asyncio.sleep(100))
        await asyncio.sleep(0)
        task.cancel()
    asyncio.run(main())
    thread = threading.Thread(target=time.sleep, args=(0.1,))
    thread.start()
    subprocess.run(["true"], check=True)
"""


def test_leaked_tasks_threads_and_processes_fail_the_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parent.parent))  # for `tests.servers`
    # The grace a leaked thread or process gets to end, waited in full by the two that never do:
    # 1 s here instead of 3 (test_clean's thread ends after 0.1 s, well within it).
    conftest = (Path(__file__).parent / "conftest.py").read_text()
    assert "\nLEAK_GRACE_S = 3.0 " in conftest
    pytester.makeconftest(conftest.replace("\nLEAK_GRACE_S = 3.0 ", "\nLEAK_GRACE_S = 1.0 "))
    pytester.makepyfile(test_leaky=LEAKY)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4, errors=3)
    result.stdout.fnmatch_lines(
        [
            "*task left running: <Task pending name='forgotten'*",
            "*thread left running: forgotten-thread (daemon)*",
            "*child process left running: pid * sleep 30*",
        ],
        consecutive=False,
    )
