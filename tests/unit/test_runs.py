"""A cached run says whether the shared cache held it: on a hit the cache hands back the object it stored."""

from ui.runs import was_handed_out


class Run:
    """Stands in for a RunResult: any object the cache could hold."""


def test_a_run_is_a_hit_from_its_second_hand_out_on():
    first, other = Run(), Run()
    assert was_handed_out(first) is False  # made by this call: a miss
    assert was_handed_out(first) is True  # the same object again: the cache held it
    assert was_handed_out(other) is False  # an equal-looking but new object is a new run


def test_a_forgotten_run_does_not_make_a_new_one_look_cached():
    for _ in range(100):  # ids of collected objects come back; the record must not mistake them
        assert was_handed_out(Run()) is False
