"""The forced ``Answer:`` prefix kept out of what the person reads, on whole text and on a stream."""

import pytest

from ponder.modes.scaffolding import AnswerPrefix, strip_answer_prefix


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Answer: 11", "11"),
        (
            "Answer:The sky is blue because air scatters blue light.",
            "The sky is blue because air scatters blue light.",
        ),
        ("  **Final answer:** Paris.", "Paris."),
        ("answer = 42", "42"),
        ("Apples are red.", "Apples are red."),
        ("Eleven.\nAnswer: 11", "Eleven.\nAnswer: 11"),  # the model's own last line stays
    ],
)
def test_a_leading_answer_prefix_is_stripped(text: str, shown: str) -> None:
    assert strip_answer_prefix(text) == shown


def _through(deltas: list[str]) -> str:
    prefix = AnswerPrefix()
    return "".join(prefix.feed(d) for d in deltas) + prefix.flush()


@pytest.mark.parametrize(
    ("deltas", "shown"),
    [
        (["Ans", "wer", ": ", "11"], "11"),
        (
            ["A", "nswer: The sky ", "is blue because of Rayleigh scattering."],
            "The sky is blue because of Rayleigh scattering.",
        ),
        (["Apples ", "are red."], "Apples are red."),
        (["Also, ", "Answer: no"], "Also, Answer: no"),
        (["The sum ", "is 11."], "The sum is 11."),
        (["Answer:"], ""),
    ],
)
def test_a_stream_loses_the_prefix_and_nothing_else(deltas: list[str], shown: str) -> None:
    assert _through(deltas) == shown


def test_text_that_cannot_be_the_prefix_passes_at_once() -> None:
    prefix = AnswerPrefix()
    assert prefix.feed("The") == "The"  # not held back: the person sees it as it comes
