from ponder.models.embedded.threads import ThreadAdvisor, usable_cores


def test_fixed_thread_count_is_used_as_is() -> None:
    assert ThreadAdvisor(fixed=3).threads() == 3


def test_advice_stays_within_one_and_the_usable_cores() -> None:
    advisor = ThreadAdvisor()
    try:
        for _ in range(3):
            assert 1 <= advisor.threads() <= usable_cores()
            assert 0.0 <= advisor.idle_cores() <= usable_cores()
    finally:
        advisor.close()
