"""The world by valid time: units, staff, posts, absences (离岗) and stand-ins (指派)."""

from __future__ import annotations

import random

from ledger.records import Fact
from projections.world import World, canonical
from tests.rules_helpers import away, back, ev, fact, facts, office_events, t, world


def test_reference_data_as_of_an_instant() -> None:
    w = world(ev("RolesAssigned", "2024-05-01 08:00", post="water", a="s-c", b="s-a"),
              ev("StaffRegistered", "2024-06-01 08:00", staff="s-a", name="张三", rank=3, unit="repair"))
    assert w.staff("s-a", t("2024-03-01 09:00")).rank == 2  # type: ignore[union-attr]
    assert w.staff("s-a", t("2024-06-01 08:00")).rank == 3  # type: ignore[union-attr]
    assert w.staff("s-a", t("2023-12-31 09:00")) is None  # not yet registered
    before, after = w.post("water", t("2024-04-30 23:00")), w.post("water", t("2024-05-01 08:00"))
    assert before is not None and (before.a, before.b) == ("s-a", "s-b")
    assert after is not None and (after.a, after.b, after.unit) == ("s-c", "s-a", "repair")
    assert after.evidence == ("p-water", after.facts[1].event_id)
    assert [p.post for p in w.a_posts("s-a", t("2024-04-01 09:00"))] == ["water"]
    assert w.a_posts("s-a", t("2024-05-02 09:00")) == []
    assert [p.post for p in w.a_posts("s-c", t("2024-05-02 09:00"))] == ["water"]
    assert w.supervisor_of("s-a", t("2024-03-01 09:00")) == "s-sup"
    assert w.head_of("s-a", t("2024-03-01 09:00")) == "s-head"
    assert w.unit("repair", t("2024-03-01 09:00")).name == "维修服务中心"  # type: ignore[union-attr]
    assert w.name_of("s-a", t("2023-01-01 09:00")) == "张三"  # before registration: first known name
    assert w.name_of("nobody", t("2024-03-01 09:00")) == "nobody"


def test_an_absence_covers_start_to_end_half_open() -> None:
    w = world(away("s-a", "2024-03-05 09:00", handover_to="s-b", notified=["s-b", "s-sup"]),
              back("s-a", "2024-03-07 09:00"))
    assert w.absence_at("s-a", t("2024-03-05 08:59")) is None
    absence = w.absence_at("s-a", t("2024-03-05 09:00"))
    assert absence is not None and absence.handover_to == "s-b" and absence.told("s-b")
    assert absence.notified == ("s-b", "s-sup") and absence.reason == "trip"
    assert w.absence_at("s-a", t("2024-03-07 08:59")) is absence
    assert w.absence_at("s-a", t("2024-03-07 09:00")) is None  # back at the post
    assert w.absence_at("s-b", t("2024-03-06 09:00")) is None


def test_leaving_without_handover_or_notice_tells_nobody() -> None:
    w = world(away("s-a", "2024-03-05 09:00"))
    absence = w.absence_at("s-a", t("2024-12-31 09:00"))  # never came back
    assert absence is not None and absence.end is None and not absence.told("s-b")
    notified_only = world(away("s-a", "2024-03-05 09:00", notified=["s-b"])).absence_at("s-a", t("2024-03-06"))
    assert notified_only is not None and notified_only.told("s-b")


def test_back_and_away_again_at_the_same_instant_in_any_recorded_order() -> None:
    events = [away("s-a", "2024-03-05 09:00", id="x1"), back("s-a", "2024-03-07 09:00"),
              away("s-a", "2024-03-07 09:00", id="x2", handover_to="s-b")]
    for order in (events, events[::-1], [events[0], events[2], events[1]]):
        w = World.from_facts(facts(*office_events(), *order))
        now = w.absence_at("s-a", t("2024-03-08 09:00"))
        assert now is not None and now.start.event_id == "x2"
        assert w.absence_at("s-a", t("2024-03-06 09:00")).start.event_id == "x1"  # type: ignore[union-attr]


def test_an_absence_opened_and_closed_at_one_instant_covers_nothing() -> None:
    w = world(back("s-a", "2024-03-05 09:00"), away("s-a", "2024-03-05 09:00"))
    assert w.absence_at("s-a", t("2024-03-05 09:00")) is None
    assert w.absence_at("s-a", t("2024-03-06 09:00")) is None


def test_stand_in_in_force_from_designation_to_until() -> None:
    w = world(ev("StandInDesignated", "2024-03-05 10:00", post="water", stand_in="s-c", by="s-sup",
                 until="2024-03-08T18:00:00+08:00"),
              ev("StandInDesignated", "2024-03-06 10:00", post="water", stand_in="s-d", by="s-sup",
                 until="2024-03-06T18:00:00+08:00"))
    assert w.stand_in_at("water", t("2024-03-05 09:59")) is None
    assert w.stand_in_at("water", t("2024-03-05 10:00")).stand_in == "s-c"  # type: ignore[union-attr]
    assert w.stand_in_at("water", t("2024-03-06 12:00")).stand_in == "s-d"  # type: ignore[union-attr]
    assert w.stand_in_at("water", t("2024-03-06 19:00")).stand_in == "s-c"  # type: ignore[union-attr]
    assert w.stand_in_at("water", t("2024-03-08 18:00:01")) is None


def test_a_designation_without_until_lasts_while_the_absence_it_was_made_in_does() -> None:
    # 002 AB art. 5(4): A角和B角同时离岗期间，由分管领导指派其他人 — made for that period.
    march = [away("s-a", "2024-03-05 09:00"), away("s-b", "2024-03-05 09:10"),
             ev("StandInDesignated", "2024-03-05 09:20", id="si", post="water", stand_in="s-c", by="s-sup"),
             back("s-a", "2024-03-06 18:00"), back("s-b", "2024-03-06 18:00")]
    w = world(*march)
    assert w.stand_in_at("water", t("2024-03-06 10:00")).stand_in == "s-c"  # type: ignore[union-attr]
    june = world(*march, away("s-a", "2024-06-04 09:00", id="a2"), away("s-b", "2024-06-04 09:10", id="b2"))
    assert june.stand_in_at("water", t("2024-06-05 10:00")) is None  # another absence: it lapsed
    lapsed = june.designation_at("water", t("2024-06-05 10:00"))
    assert lapsed is not None and june.lapse_of(lapsed, t("2024-06-05 10:00")) == "made_before"
    # Made while A was away, before B left: it stands for the rest of A's absence.
    early = world(away("s-a", "2024-03-05 09:00"),
                  ev("StandInDesignated", "2024-03-05 09:20", post="water", stand_in="s-c", by="s-sup"),
                  away("s-b", "2024-03-07 09:00"))
    assert early.stand_in_at("water", t("2024-03-07 10:00")).stand_in == "s-c"  # type: ignore[union-attr]
    # With an until of its own, the leader said how long: that holds.
    dated = world(*march[:2], ev("StandInDesignated", "2024-03-05 09:20", post="water", stand_in="s-c",
                                 by="s-sup", until="2024-12-31T18:00:00+08:00"), *march[3:],
                  away("s-a", "2024-06-04 09:00", id="a2"), away("s-b", "2024-06-04 09:10", id="b2"))
    assert dated.stand_in_at("water", t("2024-06-05 10:00")).stand_in == "s-c"  # type: ignore[union-attr]


def test_a_stand_in_who_is_away_stands_in_for_nobody() -> None:
    w = world(away("s-a", "2024-03-05 09:00"), away("s-b", "2024-03-05 09:10"),
              ev("StandInDesignated", "2024-03-05 09:20", post="water", stand_in="s-c", by="s-sup"),
              away("s-c", "2024-03-06 08:00"))
    assert w.stand_in_at("water", t("2024-03-05 12:00")).stand_in == "s-c"  # type: ignore[union-attr]
    assert w.stand_in_at("water", t("2024-03-06 10:00")) is None
    lapsed = w.designation_at("water", t("2024-03-06 10:00"))
    assert lapsed is not None and w.lapse_of(lapsed, t("2024-03-06 10:00")) == "stand_in_away"


def test_case_events_and_unknown_posts_are_ignored() -> None:
    w = world(ev("RolesAssigned", "2024-03-01 08:00", post="nowhere", a="s-a", b="s-b"),
              ev("Reminded", "2024-03-01 08:00", case="C1", by="s-a"))
    assert w.post("nowhere", t("2024-03-02 08:00")) is None


def test_canonical_order_ignores_the_log_sequence() -> None:
    same = [fact(e, seq=i) for i, e in enumerate([
        back("s-a", "2024-03-07 09:00"), away("s-a", "2024-03-07 09:00", id="y"),
        ev("RolesAssigned", "2024-03-07 09:00", post="water", a="s-b", b="s-a"),
    ])]
    expected = [f.event_id for f in canonical(same)]
    rng = random.Random(7)
    for _ in range(10):
        shuffled = [Fact(f.event_id, f.event, rng.randrange(100), f.recorded_at) for f in same]
        rng.shuffle(shuffled)
        assert [f.event_id for f in canonical(shuffled)] == expected
