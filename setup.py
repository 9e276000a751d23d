"""The one build step pyproject.toml cannot say: ship the built-in runbooks inside the package.

`runbooks/` at the top of the repository stays the source of truth (one YAML file a runbook,
edited and reviewed there); a wheel carries a copy as `bot/_runbooks/`, which
`bot.runbooks.catalog.builtin_dir()` finds. An editable install and a checkout on PYTHONPATH
read `runbooks/` itself.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildWithRunbooks(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # the source tree's runbooks/ is found directly
        target = Path(self.build_lib) / "bot" / "_runbooks"
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted((ROOT / "runbooks").glob("*.yaml")):
            shutil.copy2(path, target / path.name)


setup(cmdclass={"build_py": BuildWithRunbooks})
