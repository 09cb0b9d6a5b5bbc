"""The pricing engine and the other pure rules: every quote adds up, is never negative and
explains itself; the Hangzhou defaults; caps; overrides; QR tokens; clearing and FIFO wallets."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minzheng.meals import domain
from minzheng.meals.domain import AgeBand, Caps, CategoryOverride, QuoteInput, RuleSet

RULES = domain.hangzhou_default()


def test_hangzhou_60_to_79_pays_80_percent():
    q = domain.quote(RULES, QuoteInput(price_fen=1500, age=70))
    assert (q.price_fen, q.discount_fen, q.subsidy_fen, q.wallet_fen, q.self_pay_fen) == (1500, 300, 0, 0, 1200)
    assert q.subsidised
    labels = [t.label for t in q.trace]
    assert labels[0] == "餐费 ¥15.00"
    assert "60–79岁优惠 20%(8折)" in labels
    assert labels[-1] == "老人自付 ¥12.00"
    assert q.trace[-1].remaining_fen == 1200


def test_80_and_90_tiers_are_marked_for_the_bureau_to_confirm():
    q80 = domain.quote(RULES, QuoteInput(price_fen=1500, age=85))
    q90 = domain.quote(RULES, QuoteInput(price_fen=1500, age=92))
    assert q80.self_pay_fen == 1050
    assert q90.self_pay_fen == 750
    assert "待民政局确认" in q80.trace[1].rule
    assert "待民政局确认" in q90.trace[1].rule
    assert "80–89岁档" in RULES.to_confirm
    assert "90岁以上档" in RULES.to_confirm


def test_under_60_pays_full_price_with_a_reason():
    q = domain.quote(RULES, QuoteInput(price_fen=1500, age=59))
    assert q.self_pay_fen == 1500
    assert not q.subsidised
    assert "未满60岁" in q.trace[1].label


def test_tekun_eat_free_and_dibao_pay_at_most_3_yuan():
    tekun = domain.quote(RULES, QuoteInput(price_fen=1500, age=70, categories=frozenset({"tekun"})))
    assert tekun.self_pay_fen == 0
    assert tekun.discount_fen + tekun.subsidy_fen == 1500
    assert any(t.label == "特困人员免费就餐" for t in tekun.trace)
    dibao = domain.quote(RULES, QuoteInput(price_fen=1500, age=70, categories=frozenset({"dibao"})))
    assert dibao.self_pay_fen == 300
    # the most favourable rule wins: a 低保 elder over 90 keeps paying ≤ ¥3
    both = domain.quote(RULES, QuoteInput(price_fen=400, age=92, categories=frozenset({"dibao"})))
    assert both.self_pay_fen == 200  # 5折 beats "pay at most ¥3" on a ¥4 meal


def test_fixed_subsidy_needs_the_threshold():
    rules = RuleSet(region="310107", version="t", effective_from=date(2025, 1, 1),
                    bands=(AgeBand(60, 79, discount_bp=1000, subsidy_fen=200, subsidy_threshold_fen=1500),))
    below = domain.quote(rules, QuoteInput(price_fen=1400, age=65))
    above = domain.quote(rules, QuoteInput(price_fen=1500, age=65))
    assert (below.discount_fen, below.subsidy_fen) == (140, 0)
    assert (above.discount_fen, above.subsidy_fen) == (150, 200)
    assert any("定额补贴" in t.label for t in above.trace)


def test_caps_cut_the_subsidy_first_then_the_discount():
    rules = RuleSet(region="330110", version="t", effective_from=date(2023, 1, 1),
                    bands=(AgeBand(60, None, discount_bp=2000, subsidy_fen=300),),
                    caps=Caps(per_meal_fen=400, per_day_fen=600, per_month_fen=10_000))
    q = domain.quote(rules, QuoteInput(price_fen=2000, age=70))  # 400 + 300 = 700 → cap 400
    assert (q.discount_fen, q.subsidy_fen) == (400, 0)
    q2 = domain.quote(rules, QuoteInput(price_fen=2000, age=70, day_benefit_used_fen=500))  # 100 left today
    assert (q2.discount_fen, q2.subsidy_fen) == (100, 0)
    assert [t.step for t in q2.trace].count("cap") == 2
    q3 = domain.quote(rules, QuoteInput(price_fen=2000, age=70, month_benefit_used_fen=10_000))
    assert not q3.subsidised
    assert q3.notice == "本次不享受优惠"


def test_cap_exempt_override_stays_free():
    rules = RuleSet(region="330110", version="t", effective_from=date(2023, 1, 1),
                    bands=(AgeBand(60, None, discount_bp=2000),), caps=Caps(per_meal_fen=100),
                    overrides=(CategoryOverride("tekun", "free", cap_exempt=True),))
    assert domain.quote(rules, QuoteInput(price_fen=2000, age=70, categories=frozenset({"tekun"}))).self_pay_fen == 0


def test_second_meal_in_a_slot_is_full_price_or_refused():
    full = domain.quote(RULES, QuoteInput(price_fen=1500, age=70, slot_taken=True, slot_label="午餐"))
    assert full.self_pay_fen == 1500
    assert not full.refused
    assert "午餐已享受过优惠" in full.notice
    refusing = domain.select_rule_set([RULES], region="330110", day=date(2024, 1, 1))
    assert refusing is not None
    import dataclasses

    strict = dataclasses.replace(refusing, second_meal="refuse")
    q = domain.quote(strict, QuoteInput(price_fen=1500, age=70, slot_taken=True, slot_label="午餐"))
    assert q.refused
    assert "不能结算" in q.notice


def test_wallet_comes_after_the_subsidy_and_before_self_pay():
    q = domain.quote(RULES, QuoteInput(price_fen=1500, age=70, wallet_available_fen=500))
    assert (q.discount_fen, q.wallet_fen, q.self_pay_fen) == (300, 500, 700)
    assert [t.step for t in q.trace] == ["price", "discount", "wallet", "self_pay"]
    off = domain.quote(RULES, QuoteInput(price_fen=1500, age=70, wallet_available_fen=500, wallet_allowed=False))
    assert off.wallet_fen == 0


def test_rule_set_selection_prefers_the_district_and_the_latest_version():
    city = RuleSet(region="3301", version="c1", effective_from=date(2022, 1, 1))
    old = RuleSet(region="330110", version="y1", effective_from=date(2023, 1, 1), effective_to=date(2023, 12, 31))
    new = RuleSet(region="330110", version="y2", effective_from=date(2024, 1, 1))
    sets = [city, old, new]
    assert domain.select_rule_set(sets, region="330110", day=date(2023, 6, 1)) is old
    assert domain.select_rule_set(sets, region="330110", day=date(2024, 6, 1)) is new
    assert domain.select_rule_set(sets, region="330106", day=date(2024, 6, 1)) is city
    assert domain.select_rule_set(sets, region="330110", day=date(2021, 6, 1)) is None


def test_rule_sets_round_trip_and_refuse_bad_input():
    assert domain.rule_set_from_dict(domain.rule_set_to_dict(RULES)) == RULES
    bad = domain.rule_set_to_dict(RULES)
    bad["bands"] = [{"min_age": 60, "max_age": 79, "discount_bp": 12000}]
    with pytest.raises(domain.RuleSetError) as err:
        domain.rule_set_from_dict(bad)
    assert "bands[0]" in err.value.fields
    overlap = domain.rule_set_to_dict(RULES)
    overlap["bands"] = [{"min_age": 60, "max_age": 80}, {"min_age": 80, "max_age": None}]
    with pytest.raises(domain.RuleSetError):
        domain.rule_set_from_dict(overlap)
    with pytest.raises(domain.RuleSetError):
        domain.rule_set_from_dict({"region": "330110", "version": "x", "effective_from": "2024-13-01"})


# --- properties ------------------------------------------------------------------------------------

bands = st.lists(
    st.tuples(st.integers(0, 10_000), st.integers(0, 3000), st.integers(0, 3000)), min_size=1, max_size=3)


@st.composite
def rule_sets(draw: st.DrawFn) -> RuleSet:
    chosen = draw(bands)
    starts = [60, 80, 90][: len(chosen)]
    ends = [*(s - 1 for s in starts[1:]), None]
    return RuleSet(
        region="330110", version="p", effective_from=date(2023, 1, 1),
        bands=tuple(AgeBand(a, b, discount_bp=d, subsidy_fen=s, subsidy_threshold_fen=t)
                    for (d, s, t), a, b in zip(chosen, starts, ends, strict=True)),
        overrides=tuple(draw(st.lists(st.builds(
            CategoryOverride, category=st.sampled_from(["tekun", "dibao", "alone"]),
            mode=st.sampled_from(list(domain.OVERRIDE_MODES)), value=st.integers(0, 5000),
            cap_exempt=st.booleans()), max_size=3))),
        caps=Caps(per_meal_fen=draw(st.none() | st.integers(0, 3000)), per_day_fen=draw(st.none() | st.integers(0, 5000)),
                  per_month_fen=draw(st.none() | st.integers(0, 50_000))),
        second_meal=draw(st.sampled_from(["full_price", "refuse"])),
    )


@settings(max_examples=400, deadline=None)
@given(rules=rule_sets(), price=st.integers(0, domain.MAX_PRICE_FEN), age=st.integers(0, 110),
       cats=st.frozensets(st.sampled_from(["tekun", "dibao", "alone", "advanced_age"])),
       used_day=st.integers(0, 6000), used_month=st.integers(0, 60_000), wallet=st.integers(0, 200_000),
       taken=st.booleans(), eligible=st.booleans())
def test_a_quote_always_adds_up_and_is_never_negative(rules, price, age, cats, used_day, used_month, wallet, taken,
                                                      eligible):
    q = domain.quote(rules, QuoteInput(price_fen=price, age=age, categories=cats, eligible=eligible,
                                       slot_taken=taken, day_benefit_used_fen=used_day,
                                       month_benefit_used_fen=used_month, wallet_available_fen=wallet))
    assert all(part >= 0 for part in q.parts())
    assert sum(q.parts()) == q.price_fen == price
    assert q.wallet_fen <= wallet
    # the trace tells the same story: start at the price, end at what the elder pays
    assert q.trace[0].remaining_fen == price
    assert q.trace[-1].remaining_fen == q.self_pay_fen
    assert sum(t.amount_fen for t in q.trace[1:]) == q.self_pay_fen - price
    if taken or not eligible or age < rules.min_age:
        assert not q.subsidised
    if rules.caps.per_meal_fen is not None and not any(
            o.cap_exempt and o.category in cats for o in rules.overrides):
        assert q.benefit_fen <= rules.caps.per_meal_fen


def test_a_category_discount_above_the_band_leaves_the_subsidy_only_what_is_left():
    # Found by the property test above: a 4 % 特困 discount on a 25 fen meal beside a 25 fen band
    # subsidy paid out 26 fen, and the elder was owed 1 fen.
    rules = RuleSet(region="330110", version="p", effective_from=date(2023, 1, 1),
                    bands=(AgeBand(60, None, discount_bp=0, subsidy_fen=25, subsidy_threshold_fen=0),),
                    overrides=(CategoryOverride(category="tekun", mode="discount", value=400),))
    q = domain.quote(rules, QuoteInput(price_fen=25, age=60, categories=frozenset({"tekun"}), eligible=True))
    assert (q.benefit_fen, q.self_pay_fen) == (25, 0)
    assert all(part >= 0 for part in q.parts())


@given(self_pay=st.integers(0, 10_000), split=st.lists(st.integers(0, 5000), min_size=1, max_size=5))
def test_tenders_must_add_up_exactly(self_pay, split):
    names = ["cash", "wechat", "alipay", "citizen_card", "love_card"]
    tenders = dict(zip(names, split, strict=False))
    if sum(tenders.values()) == self_pay:
        assert sum(domain.split_tenders(self_pay, tenders).values()) == self_pay
    else:
        with pytest.raises(ValueError, match="不符"):
            domain.split_tenders(self_pay, tenders)


# --- QR tokens -----------------------------------------------------------------------------------


def test_qr_token_round_trip_expiry_and_tampering():
    token = domain.qr_make(42, now_ts=1_700_000_000, ttl=60)
    assert domain.qr_read(token, now_ts=1_700_000_030) == 42
    with pytest.raises(domain.TokenError) as expired:
        domain.qr_read(token, now_ts=1_700_000_060)
    assert expired.value.code == "qr_expired"
    prefix, _payload, mac = token.split(".")
    forged = domain.qr_make(43, now_ts=1_700_000_000, ttl=60).split(".")[1]
    with pytest.raises(domain.TokenError) as bad:
        domain.qr_read(f"{prefix}.{forged}.{mac}", now_ts=1_700_000_010)
    assert bad.value.code == "bad_qr"
    for junk in ("", "MQ1.x.y", "hello", "MQ1.!!.??"):
        with pytest.raises(domain.TokenError):
            domain.qr_read(junk, now_ts=0)


# --- slots, categories, working days ------------------------------------------------------------------


def test_slot_windows():
    w = domain.DEFAULT_WINDOWS
    assert domain.slot_at(time(11, 30), w).slot == "lunch"
    assert domain.slot_at(time(14, 0), w) is None
    assert domain.check_slot_windows(w) == {}
    overlap = [domain.SlotWindow("lunch", time(10), time(14)), domain.SlotWindow("dinner", time(13), time(18))]
    assert "dinner" in domain.check_slot_windows(overlap)


def test_categories_come_from_the_registry():
    cats = domain.derive_categories(age=86, self_care="dependent", living_arrangement="alone",
                                    disability_category="physical", tags=["低保", "other"])
    assert cats == {"advanced_age", "disabled_care", "alone", "disability", "dibao"}
    assert domain.category_labels(cats) == ["低保", "失能", "独居", "高龄", "残疾"]


def test_review_is_due_the_next_working_day():
    import chinese_calendar

    # Friday 2024-09-13 → Monday 16 is 中秋 holiday; the 14th (Saturday) is a make-up workday
    assert domain.review_deadline(date(2024, 9, 13), chinese_calendar.is_workday) == date(2024, 9, 14)
    assert domain.review_deadline(date(2024, 9, 30), chinese_calendar.is_workday) == date(2024, 10, 8)


# --- clearing, wallets, anomalies -----------------------------------------------------------------


def test_clearing_nets_each_pair_once():
    flows = [domain.ClearingFlow("330110", "330106", 10, 4500), domain.ClearingFlow("330106", "330110", 20, 9000),
             domain.ClearingFlow("city", "330110", 5, 2000), domain.ClearingFlow("330110", "330110", 99, 1)]
    assert domain.net_settlements(flows) == [("330106", "330110", 4500), ("city", "330110", 2000)]
    pos = domain.net_positions(flows)
    assert sum(pos.values()) == 0
    assert pos["330110"] == 6500


@given(balance=st.integers(0, 100_000), grants=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 50_000)),
                                                          min_size=1, max_size=6))
def test_wallet_balance_belongs_to_the_latest_expiring_grants(balance, grants):
    rows = [(i, date(2024, 1, 1) + timedelta(days=d), amount) for i, (d, amount) in enumerate(grants)]
    out = domain.unspent_by_grant(balance, rows)
    assert sum(out.values()) == min(balance, sum(a for _, _, a in rows))
    assert all(0 <= out[i] <= a for i, _, a in rows)


def test_velocity_pairs_two_points_close_in_time():
    t = datetime(2024, 5, 6, 11, 30, tzinfo=UTC)
    s = [domain.Sighting(1, 10, t), domain.Sighting(1, 11, t + timedelta(minutes=9)),
         domain.Sighting(2, 10, t), domain.Sighting(2, 11, t + timedelta(minutes=40)),
         domain.Sighting(3, 10, t), domain.Sighting(3, 10, t + timedelta(minutes=1))]
    pairs = domain.velocity_pairs(s, minutes=30)
    assert [(a.diner_id, b.point_id) for a, b in pairs] == [(1, 11)]


def test_money_text_has_no_floats():
    assert domain.pct_text(2000) == "20%"
    assert domain.pct_text(1550) == "15.5%"
    assert domain.zhe_text(2000) == "8折"
    assert domain.zhe_text(1500) == "8.5折"
    assert domain.yuan(-1234) == "-¥12.34"
    assert domain.mask_name("王秀英") == "王*英"
    assert domain.mask_name("张三") == "张*"
    assert domain.mask_card("HZ330110000123") == "HZ********0123"
