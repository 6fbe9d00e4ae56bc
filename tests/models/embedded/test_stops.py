from ponder.models.embedded.stops import StopMatcher


def _run(stops: list[str], pieces: list[str]) -> tuple[str, bool]:
    matcher = StopMatcher(stops)
    out = ""
    for piece in pieces:
        text, stopped = matcher.feed(piece)
        out += text
        if stopped:
            return out, True
    return out + matcher.flush(), False


def test_no_stops_passes_everything() -> None:
    assert _run([], ["a", "b"]) == ("ab", False)


def test_stop_split_across_pieces_never_leaks() -> None:
    assert _run(["STOP"], ["hello S", "T", "OP and more"]) == ("hello ", True)


def test_false_start_is_released() -> None:
    assert _run(["STOP"], ["a ST", "ART"]) == ("a START", False)


def test_earliest_of_several_stops_wins() -> None:
    assert _run(["\n\n", "###"], ["x ### y\n\n"]) == ("x ", True)


def test_held_prefix_is_flushed_at_the_end() -> None:
    assert _run(["</s>"], ["end </"]) == ("end </", False)
