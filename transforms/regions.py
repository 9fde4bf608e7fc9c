"""Chinese administrative divisions (province / city / district) from a vendored data set
(transforms/data/adcodes.csv, 3,500 divisions with their 12-digit codes), and the lookups the name
and address normalizers need."""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "adcodes.csv"
MUNICIPALITIES = {"北京", "天津", "上海", "重庆"}
PROVINCE_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "特别行政区", "自治区", "省", "市")
CITY_SUFFIXES = ("自治州", "地区", "市", "盟")
# Short city names (without 市) read as a region at the start of a company name. Only well-known
# cities: a short form also starts many brands (黄山, 中山...), and a region in the name enables
# name matches, so this list stays conservative. Full names (深圳市) are always recognised.
WELL_KNOWN_CITIES = {
    "深圳", "广州", "东莞", "佛山", "珠海", "杭州", "宁波", "温州", "南京", "苏州", "无锡", "常州", "徐州", "福州", "厦门",
    "泉州", "成都", "武汉", "长沙", "济南", "青岛", "西安", "长春", "哈尔滨", "沈阳", "大连", "南昌", "合肥", "郑州",
    "石家庄", "太原", "昆明", "贵阳", "南宁", "海口", "兰州", "西宁", "银川", "乌鲁木齐", "拉萨", "呼和浩特", "北京",
    "上海", "天津", "重庆",
}


def short_name(name: str, suffixes: tuple[str, ...]) -> str:
    for suffix in suffixes:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


@dataclass
class Regions:
    province_of: dict[str, str] = field(default_factory=dict)  # province code (2) -> full name
    city_of: dict[str, str] = field(default_factory=dict)  # city code (4) -> full name
    district_of: dict[str, str] = field(default_factory=dict)  # district code (6) -> full name
    provinces: dict[str, str] = field(default_factory=dict)  # full or short name -> code (2)
    cities: dict[str, list[str]] = field(default_factory=dict)  # full or short name -> codes (4)
    districts: dict[str, list[str]] = field(default_factory=dict)  # full name -> codes (6)

    def province_name(self, code: str) -> str:
        return self.province_of[code[:2]]

    def city_name(self, code: str) -> str:
        """The city of a city or district code (only its first 4 digits count). A municipality's
        districts sit under 市辖区 in the data: its city is the municipality."""
        name = self.city_of.get(code[:4])
        return self.province_of[code[:2]] if name in (None, "市辖区", "县") else name


@lru_cache(maxsize=1)
def regions() -> Regions:
    r = Regions()
    with DATA.open(encoding="utf-8") as fh:
        rows = [(row["adcode"], row["name"]) for row in csv.DictReader(fh)]
    for code, name in rows:
        if code[2:] == "0" * 10:
            r.province_of[code[:2]] = name
            r.provinces[name] = code[:2]
            r.provinces[short_name(name, PROVINCE_SUFFIXES)] = code[:2]
    for code, name in rows:
        if code[2:4] != "00" and code[4:] == "0" * 8:
            r.city_of[code[:4]] = name
            if name not in ("市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"):
                for key in {name, short_name(name, CITY_SUFFIXES)}:
                    r.cities.setdefault(key, []).append(code[:4])
        elif code[4:6] != "00" and code[6:] == "0" * 6:
            r.district_of[code[:6]] = name
            r.districts.setdefault(name, []).append(code[:6])
    for short in MUNICIPALITIES:  # a municipality is its own city
        code = r.provinces[short]
        for key in (short, short + "市"):
            r.cities.setdefault(key, []).append(code + "01")
    return r


def _prefix(text: str, pos: int, names) -> str | None:
    """The longest name in `names` starting at text[pos]."""
    for length in range(min(12, len(text) - pos), 1, -1):
        if text[pos: pos + length] in names:
            return text[pos: pos + length]
    return None


# After a place's short name, what makes it a road's name: 南京路, 南京东路, 四川北路, 延安西路二段, 长安街.
_ROAD = re.compile(r"^[东西南北中]?[一二三四五六七八九十\d]?(路|街|大道|大街|道|巷|弄|胡同|里|桥)")


def _road(text: str, pos: int, name: str) -> bool:
    """A short place name (no 省/市 of its own) that starts a road's name."""
    return name == short_name(name, (*PROVINCE_SUFFIXES, *CITY_SUFFIXES)) and bool(_ROAD.match(text[pos + len(name):]))


def parse_divisions(text: str) -> tuple[str | None, str | None, str | None, int, str | None]:
    """(province, city, district, characters consumed, flag) from the start of an address.

    Full official names come back (广东省, 深圳市, 南山区). A city fills its province; a district fills
    its city when the name belongs to one city only; otherwise `ambiguous_district` (鼓楼区 is in
    南京, 福州, 徐州 and 开封)."""
    r = regions()
    pos, prov, city, dist, flag, dist_name = 0, None, None, None, None, None
    if (name := _prefix(text, pos, r.provinces)) and not _road(text, pos, name):
        prov, pos = r.provinces[name], pos + len(name)
    name = _prefix(text, pos, r.cities)
    if name and _road(text, pos, name):  # 南京路1650号 is a road (in any city), not 南京
        name = None
    longer_district = _prefix(text, pos, r.districts)
    if name and not (longer_district and len(longer_district) > len(name)):  # 朝阳区 is a district, not 朝阳 + 区
        codes = [c for c in r.cities[name] if prov is None or c[:2] == prov]
        if len(codes) == 1:
            city, pos = codes[0], pos + len(name)
    if prov is not None and city is None and r.province_of[prov][:2] in MUNICIPALITIES:
        city = prov + "01"
    if name := _prefix(text, pos, r.districts):
        codes = [d for d in r.districts[name] if (city is None or r.city_name(d) == r.city_name(city)) and (prov is None or d[:2] == prov)]
        if len(codes) == 1:
            dist, pos = codes[0], pos + len(name)
            city = city or dist[:4]
        elif len(codes) > 1:
            flag = "ambiguous_district"
            pos += len(name)
            dist_name = name
    province = r.province_of[(city or dist or prov)[:2]] if (city or dist or prov) else None
    return (
        province,
        r.city_name(city or dist) if (city or dist) else None,
        r.district_of[dist] if dist else (dist_name if flag else None),
        pos,
        flag,
    )


def is_region(text: str) -> str | None:
    """The short region name if `text` is exactly a province or city name (深圳, 深圳市, 广东省)."""
    r = regions()
    if text in r.provinces:
        return short_name(r.province_of[r.provinces[text]], PROVINCE_SUFFIXES)
    if text in r.cities:
        return short_name(r.city_name(r.cities[text][0]), CITY_SUFFIXES)
    return None


def city_prefix(name: str) -> tuple[str | None, str]:
    """(short city, rest) when a name starts with the short name of any prefecture-level city (唐山,
    烟台, 中山), longest first; (None, name) otherwise. Whether what follows is a brand (唐山宏宝) or
    the city name was the brand's start (金华科技) is the name parser's call."""
    r = regions()
    for length in range(min(4, len(name) - 2), 1, -1):
        head = name[:length]
        if head in r.cities and not head.endswith(CITY_SUFFIXES):
            return is_region(head), name[length:]
    return None, name


def district_prefix(name: str) -> tuple[str | None, str]:
    """(district, rest) when a name (after its city) starts with a district or county name from the
    data (南山区, 肥西县, 东西湖区), longest first; (None, name) otherwise."""
    r = regions()
    for length in range(min(8, len(name) - 2), 1, -1):
        if name[:length] in r.districts and name[length - 1] in "区县旗市":
            return name[:length], name[length:]
    return None, name


def region_prefix(name: str) -> tuple[str | None, str]:
    """(short region, rest) when a company name starts with a region: a full province or city name
    from the data (深圳市, 广东省), or a short name of a province or a well-known city (深圳)."""
    r = regions()
    for length in range(min(12, len(name) - 2), 1, -1):
        head = name[:length]
        full = head in r.province_of.values() or (head in r.cities and head.endswith(CITY_SUFFIXES))
        short = head in WELL_KNOWN_CITIES or (head in r.provinces and head == short_name(head, PROVINCE_SUFFIXES))
        if full or short:
            rest = name[length:]
            if head in r.provinces or head in r.province_of.values():
                # 江苏省南京市洪龙…: the city after its province is the region (the more precise one)
                city, after = region_prefix(rest)
                if city is not None and city not in r.provinces and city != is_region(head):
                    return city, after
            return is_region(head), rest
    return None, name
