"""JupyterLab settings of ``make lab`` (``jupyter lab --config=jupyter_lab_config.py``).

Every save of a notebook (JupyterLab autosaves a notebook merely opened) puts back the metadata
the notebooks are committed with — the project's kernel, the Python ``language_info`` without its
version — so that opening a notebook without running it leaves git clean
(:mod:`analysis.notebooks`).
"""

from analysis.notebooks import pre_save_hook

c.ContentsManager.pre_save_hook = pre_save_hook  # noqa: F821  (c: the configuration Jupyter passes)
