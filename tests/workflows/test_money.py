"""Amounts typed by people read into exact cents, bad ones refused in French; amounts
written out in words as a letter or a contract prints them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflows.formatting import euros
from workflows.money import in_words, parse_amount, parse_euros

CAP = 500_000_00  # 500 000,00 €


@pytest.mark.parametrize(
    ("typed", "cents"),
    [
        ("1800", 180000),
        ("1 800,00", 180000),
        ("1\u00a0800,00 €", 180000),
        ("1\u202f800,5", 180050),
        ("1800.05", 180005),
        (" 12,5 ", 1250),
        ("0,01", 1),
        ("0.10", 10),
        ("123 456,78", 12345678),
    ],
)
def test_an_amount_is_read_in_exact_cents_with_a_comma_or_a_dot_with_or_without_spaces(
    typed, cents
):
    assert parse_amount(typed, maximum_cents=CAP) == cents


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("", "Indiquez le montant en euros, par exemple 1 800,00."),
        ("  € ", "Indiquez le montant en euros, par exemple 1 800,00."),
        ("-12,50", "Le montant ne peut pas être négatif."),
        ("−12,50", "Le montant ne peut pas être négatif."),
        ("0", "Le montant doit être supérieur à 0,00 €."),
        ("0,00", "Le montant doit être supérieur à 0,00 €."),
        ("12,345", "Indiquez un montant en euros, par exemple 12,50."),
        ("douze", "Indiquez un montant en euros, par exemple 12,50."),
        ("1e3", "Indiquez un montant en euros, par exemple 12,50."),
        ("١٢,٥٠", "Indiquez un montant en euros, par exemple 12,50."),
        ("12,50,3", "Indiquez un montant en euros, par exemple 12,50."),
        ("500 000,01", f"Le montant ne peut pas dépasser {euros(CAP)}."),
        ("99999999999", "Indiquez un montant en euros, par exemple 12,50."),
    ],
)
def test_a_bad_amount_is_refused_with_a_french_sentence(typed, error):
    with pytest.raises(ValueError) as refused:
        parse_amount(typed, maximum_cents=CAP)
    assert str(refused.value) == error


@given(st.integers(min_value=1, max_value=CAP))
def test_an_amount_shown_the_french_way_reads_back_as_itself(cents):
    assert parse_amount(euros(cents), maximum_cents=CAP) == cents


def test_an_empty_optional_amount_is_zero():
    assert parse_euros("", maximum_cents=CAP) == 0
    assert parse_euros(None, maximum_cents=CAP) == 0


@pytest.mark.parametrize(
    ("cents", "words"),
    [
        (0, "zéro euro"),
        (1, "un centime"),
        (50, "cinquante centimes"),
        (100, "un euro"),
        (101, "un euro et un centime"),
        (200, "deux euros"),
        (2180, "vingt et un euros et quatre-vingts centimes"),
        (8000, "quatre-vingts euros"),
        (8100, "quatre-vingt-un euros"),
        (7100, "soixante et onze euros"),
        (13699, "cent trente-six euros et quatre-vingt-dix-neuf centimes"),
        (20000, "deux cents euros"),
        (20080, "deux cents euros et quatre-vingts centimes"),
        (180000, "mille huit cents euros"),
        (100100, "mille un euros"),
        (100000000, "un million d'euros"),
        (100000050, "un million d'euros et cinquante centimes"),
        (200000000, "deux millions d'euros"),
        (120000000, "un million deux cent mille euros"),
        (100000000000, "un milliard d'euros"),
    ],
)
def test_an_amount_in_words_is_correct_french(cents, words):
    assert in_words(cents) == words


def test_a_negative_amount_has_no_words():
    with pytest.raises(ValueError):
        in_words(-1)
