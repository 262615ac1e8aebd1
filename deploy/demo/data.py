"""A deterministic synthetic county for demos: areas, schools, students and logins.

Everything is made up (no real person, no network, no data files), but shaped like the
real thing: 旬阳市 (610928) under 陕西省/安康市, four townships with their villages, a
dozen schools with valid 学校标识码, and students with valid resident ID numbers whose
birth dates fit their stage and grade. The same seed and school year give the same data.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from stdnum.cn import ric

from services.contracts import calendar

PROVINCE = ("61", "陕西省")
CITY = ("6109", "安康市")
COUNTY = ("610928", "旬阳市")
# Township code -> (name, pinyin for usernames, rural?, villages [(3-digit suffix, name, pinyin)]).
# Suffixes 0xx are 社区 (residents' committees), 2xx 村 (villages), as in the statistical codes.
TOWNSHIPS: dict[str, tuple[str, str, bool, list[tuple[str, str, str]]]] = {
    "610928100": (
        "城关镇",
        "chengguan",
        False,
        [
            ("001", "东门社区", "dongmen"),
            ("201", "红军村", "hongjun"),
            ("202", "桂花村", "guihua"),
            ("203", "西岔河村", "xichahe"),
        ],
    ),
    "610928101": (
        "棕溪镇",
        "zongxi",
        True,
        [
            ("001", "棕溪社区", "zongxi"),
            ("201", "杨家院村", "yangjiayuan"),
            ("202", "金星村", "jinxing"),
            ("203", "王家庄村", "wangjiazhuang"),
        ],
    ),
    "610928102": (
        "蜀河镇",
        "shuhe",
        True,
        [("001", "蜀河社区", "shuhe"), ("201", "兴隆村", "xinglong"), ("202", "双河村", "shuanghe")],
    ),
    "610928103": (
        "赵湾镇",
        "zhaowan",
        True,
        [("201", "红星村", "hongxing"), ("202", "桃园村", "taoyuan"), ("203", "双坪村", "shuangping")],
    ),
}
CHENGGUAN = "610928100"


@dataclass(frozen=True)
class SchoolSpec:
    code: str
    name: str
    area_code: str
    stages: tuple[str, ...]
    # Relative share of the county's students of each stage it offers.
    weight: float = 1.0
    ownership: str = "public"


SCHOOLS = (
    SchoolSpec("1161010326", "城关镇中心幼儿园", "610928100", ("preschool",), 3.0),
    SchoolSpec("1161010418", "蜀河镇中心幼儿园", "610928102", ("preschool",), 1.5),
    SchoolSpec(
        "1161010533", "旬阳市城关镇春蕾幼儿园", "610928100", ("preschool",), 1.0, "affordable_private"
    ),
    SchoolSpec("2161020117", "旬阳市城关镇中心小学", "610928100", ("primary",), 4.0),
    SchoolSpec("2161020125", "旬阳市城关第二小学", "610928100", ("primary",), 3.0),
    SchoolSpec("2161020246", "旬阳市棕溪镇中心小学", "610928101", ("preschool", "primary"), 2.0),
    SchoolSpec("2161020358", "旬阳市蜀河镇中心小学", "610928102", ("primary",), 2.0),
    # 九年一贯制 (primary + junior) — type 31 may offer both.
    SchoolSpec("3161030471", "旬阳市赵湾镇九年制学校", "610928103", ("primary", "junior"), 1.5),
    SchoolSpec("3161030115", "旬阳市第二初级中学", "610928100", ("junior",), 4.0),
    SchoolSpec("3161030238", "旬阳市棕溪初级中学", "610928101", ("junior",), 2.0),
    SchoolSpec("3161030362", "旬阳市蜀河初级中学", "610928102", ("junior",), 2.0),
    SchoolSpec("3461040019", "旬阳中学", "610928", ("senior",), 1.0),
    SchoolSpec("3661050013", "旬阳市职业技术教育中心", "610928", ("vocational",), 1.0),
    SchoolSpec("5161060011", "旬阳市特殊教育学校", "610928", ("special",), 1.0),
)

# Share of the county's students by stage (a rural county in western China).
STAGE_SHARE = {
    "preschool": 0.14,
    "primary": 0.45,
    "junior": 0.22,
    "senior": 0.115,
    "vocational": 0.06,
    "special": 0.015,
}
GRADES = {"preschool": 3, "primary": 6, "junior": 3, "senior": 3, "vocational": 3, "special": 9}
# Usual age on 1 September in grade 1 (as services/registry/students/service.ENTRY_AGE); special
# schools take children a year or so late.
ENTRY_AGE = {"preschool": 3, "primary": 6, "junior": 12, "senior": 15, "vocational": 15, "special": 7}
CLASS_SIZE = {"preschool": 30, "primary": 45, "junior": 50, "senior": 55, "vocational": 45, "special": 12}

# Surnames with rough national frequencies (per cent); 柯 冷 邹 are common around 旬阳.
SURNAMES = {
    "王": 7.1,
    "李": 7.0,
    "张": 6.7,
    "刘": 5.4,
    "陈": 4.5,
    "杨": 3.1,
    "黄": 2.2,
    "赵": 2.0,
    "吴": 1.8,
    "周": 1.7,
    "徐": 1.3,
    "孙": 1.2,
    "马": 1.1,
    "朱": 1.1,
    "胡": 1.0,
    "郭": 1.0,
    "何": 0.9,
    "高": 0.9,
    "林": 0.9,
    "罗": 0.8,
    "郑": 0.7,
    "梁": 0.7,
    "谢": 0.6,
    "宋": 0.5,
    "唐": 0.5,
    "许": 0.5,
    "韩": 0.4,
    "冯": 0.4,
    "邓": 0.4,
    "曹": 0.4,
    "彭": 0.4,
    "曾": 0.4,
    "肖": 0.4,
    "田": 0.3,
    "董": 0.3,
    "袁": 0.3,
    "潘": 0.3,
    "于": 0.3,
    "蒋": 0.3,
    "蔡": 0.3,
    "余": 0.3,
    "杜": 0.3,
    "叶": 0.3,
    "程": 0.3,
    "苏": 0.2,
    "魏": 0.2,
    "吕": 0.2,
    "丁": 0.2,
    "任": 0.2,
    "沈": 0.2,
    "邹": 0.2,
    "柯": 0.3,
    "冷": 0.2,
    "汪": 0.2,
}
GIVEN_MALE = (
    "子轩 浩宇 宇轩 梓豪 俊杰 浩然 一鸣 博文 文博 天佑 皓轩 子豪 思远 明轩 宇航 嘉豪 家乐 志强 "
    "建华 晨阳 鹏飞 俊熙 子墨 梓睿 奕辰 铭泽 睿哲 泽宇 文轩 博涵 佳豪 旭东 振宇 昊天 宏伟 伟杰 "
    "锦程 永康 金鑫 小龙 小虎 宇豪 晓东 泽华 启航 思源 亦凡 建军 浩楠 少杰 家豪 瑞霖 明杰 "
    "锐 杰 磊 涛 鑫 强 浩 斌 帅 鹏 阳 毅"
).split()
GIVEN_FEMALE = (
    "梓涵 欣怡 子涵 诗涵 雨萱 可馨 梓萱 佳怡 思琪 雨桐 一诺 语嫣 紫涵 梦瑶 欣妍 雅琪 若曦 心怡 "
    "婉婷 佳琪 悦然 梦琪 晓雪 静怡 雨欣 思雨 雅婷 欣悦 紫萱 梓琪 芷若 依诺 诗雨 佳欣 梦洁 晨曦 "
    "子怡 安琪 雪梅 小燕 丽娜 文静 慧敏 春燕 金凤 "
    "艳 婷 静 洁 娜 敏 丹 琳 悦 欢 瑶 琪"
).split()
ETHNICITIES = {"汉族": 97.0, "回族": 1.0, "土家族": 0.8, "满族": 0.4, "蒙古族": 0.3, "苗族": 0.3, "壮族": 0.2}
# Birthplace codes (first six ID digits): mostly 旬阳, some elsewhere in 安康 and 陕西.
BIRTHPLACES = {
    "610928": 85.0,
    **dict.fromkeys(("610902", "610921", "610922", "610924", "610925", "610926", "610929"), 1.4),
    **dict.fromkeys(("610102", "610113", "610502", "610702", "611002"), 1.0),
}
DISABILITY_CATEGORIES = {
    "intellectual": 35,
    "physical": 25,
    "hearing": 12,
    "visual": 10,
    "speech": 5,
    "mental": 5,
    "multiple": 8,
}
DISABILITY_GRADES = {1: 1, 2: 2, 3: 3, 4: 4}  # milder grades are more common
VOCATIONAL_MAJORS = ("计算机应用", "汽车运用与维修", "学前教育", "电子商务", "现代农艺技术")
SPECIAL_CLASS = {"hearing": "启聪", "visual": "启明"}  # else 培智
CN_NUM = "零一二三四五六七八九十"

PASSWORDS = {
    "county": "County-demo-2026",
    "township": "Township-demo-2026",
    "school": "School-demo-2026",
    "village": "Village-demo-2026",
}


@dataclass
class Dataset:
    """Request bodies for the public API, in the order they must be created."""

    areas: list[dict[str, str]] = field(default_factory=list)  # parents first
    schools: list[dict[str, Any]] = field(default_factory=list)  # POST /api/v1/schools
    students: list[dict[str, Any]] = field(default_factory=list)  # POST /api/v1/students
    users: list[dict[str, Any]] = field(default_factory=list)  # POST /api/v1/users (with password)
    # Households (户) as import rows, and each student's household platform id (same order as students).
    households: list[dict[str, str]] = field(default_factory=list)
    household_of: list[str] = field(default_factory=list)
    client: dict[str, str] = field(default_factory=dict)  # POST /api/v1/clients


def school_year_start(today: date | None = None) -> date:
    """1 September of the current school year."""
    today = today or calendar.today()
    return date(today.year if today.month >= 9 else today.year - 1, 9, 1)


def _weighted(rng: random.Random, table: dict[Any, float]) -> Any:
    return rng.choices(list(table), weights=list(table.values()))[0]


def areas() -> list[dict[str, str]]:
    out = [{"code": c, "name": n} for c, n in (PROVINCE, CITY, COUNTY)]
    for code, (name, _, _, _) in TOWNSHIPS.items():
        out.append({"code": code, "name": name})
    for code, (_, _, _, villages) in TOWNSHIPS.items():
        out.extend({"code": code + suffix, "name": vname} for suffix, vname, _ in villages)
    return out


def schools() -> list[dict[str, Any]]:
    return [
        {
            "code": s.code,
            "name": s.name,
            "area_code": s.area_code,
            "ownership": s.ownership,
            "stages": list(s.stages),
        }
        for s in SCHOOLS
    ]


def users() -> list[dict[str, Any]]:
    """One login per role: the county, 城关镇, 城关镇中心小学 and 红军村."""
    primary = next(s for s in SCHOOLS if s.name == "旬阳市城关镇中心小学")
    township, (_, t_pinyin, _, villages) = CHENGGUAN, TOWNSHIPS[CHENGGUAN]
    suffix, _, v_pinyin = next(v for v in villages if v[1] == "红军村")
    return [
        {
            "username": "county_xunyang",
            "password": PASSWORDS["county"],
            "role": "county",
            "area_code": COUNTY[0],
            "school_code": None,
        },
        {
            "username": f"township_{t_pinyin}",
            "password": PASSWORDS["township"],
            "role": "township",
            "area_code": township,
            "school_code": None,
        },
        {
            "username": f"school_{primary.code}",
            "password": PASSWORDS["school"],
            "role": "school",
            "area_code": primary.area_code,
            "school_code": primary.code,
        },
        {
            "username": f"village_{v_pinyin}",
            "password": PASSWORDS["village"],
            "role": "village",
            "area_code": township + suffix,
            "school_code": None,
        },
    ]


def client() -> dict[str, str]:
    return {"name": "防返贫监测大数据平台（旬阳市演示）", "area_code": COUNTY[0]}


def id_number(place: str, birth: date, seq: int) -> str:
    """A valid GB 11643 number: place, birth date, 3-digit sequence (odd = male), check digit."""
    body = f"{place}{birth:%Y%m%d}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")


def class_name(stage: str, grade: int, k: int, *, entry_year: int, major: str = "", prefix: str = "") -> str:
    if stage == "preschool":
        return f"{'小中大'[grade - 1]}({k})班"
    if stage == "primary":
        return f"{CN_NUM[grade]}年级({k})班"
    if stage == "junior":
        return f"{CN_NUM[grade + 6]}年级({k})班"
    if stage == "senior":
        return f"高{CN_NUM[grade]}({k})班"
    if stage == "vocational":
        return f"{entry_year}级{major}({k})班"
    return f"{prefix}{CN_NUM[grade]}年级({k})班"  # special: 培智/启聪/启明


class _Generator:
    def __init__(self, seed: int, start: date) -> None:
        self.rng = random.Random(seed)
        self.start = start
        self.used_ids: set[str] = set()
        self.by_stage: dict[str, list[SchoolSpec]] = defaultdict(list)
        for s in SCHOOLS:
            for stage in s.stages:
                self.by_stage[stage].append(s)

    def birth_date(self, stage: str, grade: int) -> date:
        """A birth date giving the usual age for the grade on 1 September, sometimes a year off."""
        rng = self.rng
        age = ENTRY_AGE[stage] + grade - 1
        r = rng.random()
        if r < 0.08:
            age += 1  # late start or repeated a year
        elif r < 0.11 and not (stage == "preschool" and grade == 1):
            age -= 1  # early start
        # Age `age` on start: born after start - (age + 1) years, on or before start - age years.
        latest = self.start.replace(year=self.start.year - age)
        earliest = self.start.replace(year=self.start.year - age - 1) + timedelta(days=1)
        return earliest + timedelta(days=rng.randrange((latest - earliest).days + 1))

    def unique_id(self, birth: date, male: bool) -> str:
        rng = self.rng
        place = _weighted(rng, BIRTHPLACES)
        while True:
            seq = rng.randrange(500) * 2 + (1 if male else 0)
            value = id_number(place, birth, seq)
            if value not in self.used_ids:
                self.used_ids.add(value)
                return value

    def name(self, male: bool) -> str:
        return _weighted(self.rng, SURNAMES) + self.rng.choice(GIVEN_MALE if male else GIVEN_FEMALE)

    def student(self) -> dict[str, Any]:
        rng = self.rng
        stage = _weighted(rng, STAGE_SHARE)
        school = rng.choices(self.by_stage[stage], weights=[s.weight for s in self.by_stage[stage]])[0]
        grade = rng.randint(1, GRADES[stage])
        male = rng.random() < 0.515
        birth = self.birth_date(stage, grade)
        rural = school.area_code != COUNTY[0] and TOWNSHIPS[school.area_code[:9]][2]
        groups: list[str] = []
        disability = None
        if stage == "special" or rng.random() < 0.006:
            groups.append("disabled")
            disability = {
                "category": _weighted(rng, DISABILITY_CATEGORIES),
                "grade": _weighted(rng, DISABILITY_GRADES),
            }
        if stage in ("preschool", "primary", "junior", "special"):
            left_behind = 0.30 if rural else 0.12
        else:
            left_behind = 0.15
        if rng.random() < left_behind:
            groups.append("left_behind")
        if school.area_code.startswith(CHENGGUAN) and rng.random() < 0.08:
            groups.append("migrant")
        if stage in ("primary", "junior") and rng.random() < 0.05:
            groups.append("learning_difficulty")
        if rng.random() < 0.005:
            groups.append("orphan")
        boarding = (
            rng.random()
            < {
                "preschool": 0.0,
                "primary": (0.25 if grade >= 4 else 0.05) if rural else 0.03,
                "junior": 0.75 if rural else 0.35,
                "senior": 0.8,
                "vocational": 0.7,
                "special": 0.5,
            }[stage]
        )
        status = "enrolled"
        if stage == "special" and disability and disability["grade"] == 1 and rng.random() < 0.6:
            status, boarding = "home_taught", False  # 送教上门
        elif stage in ("primary", "junior", "senior", "vocational") and rng.random() < 0.004:
            status, boarding = "suspended", False  # 休学
        body: dict[str, Any] = {
            "name": self.name(male),
            "id_number": self.unique_id(birth, male),
            "ethnicity": _weighted(rng, ETHNICITIES),
            "groups": sorted(groups),
            "enrollment": {
                "school_code": school.code,
                "stage": stage,
                "grade": grade,
                "class_name": None,  # set once the grade's size is known
                "boarding": boarding,
                "status": status,
            },
        }
        if disability:
            body["disability"] = disability
        return body

    def assign_classes(self, students: list[dict[str, Any]]) -> None:
        """Split each school's grade into classes of about the usual size, balanced."""
        groups: dict[tuple[str, str, int], list[dict[str, Any]]] = defaultdict(list)
        for s in students:
            e = s["enrollment"]
            groups[(e["school_code"], e["stage"], e["grade"])].append(s)
        for (_, stage, grade), members in sorted(groups.items()):
            n_classes = max(1, math.ceil(len(members) / CLASS_SIZE[stage]))
            order = list(range(len(members)))
            self.rng.shuffle(order)
            entry_year = self.start.year - grade + 1
            for pos, i in enumerate(order):
                k = pos % n_classes + 1
                student = members[i]
                prefix = ""
                if stage == "special":
                    prefix = SPECIAL_CLASS.get(student["disability"]["category"], "培智")
                student["enrollment"]["class_name"] = class_name(
                    stage,
                    grade,
                    k,
                    entry_year=entry_year,
                    major=VOCATIONAL_MAJORS[(k - 1) % len(VOCATIONAL_MAJORS)],
                    prefix=prefix,
                )


# Status of a household (shares): formerly registered poor (lifted out in 2019-2020), monitored,
# dibao, tekun; most households have none.
HOUSEHOLD_STATUSES = [
    (0.28, "建档立卡:2016:2020;脱贫:2020"),
    (0.05, "建档立卡:2016:2019;脱贫:2019;监测对象:2024"),
    (0.06, "低保:2022"),
    (0.01, "特困:2021"),
]


def households_for(
    students: list[dict[str, Any]], rng: random.Random
) -> tuple[list[dict[str, str]], list[str]]:
    """Group students into households (siblings share one), in a village near their school."""
    rows: list[dict[str, str]] = []
    of: list[str] = []
    for student in students:
        township = student["enrollment"]["school_code"]
        school_area = next((s["area_code"] for s in schools() if s["code"] == township), COUNTY[0])
        villages = TOWNSHIPS.get(school_area[:9], TOWNSHIPS[CHENGGUAN])[3]
        if rows and rng.random() < 0.3 and rows[-1]["area_code"][:9] == school_area[:9]:
            of.append(rows[-1]["household_platform_id"])  # a sibling
            continue
        suffix = rng.choice(villages)[0]
        area = (school_area[:9] if len(school_area) >= 9 else CHENGGUAN) + suffix
        roll, statuses = rng.random(), ""
        for share, value in HOUSEHOLD_STATUSES:
            if roll < share:
                statuses = value
                break
            roll -= share
        platform_id = f"{area}{len(rows) + 1:05d}"
        rows.append(
            {
                "household_platform_id": platform_id,
                "head_name": student["name"][0] + "建国",
                "area_code": area,
                "statuses": statuses,
            }
        )
        of.append(platform_id)
    return rows, of


def demo_dataset(seed: int = 2026, n: int = 2000, *, today: date | None = None) -> Dataset:
    """The demo county with `n` students; the same seed and school year give the same data."""
    gen = _Generator(seed, school_year_start(today))
    students = [gen.student() for _ in range(n)]
    gen.assign_classes(students)
    households, of = households_for(students, random.Random(seed + 1))
    return Dataset(
        areas=areas(),
        schools=schools(),
        students=students,
        users=users(),
        client=client(),
        households=households,
        household_of=of,
    )
