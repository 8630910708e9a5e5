"""The report notebooks as committed: the project's kernel, normalised metadata, no outputs.

JupyterLab rewrites a notebook's metadata when it saves it — including a notebook only opened
(it autosaves): the kernel's ``language_info`` with the exact Python version, the kernel chosen.
The notebooks under ``notebooks/`` are committed with :data:`NOTEBOOK_METADATA` exactly; ``make
lab`` starts JupyterLab with :func:`pre_save_hook`, which puts that metadata back on every save,
so that opening and saving a notebook without running it leaves git clean. Outputs are left as
the user made them (a run is a change; the notebooks are committed without outputs).

Executing a report does not depend on this metadata: :mod:`analysis.reporting` names its kernel.
"""

from __future__ import annotations

import copy
from pathlib import Path

#: The kernel ``make lab`` registers (``ipykernel install --sys-prefix``).
KERNEL_NAME = "observatoire"
KERNEL_DISPLAY_NAME = "Python (observatoire)"

#: The notebook-level metadata of every committed notebook: the project's kernel and the Python
#: ``language_info`` an IPython kernel reports, without its version (which differs by machine).
NOTEBOOK_METADATA = {
    "kernelspec": {"display_name": KERNEL_DISPLAY_NAME, "language": "python",
                   "name": KERNEL_NAME},
    "language_info": {
        "codemirror_mode": {"name": "ipython", "version": 3},
        "file_extension": ".py",
        "mimetype": "text/x-python",
        "name": "python",
        "nbconvert_exporter": "python",
        "pygments_lexer": "ipython3",
    },
}


def normalise_metadata(notebook: dict) -> dict:
    """Set ``notebook``'s metadata to :data:`NOTEBOOK_METADATA` (in place) and return it."""
    notebook["metadata"] = copy.deepcopy(NOTEBOOK_METADATA)
    return notebook


def strip_outputs(notebook: dict) -> dict:
    """Remove code cells' outputs and execution counts (in place) and return the notebook."""
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return notebook


def pre_save_hook(model: dict, **kwargs) -> None:
    """Jupyter server's ``ContentsManager.pre_save_hook``: normalise a notebook's metadata."""
    if model.get("type") == "notebook" and isinstance(model.get("content"), dict):
        normalise_metadata(model["content"])


def write_committed(path: Path) -> None:
    """Rewrite a notebook as it is committed: normalised metadata, no outputs, nbformat's layout
    (the Jupyter server's, so that a save in JupyterLab writes the same bytes)."""
    import nbformat

    notebook = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    normalise_metadata(strip_outputs(notebook))
    nbformat.write(notebook, str(path), version=nbformat.NO_CONVERT)
