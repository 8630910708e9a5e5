"""Warm kernels: each rendering worker keeps one Jupyter kernel and runs its reports in it in turn.

Starting a kernel and importing the stack (pandas, geopandas, matplotlib, statsmodels, the
package) takes about 3.5 s; loading the warehouse and computing the région's figures that every
sheet protects jointly takes as long again. A fresh kernel per report pays both every time. Here
each worker (a process of the pool, or a thread of a Dask worker) starts one kernel and gives it
its reports one after another through papermill, as the papermill engine ``observatoire-warm``:

* before each report but the kernel's first, the kernel is reset as IPython resets a session
  (user namespace, input and output histories, execution counter; without the full garbage
  collection of its output-cache flush) and every figure closed: a notebook sees none of the previous notebook's
  variables; what stays are
  the imported modules and the caches that are keyed by their inputs — the warehouse tables
  (:data:`analysis.scope._SHARED`, keyed by the warehouse's identity) and the joint protections
  (:data:`analysis.publish._FAMILIES`, keyed by the tables' content). A report rendered in a warm
  kernel is byte for byte the one a fresh kernel renders (``tests/test_reports.py`` checks it);
* the kernel is replaced after :data:`REUSE` reports, when the ``OBSERVATOIRE_*`` environment or
  the working folder changed, when it died, and after any failure other than an error in a cell
  (timeout, lost kernel);
* kernels are shut down when the worker ends (:func:`shutdown`, also registered at exit); a kernel
  whose worker is killed exits by itself (ipykernel watches its parent).

``observatoire report --fresh-kernels`` renders each report in a kernel of its own, as papermill
does by default.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from dataclasses import dataclass

from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines
from papermill.utils import merge_kwargs, remove_args

ENGINE = "observatoire-warm"
#: Reports one kernel renders before it is replaced (bounds what a long run accumulates).
REUSE = 60
#: Run in the kernel between two reports.
RESET = """\
def _observatoire_reset():
    import matplotlib.pyplot
    matplotlib.pyplot.close("all")
    shell = get_ipython()
    hook = shell.displayhook
    # IPython's reset, as in a new kernel (namespace, histories, execution counter), without the
    # full garbage collection its output-cache flush runs (a third of a second on a warm heap).
    full, hook.do_full_cache = hook.do_full_cache, False
    try:
        shell.reset(new_session=True)
    finally:
        hook.do_full_cache = full
    hook._ = hook.__ = hook.___ = ""
_observatoire_reset()  # the reset removes the function itself
"""

logger = logging.getLogger("papermill")


@dataclass
class _Warm:
    manager: object
    context: tuple
    uses: int = 0
    client: object = None  # the kernel client, its channels kept open between reports


_local = threading.local()
_all: list[_Warm] = []
_lock = threading.Lock()


def _context() -> tuple:
    """What a kernel inherits when it starts and that a report depends on."""
    return (os.getcwd(), tuple(sorted((k, v) for k, v in os.environ.items()
                                      if k.startswith("OBSERVATOIRE_"))))


def _alive(warm: _Warm) -> bool:
    from jupyter_core.utils import run_sync

    manager = warm.manager
    if not manager.has_kernel:
        return True  # not started yet: nbclient starts it
    try:
        return bool(run_sync(manager.is_alive)())
    except Exception:
        return False


def _discard(warm: _Warm | None) -> None:
    from jupyter_core.utils import run_sync

    if warm is None:
        return
    with _lock:
        if warm in _all:
            _all.remove(warm)
    if getattr(_local, "warm", None) is warm:
        _local.warm = None
    try:
        if warm.client is not None:
            warm.client.stop_channels()
    except Exception:
        pass
    try:
        if warm.manager.has_kernel:
            run_sync(warm.manager.shutdown_kernel)(now=True)
    except Exception:  # already gone
        pass


def _current(kernel_name: str) -> _Warm:
    """This worker's kernel (a new manager when there is none or it cannot be reused)."""
    from jupyter_client.manager import AsyncKernelManager

    warm = getattr(_local, "warm", None)
    context = _context()
    if warm is not None and (warm.context != context or warm.uses >= REUSE
                             or warm.manager.kernel_name != kernel_name or not _alive(warm)):
        _discard(warm)
        warm = None
    if warm is None:
        warm = _Warm(AsyncKernelManager(kernel_name=kernel_name), context)
        _local.warm = warm
        with _lock:
            _all.append(warm)
    return warm


class _WarmClient(PapermillNotebookClient):
    """papermill's client on a warm kernel: reuses the kernel client and resets the namespace
    before the notebook's first cell (the notebook itself is executed exactly as papermill does)."""

    def __init__(self, nb_man, warm: _Warm, **kwargs):
        super().__init__(nb_man, km=warm.manager, **kwargs)
        self.warm = warm
        self.kc = warm.client

    def papermill_execute_cells(self):
        self.warm.client = self.kc
        if self.warm.uses:
            self._reset()
        self.warm.uses += 1
        super().papermill_execute_cells()

    def _reset(self) -> None:
        msg_id = self.kc.execute(RESET, silent=True, store_history=False)
        reply = self.wait_for_reply(msg_id)
        if reply is None or reply["content"].get("status") != "ok":
            raise RuntimeError("le noyau n'a pas pu être remis à zéro entre deux rapports")


class WarmEngine(NBClientEngine):
    """papermill's nbclient engine, on this worker's warm kernel."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                 stderr_file=None, start_timeout=60, execution_timeout=None,
                                 **kwargs):
        warm = _current(kernel_name)
        kwargs = remove_args(["input_path"], **kwargs)
        safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
        final_kwargs = merge_kwargs(
            safe_kwargs, timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
            startup_timeout=start_timeout, kernel_name=kernel_name, log=logger,
            log_output=log_output, stdout_file=stdout_file, stderr_file=stderr_file)
        client = _WarmClient(nb_man, warm, **final_kwargs)
        try:
            return client.execute()
        except BaseException:  # a timeout, a lost kernel, an interruption: never reuse it
            _discard(warm)
            raise


def shutdown() -> None:
    """Shut down every warm kernel of this process."""
    with _lock:
        warms = list(_all)
    for warm in warms:
        _discard(warm)


papermill_engines.register(ENGINE, WarmEngine)
atexit.register(shutdown)
