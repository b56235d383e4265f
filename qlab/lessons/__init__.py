"""Per-lesson exercises and messages.

Each lesson NN has a module ``lNN_slug.py`` here that registers its self-checking
exercises (:func:`qlab.exercises.register`) and its language-specific strings
(:func:`qlab.i18n.add_messages`) when imported. A notebook imports its own
lesson module in its setup cell; :func:`load_all` imports every one (tests).
"""

from __future__ import annotations

import importlib
import pkgutil


def load_all() -> list[str]:
    """Import every lesson module (registering all exercises); returns their names."""
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("l"))
    for name in names:
        importlib.import_module(f"{__name__}.{name}")
    return names
