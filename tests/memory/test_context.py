from __future__ import annotations

from ponder.memory.context import estimate_tokens, fit_history, recall_note
from ponder.memory.memories import Memory
from ponder.messages import Message

u, a = Message.user, Message.assistant


def conversation(turns: int, words: int = 50) -> list[Message]:
    out = []
    for i in range(turns):
        out += [u(f"question {i} " + "word " * words), a(f"answer {i} " + "word " * words)]
    return out


def test_a_history_that_fits_is_kept_whole() -> None:
    history = conversation(3)
    fitted, dropped, note = fit_history(history, 10_000)
    assert fitted == history and dropped == 0 and note is None


def test_the_oldest_whole_turns_go_first_with_a_note() -> None:
    history = conversation(10)
    per_turn = estimate_tokens(history[0]) + estimate_tokens(history[1])
    fitted, dropped, note = fit_history(history, per_turn * 3 + 5)
    assert fitted == history[-6:] and dropped == 14
    assert note is not None and note.role == "system"
    assert "The first 14 messages" in note.text and '"question 6 word' in note.text  # the newest dropped ones
    assert "(and 2 earlier)" in note.text
    assert all(m.text in {h.text for h in history} for m in fitted)  # nothing cut mid-message


def test_a_long_question_is_shortened_in_the_note_only() -> None:
    history = [u("long " * 100), a("ok"), u("next"), a("fine")]
    fitted, _, note = fit_history(history, estimate_tokens(history[2]) + estimate_tokens(history[3]))
    assert fitted == history[2:] and note is not None and note.text.endswith('…".')


def test_a_turn_that_does_not_fit_is_dropped_not_cut() -> None:
    history = [u("x " * 5000), a("y")]
    fitted, dropped, _ = fit_history(history, 100)
    assert fitted == [] and dropped == 2


def test_recall_note() -> None:
    assert recall_note([]) is None
    m = Memory(1, "diet", "diet", "The user is vegetarian.", "user", "active", "", None, None, None, 0.0, 0.0)
    note = recall_note([m])
    assert note is not None and note.role == "system" and "- The user is vegetarian." in note.text
