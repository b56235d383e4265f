"""Every registered exercise: its reference solution passes, its typical wrong answers get a hint."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from qlab import exercises, i18n
from qlab.exercises import REGISTRY, check, choice, feedback, numeric, register

IDS = sorted(REGISTRY)
GENERIC = {
    "ex.too_high",
    "ex.too_low",
    "ex.not_a_number",
    "ex.bytes_not_gb",
    "ex.gib_not_gb",
    "ex.choice_wrong",
}


def _key(hint):
    return hint if isinstance(hint, str) else hint[0]


def _spellings(solution) -> list[str]:
    """Ways a hint could give the answer away."""
    if isinstance(solution, str):
        return [solution]
    if callable(solution):  # a function the learner writes: hints never print a function
        return []
    out = {format(solution, "g")}
    for lang in i18n.LANGS:
        out |= {i18n.format_number(solution, lang, d) for d in (1, 2, 4)}
    return sorted(out)


def test_lesson_00_is_registered():
    assert {"00.bf16_7b", "00.blocks_13b", "00.max_bf16_24gb"} <= set(REGISTRY)


@pytest.mark.parametrize("exercise_id", IDS)
@pytest.mark.parametrize("lang", i18n.LANGS)
def test_reference_solution_passes(exercise_id, lang, capsys):
    assert check(exercise_id, REGISTRY[exercise_id].solution, lang) is True
    assert capsys.readouterr().out == i18n.t("ex.correct", lang) + "\n"


@pytest.mark.parametrize("exercise_id", IDS)
@pytest.mark.parametrize("lang", i18n.LANGS)
def test_typical_wrong_answers_get_a_hint(exercise_id, lang, capsys):
    ex = REGISTRY[exercise_id]
    assert ex.wrong
    for wrong in ex.wrong:
        assert check(exercise_id, wrong, lang) is False, f"{exercise_id}: {wrong!r} was accepted"
        out = capsys.readouterr().out
        assert out.startswith("✗") and ("Hint:" in out or "İpucu:" in out), out
        for spelling in _spellings(ex.solution):
            assert not re.search(rf"(?<![\d.,]){re.escape(spelling)}(?![\d]|[.,]\d)", out), (
                f"{exercise_id}: the hint for {wrong!r} gives away the answer: {out}"
            )
    specific = [w for w in ex.wrong if _key(ex.checker(w)) not in GENERIC]
    assert specific, f"{exercise_id}: no wrong answer gets a specific hint"


@pytest.mark.parametrize("exercise_id", IDS)
def test_own_hints_never_contain_the_answer(exercise_id):
    ex = REGISTRY[exercise_id]
    for key in ex.hint_keys:
        for lang in i18n.LANGS:
            text = i18n.MESSAGES[key][lang]
            for spelling in _spellings(ex.solution):
                assert not re.search(rf"(?<![\d.,]){re.escape(spelling)}(?![\d]|[.,]\d)", text), (key, lang)


@pytest.mark.parametrize("exercise_id", IDS)
@pytest.mark.parametrize("answer", [None, ..., "fourteen", True, float("nan"), [1, 2]])
def test_non_answers_get_a_hint_not_a_crash(exercise_id, answer):
    passed, message = feedback(exercise_id, answer, "tr")
    assert passed is False and message.startswith("✗ Henüz değil. İpucu:")


def test_specific_hints_for_lesson_00(capsys):
    assert feedback("00.bf16_7b", 28, "en")[1].endswith(i18n.t("ex.00.used_fp32", "en"))
    assert feedback("00.bf16_7b", 14e9, "en")[1].endswith(i18n.t("ex.bytes_not_gb", "en"))
    assert feedback("00.bf16_7b", 14e9 / 2**30, "tr")[1].endswith(i18n.t("ex.gib_not_gb", "tr"))
    assert feedback("00.bf16_7b", 1000, "en")[1].endswith(i18n.t("ex.too_high", "en"))
    assert feedback("00.bf16_7b", 1, "en")[1].endswith(i18n.t("ex.too_low", "en"))
    assert feedback("00.blocks_13b", 6.5, "en")[1].endswith(i18n.t("ex.00.forgot_scales", "en"))
    assert feedback("00.bf16_7b", None, "en")[1].endswith(i18n.t("ex.fill_in", "en"))
    # tolerant: 1 % either way, numpy scalars and ints accepted
    import numpy as np

    assert feedback("00.bf16_7b", np.float32(14.1), "en")[0]
    assert feedback("00.blocks_13b", 13e9 * 4.5 / 8 / 1e9, "en")[0]
    assert not feedback("00.blocks_13b", 7.3125 * 1.02, "en")[0]


def test_errors_are_clear():
    with pytest.raises(KeyError, match="no exercise '99.nope'.*00.bf16_7b"):
        check("99.nope", 1, "en")
    with pytest.raises(ValueError, match="unknown language 'de'"):
        check("00.bf16_7b", 14, "de")


@pytest.fixture
def scratch():
    """Register throwaway exercises and remove them (and their messages) afterwards."""
    before_ex, before_msg = dict(REGISTRY), dict(i18n.MESSAGES)
    yield
    REGISTRY.clear()
    REGISTRY.update(before_ex)
    i18n.MESSAGES.clear()
    i18n.MESSAGES.update(before_msg)


def test_register_validates(scratch):
    ok = {"checker": numeric(1), "solution": 1, "wrong": (2,)}
    with pytest.raises(ValueError, match="look like '00.bf16_7b'"):
        register("zero.one", **ok)
    with pytest.raises(ValueError, match="already registered"):
        register("00.bf16_7b", **ok)
    with pytest.raises(ValueError, match="typical wrong answer"):
        register("99.x", checker=numeric(1), solution=1, wrong=())
    with pytest.raises(ValueError, match="no text for tr"):
        register("99.y", **ok, messages={"ex.99.y": {"en": "only English"}})


def test_adding_an_exercise_is_one_call(scratch, capsys):
    register(
        "99.zero_point",
        solution=-128,
        wrong=(128,),
        checker=numeric(-128, abs_tol=0.5, units=None, traps={128: "ex.99.sign"}),
        messages={"ex.99.sign": {"en": "Mind the sign.", "tr": "İşarete dikkat."}},
    )
    assert check("99.zero_point", -128, "en")
    assert not check("99.zero_point", 128, "tr")
    assert capsys.readouterr().out.splitlines()[-1] == "✗ Henüz değil. İpucu: İşarete dikkat."


def test_choice_checker_is_case_and_dotted_i_insensitive():
    checker = choice("İki", ["bir", "İki", "INT8"], traps={"bir": "ex.choice_wrong"})
    assert checker("  iki ") is None
    assert checker("İKİ") is None
    assert checker("ıkı") is None  # a dotless i typed on a Turkish keyboard
    assert checker("BIR") == "ex.choice_wrong"
    key, fmt = checker("üç")
    assert key == "ex.not_an_option" and "'INT8'" in fmt["options"]
    assert checker(3)[0] == "ex.not_an_option"
    with pytest.raises(ValueError, match="not among the options"):
        choice("dört", ["bir", "iki"])
    with pytest.raises(ValueError, match="not distinct"):
        choice("bir", ["bir", "BİR"])


def test_numeric_checker_edges():
    checker = numeric(35)
    assert checker(35.2) is None
    assert _key(checker(math.inf)) == "ex.not_a_number"
    assert checker(35e9) == "ex.bytes_not_gb"
    assert exercises.numeric(0, abs_tol=1e-9, units=None)(0.0) is None


# --- exercises where the learner writes a function ----------------------------------


def _double(x):
    return np.asarray(x) * 2


def _make(rng):
    return (rng.normal(size=(3, 4)),)


@pytest.fixture
def doubling(scratch):
    def forgot_the_factor(x):
        return np.asarray(x)

    register(
        "99.double",
        solution=_double,
        wrong=(forgot_the_factor,),
        checker=exercises.implementation(
            _double, _make, edge_cases=[(np.zeros(2),)], mistakes={"ex.99.factor": forgot_the_factor}
        ),
        messages={"ex.99.factor": {"en": "Multiply by two.", "tr": "İkiyle çarpın."}},
    )


def test_implementation_checker(doubling):
    assert feedback("99.double", lambda x: x * 2, "en")[0]
    assert feedback("99.double", lambda x: np.asarray(x), "tr")[1].endswith("İkiyle çarpın.")
    passed, message = feedback("99.double", lambda x: x * 3, "en")
    assert not passed and "differs from qlab's" in message and "array of shape 3 × 4 (float64)" in message
    passed, message = feedback("99.double", lambda x: x * 3, "tr")
    assert "şekli 3 × 4 olan dizi" in message and "." not in message.split("(")[1].split(")")[0]
    passed, message = feedback("99.double", lambda x: (x * 2).ravel(), "en")
    assert not passed and "shape (6,)" in message or "shape (12,)" in message
    passed, message = feedback("99.double", lambda x: 1 / 0, "en")
    assert not passed and "ZeroDivisionError" in message
    assert not feedback("99.double", 2, "en")[0]


def test_implementation_checker_copies_inputs(doubling):
    def in_place(x):
        x *= 2  # modifies the caller's array: must not change later checks
        return x

    assert feedback("99.double", in_place, "en")[0]


def test_same_result():
    from qlab.exercises import same_result

    assert same_result((np.ones(2), 3), [np.ones(2) + 1e-9, 3.0])
    assert not same_result((np.ones(2), 3), (np.ones(3), 3))
    assert not same_result(np.ones((2, 2)), np.ones(4))
    assert same_result("a", "a") and not same_result("a", "b")


def test_input_descriptions_follow_the_language():
    from qlab.exercises import _describe

    text = _describe((np.arange(3.0) / 4, 0.5, 4, "nf4"))
    assert text("tr") == "[0; 0,25; 0,5]; 0,5; 4; 'nf4'" and text("en") == "[0, 0.25, 0.5]; 0.5; 4; 'nf4'"
    assert _describe({"W": np.ones((8, 8), np.float32)})("tr") == "W=şekli 8 × 8 olan dizi (float32)"
