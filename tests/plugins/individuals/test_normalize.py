"""The individuals data-quality rules (normalize.py), without a database."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from crmkit.plugins.individuals.normalize import (
    DEFAULT_TYPES,
    RULES,
    Config,
    country_code,
    name_key,
    normalise,
    normalise_email,
    normalise_phone,
    proper_case,
)

NO = Config(default_region="NO", types=DEFAULT_TYPES)


def person(**fields: Any) -> dict[str, Any]:
    """The values a create hands to the rules (schema defaults filled in)."""
    return {
        "first_name": "Kari",
        "last_name": "Nordmann",
        "salutation": None,
        "middle_name": None,
        "emails": [],
        "phones": [],
        "addresses": [],
        "timezone": None,
        "language": None,
        "type": "contact",
        **fields,
    }


def run(
    values: dict[str, Any], config: Config = NO, disabled: set[str] | None = None
) -> dict[str, str]:
    """Normalise ``values`` in place; the errors as {field: message}."""
    errors = normalise(values, config, disabled or set())
    out = {e.field: e.message for e in errors}
    assert len(out) == len(errors), f"one error per field expected: {errors}"
    return out


def ok(values: dict[str, Any], **kw: Any) -> dict[str, Any]:
    errors = run(values, **kw)
    assert errors == {}, errors
    return values


# -- the rule table ------------------------------------------------------------------


def test_rules_have_unique_names_and_descriptions() -> None:
    names = [r.name for r in RULES]
    assert len(names) == len(set(names))
    assert all(r.description for r in RULES)
    assert {
        "names.whitespace",
        "names.titles",
        "names.comma",
        "names.proper_case",
        "emails",
        "phones",
        "addresses",
        "timezone",
        "language",
        "type",
    } <= set(names)


def test_a_clean_record_is_left_alone() -> None:
    values = person(
        emails=[{"address": "kari@example.no", "label": "work", "primary": True}],
        phones=[{"number": "+4791234567", "label": "mobile", "primary": True}],
        addresses=[
            {
                "type": "work",
                "street": "Storgata 1",
                "postal_code": "0150",
                "city": "Oslo",
                "country": "NO",
                "primary": True,
            }
        ],
        timezone="Europe/Oslo",
        language="nb",
    )
    before = copy.deepcopy(values)
    assert ok(values) == before


def test_normalising_twice_changes_nothing_more() -> None:
    values = person(
        first_name="  dr.  ola ",
        last_name="NORDMANN",
        emails=[{"address": " Ola@Example.NO "}],
        phones=[{"number": "912 34 567"}],
        addresses=[{"country": "norway", "postal_code": "0150"}],
        timezone="europe/oslo",
        language="Norwegian Bokmål",
    )
    ok(values)
    again = copy.deepcopy(values)
    ok(again)
    assert again == values


# -- names ----------------------------------------------------------------------------


def test_whitespace_is_collapsed_in_names_and_titles() -> None:
    values = ok(
        person(
            first_name="  Kari \t Anne  ",
            last_name=" Nord\u00a0 mann ",
            middle_name="  Marie ",
            job_title="  Head   of\nSales ",
            department="   ",
        )
    )
    assert values["first_name"] == "Kari Anne"
    assert values["last_name"] == "Nord mann"
    assert values["middle_name"] == "Marie"
    assert values["job_title"] == "Head of Sales"
    assert values["department"] is None  # blank becomes nothing


@pytest.mark.parametrize(
    ("first", "last", "want_first", "want_last", "salutation"),
    [
        ("Dr. Ola", "Nordmann", "Ola", "Nordmann", "Dr."),
        ("Dr Ola", "Nordmann", "Ola", "Nordmann", "Dr."),
        ("prof kari", "Nordmann", "Kari", "Nordmann", "Prof."),
        ("Professor Kari", "Nordmann", "Kari", "Nordmann", "Prof."),
        ("Mrs. Anna", "Hansen", "Anna", "Hansen", "Mrs."),
        ("MR JOHN", "SMITH", "John", "Smith", "Mr."),
        ("Herr Hans", "Müller", "Hans", "Müller", "Herr"),
        ("Ola", "Dr. Nordmann", "Ola", "Nordmann", "Dr."),
    ],
)
def test_a_leading_title_moves_into_salutation(
    first: str, last: str, want_first: str, want_last: str, salutation: str
) -> None:
    values = ok(person(first_name=first, last_name=last))
    assert (values["first_name"], values["last_name"], values["salutation"]) == (
        want_first,
        want_last,
        salutation,
    )


def test_a_title_does_not_overwrite_an_existing_salutation() -> None:
    values = ok(person(first_name="Dr. Ola", salutation="Prof."))
    assert values["first_name"] == "Ola"
    assert values["salutation"] == "Prof."


def test_salutation_itself_is_normalised() -> None:
    assert ok(person(salutation="dr"))["salutation"] == "Dr."
    assert ok(person(salutation="  MRS  "))["salutation"] == "Mrs."
    assert ok(person(salutation="Monsignor"))["salutation"] == "Monsignor"  # unknown: kept


def test_a_name_that_only_starts_like_a_title_is_kept() -> None:
    values = ok(person(first_name="Drew", last_name="Mrsic"))
    assert (values["first_name"], values["last_name"], values["salutation"]) == (
        "Drew",
        "Mrsic",
        None,
    )
    values = ok(person(first_name="Sir"))  # a title alone is not moved: nothing would be left
    assert values["first_name"] == "Sir"


@pytest.mark.parametrize("field", ["first_name", "last_name"])
def test_last_comma_first_in_one_field_is_an_error_with_a_hint(field: str) -> None:
    errors = run(person(**{field: "Smith, John"}))
    assert list(errors) == [field]
    assert "first_name" in errors[field] and "last_name" in errors[field]


@pytest.mark.parametrize(
    ("first", "last", "want_first", "want_last"),
    [
        ("OLA", "NORDMANN", "Ola", "Nordmann"),
        ("ola", "nordmann", "Ola", "Nordmann"),
        ("ÅSE", "ØDEGÅRD", "Åse", "Ødegård"),
        ("jan", "van der berg", "Jan", "van der Berg"),
        ("JAN", "VAN DER BERG", "Jan", "van der Berg"),
        ("maria", "de la cruz", "Maria", "de la Cruz"),
        ("ludwig", "von beethoven", "Ludwig", "von Beethoven"),
        ("LUDWIG", "VAN BEETHOVEN", "Ludwig", "van Beethoven"),
        ("ronald", "mcdonald", "Ronald", "McDonald"),
        ("SEAN", "O'BRIEN", "Sean", "O'Brien"),
        ("anne-marie", "smith-jones", "Anne-Marie", "Smith-Jones"),
        ("ANNE-MARIE", "DE JONG", "Anne-Marie", "de Jong"),
        ("al", "gore", "Al", "Gore"),  # a particle as the whole name is a name
        ("luca", "de", "Luca", "De"),
    ],
)
def test_proper_case_of_all_caps_and_all_lower_names(
    first: str, last: str, want_first: str, want_last: str
) -> None:
    values = ok(person(first_name=first, last_name=last))
    assert (values["first_name"], values["last_name"]) == (want_first, want_last)


@pytest.mark.parametrize(
    ("first", "last"),
    [
        ("DeShawn", "McDonald"),
        ("Ola", "Nordmann"),
        ("Jan", "Van der Berg"),  # someone who writes it so
        ("Mary-Kate", "olsen-Smith"),  # mixed case: the user's own spelling
        ("Jr", "deVries"),
    ],
)
def test_mixed_case_names_are_untouched(first: str, last: str) -> None:
    values = ok(person(first_name=first, last_name=last))
    assert (values["first_name"], values["last_name"]) == (first, last)


def test_single_letters_are_kept() -> None:
    values = ok(person(first_name="j", middle_name="K", last_name="X"))
    assert values["first_name"] == "j"
    assert values["middle_name"] == "K"


def test_middle_name_is_proper_cased_too() -> None:
    assert ok(person(middle_name="MARIE LOUISE"))["middle_name"] == "Marie Louise"


def test_proper_case_function() -> None:
    assert proper_case("ola nordmann") == "Ola Nordmann"
    assert proper_case("JEAN-LUC PICARD") == "Jean-Luc Picard"
    assert proper_case("o'neil") == "O'Neil"
    assert proper_case("van der berg", surname=True) == "van der Berg"
    assert proper_case("van der berg") == "Van der Berg"  # a given name starts capitalised
    assert proper_case("maria de lourdes") == "Maria de Lourdes"
    assert proper_case("jean al") == "Jean Al"


def test_a_disabled_rule_is_skipped() -> None:
    values = ok(person(first_name="OLA", last_name="nordmann"), disabled={"names.proper_case"})
    assert (values["first_name"], values["last_name"]) == ("OLA", "nordmann")
    # the other rules still run
    values = ok(person(first_name="Dr.  OLA"), disabled={"names.proper_case"})
    assert (values["first_name"], values["salutation"]) == ("OLA", "Dr.")


def test_disabling_the_comma_rule_lets_commas_through() -> None:
    assert run(person(last_name="Smith, Jr."), disabled={"names.comma"}) == {}


def test_disabling_a_validating_rule_skips_its_errors() -> None:
    values = person(timezone="Mars/Olympus", language="klingon", type="alien")
    assert run(values, disabled={"timezone", "language", "type"}) == {}
    assert values["timezone"] == "Mars/Olympus"


# -- emails ---------------------------------------------------------------------------


def test_emails_are_trimmed_and_lower_cased() -> None:
    values = ok(person(emails=[{"address": "  Kari.Nordmann@Example.NO "}]))
    assert values["emails"] == [{"address": "kari.nordmann@example.no", "primary": True}]


def test_email_labels_and_flags_are_kept() -> None:
    values = ok(
        person(
            emails=[
                {"address": "a@example.no", "label": "work", "primary": False},
                {"address": "b@example.no", "label": "home", "primary": True},
            ]
        )
    )
    assert values["emails"] == [
        {"address": "a@example.no", "label": "work", "primary": False},
        {"address": "b@example.no", "label": "home", "primary": True},
    ]


@pytest.mark.parametrize(
    "bad",
    [
        "kari",
        "kari@",
        "@example.no",
        "kari@@example.no",
        "kari nordmann@example.no",
        "kari@example",
    ],
)
def test_an_invalid_email_is_an_error_at_its_index(bad: str) -> None:
    errors = run(person(emails=[{"address": "ok@example.no"}, {"address": bad}]))
    assert list(errors) == ["emails[1].address"]
    assert errors["emails[1].address"]


def test_every_invalid_email_is_reported() -> None:
    errors = run(person(emails=[{"address": "x"}, {"address": "ok@example.no"}, {"address": "y@"}]))
    assert set(errors) == {"emails[0].address", "emails[2].address"}


def test_duplicate_emails_in_one_record_are_collapsed() -> None:
    values = ok(
        person(
            emails=[
                {"address": "Kari@Example.no", "label": "work"},
                {"address": "ola@example.no"},
                {"address": " kari@example.NO", "label": "home", "primary": True},
            ]
        )
    )
    assert [e["address"] for e in values["emails"]] == ["kari@example.no", "ola@example.no"]
    # the kept one inherits the primary flag of the dropped copy
    assert values["emails"][0]["primary"] is True
    assert values["emails"][0]["label"] == "work"
    assert values["emails"][1].get("primary") in (False, None)


def test_normalise_email_function() -> None:
    assert normalise_email(" A@B.NO ") == "a@b.no"
    with pytest.raises(ValueError):
        normalise_email("not an email")


# -- phones ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", ["912 34 567", "91234567", "+47 912 34 567", "0047 912 34 567", "(+47) 91-23-45-67"]
)
def test_norwegian_phones_become_e164_with_the_default_region(raw: str) -> None:
    values = ok(person(phones=[{"number": raw}]))
    assert values["phones"] == [{"number": "+4791234567", "primary": True}]


def test_phone_region_comes_from_the_primary_address_country() -> None:
    values = ok(
        person(
            phones=[{"number": "070-123 45 67", "label": "mobile"}],
            addresses=[
                {"type": "home", "country": "NO", "postal_code": "0150"},
                {"type": "work", "country": "Sweden", "postal_code": "114 55", "primary": True},
            ],
        )
    )
    assert values["phones"][0]["number"] == "+46701234567"
    assert values["phones"][0]["label"] == "mobile"


def test_phone_region_comes_from_the_only_address_when_none_is_marked() -> None:
    values = ok(person(phones=[{"number": "070-123 45 67"}], addresses=[{"country": "SE"}]))
    assert values["phones"][0]["number"] == "+46701234567"


def test_an_international_number_keeps_its_own_country() -> None:
    values = ok(person(phones=[{"number": "+46 70 123 45 67"}], addresses=[{"country": "NO"}]))
    assert values["phones"][0]["number"] == "+46701234567"


@pytest.mark.parametrize("country", ["XX", "Atlantis", "AQ"])
def test_an_address_country_without_a_numbering_plan_falls_back_to_the_default_region(
    country: str,
) -> None:
    values = person(phones=[{"number": "912 34 567"}], addresses=[{"country": country}])
    errors = run(values)
    assert "phones[0].number" not in errors  # only the country itself may be wrong
    assert values["phones"][0]["number"] == "+4791234567"


def test_default_region_is_configurable() -> None:
    values = ok(person(phones=[{"number": "030 1234567"}]), config=Config("DE", DEFAULT_TYPES))
    assert values["phones"][0]["number"] == "+49301234567"


@pytest.mark.parametrize("bad", ["12", "not a number", "+47 1234", "999 99 999 999 999"])
def test_an_invalid_phone_is_an_error_at_its_index(bad: str) -> None:
    errors = run(person(phones=[{"number": "91234567"}, {"number": bad}]))
    assert list(errors) == ["phones[1].number"]


def test_duplicate_phones_in_one_record_are_collapsed() -> None:
    values = ok(
        person(phones=[{"number": "912 34 567"}, {"number": "+4791234567"}, {"number": "22334455"}])
    )
    assert [p["number"] for p in values["phones"]] == ["+4791234567", "+4722334455"]


def test_normalise_phone_function() -> None:
    assert normalise_phone("912 34 567", "NO") == "+4791234567"
    assert normalise_phone("+4791234567", None) == "+4791234567"
    with pytest.raises(ValueError):
        normalise_phone("912 34 567", None)
    with pytest.raises(ValueError):
        normalise_phone("123", "NO")


# -- addresses ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("Norway", "NO"),
        ("norway", "NO"),
        ("NO", "NO"),
        ("no", "NO"),
        ("germany", "DE"),
        ("Germany", "DE"),
        ("DEU", "DE"),
        (" Sweden ", "SE"),
        ("United Kingdom", "GB"),
    ],
)
def test_country_names_and_codes_become_alpha_2(raw: str, code: str) -> None:
    values = ok(person(addresses=[{"country": raw}]))
    assert values["addresses"][0]["country"] == code
    assert country_code(raw) == code


@pytest.mark.parametrize("bad", ["Deutschland", "Atlantis", "XX", "Norge"])
def test_an_unknown_country_is_an_error(bad: str) -> None:
    errors = run(person(addresses=[{"country": "NO"}, {"country": bad}]))
    assert list(errors) == ["addresses[1].country"]
    with pytest.raises(ValueError):
        country_code(bad)


def test_blank_country_becomes_none() -> None:
    values = ok(person(addresses=[{"country": "  ", "city": "Oslo"}]))
    assert values["addresses"][0]["country"] is None


def test_address_whitespace_is_collapsed() -> None:
    values = ok(
        person(
            addresses=[
                {
                    "street": "  Storgata   1 ",
                    "street2": "  ",
                    "city": " Oslo ",
                    "postal_code": "0150",
                    "country": "NO",
                }
            ]
        )
    )
    a = values["addresses"][0]
    assert (a["street"], a["street2"], a["city"]) == ("Storgata 1", None, "Oslo")


@pytest.mark.parametrize(
    ("country", "postal"),
    [
        ("NO", "0150"),
        ("NO", "5147"),
        ("SE", "114 55"),
        ("DE", "10115"),
        ("GB", "sw1a 1aa"),
        ("US", "94103"),
    ],
)
def test_valid_postal_codes_pass(country: str, postal: str) -> None:
    values = ok(person(addresses=[{"country": country, "postal_code": postal}]))
    assert values["addresses"][0]["postal_code"] == postal.upper()


@pytest.mark.parametrize(
    ("country", "postal"), [("NO", "12345"), ("NO", "015"), ("NO", "ABCD"), ("DE", "1011")]
)
def test_a_postal_code_of_the_wrong_format_is_an_error(country: str, postal: str) -> None:
    errors = run(person(addresses=[{"country": country, "postal_code": postal}]))
    assert list(errors) == ["addresses[0].postal_code"]
    assert country in errors["addresses[0].postal_code"]


def test_a_postal_code_without_country_is_not_checked() -> None:
    values = ok(person(addresses=[{"postal_code": "12345"}]))
    assert values["addresses"][0]["postal_code"] == "12345"


def test_every_address_problem_is_reported() -> None:
    errors = run(
        person(
            addresses=[
                {"country": "Atlantis"},
                {"country": "Norway", "postal_code": "12345"},
                {"country": "Norway", "postal_code": "0150"},
            ]
        )
    )
    assert set(errors) == {"addresses[0].country", "addresses[1].postal_code"}


# -- one primary ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "key", "items"),
    [
        ("emails", "address", ["a@example.no", "b@example.no"]),
        ("phones", "number", ["91234567", "22334455"]),
        ("addresses", "city", ["Oslo", "Bergen"]),
    ],
)
def test_when_none_is_marked_the_first_becomes_primary(
    field: str, key: str, items: list[str]
) -> None:
    values = ok(person(**{field: [{key: v} for v in items]}))
    assert [bool(i.get("primary")) for i in values[field]] == [True, False]


@pytest.mark.parametrize(
    ("field", "key", "items"),
    [
        ("emails", "address", ["a@example.no", "b@example.no", "c@example.no"]),
        ("phones", "number", ["91234567", "22334455", "41234567"]),
        ("addresses", "city", ["Oslo", "Bergen", "Trondheim"]),
    ],
)
def test_a_marked_primary_is_kept(field: str, key: str, items: list[str]) -> None:
    values = ok(person(**{field: [{key: v, "primary": i == 2} for i, v in enumerate(items)]}))
    assert [bool(i.get("primary")) for i in values[field]] == [False, False, True]


@pytest.mark.parametrize(
    ("field", "key", "items"),
    [
        ("emails", "address", ["a@example.no", "b@example.no"]),
        ("phones", "number", ["91234567", "22334455"]),
        ("addresses", "city", ["Oslo", "Bergen"]),
    ],
)
def test_two_marked_primary_is_an_error_at_the_second(
    field: str, key: str, items: list[str]
) -> None:
    errors = run(person(**{field: [{key: v, "primary": True} for v in items]}))
    assert list(errors) == [f"{field}[1].primary"]


def test_empty_lists_stay_empty() -> None:
    values = ok(person())
    assert values["emails"] == values["phones"] == values["addresses"] == []


# -- preferences and type ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "zone"),
    [
        ("Europe/Oslo", "Europe/Oslo"),
        ("europe/oslo", "Europe/Oslo"),
        (" EUROPE/OSLO ", "Europe/Oslo"),
        ("america/new_york", "America/New_York"),
        ("UTC", "UTC"),
    ],
)
def test_timezone_case_is_fixed(raw: str, zone: str) -> None:
    assert ok(person(timezone=raw))["timezone"] == zone


@pytest.mark.parametrize("bad", ["Mars/Olympus", "CEST+2", "Oslo", "GMT+25"])
def test_an_invalid_timezone_is_an_error(bad: str) -> None:
    assert list(run(person(timezone=bad))) == ["timezone"]


def test_blank_timezone_and_language_become_none() -> None:
    values = ok(person(timezone="", language=""))
    assert values["timezone"] is None and values["language"] is None


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("nb", "nb"),
        ("NB", "nb"),
        ("Norwegian Bokmål", "nb"),
        ("English", "en"),
        ("en", "en"),
        ("german", "de"),
        ("nno", "nn"),
        (" sv ", "sv"),
    ],
)
def test_language_becomes_an_iso_639_1_code(raw: str, code: str) -> None:
    assert ok(person(language=raw))["language"] == code


@pytest.mark.parametrize("bad", ["klingonese", "xx", "Norwegian Bokmal!"])
def test_an_invalid_language_is_an_error(bad: str) -> None:
    assert list(run(person(language=bad))) == ["language"]


@pytest.mark.parametrize("good", DEFAULT_TYPES)
def test_default_types_are_accepted(good: str) -> None:
    ok(person(type=good))


def test_a_type_outside_the_configured_list_is_an_error() -> None:
    errors = run(person(type="lead"))
    assert list(errors) == ["type"]
    assert "customer" in errors["type"]
    config = Config(default_region="NO", types=("lead", "client"))
    ok(person(type="lead"), config=config)
    errors = run(person(type="customer"), config=config)
    assert list(errors) == ["type"]
    assert "lead" in errors["type"] and "client" in errors["type"]


def test_every_rule_reports_in_one_pass() -> None:
    errors = run(
        person(
            first_name="Smith, John",
            emails=[{"address": "bad@"}],
            phones=[{"number": "12"}],
            addresses=[{"country": "Atlantis"}],
            timezone="Nowhere/Here",
            language="klingon",
            type="alien",
        )
    )
    assert set(errors) == {
        "first_name",
        "emails[0].address",
        "phones[0].number",
        "addresses[0].country",
        "timezone",
        "language",
        "type",
    }


# -- name_key -------------------------------------------------------------------------


def test_name_key_folds_accents_case_and_spaces() -> None:
    assert name_key("Åse", "Ødegård") == name_key("ase", "odegard") == "ase odegard"
    assert name_key("  JOSÉ ", "Núñez") == "jose nunez"
    assert name_key("Bjørn", "Dæhlie") == "bjorn daehlie"
    assert name_key("Jürgen", "Groß") == "jurgen gross"
    assert name_key("Ola", None) == "ola"
    assert name_key(None, None) == ""
    assert name_key("Kari", "Nordmann") != name_key("Kari", "Nordman")
