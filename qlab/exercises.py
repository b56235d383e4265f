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

Adding an exercise for lesson NN is one :func:`register` call::

    register("03.zero_point", solution=-128, wrong=(128, 0),
             checker=numeric(-128, abs_tol=0.5, traps={128: "ex.03.zero_point.sign"}),
             messages={"ex.03.zero_point.sign": {"en": "Mind the sign ...", "tr": "İşarete dikkat ..."}})
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

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
    return i18n.t(key, lang, **fmt)


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


# --- Lesson 00: memory arithmetic ------------------------------------------------

register(
    "00.bf16_7b",  # How many GB do the weights of a 7B model take in BF16?
    solution=7e9 * 2 / 1e9,
    wrong=(28, 7, 3.5, 14e9, 13.04),
    checker=numeric(14, traps={28: "ex.00.used_fp32", 7: "ex.00.used_int8", 3.5: "ex.00.used_4bit"}),
    messages={
        "ex.00.used_fp32": {
            "en": "that is the FP32 size (4 bytes per parameter). BF16 stores each parameter in 16 bits.",
            "tr": "bu FP32 boyutu (parametre başına 4 bayt). BF16 her parametreyi 16 bitte saklar.",
        },
        "ex.00.used_int8": {
            "en": "that is the INT8 size (1 byte per parameter). How many bytes are 16 bits?",
            "tr": "bu INT8 boyutu (parametre başına 1 bayt). 16 bit kaç bayt eder?",
        },
        "ex.00.used_4bit": {
            "en": "that is the 4-bit size. BF16 uses 16 bits per parameter, four times as many.",
            "tr": "bu 4 bitlik boyut. BF16 parametre başına 16 bit, yani dört katı kadar bit kullanır.",
        },
    },
)

register(
    "00.blocks_13b",  # GB for a 13B model in 4 bits plus one FP32 scale per block of 64 weights?
    solution=13e9 * (4 + 32 / 64) / 8 / 1e9,
    wrong=(6.5, 58.5, 13, 26),
    checker=numeric(
        7.3125,
        traps={6.5: "ex.00.forgot_scales", 58.5: "ex.00.bits_as_bytes", 13: "ex.00.scale_as_byte"},
    ),
    messages={
        "ex.00.forgot_scales": {
            "en": "that is the size of the 4-bit codes alone. Add the scales: 32 bits shared by 64 weights.",
            "tr": "bu yalnızca 4 bitlik kodların boyutu. Ölçekleri de ekleyin: 64 ağırlığın paylaştığı 32 bit.",
        },
        "ex.00.bits_as_bytes": {
            "en": "you counted *bytes* per parameter where the recipe gives *bits*. Divide bits by 8.",
            "tr": "tarif *bit* verirken siz parametre başına *bayt* saydınız. Biti 8'e bölün.",
        },
        "ex.00.scale_as_byte": {
            "en": "the scale adds half a *bit* per weight, not half a *byte*.",
            "tr": "ölçek ağırlık başına yarım *bayt* değil, yarım *bit* ekler.",
        },
    },
)

register(
    "00.max_bf16_24gb",  # Largest model (billions of parameters) whose BF16 weights fit in 24 GB?
    solution=24 / 2,
    wrong=(24, 6, 13, 48),
    checker=numeric(
        12,
        units=None,
        traps={
            24: "ex.00.max_one_byte",
            6: "ex.00.max_four_bytes",
            13: "ex.00.max_13b",
            48: "ex.00.max_half",
        },
    ),
    messages={
        "ex.00.max_one_byte": {
            "en": "that would need 1 byte per parameter. BF16 takes 2 bytes per parameter.",
            "tr": "bu, parametre başına 1 bayt gerektirirdi. BF16 parametre başına 2 bayt kullanır.",
        },
        "ex.00.max_four_bytes": {
            "en": "that is the answer for FP32 (4 bytes per parameter). BF16 takes 2 bytes.",
            "tr": "bu FP32 (parametre başına 4 bayt) için cevap. BF16 2 bayt kullanır.",
        },
        "ex.00.max_13b": {
            "en": "13B in BF16 needs 26 GB, more than 24 GB. Divide the memory by the bytes per parameter.",
            "tr": "13B, BF16'da 26 GB ister; bu 24 GB'tan fazla. Belleği parametre başına bayta bölün.",
        },
        "ex.00.max_half": {
            "en": "you multiplied. Memory divided by bytes per parameter gives the parameter count.",
            "tr": "çarptınız. Bellek bölü parametre başına bayt, parametre sayısını verir.",
        },
    },
)
