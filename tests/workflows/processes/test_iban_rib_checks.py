"""The RIB checks of the ``iban`` process: pure functions, one table of typed RIBs."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from schwifty import IBAN

from workflows.processes.iban.rib_checks import (
    BANK_NOT_IN_REGISTRY,
    BIC_BAD_COUNTRY,
    BIC_BAD_FORMAT,
    BIC_BAD_LENGTH,
    IBAN_BAD_CHECK_DIGITS,
    IBAN_BAD_COUNTRY,
    IBAN_BAD_FORMAT,
    IBAN_BAD_LENGTH,
    IBAN_BAD_RIB_KEY,
    RIB_DATE_IN_FUTURE,
    RIB_TOO_OLD,
    RibInput,
    RibVerdict,
    check_rib,
    mask_iban,
)

TODAY = date(2025, 6, 15)
HOLDER = "OFFICE CENTRAL DE COOPERATION A L ECOLE"

# Crédit Agricole (30006, AGRIFRPP), computed by schwifty: mod-97 and RIB key both good.
FR_IBAN = str(IBAN.generate("FR", bank_code="30006", account_code="00011234567"))
FR_BIC = "AGRIFRPPXXX"
# The well-known example, good too (RIB key 89).
FR_EXAMPLE = "FR7630006000011234567890189"
# A bank code unknown to the registry: a valid IBAN whose bank no one can name.
FR_UNKNOWN_BANK = str(IBAN.generate("FR", bank_code="99999", account_code="00011234567"))
DE_IBAN = "DE89370400440532013000"  # Commerzbank, COBADEFF


def mod97_check_digits(country: str, bban: str) -> str:
    """The ISO 13616 check digits, by the standard formula (independent of the code)."""
    digits = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{98 - int(digits) % 97:02d}"


def wrong_rib_key(iban: str) -> str:
    """``iban`` with another RIB key (its last 2 digits), mod-97 recomputed so it is good."""
    bban = iban[4:-2] + f"{(int(iban[-2:]) + 1) % 100:02d}"
    return "FR" + mod97_check_digits("FR", bban) + bban


def rib(
    iban: str = FR_IBAN,
    bic: str = FR_BIC,
    holder: str = HOLDER,
    rib_date: date = TODAY - timedelta(days=30),
) -> RibInput:
    return RibInput(iban=iban, bic=bic, holder=holder, rib_date=rib_date)


def verdict(value: RibInput) -> RibVerdict:
    return check_rib(value, today=TODAY, expected_holders=[HOLDER])


def test_the_test_formula_agrees_with_schwifty() -> None:
    assert mod97_check_digits("FR", FR_EXAMPLE[4:]) == FR_EXAMPLE[2:4]
    assert mod97_check_digits("FR", FR_IBAN[4:]) == FR_IBAN[2:4]


@pytest.mark.parametrize(
    ("value", "field", "message"),
    [
        pytest.param(rib(iban=""), "iban", "Saisissez l'IBAN.", id="iban-empty"),
        pytest.param(
            rib(iban=FR_EXAMPLE[:2] + "77" + FR_EXAMPLE[4:]),
            "iban",
            IBAN_BAD_CHECK_DIGITS,
            id="iban-wrong-mod97",
        ),
        pytest.param(rib(iban=FR_EXAMPLE[:-1]), "iban", IBAN_BAD_LENGTH, id="iban-short"),
        pytest.param(rib(iban="XX" + FR_EXAMPLE[2:]), "iban", IBAN_BAD_COUNTRY, id="iban-xx"),
        pytest.param(
            rib(iban=FR_EXAMPLE[:-2] + "A9"), "iban", IBAN_BAD_FORMAT, id="iban-letter-in-key"
        ),
        pytest.param(rib(iban="FR76-3000-6000"), "iban", IBAN_BAD_FORMAT, id="iban-punctuation"),
        pytest.param(
            rib(iban=wrong_rib_key(FR_EXAMPLE)), "iban", IBAN_BAD_RIB_KEY, id="iban-rib-key"
        ),
        pytest.param(
            rib(iban=wrong_rib_key(FR_IBAN)), "iban", IBAN_BAD_RIB_KEY, id="iban-rib-key-2"
        ),
        pytest.param(rib(bic=""), "bic", "Saisissez le BIC.", id="bic-empty"),
        pytest.param(rib(bic="AGRIFRP"), "bic", BIC_BAD_LENGTH, id="bic-7-chars"),
        pytest.param(rib(bic="AGRIFRPP12"), "bic", BIC_BAD_LENGTH, id="bic-10-chars"),
        pytest.param(rib(bic="AGRI1RPP"), "bic", BIC_BAD_FORMAT, id="bic-digit-in-country"),
        pytest.param(rib(bic="AGRIXXPP"), "bic", BIC_BAD_COUNTRY, id="bic-country-xx"),
        pytest.param(
            rib(bic="COBADEFFXXX"),
            "bic",
            "Le pays du BIC (DE) n'est pas celui de l'IBAN (FR).",
            id="bic-country-mismatch",
        ),
        pytest.param(
            rib(bic="BNPAFRPPXXX"),
            "bic",
            "Ce BIC n'est pas celui de la banque de cet IBAN (attendu : AGRIFRPP).",
            id="bic-other-bank",
        ),
        pytest.param(
            rib(rib_date=TODAY + timedelta(days=1)),
            "rib_date",
            RIB_DATE_IN_FUTURE,
            id="date-tomorrow",
        ),
        pytest.param(
            rib(rib_date=TODAY - timedelta(days=366)), "rib_date", RIB_TOO_OLD, id="date-366"
        ),
        pytest.param(
            rib(holder="  "), "holder", "Saisissez le titulaire du compte.", id="holder-empty"
        ),
        pytest.param(
            rib(holder=" ' - "), "holder", "Saisissez le titulaire du compte.", id="holder-dots"
        ),
    ],
)
def test_refused(value: RibInput, field: str, message: str) -> None:
    result = verdict(value)
    assert result.errors == {field: message}
    assert result.outcome == "rejected"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(rib(), id="generated"),
        pytest.param(rib(iban=FR_EXAMPLE), id="example"),
        pytest.param(rib(iban="fr76 3000 6000 0112 3456 7890 189"), id="spaces-lower"),
        pytest.param(rib(iban=f"\t{FR_EXAMPLE[:4]}\u00a0{FR_EXAMPLE[4:]} "), id="nbsp-tab"),
        pytest.param(rib(bic="agrifrpp"), id="bic-8-lower"),
        pytest.param(rib(bic="AGRI FR PP XXX"), id="bic-spaces"),
        pytest.param(rib(bic="AGRIFRPP123"), id="bic-other-branch"),
        pytest.param(rib(rib_date=TODAY), id="date-today"),
        pytest.param(rib(rib_date=TODAY - timedelta(days=364)), id="date-364"),
        pytest.param(rib(rib_date=TODAY - timedelta(days=365)), id="date-365"),
        pytest.param(rib(holder="Office central de coopération à l'école"), id="holder-folded"),
        pytest.param(rib(holder="office-central de coopération, à l’École."), id="holder-punct"),
    ],
)
def test_verified(value: RibInput) -> None:
    result = verdict(value)
    assert (result.errors, result.review, result.outcome) == ({}, [], "verified")
    assert result.iban == "".join(value.iban.split()).upper()
    assert result.bic == "".join(value.bic.split()).upper()


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        pytest.param(
            rib(iban=DE_IBAN, bic="COBADEFFXXX"),
            "IBAN non français (pays DE) : vérifiez-le sur le RIB joint.",
            id="german-iban",
        ),
        pytest.param(
            rib(iban=FR_UNKNOWN_BANK, bic="ABCDFRPP"), BANK_NOT_IN_REGISTRY, id="bank-unknown"
        ),
        pytest.param(
            rib(holder="Coopérative scolaire de l'école Jules Ferry"),
            "Titulaire « Coopérative scolaire de l'école Jules Ferry » non reconnu : "
            f"l'AD attend « {HOLDER} ».",
            id="holder-mismatch",
        ),
    ],
)
def test_needs_review(value: RibInput, reason: str) -> None:
    result = verdict(value)
    assert (result.errors, result.review, result.outcome) == ({}, [reason], "needs_review")


def test_several_expected_holders_any_matches_and_all_are_named() -> None:
    holders = ["OCCE 75", "Coopérative scolaire Jules Ferry"]
    assert (
        check_rib(
            rib(holder="COOPERATIVE SCOLAIRE JULES-FERRY"), today=TODAY, expected_holders=holders
        ).review
        == []
    )
    assert check_rib(rib(holder="Mairie"), today=TODAY, expected_holders=holders).review == [
        "Titulaire « Mairie » non reconnu : "
        "l'AD attend « OCCE 75 » ou « Coopérative scolaire Jules Ferry »."
    ]
    assert check_rib(rib(holder="Mairie"), today=TODAY, expected_holders=[]).review == [
        "Titulaire « Mairie » non reconnu : l'AD n'a indiqué aucun titulaire."
    ]


def test_every_error_at_once_and_a_review_reason_alongside() -> None:
    result = verdict(
        rib(iban=DE_IBAN, bic="AGRIFRPP", holder="X", rib_date=TODAY - timedelta(days=400))
    )
    assert set(result.errors) == {"bic", "rib_date"}
    assert len(result.review) == 2  # non-French IBAN, holder not recognised
    assert result.outcome == "rejected"
    assert (result.iban, result.bic) == (DE_IBAN, None)


def test_invalid_iban_leaves_bic_unchecked_against_it() -> None:
    result = verdict(rib(iban=FR_EXAMPLE[:-1], bic="COBADEFFXXX"))
    assert result.errors == {"iban": IBAN_BAD_LENGTH}
    assert (result.iban, result.bic) == (None, "COBADEFFXXX")


@pytest.mark.parametrize(
    ("iban", "masked"),
    [
        ("FR7630006000011234567890189", "FR76 **** **** **** **** ***0 189"),
        ("fr76 3000 6000 0112 3456 7890 189", "FR76 **** **** **** **** ***0 189"),
        ("DE89370400440532013000", "DE89 **** **** **** **30 00"),
        ("NO9386011117947", "NO93 **** ***7 947"),
        ("BE68539007547034", "BE68 **** **** 7034"),
        ("FR761234", "FR76 1234"),
        ("FR76", "FR76"),
    ],
)
def test_mask_iban(iban: str, masked: str) -> None:
    assert mask_iban(iban) == masked


def test_a_holder_that_starts_with_an_expected_name_is_accepted() -> None:
    holders = ["OCCE 06", "Coopérative scolaire Jules Ferry"]
    for typed in ("OCCE 06 COOP ECOLE JAURES", "Coopérative scolaire Jules-Ferry de Nice"):
        verdict = check_rib(rib(holder=typed), today=TODAY, expected_holders=holders)
        assert verdict.review == [] and verdict.errors == {}, typed
    assert check_rib(rib(holder="OCC"), today=TODAY, expected_holders=holders).review
    assert check_rib(rib(holder="X"), today=TODAY, expected_holders=[" "]).review
