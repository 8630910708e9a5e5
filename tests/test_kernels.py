"""Warm kernels (:mod:`analysis.kernels`): reused between notebooks, never leaking one notebook's
state into the next, replaced when they cannot be trusted."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import papermill
import pytest
from papermill.exceptions import PapermillExecutionError

from analysis import kernels

pytestmark = pytest.mark.slow


def _notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)
    return path


def _run(source: Path, out: Path, **kwargs):
    return papermill.execute_notebook(str(source), str(out), kernel_name="python3",
                                      progress_bar=False, engine_name=kernels.ENGINE,
                                      request_save_on_cell_execute=False, **kwargs)


def _pid(tmp_path: Path, name: str) -> int:
    return int((tmp_path / name).read_text())


@pytest.fixture()
def fresh_worker():
    kernels.shutdown()
    yield
    kernels.shutdown()


def test_the_next_notebook_reuses_the_kernel_but_sees_none_of_the_previous_state(
        tmp_path, fresh_worker):
    first = _notebook(
        tmp_path / "a.ipynb",
        "import os, matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt",
        "leak = 42\nfig = plt.figure()\ndef helper():\n    return 1",
        f"open({str(tmp_path / 'a.pid')!r}, 'w').write(str(os.getpid()))",
        "leak",  # an output cached in Out / _N
    )
    second = _notebook(
        tmp_path / "b.ipynb",
        "import os\nimport matplotlib.pyplot as plt",
        "assert 'leak' not in globals() and 'helper' not in globals() and 'fig' not in globals()",
        "assert plt.get_fignums() == [], plt.get_fignums()",
        "assert not [k for k in globals() if k.startswith('_') and k[1:].isdigit()]",
        "assert not Out, Out",
        f"open({str(tmp_path / 'b.pid')!r}, 'w').write(str(os.getpid()))",
    )
    _run(first, tmp_path / "a.out.ipynb")
    _run(second, tmp_path / "b.out.ipynb")
    assert _pid(tmp_path, "a.pid") == _pid(tmp_path, "b.pid")  # one kernel for both


def test_a_failing_notebook_does_not_spoil_the_next(tmp_path, fresh_worker):
    broken = _notebook(tmp_path / "broken.ipynb", "state = 'sale'", "raise ValueError('non')")
    clean = _notebook(tmp_path / "clean.ipynb", "assert 'state' not in globals()", "ok = 1")
    with pytest.raises(PapermillExecutionError):
        _run(broken, tmp_path / "broken.out.ipynb")
    _run(clean, tmp_path / "clean.out.ipynb")


def test_a_timed_out_kernel_is_replaced(tmp_path, fresh_worker):
    pid = "import os\nopen({!r}, 'w').write(str(os.getpid()))"
    slow = _notebook(tmp_path / "slow.ipynb", pid.format(str(tmp_path / "slow.pid")),
                     "import time\ntime.sleep(30)")
    after = _notebook(tmp_path / "after.ipynb", pid.format(str(tmp_path / "after.pid")))
    with pytest.raises(Exception):
        _run(slow, tmp_path / "slow.out.ipynb", execution_timeout=2)
    _run(after, tmp_path / "after.out.ipynb")
    assert _pid(tmp_path, "slow.pid") != _pid(tmp_path, "after.pid")


def test_a_changed_environment_gets_a_new_kernel(tmp_path, fresh_worker, monkeypatch):
    code = ("import os\nopen({!r}, 'w').write(os.environ.get('OBSERVATOIRE_PROCESSED_DIR', '') "
            "+ ' ' + str(os.getpid()))")
    nb1 = _notebook(tmp_path / "e1.ipynb", code.format(str(tmp_path / "e1.txt")))
    nb2 = _notebook(tmp_path / "e2.ipynb", code.format(str(tmp_path / "e2.txt")))
    monkeypatch.setenv("OBSERVATOIRE_PROCESSED_DIR", str(tmp_path / "one"))
    _run(nb1, tmp_path / "e1.out.ipynb")
    monkeypatch.setenv("OBSERVATOIRE_PROCESSED_DIR", str(tmp_path / "two"))
    _run(nb2, tmp_path / "e2.out.ipynb")
    where1, pid1 = (tmp_path / "e1.txt").read_text().split()
    where2, pid2 = (tmp_path / "e2.txt").read_text().split()
    assert (where1, where2) == (str(tmp_path / "one"), str(tmp_path / "two"))
    assert pid1 != pid2


def test_shutdown_stops_every_kernel(tmp_path, fresh_worker):
    nb = _notebook(tmp_path / "p.ipynb",
                   f"import os\nopen({str(tmp_path / 'p.pid')!r}, 'w').write(str(os.getpid()))")
    _run(nb, tmp_path / "p.out.ipynb")
    pid = _pid(tmp_path, "p.pid")
    os.kill(pid, 0)  # alive while the worker may render more
    kernels.shutdown()
    with pytest.raises(ProcessLookupError):
        for _ in range(50):
            os.kill(pid, 0)
            import time
            time.sleep(0.1)
