"""The affiliation fee, exactly in cents over a table of cases (seed 004's 136,99 €
among them), its French formatting, and its freezing: a price list changed after the
fee was computed and stored never alters the stored fee."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from workflows.formatting import euros
from workflows.models import PriceItem, PriceKind
from workflows.processes.affiliation.fee import (
    Fee,
    Price,
    PriceList,
    UnknownOption,
    compute,
    price_list,
)
from workflows.processes.affiliation.form import AffiliationForm, SchoolClass

NNBSP, NBSP = "\u202f", "\u00a0"

FLAT = Price("forfait", "forfait", "de la coopérative (forfait)", 800)
PUPIL = Price("eleve", "eleve", "des élèves", 173)
TEACHER = Price("enseignant", "enseignant", "des enseignants", 400)
TOTO = Price("abonnement_toto", "abonnement", "Abonnement à TOTO est content", 400)
COOPAINS = Price("abonnement_coopains", "abonnement", "Abonnement « Les Coopains d'accord »", 600)
INSURANCE = Price("assurance_biens", "assurance", "Assurance des biens de la coopérative", 1250)
SEED = PriceList(1, 2026, (FLAT, PUPIL, TEACHER, INSURANCE, TOTO, COOPAINS))


def seed_classes() -> list[SchoolClass]:
    """Seed 004's three classes: 63 pupils, 4 teachers."""
    return [
        SchoolClass("CP", "Mme Detruc", 1, 22),
        SchoolClass("CE1", "Mme Detruc - Mlle Machin", 2, 23),
        SchoolClass("CM2", "M. Bidule", 1, 18),
    ]


def form(
    classes: list[SchoolClass] | None = None, options: tuple[str, ...] = (), voluntary: int = 0
) -> AffiliationForm:
    return AffiliationForm(
        classes=seed_classes() if classes is None else classes,
        options=list(options),
        voluntary_cents=voluntary,
    )


def one_class(pupils: int, teachers: int = 0) -> list[SchoolClass]:
    return [SchoolClass("Classe unique", "", teachers, pupils)]


CASES = [
    # (name, prices, form, total in cents, formatted)
    ("seed 004", SEED, form(options=("abonnement_toto",)), 13699, "136,99 €"),
    ("seed without option", SEED, form(), 13299, "132,99 €"),
    (
        "1,15 € × 3",
        PriceList(1, 2026, (Price("eleve", "eleve", "des élèves", 115),)),
        form(one_class(3)),
        345,
        "3,45 €",
    ),
    (
        "0,10 € + 0,20 €",
        PriceList(
            1,
            2026,
            (
                Price("a", "abonnement", "A", 10),
                Price("b", "assurance", "B", 20),
            ),
        ),
        form(one_class(0), options=("a", "b")),
        30,
        "0,30 €",
    ),
    ("zero pupils", SEED, form(one_class(0, 2)), 800 + 800, "16,00 €"),
    (
        "every option",
        SEED,
        form(options=("assurance_biens", "abonnement_toto", "abonnement_coopains")),
        13299 + 1250 + 400 + 600,
        "155,49 €",
    ),
    ("voluntary participation", SEED, form(voluntary=1001), 13299 + 1001, "143,00 €"),
    (
        "a big school",
        SEED,
        form([SchoolClass(f"C{i}", "", 2, 60) for i in range(40)]),
        800 + 2400 * 173 + 80 * 400,
        f"4{NNBSP}480,00 €",
    ),
]


@pytest.mark.parametrize(
    ("prices", "the_form", "cents", "shown"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_the_fee_is_exact_in_cents(prices, the_form, cents, shown):
    fee = compute(prices, the_form)
    assert fee.total_cents == cents
    assert type(fee.total_cents) is int
    assert all(type(line.amount_cents) is int for line in fee.lines)
    assert fee.total_cents == sum(line.amount_cents for line in fee.lines)
    assert fee.total.replace(NBSP, " ") == shown


def test_the_seeds_lines_read_as_its_summary():
    fee = compute(SEED, form(options=("abonnement_toto",)))
    shown = [(line.text, euros(line.amount_cents).replace(NBSP, " ")) for line in fee.lines]
    assert shown == [
        ("de la coopérative (forfait)", "8,00 €"),
        (f"des élèves (63 × 1,73{NBSP}€)", "108,99 €"),
        (f"des enseignants (4 × 4,00{NBSP}€)", "16,00 €"),
        ("Abonnement à TOTO est content", "4,00 €"),
    ]
    assert fee.total == f"136,99{NBSP}€"


def test_a_product_and_a_sum_never_drift_as_floats_do():
    # 0.1 + 0.2 != 0.3 and 1.15 * 3 != 3.45 in binary floats: cents are exact.
    assert 0.1 + 0.2 != 0.3 and 1.15 * 3 != 3.45
    for unit in range(1, 1000, 7):
        for pupils in range(0, 61, 3):
            prices = PriceList(1, 2026, (Price("eleve", "eleve", "des élèves", unit),))
            fee = compute(prices, form(one_class(pupils)))
            assert fee.total_cents == unit * pupils
            expected = Decimal(unit) * pupils / 100
            assert fee.total.replace(NNBSP, "") == f"{expected:.2f}".replace(".", ",") + f"{NBSP}€"


def test_the_federation_share_is_summed_when_every_counted_item_has_one():
    shared = PriceList(
        1,
        2026,
        (
            Price("forfait", "forfait", "forfait", 800, 500),
            Price("eleve", "eleve", "élèves", 173, 93),
            Price("enseignant", "enseignant", "enseignants", 400, 400),
            Price("toto", "abonnement", "TOTO", 400, 0),
            Price("assurance", "assurance", "Assurance", 1250, None),
        ),
    )
    fee = compute(shared, form(options=("toto",)))
    assert fee.total_cents == 13699
    assert fee.federation_share_cents == 500 + 63 * 93 + 4 * 400 + 0
    # An option without a share counted: the AD did not record the federation's part.
    assert compute(shared, form(options=("toto", "assurance"))).federation_share_cents is None
    # Voluntary participation is the AD's own: the share stays that of the items.
    with_gift = compute(shared, form(options=("toto",), voluntary=500))
    assert with_gift.federation_share_cents == fee.federation_share_cents
    assert compute(SEED, form()).federation_share_cents is None


def test_an_option_not_on_the_list_is_refused_in_french():
    with pytest.raises(UnknownOption) as refused:
        compute(SEED, form(options=("abonnement_toto", "abonnement_pirate")))
    assert str(refused.value) == "Option inconnue : abonnement_pirate."
    # A per-pupil item is no option: its code cannot be ticked to count it twice.
    with pytest.raises(UnknownOption) as refused:
        compute(SEED, form(options=("eleve",)))
    assert str(refused.value) == "Option inconnue : eleve."


def test_amounts_read_the_french_way():
    assert euros(123456) == f"1{NNBSP}234,56{NBSP}€"
    assert euros(100000000) == f"1{NNBSP}000{NNBSP}000,00{NBSP}€"
    assert euros(0) == f"0,00{NBSP}€"
    assert euros(5) == f"0,05{NBSP}€"
    assert euros(13699) == f"136,99{NBSP}€"


def test_a_fee_survives_its_storage_as_json():
    fee = compute(SEED, form(options=("abonnement_toto",), voluntary=250))
    stored = json.loads(json.dumps(fee.to_data()))
    again = Fee.from_data(stored)
    assert again == fee
    assert again.total == fee.total and [line.text for line in again.lines] == [
        line.text for line in fee.lines
    ]


def _seed_list(session, ad_id: int) -> None:
    for position, (code, kind, label, cents) in enumerate(
        [
            ("forfait", PriceKind.FLAT, "de la coopérative (forfait)", 800),
            ("eleve", PriceKind.PER_PUPIL, "des élèves", 173),
            ("enseignant", PriceKind.PER_TEACHER, "des enseignants", 400),
            ("abonnement_toto", PriceKind.SUBSCRIPTION, "Abonnement à TOTO est content", 400),
        ],
        start=1,
    ):
        session.add(
            PriceItem(
                ad_id=ad_id,
                school_year=2026,
                code=code,
                kind=kind.value,
                label=label,
                price_cents=cents,
                position=position,
            )
        )


def test_a_price_changed_after_the_fee_was_frozen_never_alters_it(db, ad):
    with db.write() as session:
        _seed_list(session, ad.id)
    the_form = form(options=("abonnement_toto",))
    with db.read() as session:
        frozen = json.loads(
            json.dumps(compute(price_list(session, ad.id, 2026), the_form).to_data())
        )
    assert frozen["total_cents"] == 13699

    with db.write() as session:
        pupil = session.query(PriceItem).filter_by(ad_id=ad.id, code="eleve").one()
        pupil.price_cents = 200
        session.query(PriceItem).filter_by(ad_id=ad.id, code="abonnement_toto").delete()

    with db.read() as session:
        now = price_list(session, ad.id, 2026)
    assert compute(now, form()).total_cents == 800 + 63 * 200 + 1600  # the list did change
    kept = Fee.from_data(frozen)
    assert kept.total_cents == 13699 and kept.total == f"136,99{NBSP}€"
    assert [line.unit_cents for line in kept.lines] == [800, 173, 400, 400]
    assert kept.lines[-1].label == "Abonnement à TOTO est content"


def test_the_list_is_read_in_its_order_and_for_its_year_only(db, ad):
    with db.write() as session:
        _seed_list(session, ad.id)
        session.add(
            PriceItem(
                ad_id=ad.id,
                school_year=2027,
                code="forfait",
                kind="forfait",
                label="forfait 2027",
                price_cents=900,
                position=0,
            )
        )
    with db.read() as session:
        prices = price_list(session, ad.id, 2026)
        assert [p.code for p in prices.items] == [
            "forfait",
            "eleve",
            "enseignant",
            "abonnement_toto",
        ]
        assert prices.complete and [p.code for p in prices.options] == ["abonnement_toto"]
        assert not price_list(session, ad.id, 2027).complete
        assert price_list(session, ad.id, 2025).items == ()


def test_the_demo_lists_give_the_seeds_fee_and_load_twice_alike(db, ad):
    from coopflow.demo_prices import load_demo_prices
    from tests.factories import ADFactory

    ad35, ad99 = ADFactory(code="AD35"), ADFactory(code="AD99")
    with db.write() as session:
        ads = [session.get(type(ad), a.id) for a in (ad, ad35, ad99)]
        first = load_demo_prices(session, ads, 2026)
    assert (first.created, first.errors) == (18, [])
    with db.write() as session:
        ads = [session.get(type(ad), a.id) for a in (ad, ad35, ad99)]
        again = load_demo_prices(session, ads, 2026)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 18)
    with db.read() as session:
        seed = compute(price_list(session, ad.id, 2026), form(options=("abonnement_toto",)))
        other = price_list(session, ad35.id, 2026)
        unknown = price_list(session, ad99.id, 2026)
    assert seed.total == f"136,99{NBSP}€"
    assert seed.federation_share_cents == 200 + 63 * 93 + 4 * 93 + 400
    labels = [p.label for p in other.options]
    assert labels == [
        "Assurance des biens de la coopérative",
        "Abonnement à TOTO est content",
        "Abonnement « Les Coopains d'accord »",
    ]
    assert other.complete and compute(other, form()).federation_share_cents is None
    assert [p.cents for p in unknown.items] == [800, 173, 400, 1200, 400, 650]
