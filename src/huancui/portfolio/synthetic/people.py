"""Fake but realistic customers: names, national IDs, phones, places, incomes and latent traits.

Faker's per-call API is far too slow for a million people, so its zh_CN word lists (surnames with
their frequencies, given names, mobile prefixes) are sampled with numpy instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from faker.providers.person.zh_CN import Provider as PersonProvider
from faker.providers.phone_number.zh_CN import Provider as PhoneProvider

from huancui.portfolio.contract import CUSTOMERS, PROVINCE_CODES
from huancui.portfolio.synthetic import formatting as fmt
from huancui.portfolio.synthetic.geography import XINJIANG, places, sample_places
from huancui.portfolio.synthetic.parameters import WorldParameters
from huancui.portfolio.synthetic.world import Traits, draw_traits

SURNAMES = tuple(PersonProvider.last_names)
_SURNAME_WEIGHTS = np.array(list(PersonProvider.last_names.values()), dtype=np.float64)
MALE_NAMES = tuple(PersonProvider.first_names_male)
FEMALE_NAMES = tuple(PersonProvider.first_names_female)
GIVEN_NAMES = MALE_NAMES + FEMALE_NAMES
PHONE_PREFIXES = np.array(sorted(set(PhoneProvider.phonenumber_prefixes)), dtype=np.int64)
GRADES = ("A", "B", "C", "D", "E")
EMPLOYMENT = ("employed", "self_employed", "unemployed", "retired", "student", "other")
TIMEZONES = ("Asia/Shanghai", "Asia/Urumqi")
LANGUAGES = ("zh-CN", "en")
EMAIL_DOMAINS = ("@example.com", "@example.net")  # reserved domains: obviously fake
# ISO 7064 MOD 11-2 as GB 11643 uses it for the 18th character of a resident ID.
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_ID_CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8)


@dataclass(frozen=True)
class People:
    """One block of customers, as numpy columns."""

    male: np.ndarray
    birth_day: np.ndarray
    province: np.ndarray
    city: np.ndarray
    area_code: np.ndarray
    urumqi_time: np.ndarray
    income_fen: np.ndarray
    traits: Traits
    surname: np.ndarray
    given_name: np.ndarray
    id_sequence: np.ndarray
    phone: np.ndarray
    email_local: np.ndarray  # (n, 9) ASCII codes
    email_domain: np.ndarray
    has_email: np.ndarray
    consent_sms: np.ndarray
    consent_email: np.ndarray
    consent_call: np.ndarray
    english: np.ndarray


def draw_people(
    rng: np.random.Generator, *, n: int, as_of_day: int, params: WorldParameters
) -> People:
    traits = draw_traits(rng, n=n, params=params)
    province, city, area = sample_places(rng, n=n)
    male = rng.random(n) < 0.52
    age_days = rng.integers(22 * 365, 63 * 365, size=n)
    income_noise = rng.standard_normal(n)
    log_income = 8.9 + 0.45 * (0.75 * traits.ability + 0.66 * income_noise)
    has_email = rng.random(n) < params.email_share
    return People(
        male=male,
        birth_day=as_of_day - age_days,
        province=province,
        city=city,
        area_code=area,
        urumqi_time=(province == XINJIANG) & (rng.random(n) < params.xinjiang_urumqi_time_share),
        income_fen=(np.round(np.exp(log_income) / 100) * 100 * 100).astype(np.int64),
        traits=traits,
        surname=rng.choice(len(SURNAMES), size=n, p=_SURNAME_WEIGHTS / _SURNAME_WEIGHTS.sum()),
        given_name=np.where(
            male,
            rng.integers(0, len(MALE_NAMES), size=n),
            len(MALE_NAMES) + rng.integers(0, len(FEMALE_NAMES), size=n),
        ),
        id_sequence=rng.integers(0, 500, size=n) * 2 + male,  # odd for men, even for women
        phone=PHONE_PREFIXES[rng.integers(0, PHONE_PREFIXES.size, size=n)] * 10**8
        + rng.integers(0, 10**8, size=n),
        email_local=np.hstack(
            [
                rng.integers(ord("a"), ord("z") + 1, size=(n, 6)),
                rng.integers(ord("0"), ord("9") + 1, size=(n, 3)),
            ]
        ).astype(np.uint8),
        email_domain=rng.integers(0, len(EMAIL_DOMAINS), size=n),
        has_email=has_email,
        consent_sms=rng.random(n) < params.consent_sms_share,
        consent_email=has_email & (rng.random(n) < params.consent_email_share),
        consent_call=rng.random(n) < params.consent_call_share,
        english=rng.random(n) < params.english_share,
    )


def national_id_codes(
    *, area_code: np.ndarray, birth_day: np.ndarray, sequence: np.ndarray
) -> np.ndarray:
    """(n, 18) ASCII codes of resident ID numbers with a valid check character."""
    year, month, day = fmt.date_parts(birth_day)
    body = np.hstack(
        [
            fmt.digit_codes(area_code, width=6),
            fmt.digit_codes(year * 10_000 + month * 100 + day, width=8),
            fmt.digit_codes(sequence, width=3),
        ]
    )
    remainder = ((body.astype(np.int64) - ord("0")) @ _ID_WEIGHTS) % 11
    return np.hstack([body, _ID_CHECK[remainder][:, None]])


def employment_status(
    rng: np.random.Generator, *, people: People, as_of_day: int, jobless: np.ndarray
) -> np.ndarray:
    """Employment at the last review: age drives retirement and study, job loss unemployment."""
    n = int(people.male.shape[0])
    age = (as_of_day - people.birth_day) / 365.25
    draw = rng.random(n)
    status = np.select(
        [draw < 0.15, draw < 0.17, draw < 0.20],
        [
            EMPLOYMENT.index("self_employed"),
            EMPLOYMENT.index("unemployed"),
            EMPLOYMENT.index("other"),
        ],
        default=EMPLOYMENT.index("employed"),
    )
    status = np.where((age >= 60) & (rng.random(n) < 0.7), EMPLOYMENT.index("retired"), status)
    status = np.where((age < 25) & (rng.random(n) < 0.25), EMPLOYMENT.index("student"), status)
    return np.where(jobless & (rng.random(n) < 0.6), EMPLOYMENT.index("unemployed"), status)


def customers_table(
    *, people: People, numbers: np.ndarray, grade: np.ndarray, employment: np.ndarray
) -> pa.Table:
    """The customers.csv rows of one block, columns in contract order."""
    table = places()
    name = pc.binary_join_element_wise(
        fmt.labels(SURNAMES, people.surname), fmt.labels(GIVEN_NAMES, people.given_name), ""
    )
    email = fmt.ascii_strings(np.hstack([people.email_local, _domain_codes(people.email_domain)]))
    columns = {
        "customer_id": customer_ids(numbers),
        "name": name,
        "national_id": fmt.ascii_strings(
            national_id_codes(
                area_code=people.area_code, birth_day=people.birth_day, sequence=people.id_sequence
            )
        ),
        "phone": fmt.ascii_strings(fmt.digit_codes(people.phone, width=11)),
        "email": pc.if_else(pa.array(people.has_email), email, pa.scalar(None, pa.string())),
        "birth_date": fmt.dates(people.birth_day),
        "province": fmt.labels(PROVINCE_CODES, people.province),
        "city": fmt.labels(table.city_names, people.city),
        "timezone": fmt.labels(TIMEZONES, people.urumqi_time.astype(np.int64)),
        "credit_grade": fmt.labels(GRADES, grade),
        "monthly_income": fmt.money(people.income_fen),
        "employment_status": fmt.labels(EMPLOYMENT, employment),
        "preferred_language": fmt.labels(LANGUAGES, people.english.astype(np.int64)),
        "consent_sms": fmt.booleans(people.consent_sms),
        "consent_email": fmt.booleans(people.consent_email),
        "consent_call": fmt.booleans(people.consent_call),
    }
    return fmt.contract_table(CUSTOMERS, columns)


def customer_ids(numbers: np.ndarray) -> pa.Array:
    return fmt.prefixed_ids("C", numbers, width=9)


def _domain_codes(domain: np.ndarray) -> np.ndarray:
    codes = np.array([list(d.encode("ascii")) for d in EMAIL_DOMAINS], dtype=np.uint8)
    chosen: np.ndarray = codes[domain]
    return chosen
