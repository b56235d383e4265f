"""Self-checking exercises for the course notebooks.

A learner writes an answer in a cell and calls ``check("00.bf16_7b", answer, LANG)``.
The call prints a friendly ``✓`` when the answer is right, otherwise a hint that
points at the likely mistake (wrong bytes per parameter, GiB instead of GB, ...)
without giving the answer away, and returns ``True``/``False``.

Every exercise is registered once, here, with

* ``solution`` -- a reference answer (the test suite checks it passes),
* ``checker`` -- ``checker(answer) -> None`` when right, else the i18n key of a
  hint (or ``(key, {placeholders})``); :func:`numeric` and :func:`choice` build
  the usual checkers,
* ``wrong`` -- typical wrong answers (the test suite checks each gets a hint),
* ``messages`` -- the exercise's own hints in English and Turkish.

Adding an exercise for lesson NN is one :func:`register` call (in ``qlab/lessons/lNN_slug.py``)::

    register("03.zero_point", solution=-128, wrong=(128, 0),
             checker=numeric(-128, abs_tol=0.5, traps={128: "ex.03.zero_point.sign"}),
             messages={"ex.03.zero_point.sign": {"en": "Mind the sign ...", "tr": "İşarete dikkat ..."}})
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np

from qlab import i18n

Hint = str | tuple[str, Mapping[str, object]]
Checker = Callable[[Any], Hint | None]


@dataclass(frozen=True)
class Exercise:
    id: str
    solution: Any
    checker: Checker
    wrong: tuple[Any, ...]
    hint_keys: tuple[str, ...] = ()  # the exercise's own messages (tests check none gives the answer away)


REGISTRY: dict[str, Exercise] = {}


def register(
    exercise_id: str,
    *,
    solution: Any,
    checker: Checker,
    wrong: Sequence[Any],
    messages: Mapping[str, Mapping[str, str]] | None = None,
) -> Exercise:
    """Register an exercise under ``exercise_id`` ("NN.name", NN = lesson number)."""
    lesson, _, name = exercise_id.partition(".")
    if not (len(lesson) == 2 and lesson.isdigit() and name):
        raise ValueError(
            f"exercise ids look like '00.bf16_7b' (lesson number, dot, name), got {exercise_id!r}"
        )
    if exercise_id in REGISTRY:
        raise ValueError(f"exercise {exercise_id!r} is already registered")
    if not wrong:
        raise ValueError(f"exercise {exercise_id!r} needs at least one typical wrong answer (wrong=...)")
    if messages:
        i18n.add_messages(messages)
    exercise = Exercise(exercise_id, solution, checker, tuple(wrong), tuple(messages or ()))
    REGISTRY[exercise_id] = exercise
    return exercise


def _hint_text(hint: Hint, lang: str) -> str:
    key, fmt = (hint, {}) if isinstance(hint, str) else hint
    # a placeholder value may be a function of the language (e.g. a description of an input)
    values = {k: (v(lang) if callable(v) else v) for k, v in fmt.items()}
    return i18n.t(key, lang, **values)


def feedback(exercise_id: str, answer: Any, lang: str) -> tuple[bool, str]:
    """``(passed, message)`` for ``answer`` -- what :func:`check` prints, without printing."""
    i18n.check_lang(lang)
    if exercise_id not in REGISTRY:
        raise KeyError(f"no exercise {exercise_id!r}; registered: {', '.join(sorted(REGISTRY))}")
    if answer is None or answer is Ellipsis:
        return False, i18n.t("ex.not_yet", lang, hint=i18n.t("ex.fill_in", lang))
    hint = REGISTRY[exercise_id].checker(answer)
    if hint is None:
        return True, i18n.t("ex.correct", lang)
    return False, i18n.t("ex.not_yet", lang, hint=_hint_text(hint, lang))


def check(exercise_id: str, answer: Any, lang: str) -> bool:
    """Print whether ``answer`` solves exercise ``exercise_id`` (with a hint if not); return that as a bool."""
    passed, message = feedback(exercise_id, answer, lang)
    print(message)
    return passed


# --- checker builders ---------------------------------------------------------


def _as_number(answer: Any) -> float | None:
    if isinstance(answer, bool) or not isinstance(answer, Real):
        return None
    value = float(answer)
    return value if math.isfinite(value) else None


def numeric(
    expected: float,
    *,
    rel_tol: float = 0.01,
    abs_tol: float = 0.0,
    traps: Mapping[float, str] | None = None,
    units: str | None = "GB",
) -> Checker:
    """A checker for a number: right within ``rel_tol``/``abs_tol`` of ``expected``.

    ``traps`` maps typical wrong values to hint keys (checked with the same
    tolerance). With ``units="GB"`` answers given in bytes or in GiB get their
    own hint. Anything else gets "too large"/"too small".
    """

    def close(a: float, b: float) -> bool:
        return math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol)

    def checker(answer: Any) -> Hint | None:
        value = _as_number(answer)
        if value is None:
            return ("ex.not_a_number", {"kind": type(answer).__name__})
        if close(value, expected):
            return None
        for trap, key in (traps or {}).items():
            if close(value, trap):
                return key
        if units == "GB":
            if close(value, expected * 1e9):
                return "ex.bytes_not_gb"
            if close(value, expected * 1e9 / 2**30):
                return "ex.gib_not_gb"
        return "ex.too_high" if value > expected else "ex.too_low"

    return checker


def choice(expected: str, options: Sequence[str], *, traps: Mapping[str, str] | None = None) -> Checker:
    """A checker for a multiple-choice answer (case- and space-insensitive, Turkish-aware).

    ``options`` are shown in the hint when the answer is not one of them; ``traps``
    maps wrong options to hint keys.
    """

    norm = i18n.fold
    folded = {norm(o): o for o in options}
    if len(folded) != len(options):
        raise ValueError(f"options {list(options)} are not distinct once case and spaces are ignored")
    if norm(expected) not in folded:
        raise ValueError(f"expected answer {expected!r} is not among the options {list(options)}")

    def checker(answer: Any) -> Hint | None:
        if not isinstance(answer, str) or norm(answer) not in folded:
            return ("ex.not_an_option", {"options": ", ".join(map(repr, options))})
        picked = folded[norm(answer)]
        if picked == folded[norm(expected)]:
            return None
        return (traps or {}).get(picked, "ex.choice_wrong")

    return checker


i18n.add_messages(
    {
        "ex.choice_wrong": {
            "en": "not this one. Reread the question and try another option.",
            "tr": "bu değil. Soruyu yeniden okuyup başka bir seçenek deneyin.",
        }
    }
)


# --- exercises where the learner writes a function ---------------------------------


def _to_plain(value: Any) -> Any:
    """Arrays/tensors as numpy, tuples/lists element by element, the rest unchanged."""
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    if isinstance(value, (tuple, list)):
        return [_to_plain(v) for v in value]
    return value


def _shape_of(value: Any) -> tuple[int, ...] | None:
    return tuple(np.shape(value)) if hasattr(value, "shape") else None


def same_result(expected: Any, got: Any, *, rtol: float = 1e-5, atol: float = 1e-6) -> bool:
    """Whether ``got`` equals ``expected`` up to float tolerance (arrays, tuples, numbers)."""
    expected, got = _to_plain(expected), _to_plain(got)
    if isinstance(expected, list):
        return (
            isinstance(got, list)
            and len(got) == len(expected)
            and all(same_result(e, g, rtol=rtol, atol=atol) for e, g in zip(expected, got, strict=True))
        )
    try:
        e = np.asarray(expected, dtype=np.float64)
        g = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return bool(expected == got)
    if e.shape != g.shape:
        return False
    return bool(np.allclose(g, e, rtol=rtol, atol=atol, equal_nan=True))


Inputs = tuple[Any, ...] | Mapping[str, Any]


def _call(func: Callable[..., Any], inputs: Inputs) -> Any:
    copied = copy.deepcopy(inputs)  # a learner's in-place edit must not change the next call
    if isinstance(copied, Mapping):
        return func(**copied)
    return func(*copied)


def _describe(inputs: Inputs) -> Callable[[str], str]:
    """The inputs in a few words, in the notebook's language (numbers as that language writes them)."""

    def describe(lang: str) -> str:
        parts = inputs.items() if isinstance(inputs, Mapping) else enumerate(inputs)
        text = "; ".join(
            f"{k}={_short(v, lang)}" if isinstance(k, str) else _short(v, lang) for k, v in parts
        )
        return text[:200]

    return describe


def _short(value: Any, lang: str) -> str:
    if hasattr(value, "shape") and getattr(value, "size", 1) > 4:
        word = i18n.t("ex.impl.array", lang, shape=" × ".join(map(str, value.shape)), dtype=str(value.dtype))
        return word
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return repr(value)
    if isinstance(value, Real):
        return i18n.format_number(value, lang, 6) if isinstance(value, float) else str(value)
    if isinstance(value, (list, tuple)):
        try:
            return i18n.format_list(value, lang, 6)
        except (TypeError, ValueError):
            return repr(value)[:40]
    return type(value).__name__


def implementation(
    reference: Callable[..., Any],
    make_inputs: Callable[[np.random.Generator], Inputs],
    *,
    trials: int = 12,
    seed: int = 0,
    edge_cases: Sequence[Inputs] = (),
    mistakes: Mapping[str, Callable[..., Any]] | None = None,
    compare: Callable[[Any, Any], bool] = same_result,
    empty_hint: Hint | None = None,
) -> Checker:
    """A checker for an exercise where the learner **writes a function**.

    The answer must be a callable. It is called on every input of ``edge_cases``
    and then on ``trials`` fresh random inputs from ``make_inputs(rng)`` (seeded,
    so a check is repeatable), each time with a copy of the arguments, and its
    result is compared with ``reference`` (usually a thin wrapper around qlab)
    by ``compare``. On the first input where they differ, the learner's result is
    compared with each function in ``mistakes`` -- typical wrong solutions such
    as "forgot to round" -- and that mistake's hint key is returned; otherwise a
    generic hint names the input (never the expected output). A function that
    raises gets the exception in the hint; a result of the wrong shape gets both
    shapes. A function that returns ``None`` (a body not written yet, or a missing
    ``return``) gets ``empty_hint`` where one is given. Register the mistake
    functions as the exercise's ``wrong`` answers, so the test suite proves each
    one gets its hint.
    """
    if not callable(reference) or not callable(make_inputs):
        raise TypeError("implementation() needs a reference function and an input maker")
    traps = dict(mistakes or {})

    def checker(answer: Any) -> Hint | None:
        if not callable(answer):
            return ("ex.impl.not_callable", {"kind": type(answer).__name__})
        rng = np.random.default_rng(seed)
        cases = list(edge_cases) + [make_inputs(rng) for _ in range(trials)]
        for inputs in cases:
            expected = _call(reference, inputs)
            try:
                got = _call(answer, inputs)
            except Exception as error:  # the learner's code: report, never crash the cell
                message = f"{type(error).__name__}: {error}"[:200]
                return ("ex.impl.raised", {"error": message, "inputs": _describe(inputs)})
            if got is None and expected is not None and empty_hint is not None:
                return empty_hint
            if compare(expected, got):
                continue
            for key, mistake in traps.items():
                try:
                    if compare(_call(mistake, inputs), got):
                        return key
                except Exception:  # a mistake function may fail on an edge case
                    continue
            want, have = _shape_of(_to_plain(expected)), _shape_of(_to_plain(got))
            if want is not None and have is not None and want != have:
                return ("ex.impl.shape", {"want": want, "got": have, "inputs": _describe(inputs)})
            return ("ex.impl.mismatch", {"inputs": _describe(inputs)})
        return None

    return checker


i18n.add_messages(
    {
        "ex.impl.not_callable": {
            "en": "define a function (def ...) and pass the function itself, not {kind}.",
            "tr": "bir fonksiyon tanımlayın (def ...) ve {kind} değil, fonksiyonun kendisini verin.",
        },
        "ex.impl.raised": {
            "en": "your function raised {error} on the input ({inputs}).",
            "tr": "fonksiyonunuz şu girdide hata verdi ({inputs}): {error}",
        },
        "ex.impl.shape": {
            "en": "your result has shape {got}, the expected shape is {want} (input: {inputs}).",
            "tr": "sonucunuzun şekli {got}, beklenen şekil {want} (girdi: {inputs}).",
        },
        "ex.impl.array": {
            "en": "array of shape {shape} ({dtype})",
            "tr": "şekli {shape} olan dizi ({dtype})",
        },
        "ex.impl.mismatch": {
            "en": "your result differs from qlab's on the input ({inputs}). Compare it step by step "
            "with the recipe above.",
            "tr": "sonucunuz şu girdide qlab'ınkinden farklı ({inputs}). Yukarıdaki tarifle adım adım "
            "karşılaştırın.",
        },
    }
)
