"""Where the fake customers live: provinces weighted by population, a few cities each, area codes.

Population weights are the 2020 census (第七次全国人口普查) figures in ten-thousands of residents;
county-level area codes come from faker's zh_CN SSN provider so that national IDs look genuine.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from faker.providers.ssn.zh_CN import Provider as SsnProvider

from huancui.portfolio.contract import PROVINCE_CODES


@dataclass(frozen=True)
class City:
    name: str
    code: str  # first four digits of GB/T 2260, shared by the city's counties


@dataclass(frozen=True)
class Province:
    code: str  # contract short code, e.g. GD
    population_10k: int
    cities: tuple[City, ...]


def _cities(*pairs: tuple[str, str]) -> tuple[City, ...]:
    return tuple(City(name, code) for name, code in pairs)


PROVINCES: tuple[Province, ...] = (
    Province("BJ", 2189, _cities(("北京市", "1101"))),
    Province("TJ", 1387, _cities(("天津市", "1201"))),
    Province("HE", 7461, _cities(("石家庄市", "1301"), ("唐山市", "1302"), ("保定市", "1306"),
                                 ("邯郸市", "1304"))),
    Province("SX", 3492, _cities(("太原市", "1401"), ("大同市", "1402"), ("运城市", "1408"))),
    Province("NM", 2405, _cities(("呼和浩特市", "1501"), ("包头市", "1502"), ("赤峰市", "1504"))),
    Province("LN", 4259, _cities(("沈阳市", "2101"), ("大连市", "2102"), ("鞍山市", "2103"))),
    Province("JL", 2407, _cities(("长春市", "2201"), ("吉林市", "2202"))),
    Province("HL", 3185, _cities(("哈尔滨市", "2301"), ("齐齐哈尔市", "2302"), ("大庆市", "2306"))),
    Province("SH", 2487, _cities(("上海市", "3101"))),
    Province("JS", 8475, _cities(("南京市", "3201"), ("苏州市", "3205"), ("无锡市", "3202"),
                                 ("徐州市", "3203"))),
    Province("ZJ", 6457, _cities(("杭州市", "3301"), ("宁波市", "3302"), ("温州市", "3303"))),
    Province("AH", 6103, _cities(("合肥市", "3401"), ("阜阳市", "3412"), ("芜湖市", "3402"))),
    Province("FJ", 4154, _cities(("福州市", "3501"), ("泉州市", "3505"), ("厦门市", "3502"))),
    Province("JX", 4519, _cities(("南昌市", "3601"), ("赣州市", "3607"), ("九江市", "3604"))),
    Province("SD", 10153, _cities(("济南市", "3701"), ("青岛市", "3702"), ("临沂市", "3713"),
                                  ("烟台市", "3706"))),
    Province("HA", 9937, _cities(("郑州市", "4101"), ("南阳市", "4113"), ("洛阳市", "4103"))),
    Province("HB", 5775, _cities(("武汉市", "4201"), ("襄阳市", "4206"), ("宜昌市", "4205"))),
    Province("HN", 6644, _cities(("长沙市", "4301"), ("衡阳市", "4304"), ("岳阳市", "4306"))),
    Province("GD", 12601, _cities(("广州市", "4401"), ("深圳市", "4403"), ("佛山市", "4406"),
                                  ("汕头市", "4405"))),
    Province("GX", 5013, _cities(("南宁市", "4501"), ("柳州市", "4502"), ("桂林市", "4503"))),
    Province("HI", 1008, _cities(("海口市", "4601"), ("三亚市", "4602"))),
    Province("CQ", 3205, _cities(("重庆市", "5001"))),
    Province("SC", 8367, _cities(("成都市", "5101"), ("南充市", "5113"), ("绵阳市", "5107"))),
    Province("GZ", 3856, _cities(("贵阳市", "5201"), ("遵义市", "5203"))),
    Province("YN", 4721, _cities(("昆明市", "5301"), ("曲靖市", "5303"), ("大理白族自治州", "5329"))),
    Province("XZ", 365, _cities(("拉萨市", "5401"))),
    Province("SN", 3953, _cities(("西安市", "6101"), ("咸阳市", "6104"), ("宝鸡市", "6103"))),
    Province("GS", 2502, _cities(("兰州市", "6201"), ("天水市", "6205"))),
    Province("QH", 592, _cities(("西宁市", "6301"))),
    Province("NX", 720, _cities(("银川市", "6401"))),
    Province("XJ", 2585, _cities(("乌鲁木齐市", "6501"), ("喀什地区", "6531"),
                                 ("伊犁哈萨克自治州", "6540"))),
)  # fmt: skip

XINJIANG = PROVINCE_CODES.index("XJ")


@dataclass(frozen=True)
class Places:
    """Flat lookup tables over all cities, for sampling with numpy."""

    province_weights: np.ndarray  # per province, sums to 1, ordered as PROVINCE_CODES
    city_province: np.ndarray  # per city: index into PROVINCE_CODES
    city_names: tuple[str, ...]
    city_first: np.ndarray  # per province: index of its first city
    city_count: np.ndarray  # per province: number of cities
    area_codes: np.ndarray  # per city: county codes as int, padded by repetition to width
    area_code_count: np.ndarray  # per city: number of distinct county codes


@cache
def places() -> Places:
    """Build the lookup tables once; the order of PROVINCES must follow the contract's codes."""
    if tuple(p.code for p in PROVINCES) != PROVINCE_CODES:
        raise RuntimeError(
            "geography.PROVINCES must list provinces in contract.PROVINCE_CODES order"
        )
    population = np.array([p.population_10k for p in PROVINCES], dtype=np.float64)
    cities = [(i, c) for i, p in enumerate(PROVINCES) for c in p.cities]
    counties = [_county_codes(city.code) for _, city in cities]
    width = max(len(c) for c in counties)
    area = np.array([[c[j % len(c)] for j in range(width)] for c in counties], dtype=np.int64)
    counts = np.array([len(p.cities) for p in PROVINCES], dtype=np.int64)
    return Places(
        province_weights=population / population.sum(),
        city_province=np.array([i for i, _ in cities], dtype=np.int64),
        city_names=tuple(city.name for _, city in cities),
        city_first=np.concatenate(([0], np.cumsum(counts)[:-1])),
        city_count=counts,
        area_codes=area,
        area_code_count=np.array([len(c) for c in counties], dtype=np.int64),
    )


def _county_codes(city_code: str) -> list[int]:
    codes = [int(c) for c in SsnProvider.area_codes if c.startswith(city_code) and c[4:] != "00"]
    if not codes:
        raise RuntimeError(f"faker has no county area codes under city code {city_code}")
    return codes


def sample_places(rng: np.random.Generator, *, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw (province index, city index, 6-digit area code) for n people."""
    table = places()
    province = rng.choice(len(PROVINCES), size=n, p=table.province_weights)
    # Earlier cities in each list are the larger ones: weight them 1, 1/2, 1/3, ...
    rank = _harmonic_rank(rng, counts=table.city_count[province])
    city = table.city_first[province] + rank
    county = rng.integers(0, table.area_code_count[city])
    return province, city, table.area_codes[city, county]


def _harmonic_rank(rng: np.random.Generator, *, counts: np.ndarray) -> np.ndarray:
    max_count = int(counts.max())
    weights = 1.0 / np.arange(1, max_count + 1)
    cumulative = np.cumsum(weights)
    totals = cumulative[counts - 1]
    draw = rng.random(int(counts.shape[0])) * totals
    rank: np.ndarray = np.searchsorted(cumulative, draw, side="right").clip(0, counts - 1)
    return rank
