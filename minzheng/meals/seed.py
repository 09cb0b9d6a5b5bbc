"""The meals part of the synthetic district (`minzheng seed`): at scale 1, 116 meal points,
≈ 26,600 registered diners and ≈ 2.72 million meals in 2023 (Yuhang's 2023 work summary), so
those figures come out of the records. Smaller scales shrink all three proportionally.

- Points go to villages in proportion to their elders; types, operators, licences (a few about to
  expire), slot windows, standard prices.
- Diners are drawn from the registry's living residents aged 60+ (older and living-alone people
  more often), with categories derived from the registry and a 市民卡 each (sealed + blind index).
  About 2 % are visitors registered in other Hangzhou districts (全城通吃).
- Each diner has a home point in their township and an eating frequency (regulars, weekly,
  occasional) calibrated so the year totals ≈ 2.72 M × scale; lunch ≈ 70 %. About 1 % of the
  Yuhang diners' meals are eaten in other districts (reported through 全城通).
- Prices follow the rule set in force (Hangzhou default); every meal's split is the pricing
  engine's own quote (cached per distinct age/category/price).
- Meals are bulk-loaded (COPY on PostgreSQL). The ledger gets one balanced transaction per point
  and day (``meal.seed_day``: the day's public part per payer, self-pay per tender, the operator's
  payable) and one per other district and day for the meals eaten there, so that reconciliation
  and clearing over the seeded year agree with the ledger.

Deterministic for a given ``--seed``.
"""

from __future__ import annotations

import hashlib
import io
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from minzheng.core import crypto
from minzheng.core.seeding import SeedContext
from minzheng.core.services import audit_record
from minzheng.divisions.models import Division
from minzheng.meals import domain
from minzheng.meals.enums import (
    YUHANG,
    Channel,
    CredentialKind,
    DinerStatus,
    PointType,
    Slot,
    Tender,
)
from minzheng.meals.models import Diner, DinerCard, MealPoint, MealService, MealSlot
from minzheng.meals.selectors import config_cache_clear, rule_set_for
from minzheng.meals.services import books
from minzheng.meals.services.rules import rules_install_default
from minzheng.people.models import Person

POINTS_AT_SCALE_1 = 116
DINERS_AT_SCALE_1 = 26_600
MEALS_AT_SCALE_1 = 2_720_000
VISITOR_SHARE = 0.02
ABROAD_SHARE = 0.01
PEERS = {"330106": "西湖区", "330105": "拱墅区", "330102": "上城区", "330113": "临平区"}
SLOT_SHARE = ((Slot.BREAKFAST, 0.10), (Slot.LUNCH, 0.70), (Slot.DINNER, 0.20))
SLOT_TIMES = {Slot.BREAKFAST: (7, 0), Slot.LUNCH: (11, 0), Slot.DINNER: (17, 0)}
TENDER_SHARE = ((Tender.CASH, 0.40), (Tender.CITIZEN_CARD, 0.25), (Tender.WECHAT, 0.15), (Tender.ALIPAY, 0.15),
                (Tender.LOVE_CARD, 0.05))
TYPE_SHARE = ((PointType.ELDER_CANTEEN, 0.30), (PointType.MEAL_POINT, 0.50), (PointType.COMMUNITY_CANTEEN, 0.12),
              (PointType.DELIVERY, 0.08))
OPERATORS = ("余杭颐养餐饮服务有限公司", "杭州乐龄助餐服务中心", "余杭区邻里食堂运营有限公司", "杭州康颐养老服务有限公司",
             "杭州禾润团餐管理有限公司", "社区居家养老服务中心(自营)")
Progress = Callable[[str, int, int], None]


def run(ctx: SeedContext) -> None:
    reference = ctx.stats.get("reference_date") or date(2023, 12, 31)
    stats = seed_meals(scale=ctx.scale, seed=ctx.seed, year=reference.year, progress=ctx.progress)
    ctx.stats["meals"] = stats


def _rng(seed: int) -> np.random.Generator:
    digest = hashlib.sha256(f"{seed}:meals".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def _pick(rng: np.random.Generator, table: tuple[tuple[Any, float], ...], n: int) -> list[Any]:
    values = [v for v, _ in table]
    p = np.array([w for _, w in table], dtype=float)
    return [values[i] for i in rng.choice(len(values), size=n, p=p / p.sum())]


def seed_meals(*, scale: float, seed: int, year: int = 2023, progress: Progress = lambda *a: None,
               points: int | None = None, diners: int | None = None, meals: int | None = None,
               with_ledger: bool = True) -> dict[str, Any]:
    """Load a year of meal assistance; returns the figures counted back from the database."""
    started = time.perf_counter()
    if MealPoint.objects.filter(code__startswith="YH").exists():
        return {"skipped": "meal points already exist"}
    rng = _rng(seed)
    n_points = points or max(1, round(POINTS_AT_SCALE_1 * scale))
    n_diners = diners or max(1, round(DINERS_AT_SCALE_1 * scale))
    n_meals = meals or max(1, round(MEALS_AT_SCALE_1 * scale))
    rules_install_default()
    config_cache_clear()
    rules = rule_set_for(region=YUHANG, day=date(year, 6, 30))
    timings: dict[str, float] = {}

    mark = time.perf_counter()
    point_rows = _points(rng, n_points, year)
    timings["points"] = time.perf_counter() - mark

    mark = time.perf_counter()
    diner_rows = _diners(rng, n_diners, point_rows, year)
    timings["diners"] = time.perf_counter() - mark

    mark = time.perf_counter()
    loaded = _meals(rng, rules, point_rows, diner_rows, n_meals, year, progress)
    timings["meals"] = time.perf_counter() - mark

    mark = time.perf_counter()
    if with_ledger:
        seed_ledger(year=year, progress=progress)
    timings["ledger"] = time.perf_counter() - mark
    from minzheng.ledger.models import Account, Posting, Transaction

    # Fresh statistics for what was just bulk-loaded (the ledger's tables too): without them the
    # planner takes the year's postings for a handful of rows until autovacuum catches up.
    with connection.cursor() as cur:
        for model in (MealService, Diner, MealPoint, Transaction, Posting, Account):
            cur.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
    start, end = date(year, 1, 1), date(year, 12, 31)
    served = MealService.objects.filter(service_date__gte=start, service_date__lte=end)
    stats = {
        "points": MealPoint.objects.filter(region=YUHANG).count(),
        "diners": Diner.objects.filter(person__isnull=False).count(),
        "visitors": Diner.objects.filter(person__isnull=True).count(),
        "meals": served.filter(canteen_region=YUHANG).count(),
        "meals_abroad": served.exclude(canteen_region=YUHANG).count(),
        "loaded": loaded,
        "seconds": round(time.perf_counter() - started, 1),
        "timings": {k: round(v, 1) for k, v in timings.items()},
    }
    audit_record(actor=None, event_type="meals.seed", object_type="meals.seed", object_id=str(year),
                 extra={k: v for k, v in stats.items() if k != "timings"})
    return stats


# --- points -----------------------------------------------------------------------------------------


def _points(rng: np.random.Generator, n: int, year: int) -> list[dict[str, Any]]:
    elders_before = date(year - 60, 12, 31)
    per_village = dict(
        Person.objects.filter(status="active", birth_date__lte=elders_before).values_list("division_id")
        .annotate(n=Count("id")).values_list("division_id", "n"))
    villages = list(Division.objects.filter(code__in=list(per_village)).order_by("code").values_list(
        "code", "name", "path", "parent_id"))
    if not villages:
        villages = list(Division.objects.filter(level="village", is_civil_affairs_unit=True).order_by("code")
                        .values_list("code", "name", "path", "parent_id"))
    weights = np.array([per_village.get(v[0], 1) for v in villages], dtype=float)
    drawn = rng.choice(len(villages), size=min(n, len(villages)), replace=False, p=weights / weights.sum())
    chosen = sorted(int(i) for i in drawn)
    while len(chosen) < n:  # more points than villages: second points in the biggest places
        chosen.append(int(np.argmax(weights)))
    types = _pick(rng, TYPE_SHARE, n)
    rows: list[dict[str, Any]] = []
    objs: list[MealPoint] = []
    for i, vi in enumerate(chosen):
        code, name, path, township = villages[vi]
        short = name.removesuffix("委会").removesuffix("居委会")
        kind = types[i]
        label = {"elder_canteen": "老年食堂", "meal_point": "助餐点", "community_canteen": "社区食堂",
                 "delivery": "送餐服务点"}[kind]
        lunch = int(rng.choice([1200, 1300, 1500, 1500, 1600, 1800]))
        expires = date(year + 1, 1, 1) + timedelta(days=int(rng.integers(-30, 900)))
        p = MealPoint(code=f"YH{i + 1:03d}", name=f"{short}{label}", point_type=kind,
                      operator_org=OPERATORS[int(rng.integers(len(OPERATORS)))],
                      operator_credit_code=f"91330110MA{int(rng.integers(10**7, 10**8))}",
                      division_id=code, area_path=path, region=YUHANG, capacity=int(rng.integers(40, 300)),
                      opening_days=[1, 2, 3, 4, 5, 6, 7] if kind != "meal_point" or rng.random() < 0.5 else [1, 2, 3, 4, 5],
                      connected_to_city=True, wallet_approved=True, licence_no=f"JY3330110{int(rng.integers(10**7)):07d}",
                      licence_expires=expires)
        objs.append(p)
        rows.append({"code": p.code, "township": township, "division": code, "name": p.name,
                     "days": frozenset(p.opening_days),
                     "prices": {Slot.BREAKFAST: 500, Slot.LUNCH: lunch, Slot.DINNER: lunch}})
    with transaction.atomic():
        MealPoint.objects.bulk_create(objs)
        ids = dict(MealPoint.objects.filter(code__in=[p.code for p in objs]).values_list("code", "pk"))
        MealSlot.objects.bulk_create(
            MealSlot(point_id=ids[r["code"]], slot=w.slot, starts=w.starts, ends=w.ends, price_fen=r["prices"][w.slot])
            for r in rows for w in domain.DEFAULT_WINDOWS)
        for r in rows:
            r["id"] = ids[r["code"]]
            books.ensure([books.payable(r["code"]), books.benefit(YUHANG, r["code"]),
                          *(books.selfpay(r["code"], t) for t in Tender)],
                         division_code=r["division"], point_name=r["name"], owner=("meal_point", r["code"]))
    return rows


# --- diners -----------------------------------------------------------------------------------------


def _diners(rng: np.random.Generator, n: int, points: list[dict[str, Any]], year: int) -> dict[str, Any]:
    elders_before = date(year - 60, 6, 30)
    people = list(Person.objects.filter(status="active", birth_date__lte=elders_before).order_by("id").values_list(
        "id", "name", "birth_date", "division_id", "area_path", "living_arrangement", "self_care",
        "disability_category", "tags"))
    n_visitors = round(n * VISITOR_SHARE)
    n_local = min(n - n_visitors, len(people))
    ref = date(year, 12, 31)
    ages = np.array([domain.age_on(p[2], ref) for p in people], dtype=float)
    weight = np.clip(ages - 55, 1, None) * np.array([2.0 if p[5] == "alone" else 1.0 for p in people])
    picked = sorted(int(i) for i in rng.choice(len(people), size=n_local, replace=False, p=weight / weight.sum())) \
        if n_local else []
    by_township: dict[str, list[int]] = defaultdict(list)
    for i, pt in enumerate(points):
        by_township[pt["township"]].append(i)
    diners: list[Diner] = []
    meta: list[dict[str, Any]] = []
    for i in picked:
        pid, name, birth, division, path, living, self_care, disability, tags = people[i]
        cats = sorted(domain.derive_categories(age=domain.age_on(birth, ref), self_care=self_care,
                                               living_arrangement=living, disability_category=disability,
                                               tags=tags or []))
        township = path.split("/")[1] if path.count("/") >= 2 else ""
        home = by_township.get(township) or list(range(len(points)))
        diners.append(Diner(person_id=pid, name_masked=domain.mask_name(name), birth_date=birth, home_region=YUHANG,
                            division_id=division, area_path=path, status=DinerStatus.ACTIVE, categories=cats,
                            review_due=date(year, 1, 3)))
        meta.append({"home": home, "birth": birth, "cats": frozenset(cats), "region": YUHANG})
    regions = list(PEERS)
    for j in range(n_visitors):
        region = regions[j % len(regions)]
        birth = date(year - int(rng.integers(60, 95)), int(rng.integers(1, 13)), int(rng.integers(1, 29)))
        diners.append(Diner(external_ref=f"{region}:seed-{j:06d}", name_masked=f"{'陈林黄周吴徐孙胡'[j % 8]}*{'英华芳明'[j % 4]}",
                            birth_date=birth, home_region=region, status=DinerStatus.ACTIVE,
                            categories=["advanced_age"] if domain.age_on(birth, ref) >= 80 else []))
        meta.append({"home": list(range(len(points))), "birth": birth,
                     "cats": frozenset(diners[-1].categories), "region": region})
    with transaction.atomic():
        Diner.objects.bulk_create(diners, batch_size=2000)
        ids = [(d.pk, d.uid) for d in diners]
        cards = []
        for k, (did, uid) in enumerate(ids):
            number = f"{330110 if k < len(picked) else 330100}{did:010d}"
            cards.append(DinerCard(diner_id=did, kind=CredentialKind.CITIZEN_CARD,
                                   sealed=crypto.seal(number, f"meals|card|{uid}"),
                                   bidx=crypto.blind_index("meal_card", number), masked=domain.mask_card(number)))
        DinerCard.objects.bulk_create(cards, batch_size=2000)
    return {"ids": np.array([d for d, _ in ids], dtype=np.int64), "uids": [str(u) for _, u in ids], "meta": meta,
            "n_local": len(picked)}


# --- meals ------------------------------------------------------------------------------------------


def _frequencies(rng: np.random.Generator, n: int, target: int, days: int) -> np.ndarray:
    kind = rng.choice(3, size=n, p=[0.30, 0.40, 0.30])
    base = np.where(kind == 0, 0.75, np.where(kind == 1, 0.22, 0.04)) * rng.uniform(0.7, 1.3, size=n)
    scale = target / (base.sum() * days)
    for _ in range(20):  # calibrate under the cap of one meal a day
        p = np.minimum(base * scale, 0.97)
        expected = p.sum() * days
        if abs(expected - target) < 0.5:
            break
        scale *= target / expected
    return np.minimum(base * scale, 0.97)


MEAL_COLUMNS = (
    "point_id", "diner_id", "service_date", "slot", "occurred_at", "recorded_at", "price_fen", "discount_fen",
    "subsidy_fen", "wallet_fen", "self_pay_fen", "tenders", "subsidised", "status", "idempotency_key",
    "request_digest", "ledger_key", "payer", "home_region", "canteen_region", "rule_ref", "band", "age", "credential",
    "channel", "terminal_key_id", "operator_id", "trace", "void_reason", "voided_at", "voided_by_id",
)


def _meals(rng: np.random.Generator, rules: domain.RuleSet | None, points: list[dict[str, Any]],
           diners: dict[str, Any], target: int, year: int,
           progress: Progress) -> int:
    """Draw the year day by day (vectorised), price each meal with the engine (cached per distinct
    age, categories and price) and stream rows to the database."""
    start = date(year, 1, 1)
    days = (date(year + 1, 1, 1) - start).days
    meta = diners["meta"]
    ids = diners["ids"]
    n = len(meta)
    freq = _frequencies(rng, n, target, days)
    regions = [m["region"] for m in meta]
    is_visitor = np.array([r != YUHANG for r in regions])
    home_point = np.array([m["home"][int(rng.integers(len(m["home"])))] for m in meta], dtype=np.int64)
    alt_point = np.array([m["home"][int(rng.integers(len(m["home"])))] for m in meta], dtype=np.int64)
    birth_year = np.array([m["birth"].year for m in meta], dtype=np.int64)
    birth_md = np.array([m["birth"].month * 100 + m["birth"].day for m in meta], dtype=np.int64)
    cat_keys: dict[frozenset[str], int] = {}
    cat_id = np.array([cat_keys.setdefault(m["cats"], len(cat_keys)) for m in meta], dtype=np.int64)
    cat_sets = {v: k for k, v in cat_keys.items()}
    slot_values = [s for s, _ in SLOT_SHARE]
    slot_p = np.array([w for _, w in SLOT_SHARE])
    tender_values = [t for t, _ in TENDER_SHARE]
    tender_p = np.array([w for _, w in TENDER_SHARE])
    prices = np.array([[p["prices"][s] for s in slot_values] for p in points], dtype=np.int64)
    abroad_points = _abroad_points()
    peer_list = list(PEERS)
    payer_rule = rules.payer_rule if rules else "home_district"
    quotes: dict[tuple[int, int, int], tuple[int, int, int, bool, str, str]] = {}
    writer = _Writer()
    loaded = 0
    pg = connection.vendor == "postgresql"
    zero_digest = "\\\\x" + "00" * 32
    for d in range(days):
        day = start + timedelta(days=d)
        weekday = day.isoweekday()
        eats = np.flatnonzero(rng.random(n) < freq)
        if not len(eats):
            continue
        k_n = len(eats)
        at_alt = rng.random(k_n) < 0.15
        abroad = (~is_visitor[eats]) & (rng.random(k_n) < ABROAD_SHARE)
        slots = rng.choice(len(slot_values), size=k_n, p=slot_p)
        minutes = rng.integers(0, 90, size=k_n)
        tenders = rng.choice(len(tender_values), size=k_n, p=tender_p)
        md = day.month * 100 + day.day
        ages = year - birth_year[eats] - (md < birth_md[eats]).astype(np.int64)
        pidx = np.where(at_alt, alt_point[eats], home_point[eats])
        open_today = np.array([weekday in p["days"] for p in points])
        pidx = np.where(open_today[pidx], pidx, home_point[eats])
        meal_prices = prices[pidx, slots]
        iso = day.isoformat()
        compact = day.strftime("%Y%m%d")
        for k in range(k_n):
            i = int(eats[k])
            slot = slot_values[slots[k]]
            hh, mm = SLOT_TIMES[slot]
            mm += int(minutes[k])
            stamp = f"{iso} {hh + mm // 60:02d}:{mm % 60:02d}:00+08"
            age = int(ages[k])
            if abroad[k]:
                region = peer_list[i % len(peer_list)]
                point_id = abroad_points[region][0]
                price = 1600 if slot != Slot.BREAKFAST else 500
            else:
                pt = points[int(pidx[k])]
                point_id, price, region = pt["id"], int(meal_prices[k]), YUHANG
            key = (min(age, 100), int(cat_id[i]), price)
            q = quotes.get(key)
            if q is None:
                full = domain.quote(rules, domain.QuoteInput(price_fen=price, age=age, categories=cat_sets[key[1]]))
                q = quotes[key] = (full.discount_fen, full.subsidy_fen, full.self_pay_fen, full.subsidised,
                                   full.band, full.rule_ref)
            disc, sub, self_pay, subsidised, band, rule_ref = q
            home = regions[i]
            payer = domain.payer_for(payer_rule, home_region=home, canteen_region=region)
            tender = tender_values[tenders[k]]
            did = int(ids[i])
            if abroad[k]:
                tender_json = "{}"
                channel = Channel.INTEROP
            else:
                tender_json = f'{{"{tender}": {self_pay}}}' if self_pay else "{}"
                channel = Channel.SEED
            if pg:
                writer.line(f"{point_id}\t{did}\t{iso}\t{slot}\t{stamp}\t{stamp}\t{price}\t{disc}\t{sub}\t0\t"
                            f"{self_pay}\t{tender_json}\t{'t' if subsidised else 'f'}\tserved\tseed-{did}-{compact}\t"
                            f"{zero_digest}\t\t{payer}\t{home}\t{region}\t{rule_ref}\t{band}\t{age}\tcitizen_card\t"
                            f"{channel}\t\\N\t\\N\t[]\t\t\\N\t\\N\n")
            else:
                writer.values((point_id, did, iso, slot, _sqlite_stamp(day, hh, mm), _sqlite_stamp(day, hh, mm), price,
                               disc, sub, 0, self_pay, tender_json, subsidised, "served", f"seed-{did}-{compact}",
                               bytes(32), "", payer, home, region, rule_ref, band, age, "citizen_card", channel,
                               None, None, "[]", "", None, None))
            loaded += 1
        if writer.pending >= 100_000:
            writer.flush()
        progress("助餐记录", d + 1, days)
    writer.flush()
    return loaded


def _sqlite_stamp(day: date, hh: int, mm: int) -> str:
    """The UTC text Django's SQLite backend stores for an aware datetime (Asia/Shanghai is UTC+8)."""
    local = datetime(day.year, day.month, day.day, hh + mm // 60, mm % 60, tzinfo=UTC)
    return (local - timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S")


def _abroad_points() -> dict[str, tuple[int, str]]:
    out = {}
    for region, name in PEERS.items():
        code = f"X{region}-0001"
        p, _ = MealPoint.objects.get_or_create(code=code, defaults={
            "name": f"{name}老年食堂", "point_type": PointType.ELDER_CANTEEN, "region": region,
            "connected_to_city": True, "wallet_approved": False})
        out[region] = (p.pk, code)
    return out


class _Writer:
    """Buffers meal rows: COPY text on PostgreSQL, executemany on SQLite."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.rows: list[tuple[Any, ...]] = []

    @property
    def pending(self) -> int:
        return len(self.lines) + len(self.rows)

    def line(self, text: str) -> None:
        self.lines.append(text)

    def values(self, row: tuple[Any, ...]) -> None:
        self.rows.append(row)

    def flush(self) -> None:
        table = connection.ops.quote_name(MealService._meta.db_table)
        cols = ", ".join(connection.ops.quote_name(c) for c in MEAL_COLUMNS)
        if self.lines:
            data, self.lines = "".join(self.lines), []
            with transaction.atomic(), connection.cursor() as cur, cur.cursor.copy(
                    f"COPY {table} ({cols}) FROM STDIN") as copy:
                copy.write(data.encode())
        if self.rows:
            rows, self.rows = self.rows, []
            marks = ", ".join(["%s"] * len(MEAL_COLUMNS))
            with transaction.atomic(), connection.cursor() as cur:
                cur.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)  # noqa: S608


# --- ledger -----------------------------------------------------------------------------------------


def seed_ledger(*, year: int, progress: Progress = lambda *a: None) -> int:
    """Post the seeded year to the ledger, aggregated from the meal records themselves (so it can
    be re-run: keys already posted are skipped): one ``meal.seed_day`` per point and day, and one
    ``meal.interop`` per other district and day for what Yuhang pays for its diners there."""
    from minzheng.ledger.models import Transaction

    start, end = date(year, 1, 1), date(year, 12, 31)
    seeded = MealService.objects.filter(service_date__gte=start, service_date__lte=end,
                                        channel__in=[Channel.SEED, Channel.INTEROP], status="served")
    local = seeded.filter(canteen_region=YUHANG)
    books_by_day: dict[tuple[str, date], dict[str, Any]] = {}
    for code, day, n, price in (local.values_list("point__code", "service_date").annotate(n=Count("id"), p=Sum("price_fen"))
                                .values_list("point__code", "service_date", "n", "p")):
        books_by_day[(code, day)] = {"meals": n, "price": int(price), "payers": {}, "tenders": {}}
    for code, day, payer, fen in (local.filter(subsidised=True).values_list("point__code", "service_date", "payer")
                                  .annotate(b=Sum("discount_fen") + Sum("subsidy_fen"))
                                  .values_list("point__code", "service_date", "payer", "b")):
        if fen:
            books_by_day[(code, day)]["payers"][payer] = int(fen)
    with connection.cursor() as cur:  # self-pay per tender: the tenders JSON holds one key per seeded meal
        table = connection.ops.quote_name(MealService._meta.db_table)
        point_table = connection.ops.quote_name(MealPoint._meta.db_table)
        tender_sql = ("m.tenders->>'{t}'" if connection.vendor == "postgresql" else "json_extract(m.tenders, '$.{t}')")
        for tender in Tender:
            cur.execute(
                f"SELECT p.code, m.service_date, SUM(CAST({tender_sql.format(t=tender.value)} AS BIGINT)) "  # noqa: S608
                f"FROM {table} m JOIN {point_table} p ON p.id = m.point_id "
                f"WHERE m.service_date >= %s AND m.service_date <= %s AND m.canteen_region = %s AND m.status = 'served' "
                f"AND m.channel = %s AND {tender_sql.format(t=tender.value)} IS NOT NULL GROUP BY 1, 2",
                [start, end, YUHANG, Channel.SEED])
            for code, day, fen in cur.fetchall():
                if isinstance(day, str):
                    day = date.fromisoformat(day)
                if fen:
                    books_by_day[(code, day)]["tenders"][tender.value] = int(fen)
    abroad = (seeded.exclude(canteen_region=YUHANG).filter(payer=YUHANG, subsidised=True)
              .values_list("canteen_region", "service_date", "point__code")
              .annotate(n=Count("id"), b=Sum("discount_fen") + Sum("subsidy_fen")))
    done_keys = set(Transaction.objects.filter(idempotency_key__startswith="meals:seed").values_list(
        "idempotency_key", flat=True))
    points = {p.code: p for p in MealPoint.objects.filter(region=YUHANG)}
    total = len(books_by_day) + abroad.count()
    batch = _Batch()
    try:
        posted = _post_days(books_by_day, abroad, done_keys, points, batch, total, progress)
    except BaseException as exc:
        batch.abort(exc)
        raise
    batch.close()
    progress("助餐记账", total, total)
    return posted


def _post_days(books_by_day: dict[tuple[str, date], dict[str, Any]], abroad: Any, done_keys: set[str],
               points: dict[str, MealPoint], batch: _Batch, total: int, progress: Progress) -> int:
    from minzheng.ledger.services import txn_post

    tz = timezone.get_default_timezone()
    posted = 0
    for i, ((code, day), book) in enumerate(sorted(books_by_day.items())):
        key = f"meals:seedday:{code}:{day:%Y%m%d}"
        if i % 500 == 0:
            progress("助餐记账", i, total)
        if key in done_keys:
            continue
        batch.tick()
        point = points[code]
        lines: list[tuple[str, int]] = []
        for payer, fen in sorted(book["payers"].items()):
            account = books.public_account(payer=payer, point_code=code, point_region=YUHANG)
            books.ensure([account], division_code=point.division_id or f"{YUHANG}000000", point_name=point.name,
                         owner=("meal_point", code))
            lines.append((account, fen))
        lines += [(books.selfpay(code, t), fen) for t, fen in sorted(book["tenders"].items())]
        lines.append((books.payable(code), -book["price"]))
        txn_post(actor=None, key=key, kind="meal.seed_day", lines=lines,
                 occurred_at=datetime.combine(day, dtime(12, 0), tzinfo=tz), memo=f"{point.name} {day:%Y-%m-%d} 历史数据",
                 metadata={"meals": book["meals"], "point": code})
        posted += 1
    for region, day, code, n, fen in abroad:
        key = f"meals:seedinterop:{region}:{code}:{day:%Y%m%d}"
        if key in done_keys or not fen:
            continue
        batch.tick()
        accounts = [books.benefit(YUHANG, code), books.due_to(region)]
        books.ensure(accounts, division_code=f"{YUHANG}000000", point_name=f"{PEERS.get(region, region)}助餐点")
        txn_post(actor=None, key=key, kind="meal.interop", occurred_at=datetime.combine(day, dtime(12, 0), tzinfo=tz),
                 memo=f"全城通 {PEERS.get(region, region)} {day}", lines=[(accounts[0], int(fen)), (accounts[1], -int(fen))],
                 metadata={"meals": n})
        posted += 1
    return posted


class _Batch:
    """Groups the seed's ledger postings 500 to a database transaction (one commit, not 500):
    nothing else writes while the district is being seeded."""

    SIZE = 500

    def __init__(self) -> None:
        self.block: Any = None
        self.count = 0

    def tick(self) -> None:
        if connection.in_atomic_block and self.block is None:
            return  # inside a caller's transaction (tests): nothing to group
        if self.block is None or self.count >= self.SIZE:
            self.close()
            self.block = transaction.atomic()
            self.block.__enter__()
            self.count = 0
        self.count += 1

    def close(self) -> None:
        if self.block is not None:
            self.block.__exit__(None, None, None)
            self.block = None

    def abort(self, exc: BaseException) -> None:
        if self.block is not None:
            self.block.__exit__(type(exc), exc, exc.__traceback__)
            self.block = None


def stats_text(stats: dict[str, Any]) -> str:
    buf = io.StringIO()
    for k, v in stats.items():
        buf.write(f"{k:<14}{v}\n")
    return buf.getvalue()
