"""Lets ``flask_admin.contrib.sqla`` (Flask-Admin 2.2.1) import without Flask-SQLAlchemy.

Its ``_types.py`` defines ``T_SESSION`` only when ``flask_sqlalchemy`` imports, but its
``_compat.py`` imports that name unconditionally (a type hint evaluated at import), so
the sqla views cannot even be imported with plain SQLAlchemy, as coopflow uses it.
Imported first by ``admin/__init__``: it loads ``_types`` on its own and gives it the
missing name. It does nothing once Flask-SQLAlchemy is installed (the
``flask-admin[sqlalchemy]`` extra), and can then be deleted.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import flask_admin.contrib
from sqlalchemy.orm import Session

TYPES = "flask_admin.contrib.sqla._types"


def _load_types() -> ModuleType:
    """``_types`` alone: importing it by name would first run the failing package."""
    path = Path(flask_admin.contrib.__path__[0]) / "sqla" / "_types.py"
    spec = importlib.util.spec_from_file_location(TYPES, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[TYPES] = module
    return module


def ensure_sqla_importable() -> None:
    if importlib.util.find_spec("flask_sqlalchemy") is not None:
        return
    module = sys.modules.get(TYPES) or _load_types()
    if not hasattr(module, "T_SESSION"):
        module.T_SESSION = Session  # the class Flask-SQLAlchemy's own session derives from


ensure_sqla_importable()
