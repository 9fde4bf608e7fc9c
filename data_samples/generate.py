#!/usr/bin/env python3
"""Generate a realistic, messy, multi-source legacy CRM data set with ground truth.

    python data_samples/generate.py --entities 2000 --seed 7 --out data_samples/demo

Writes, deterministically for a given seed:
  legacy_crm.sqlite   a legacy CRM database (t_customer, t_opportunity) with legacy column names
  sales_team.xlsx     a sales team's workbook: title row, Chinese headers, mixed dates and amounts,
                      an opportunities sheet that names customers instead of keying them
  erp_export.csv      a GBK-encoded ERP export with its own headers
  truth_customers.csv      true entity of every customer source record
  truth_opportunities.csv  true opportunity and customer entity of every opportunity record
  injected_errors.csv      every error put in on purpose, with the record it is in
  truth_non_records.csv    every row that is not a record (footers, totals, a repeated header), where it is
  crm_users.csv            the target CRM's users (user_id, name, employee_no); reps who left have none
  truth_owners.csv         every sales rep with the user id the owner lookup must give (empty: left)
About 30% of companies appear in two or more sources, with the variants real data has (each
duplicate record's `variant` in truth_customers.csv): short names (字号 with or without region or
industry word), annotations in the name (（老客户）, 【重点】), industry synonyms (科技/技术), traditional
characters, homophone and one-character typos, dropped or bracketed regions, a district after the
city (深圳市南山区…), legal-form variants,
former names (更名), 15-digit registration numbers and organization codes instead of credit codes,
missing codes, another phone or address, and branches recorded under their head office's name.
Customers that must stay apart: branches, the same 字号 in another city, and sister companies sharing
a switchboard, an address and a mail domain. Opportunities name customers by short or region-less
names; some deals are recorded twice (with slightly different names and dates), some are renewed a
year later (a different deal). And the
accidents real exports have (each in injected_errors.csv): rows pasted twice, a header repeated where
two exports were joined, totals and export footers under the data, a quoted address spanning two
lines, a customer code reused for another company, a credit code dragged down onto the next row, codes wrapped in back-ticks or ="…", zero-width
and NUL characters, informal amounts (12.5w).
"""
from __future__ import annotations

import argparse
import csv
import random
import re
import sqlite3
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from crm_migrate.contracts import LEGACY_ORG_CODE  # noqa: E402
from transforms.credit_code import CHARSET, make_code  # noqa: E402

# (province, city, [(district, division code)], area code, roads)
REGIONS = [
    ("北京市", "北京市", [("海淀区", "110108"), ("朝阳区", "110105"), ("东城区", "110101")], "010"),
    ("上海市", "上海市", [("浦东新区", "310115"), ("徐汇区", "310104"), ("静安区", "310106")], "021"),
    ("天津市", "天津市", [("和平区", "120101"), ("滨海新区", "120116")], "022"),
    ("重庆市", "重庆市", [("渝中区", "500103"), ("江北区", "500105")], "023"),
    ("广东省", "深圳市", [("南山区", "440305"), ("福田区", "440304"), ("宝安区", "440306")], "0755"),
    ("广东省", "广州市", [("天河区", "440106"), ("越秀区", "440104"), ("海珠区", "440105")], "020"),
    ("浙江省", "杭州市", [("西湖区", "330106"), ("滨江区", "330108"), ("余杭区", "330110")], "0571"),
    ("江苏省", "南京市", [("鼓楼区", "320106"), ("玄武区", "320102"), ("江宁区", "320115")], "025"),
    ("江苏省", "苏州市", [("姑苏区", "320508"), ("吴中区", "320506")], "0512"),
    ("福建省", "福州市", [("鼓楼区", "350102"), ("台江区", "350103")], "0591"),
    ("四川省", "成都市", [("武侯区", "510107"), ("锦江区", "510104")], "028"),
    ("湖北省", "武汉市", [("江汉区", "420103"), ("洪山区", "420111")], "027"),
    ("山东省", "济南市", [("历下区", "370102"), ("市中区", "370103")], "0531"),
    ("陕西省", "西安市", [("雁塔区", "610113"), ("碑林区", "610103")], "029"),
    ("吉林省", "长春市", [("朝阳区", "220104"), ("南关区", "220102")], "0431"),
    ("江西省", "南昌市", [("西湖区", "360103"), ("东湖区", "360102")], "0791"),
]
ROADS = ["科技园路", "人民路", "建设大道", "解放路", "中山路", "高新大道", "创业路", "长江路", "滨河路", "文化路", "学府路", "工业大道",
         "新华路", "和平路", "胜利路", "青年路", "光明路", "东风路", "北京路", "南京路", "黄河路", "迎宾大道", "朝阳路", "友谊路",
         "健康路", "金融街", "商业街", "软件园路", "环城路", "世纪大道", "花园路", "广场路", "湖滨路", "江南大道", "站前路", "海滨路",
         "兴业路", "振兴路", "发展大道", "未来路"]
BUILDINGS = ["大厦", "广场", "中心", "科技园", "产业园", "写字楼"]
BRAND_CHARS = "腾飞华鑫瑞安泰宏达盛恒远博创新智联金海天正东方信诚德隆昌兴合力佳美嘉禾润峰云星辰明启航凯旋中汇通宇恒伟业永丰益康"
# Characters a person types for a brand character of the same sound (同音字): a pinyin IME's slip.
HOMOPHONES = dict(zip("腾飞华鑫瑞安泰宏达盛恒远博创新智联金海天正东方信诚德隆昌兴合力佳美嘉禾润峰云星辰明启航凯旋中汇通宇伟业永丰益康",
                      "藤非化新锐按太鸿大胜衡源搏闯欣志连今还添政冬芳心城得龙常星和立嘉梅佳和闰锋芸兴晨鸣起杭恺璇忠惠同雨维叶勇峰易抗"))
# The long tail of 字号 characters, with a homophone each: real brands come from thousands of
# characters, a few very common (华, 金, 东方) and most rare; 58 alone would give every 2-character
# brand to hundreds of companies, a block no real CRM has.
RARE_BRAND_CHARS = ("鼎晟铭睿骏灏璟翔旭锦煜卓越贝宝福祥顺泽雅豪威光辉荣成发旺万亿百千洋山河江湖林松竹兰梅春夏秋雷电红青紫银铜强健"
                    "寿圣仁礼尚品优精良尊鹏鹰凤麒麟圆格普惠众高科亚大展宸弘坤乾泓浩望祺耀蓝宁宜臻晶琪瀚源汉锋赛拓驰勤道理伦谷帆舟"
                    "途微维迅特斯迪邦岚沃奥桥石耐峻捷立凌蓉羽翼晨彩钰丞")
HOMOPHONES |= dict(zip(RARE_BRAND_CHARS,
                       "定乘名蕊俊浩景详序谨育桌跃倍保富想舜择亚毫薇广徽容城法望湾义柏迁阳杉何疆虎霖嵩主蓝媒纯下球蕾店洪清子音童墙建"
                       "受剩任理上聘悠晶梁遵朋英奉其琳元阁谱汇重搞可雅打战辰洪昆前宏好旺琪要览凝谊真京奇汉原翰丰塞唾池琴到礼轮古凡州"
                       "图威为讯忒思笛帮蓝握澳乔时奈俊杰丽灵容雨易辰采玉成"))
ALL_BRAND_CHARS = BRAND_CHARS + RARE_BRAND_CHARS
# Zipf-like: the k-th character is drawn with weight 1/(k+8).
BRAND_WEIGHTS = [1.0 / (k + 8) for k in range(len(ALL_BRAND_CHARS))]
# Industry words written another way for the same company.
INDUSTRY_SYNONYMS = {"电子科技": "电子技术", "信息技术": "信息科技", "贸易": "商贸", "建筑工程": "建设工程", "医药": "医药科技",
                     "物流": "物流服务", "企业管理咨询": "管理咨询", "软件": "软件技术"}
ANNOTATIONS = ["（老客户）", "【重点】", "(VIP)", "（重点客户）", "-停用", "*", "（勿删）", "【新】", "(已签约)", "（待跟进）"]
# (industry words in the name, legacy CRM code, sales-team label, ERP label)
INDUSTRIES = [
    ("电子科技", "MFG", "制造", "制造业"),
    ("信息技术", "IT", "IT", "信息技术"),
    ("软件", "IT", "软件", "软件和信息技术服务"),
    ("贸易", "TRD", "零售", "批发和零售业"),
    ("建筑工程", "CON", "建筑", "建筑业"),
    ("医药", "MFG", "制造", "医药制造"),
    ("物流", "LOG", "物流", "交通运输"),
    ("企业管理咨询", "SVC", "咨询", "商务服务"),
]
FORMS = [("有限公司", 60), ("有限责任公司", 15), ("股份有限公司", 15), ("集团有限公司", 10)]
# Mobile number blocks in use (the regional cities above all have 8-digit landlines).
MOBILE_PREFIXES = ["130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "153", "155",
                   "156", "157", "158", "159", "166", "176", "177", "180", "181", "182", "183", "185", "186", "187",
                   "188", "189", "199"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚"
STAGES = [  # canonical, legacy code, sales-team label
    ("prospecting", 1, "初步接触"),
    ("qualification", 2, "需求确认"),
    ("proposal", 3, "方案报价"),
    ("negotiation", 4, "商务谈判"),
    ("closed_won", 5, "赢单"),
    ("closed_lost", 6, "输单"),
]
LATIN = "abcdefghijklmnopqrstuvwxyz"
EPOCH = date(2024, 6, 30)  # the "today" of the legacy data


@dataclass
class Company:
    entity_id: str
    name: str
    region_name: str  # e.g. 深圳
    brand: str
    industry: tuple
    form: str
    province: str
    city: str
    district: str
    code: str
    phone: str
    email: str
    address: str
    status: str
    created: datetime
    updated: datetime
    contact: str
    owner: str
    head_of: str | None = None  # entity id of the head office, for branches
    reg15: str = ""  # the 15-digit business registration number of before 2015
    head_name: str | None = None  # the head office's name, for branches
    former_name: str | None = None  # the name before a rename (更名)
    sister_of: str | None = None  # entity id of a sister company sharing switchboard, address, mail domain
    appearances: list = field(default_factory=list)


class Generator:
    def __init__(self, entities: int, seed: int) -> None:
        self.n = entities
        self.rng = random.Random(seed)
        # Business-rule breaks (validation's hard cases) draw from their own stream, so adding one
        # leaves the companies, names and deals of a seed, and the resolution figures, as they were.
        self.vrng = random.Random(seed * 7919 + 17)
        # The sales team (owners) from a third stream: reps by name and employee id, some of whom
        # left before the migration (the target CRM has no user for them).
        self.orng = random.Random(seed * 104729 + 3)
        names = sorted({self.orng.choice(SURNAMES) + "".join(self.orng.choice(GIVEN) for _ in range(2)) for _ in range(40)})[:24]
        self.team = [(name, f"E{1001 + i:04d}", i % 8 != 5) for i, name in enumerate(names)]  # (name, employee id, still employed)
        self.errors: list[dict] = []
        self.non_records: list[dict] = []  # rows that are not records, where the writers put them
        self.position: dict[str, int] = {}  # source -> index of the record being written (for error rows)
        self.used_names: set[str] = set()
        self.used_org: set[str] = set()

    # ---- entities ------------------------------------------------------------------------
    def org8(self) -> str:
        while True:
            body = "".join(self.rng.choice("0123456789") for _ in range(8))
            if body not in self.used_org:
                self.used_org.add(body)
                return body

    def rep(self, _drawn: str) -> str:
        """A company's account owner: one of the team (the main stream's draw is kept, so a seed's
        companies stay as they were)."""
        return self.orng.choice(self.team)[0]

    def employee_no(self, name: str) -> str:
        return next(r[1] for r in self.team if r[0] == name)

    def rep_as_typed(self, name: str, source: str) -> str:
        """The legacy CRM stores most reps by employee id; people type a name with a stray space."""
        rep = next(r for r in self.team if r[0] == name)
        r = self.orng.random()
        if source == "legacy_crm" and r < 0.6:
            return rep[1] if r > 0.05 else rep[1].lower()
        return name[0] + " " + name[1:] if r > 0.95 else name

    def person(self) -> str:
        return self.rng.choice(SURNAMES) + "".join(self.rng.choice(GIVEN) for _ in range(self.rng.choice((1, 2))))

    def phone_for(self, area: str) -> str:
        if self.rng.random() < 0.55:
            return self.rng.choice(MOBILE_PREFIXES) + "".join(self.rng.choice("0123456789") for _ in range(8))
        return area + self.rng.choice("2345678") + "".join(self.rng.choice("0123456789") for _ in range(7))

    def reg15(self, division: str) -> str:
        """A 15-digit registration number (GB 12365: division, 8 digits, ISO 7064 MOD 11,10 check)."""
        body = division + "".join(self.rng.choice("0123456789") for _ in range(8))
        p = 10
        for ch in body:
            s = (int(ch) + p) % 10 or 10
            p = (s * 2) % 11
        return body + str((11 - p) % 10)

    def company(self, idx: int, region=None, brand=None, industry=None, form=None, head: Company | None = None) -> Company:
        rng = self.rng
        province, city, districts, area = region or rng.choice(REGIONS)
        district, division = rng.choice(districts)
        while True:
            b = brand or "".join(rng.choices(ALL_BRAND_CHARS, BRAND_WEIGHTS, k=rng.choice((2, 2, 3))))
            ind = industry or rng.choice(INDUSTRIES)
            frm = form or rng.choices([f for f, _ in FORMS], [w for _, w in FORMS])[0]
            short = city.removesuffix("市")
            name = f"{short}市{b}{ind[0]}{frm}" if head is None else f"{head.name}{short}分公司"
            # The registry allows one brand + industry per city, whatever the legal form.
            unique = (city, b, ind[0]) if head is None else name
            if unique not in self.used_names:
                break
            brand = None  # collision: draw a new brand
        self.used_names.add(unique)
        created = datetime(2012, 1, 1) + timedelta(days=rng.randrange(0, 4000), seconds=rng.randrange(0, 86400))
        updated = min(created + timedelta(days=rng.randrange(0, 2000)), datetime(2024, 6, 30, 18))
        status = "inactive" if rng.random() < 0.15 else "active"
        latin = "".join(rng.choice(LATIN) for _ in range(rng.randrange(4, 9)))
        return Company(
            entity_id=f"E{idx:07d}",
            name=name,
            region_name=short,
            brand=b,
            industry=ind,
            form=frm,
            province=province,
            city=city,
            district=district,
            code=make_code("91", division, self.org8()),
            reg15=self.reg15(division),
            head_name=head.name if head else None,
            phone=self.phone_for(area),
            email=f"{rng.choice(['info', 'sales', 'contact', 'service'])}@{latin}.com",
            address=f"{province if province != city else ''}{city}{district}{rng.choice(ROADS)}{rng.randrange(1, 999)}号" + (
                f"{rng.choice(BRAND_CHARS)}{rng.choice(BUILDINGS)}{rng.randrange(2, 30)}{rng.randrange(1, 20):02d}室" if rng.random() < 0.5 else ""),
            status=status,
            created=created,
            updated=updated,
            contact=self.person(),
            owner=self.rep(self.person()),
            head_of=head.entity_id if head else None,
        )

    def companies(self) -> list[Company]:
        out: list[Company] = []
        while len(out) < self.n:
            c = self.company(len(out))
            out.append(c)
            r = self.rng.random()
            if r < 0.06 and len(out) < self.n:  # a branch office: a different customer
                other = self.rng.choice([x for x in REGIONS if x[1] != c.city])
                out.append(self.company(len(out), region=other, head=c))
            elif r < 0.11 and len(out) < self.n:  # same brand in another city: a different customer
                other = self.rng.choice([x for x in REGIONS if x[1] != c.city])
                out.append(self.company(len(out), region=other, brand=c.brand, industry=c.industry, form=c.form))
            elif r < 0.14 and len(out) < self.n:  # a sister company: same brand and city, another trade or the group
                region = next(x for x in REGIONS if x[1] == c.city)
                trade = self.rng.choice([i for i in INDUSTRIES if i[0] != c.industry[0]])
                sister = self.company(len(out), region=region, brand=c.brand, industry=trade)
                if self.rng.random() < 0.4:  # xx集团有限公司: the group, no trade word
                    sister.name = f"{c.region_name}市{c.brand}集团有限公司"
                    sister.industry, sister.form = ("", *trade[1:]), "集团有限公司"
                sister.phone, sister.address = c.phone, c.address  # one switchboard, one building
                sister.email = sister.email.split("@")[0] + "@" + c.email.split("@")[1]
                sister.sister_of = c.entity_id
                out.append(sister)
            if self.rng.random() < 0.02:  # renamed: older records carry the former name
                c.former_name = f"{c.region_name}市{''.join(self.rng.choice(BRAND_CHARS) for _ in range(2))}{c.industry[0]}{c.form}"
        return out

    # ---- variants ------------------------------------------------------------------------
    def name_variant(self, c: Company) -> tuple[str, str]:
        """The name another source gives the company, and which variation it carries. Rates follow
        what the sources of real migrations hold: most duplicates differ only in format, about one in
        five in a way an exact key cannot see."""
        rng, name = self.rng, c.name
        region, brand, trade, form = c.region_name, c.brand, c.industry[0], c.form
        if c.head_of is not None:
            r = rng.random()
            if r < 0.25:  # the branch recorded under its head office's name (with the branch's code, phone, address)
                return c.head_name, "branch_as_head_office"
            return (name.replace("(", "（").replace(")", "）"), "format") if r < 0.45 else (name, "same")
        if c.former_name and rng.random() < 0.6:
            return c.former_name, "former_name"
        r = rng.random()
        kinds = [(0.28, "same"), (0.38, "bracketed_region"), (0.44, "form_variant"), (0.50, "region_short"), (0.54, "spaces"),
                 (0.61, "region_dropped"), (0.66, "annotation"), (0.73, "short_name"), (0.78, "industry_synonym"),
                 (0.82, "traditional"), (0.87, "homophone"), (0.91, "typo"), (0.95, "district_added"), (1.0, "format")]
        kind = next(k for bound, k in kinds if r < bound)
        if kind == "bracketed_region":
            return f"{brand}{trade}（{region}）{form}", kind
        if kind == "form_variant":
            swaps = {"有限公司": "有限责任公司", "有限责任公司": "有限公司", "股份有限公司": "有限公司", "集团有限公司": "有限公司"}
            return name.removesuffix(form) + swaps[form], kind
        if kind == "region_short":
            return name.replace(f"{region}市", region, 1), kind
        if kind == "spaces":
            return name.replace(form, " " + form), kind
        if kind == "region_dropped":
            return name.replace(f"{region}市", "", 1), kind
        if kind == "annotation":
            return name + rng.choice(ANNOTATIONS) if rng.random() < 0.7 else rng.choice(ANNOTATIONS[:4]) + name, kind
        if kind == "short_name":  # 深圳品创 / 品创电子科技 / 深圳品创科技
            trade = trade or "集团"
            return rng.choice([f"{region}{brand}", f"{brand}{trade}", f"{region}{brand}{trade}"]), kind
        if kind == "industry_synonym" and not trade:  # xx集团: no trade word to write another way
            kind = "same"
        if kind == "industry_synonym":
            return name.replace(trade, INDUSTRY_SYNONYMS[trade], 1), kind
        if kind == "traditional":
            return _s2t(name), kind
        if kind == "homophone":
            i = rng.randrange(len(brand))
            return name.replace(brand, brand[:i] + HOMOPHONES.get(brand[i], brand[i]) + brand[i + 1:], 1), kind
        if kind == "typo":  # a character typed twice, or two swapped
            i = rng.randrange(len(brand))
            typo = brand[:i + 1] + brand[i:] if rng.random() < 0.5 or len(brand) < 2 else brand[1] + brand[0] + brand[2:]
            return name.replace(brand, typo, 1), kind
        if kind == "district_added":  # the district it is registered in, after the city: 深圳市南山区品创电子科技
            return name.replace(f"{region}市", f"{region}市{c.district}", 1), kind
        if kind == "format":
            return name.replace("有限公司", "有限公司 ").replace("市", "市 ", 1) if rng.random() < 0.5 else f" {name}", kind
        return name, kind

    def customer_name_in_deal(self, c: Company, sheet_name: str) -> str:
        """How a sales sheet names the customer of a deal: as its customer sheet does, or shorter."""
        r = self.rng.random()
        if c.head_of is not None or r < 0.55:
            return sheet_name
        if r < 0.70:
            return f"{c.region_name}{c.brand}"
        if r < 0.80:
            return f"{c.brand}{c.industry[0] or '集团'}"
        if r < 0.88:
            return c.name.replace(f"{c.region_name}市", "", 1)
        return c.name

    def phone_variant(self, phone: str) -> str:
        rng = self.rng
        r = rng.random()
        if phone.startswith("1"):
            if r < 0.2:
                return f"+86 {phone[:3]}-{phone[3:7]}-{phone[7:]}"
            if r < 0.35:
                return f"{phone[:3]} {phone[3:7]} {phone[7:]}"
            return phone
        area = phone[:3] if phone[:3] in {"010", "020", "021", "022", "023", "025", "027", "028", "029"} else phone[:4]
        local = phone[len(area):]
        if r < 0.25:
            return f"{area}-{local}"
        if r < 0.4:
            return f"({area}){local}"
        if r < 0.5:
            return f"{area}-{local}转{rng.randrange(100, 999)}"
        return phone

    def code_variant(self, code: str, source: str, key: str, reg15: str = "") -> str:
        rng = self.rng
        r = rng.random()
        if rng.random() < {"sales_workbook": 0.25}.get(source, 0.0):  # sales people rarely look codes up
            return ""
        if reg15 and rng.random() < 0.04:  # a record from before 2015 keeps the old registration number
            return reg15
        if r < 0.12:
            return rng.choice(["", "无", "暂无", "-", "待补充"])
        if r < 0.17:
            return code.lower()
        if r < 0.21:
            return f"{code[:6]} {code[6:12]} {code[12:]}"
        if r < 0.24:
            return "".join(chr(ord(ch) + 0xFEE0) for ch in code)  # full-width
        if r < 0.26:
            bad = code[:17] + rng.choice([ch for ch in CHARSET if ch != code[17]])
            self.error(source, "customer", key, "credit_code", "invalid_credit_code", bad)
            return bad
        if r < 0.28:
            org = code[8:17]
            self.error(source, "customer", key, "credit_code", LEGACY_ORG_CODE, f"{org[:8]}-{org[8]}")
            return f"{org[:8]}-{org[8]}"
        if r < 0.30:  # what exports wrap around a code to keep it text, or leave behind
            kinds = [f"`{code}", f'="{code}"', f'"{code}"', f"\t{code}", f"{code} ", f"{code}*"]
            junk = rng.choice(kinds + ([] if source == "erp_export" else [f"\u200b{code}"]))  # GBK has no zero-width space
            self.error(source, "customer", key, "credit_code", "credit_code_junk", junk)
            return junk
        return code

    def rule_breaks(self, key: str, amount: str, close: str, created: str, closes: datetime) -> tuple[str, str, str]:
        """A legacy CRM deal as people left it: logged after it closed, an amount typed in 万 into a
        yuan field or entered as a credit note, a placeholder or mistyped year. Each with its truth."""
        r = self.vrng.random()
        src = "legacy_crm_opps"
        if r < 0.03:  # entered after the deal closed (or the two dates swapped)
            created = (closes + timedelta(days=self.vrng.randrange(1, 120), hours=9)).strftime("%Y-%m-%d %H:%M:%S")
            self.error(src, "opportunity", key, "created_at", "close_before_created", created)
        elif r < 0.033:  # 万 typed into a yuan field twice over, or a stray paste
            amount = f"{int(float(amount)) * 10000 * self.vrng.choice((10000, 100000))}.00"
            self.error(src, "opportunity", key, "amount", "amount_out_of_range", amount)
        elif r < 0.035:  # a credit note recorded as a deal
            amount = f"-{amount}"
            self.error(src, "opportunity", key, "amount", "amount_out_of_range", amount)
        elif r < 0.038:  # a mistyped decade: 2023 as 2033
            created = f"{int(created[:4]) + 10}{created[4:]}"
            self.error(src, "opportunity", key, "created_at", "date_in_future", created)
        elif r < 0.041:  # the old system's empty date
            created = self.vrng.choice(["1900-01-01 00:00:00", "1970-01-01 08:00:00"])
            self.error(src, "opportunity", key, "created_at", "date_before_min_year", created)
        return amount, close, created

    def quotation_lines(self, opp_id: int, yuan: int) -> list[tuple]:
        """The quotation lines of most legacy deals, summing to the deal's amount, except where the deal
        was re-priced and its lines were not (about 2%)."""
        v = self.vrng
        if v.random() > 0.7:
            return []
        n = v.choice((1, 1, 2, 3))
        cents = yuan * 100
        cuts = sorted(v.sample(range(1, cents), n - 1)) if n > 1 and cents > n else []
        parts = [b - a for a, b in zip([0, *cuts], [*cuts, cents])]
        if v.random() < 0.02:
            parts[-1] += v.choice((-1, 1)) * max(100, cents // 10)
            self.error("legacy_crm_opps", "opportunity", str(opp_id), "amount", "amount_differs_from_lines", f"{yuan}.00")
        products = ["服务器", "软件许可", "实施服务", "年度维保", "培训", "硬件配件", "咨询"]
        return [(opp_id, v.choice(products), 1, f"{p / 100:.2f}", f"{p / 100:.2f}") for p in parts]

    def error(self, source: str, entity: str, key: str, column: str, error: str, value) -> None:
        # `_pos`: which record of its source (keys repeat); turned into the row a reader reports at the end.
        self.errors.append({"source": source, "entity": entity, "source_key": key, "column": column, "error": error, "value": value,
                            "_pos": self.position.get(source)})

    # ---- output --------------------------------------------------------------------------
    def assign_sources(self, companies: list[Company]) -> None:
        sources = ["legacy_crm", "sales_workbook", "erp_export"]
        for c in companies:
            primary = self.rng.choices(sources, [0.55, 0.2, 0.25])[0]
            chosen = [primary]
            if self.rng.random() < 0.30:
                others = [s for s in sources if s != primary]
                self.rng.shuffle(others)
                chosen += others[: self.rng.choice((1, 1, 1, 2))]
            c.appearances = chosen


_CONVERTER: list = []


def _s2t(text: str) -> str:
    if not _CONVERTER:  # loading the dictionaries costs more than thousands of conversions
        import opencc

        _CONVERTER.append(opencc.OpenCC("s2t"))
    return _CONVERTER[0].convert(text)


def date_text(rng: random.Random, d: datetime, style: int | None = None) -> object:
    style = rng.randrange(6) if style is None else style
    return [
        d.date(),  # a real Excel date
        f"{d.year}/{d.month}/{d.day}",
        f"{d.year}年{d.month}月{d.day}日",
        d.strftime("%Y%m%d"),
        d.strftime("%Y-%m-%d"),
        f"{d.year}.{d.month}.{d.day}",
    ][style]


def amount_text(rng: random.Random, yuan: int) -> object:
    r = rng.random()
    if r < 0.3 and yuan % 1000 == 0:
        return f"{yuan / 10000:g}万"
    if r < 0.55:
        return f"¥{yuan:,}"
    if r < 0.65:
        return f"{yuan:,}元"
    return yuan


def generate(entities: int, seed: int, out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    g = Generator(entities, seed)
    rng = g.rng
    companies = g.companies()
    g.assign_sources(companies)
    truth_c: list[dict] = []
    truth_o: list[dict] = []

    crm_rows, xl_rows, erp_rows = [], [], []
    crm_key_of: dict[str, int] = {}
    xl_name_of: dict[str, str] = {}
    next_crm, next_erp = 100001, 1
    for c in companies:
        for src in c.appearances:
            name, variant = g.name_variant(c) if src != c.appearances[0] else (c.name, "primary")
            c_phone, c_address = c.phone, c.address
            if variant != "primary" and rng.random() < 0.15:  # the contact's own mobile, not the switchboard
                c_phone = g.phone_for("0")[:11] if rng.random() < 0.5 else g.rng.choice(MOBILE_PREFIXES) + "".join(rng.choice("0123456789") for _ in range(8))
            if variant != "primary" and rng.random() < 0.2:  # the address written shorter
                c_address = c.address.replace(c.province, "", 1) if c.province != c.city else c.address.replace(c.city, "", 1)
            if variant != "primary" and "号" in c_address and not c_address.endswith("号") and rng.random() < 0.3:
                c_address = c_address[: c_address.index("号") + 1]  # the building and room left out
            if variant != "primary" and rng.random() < 0.05:  # the company moved: another street in its city
                c_address = re.sub(r"[^区县]*$", f"{rng.choice(ROADS)}{rng.randrange(1, 999)}号", c_address, count=1)
            if src == "legacy_crm":
                g.position[src] = len(crm_rows)
                key = str(next_crm)
                next_crm += 1
                crm_key_of[c.entity_id] = int(key)
                stale = c.status == "inactive" and rng.random() < 0.5
                updated = c.updated if not stale else datetime(2018, 1, 1) + timedelta(days=rng.randrange(0, 600))
                created = min(c.created, updated)
                create_s = created.strftime("%Y-%m-%d %H:%M:%S") if rng.random() > 0.02 else "0000-00-00 00:00:00"
                email = c.email
                if rng.random() < 0.02:
                    email = email.replace(".com", ".con")
                    g.error(src, "customer", key, "email", "email_typo_domain", email)
                elif g.vrng.random() < 0.015:  # what people type into an email field
                    user, domain = email.split("@")
                    email = g.vrng.choice([f"{user}@@{domain}", f"{user}@{domain.split('.')[0]}", f"{user} @{domain}",
                                           f"{user}.{domain}", f"{user}@{domain}，{user}2@{domain}"])
                    g.error(src, "customer", key, "email", "malformed_email", email)
                crm_rows.append((int(key), name, g.code_variant(c.code, src, key, c.reg15), g.phone_variant(c_phone), email, c_address,
                                 c.industry[1], "I" if c.status == "inactive" else "A", g.rep_as_typed(c.owner, src), create_s,
                                 updated.strftime("%Y-%m-%d %H:%M:%S")))
            elif src == "sales_workbook":
                key = None  # the sheet row number, filled when written
                phone = g.phone_variant(c_phone)
                xl_rows.append([c, name, phone, c_address, variant])
                xl_name_of[c.entity_id] = name
                continue
            else:
                g.position[src] = len(erp_rows)
                if erp_rows and (rng.random() < 0.003 or len(erp_rows) == 100):  # the ERP reused a retired code for another company
                    key = erp_rows[-1][0]
                    g.error(src, "customer", key, "单位编码", "reused_key", key)
                else:
                    key = f"KH{next_erp:06d}"
                    next_erp += 1
                phone = g.phone_variant(c_phone)
                if rng.random() < 0.02:
                    phone = phone[:6]
                    g.error(src, "customer", key, "phone", "phone_too_short", phone)
                address = c_address
                if rng.random() < 0.005 or len(erp_rows) == 50:  # a line break typed into the address: a quoted field over two lines
                    address = address.replace("区", "区\n", 1)
                    g.error(src, "customer", key, "address", "multiline_address", address)
                if rng.random() < 0.002:
                    name = name.replace("市", "市\x00", 1)
                    g.error(src, "customer", key, "name", "nul_character", name)
                erp_rows.append([key, name, g.code_variant(c.code, src, key, c.reg15), phone, address,
                                 f"{c.created.year}.{c.created.month}.{c.created.day}", "停用" if c.status == "inactive" else "正常"])
            truth_c.append({"source": src, "source_key": key, "entity_id": c.entity_id, "head_office_entity_id": c.head_of or "",
                            "variant": variant, "city": c.city, "sister_of": c.sister_of or "",
                            "owner_employee_no": g.employee_no(c.owner) if src == "legacy_crm" else ""})

    # ---- opportunities ---------------------------------------------------------------------
    crm_opps, xl_opps = [], []
    quote_lines: list[tuple] = []  # the legacy CRM's quotation lines (报价明细) of its deals
    next_opp = 500001
    opp_seq = 0
    deals = []  # (deal entity, company, name, stage, amount, close date)
    for c in companies:
        for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
            opp_seq += 1
            stage = rng.choice(STAGES)
            yuan = rng.choice((rng.randrange(1, 500) * 1000, rng.randrange(5, 3000) * 100))
            close = datetime(2023, 1, 1) + timedelta(days=rng.randrange(0, 900))
            opp_name = f"{c.brand}{rng.choice(['年度采购', '系统升级', '设备更新', '咨询服务', '扩容项目', '试点项目'])}{rng.randrange(1, 9)}期"
            deals.append((f"O{opp_seq:07d}", c, opp_name, stage, yuan, close))
            if rng.random() < 0.06:  # renewed a year later: same product and amount, a different deal
                opp_seq += 1
                deals.append((f"O{opp_seq:07d}", c, opp_name, rng.choice(STAGES[:4]), yuan, close + timedelta(days=365)))
    for opp_entity, c, opp_name, stage, yuan, close in deals:
        homes = []
        if c.entity_id in crm_key_of:
            homes.append("legacy_crm")
        if c.entity_id in xl_name_of:
            homes.append("sales_workbook")
        if not homes:
            continue
        home = rng.choice(homes)
        both = len(homes) == 2 and rng.random() < 0.15  # the same deal recorded twice, each team its way
        for copy, src in enumerate(homes if both else [home]):
            name, closes = opp_name, close
            if copy and rng.random() < 0.5:
                name = rng.choice([opp_name + "项目", opp_name.replace("期", "期工程"), f"{c.region_name}{opp_name}", opp_name.replace(c.brand, "", 1) or opp_name])
            if copy and rng.random() < 0.5:
                closes = close + timedelta(days=rng.randrange(-20, 21))
            if src == "legacy_crm":
                key = str(next_opp)
                next_opp += 1
                created = closes - timedelta(days=rng.randrange(30, 400))
                g.position["legacy_crm_opps"] = len(crm_opps)
                amount, close_s, created_s = f"{yuan}.00", closes.strftime("%Y-%m-%d"), created.strftime("%Y-%m-%d %H:%M:%S")
                amount, close_s, created_s = g.rule_breaks(key, amount, close_s, created_s, closes)
                crm_opps.append((int(key), crm_key_of[c.entity_id], name, stage[1], amount, close_s, created_s, c.owner))
                quote_lines += g.quotation_lines(int(key), yuan)
                truth_o.append({"source": "legacy_crm_opps", "source_key": key, "opportunity_entity_id": opp_entity, "customer_entity_id": c.entity_id})
            else:
                xl_opps.append([opp_entity, c, g.customer_name_in_deal(c, xl_name_of[c.entity_id]), name, stage[2], yuan, closes])
    # orphans: opportunities naming a company nobody has
    for i in range(max(2, entities // 400)):
        opp_seq += 1
        xl_opps.append([f"O{opp_seq:07d}", None, f"不存在{BRAND_CHARS[i % 40]}{BRAND_CHARS[(i * 7) % 40]}贸易有限公司", "新客户试单",
                        "初步接触", 50000, datetime(2024, 3, 1)])

    _write_sqlite(out / "legacy_crm.sqlite", crm_rows, crm_opps, quote_lines)
    _write_erp_csv(out / "erp_export.csv", erp_rows, g)
    _write_workbook(out / "sales_team.xlsx", xl_rows, xl_opps, g, truth_c, truth_o)
    _number_rows(truth_c, erp_rows, g.errors)
    _write_csv(out / "truth_customers.csv", truth_c, ["source", "source_key", "source_row", "entity_id", "head_office_entity_id", "variant",
                                                        "city", "sister_of", "owner_employee_no"])
    _write_csv(out / "truth_opportunities.csv", truth_o, ["source", "source_key", "opportunity_entity_id", "customer_entity_id"])
    _write_csv(out / "injected_errors.csv", g.errors, ["source", "entity", "source_key", "source_row", "column", "error", "value"])
    _write_csv(out / "truth_non_records.csv", g.non_records, ["source", "row", "rule"])
    # The target CRM's user list (exported from it before the migration): reps who left have no user.
    users = [{"user_id": f"U{int(emp[1:]) + 8000}", "name": name, "employee_no": emp} for name, emp, employed in g.team if employed]
    _write_csv(out / "crm_users.csv", users, ["user_id", "name", "employee_no"])
    _write_csv(out / "truth_owners.csv", [{"name": n, "employee_no": e, "user_id": f"U{int(e[1:]) + 8000}" if k else ""} for n, e, k in g.team],
               ["name", "employee_no", "user_id"])
    return {"companies": len(companies), "customer_records": len(truth_c), "opportunity_records": len(truth_o), "errors": len(g.errors)}


def _number_rows(truth_c: list[dict], erp_rows: list, errors: list[dict]) -> None:
    """The row a reader reports for each customer record and each error (keys repeat: rows never do):
    the read order of the legacy table, the physical line of the ERP export, the sheet row of the workbook."""
    legacy = 0
    lines = _erp_lines(erp_rows)
    erp_lines = iter(lines)
    for t in truth_c:
        if t["source"] == "legacy_crm":
            legacy += 1
            t["source_row"] = legacy
        elif t["source"] == "erp_export":
            t["source_row"] = next(erp_lines)
        else:
            t["source_row"] = int(t["source_key"])
    for e in errors:
        pos = e.pop("_pos")
        e["source_row"] = {"legacy_crm": lambda: pos + 1, "legacy_crm_opps": lambda: pos + 1, "erp_export": lambda: lines[pos]}.get(e["source"], lambda: int(e["source_key"]))()


def _erp_lines(rows: list) -> list[int]:
    out, line = [], 2  # line 1 holds the header
    for r in rows:
        out.append(line)
        line += 1 + r[4].count("\n")
    return out


def _write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)


def _write_sqlite(path: Path, customers: list, opps: list, quote_lines: list) -> None:
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    con.executescript(
        """
        CREATE TABLE t_customer (cust_id INTEGER PRIMARY KEY, cust_name TEXT, uscc TEXT, tel TEXT, email TEXT,
            addr TEXT, industry_code TEXT, status CHAR(1), sales_rep TEXT, create_time TEXT, update_time TEXT);
        CREATE TABLE t_opportunity (opp_id INTEGER PRIMARY KEY, cust_id INTEGER, opp_name TEXT, stage_code INTEGER,
            amount DECIMAL(18,2), expected_close DATE, create_time TEXT, owner TEXT);
        CREATE TABLE t_quote_line (line_id INTEGER PRIMARY KEY, opp_id INTEGER, product TEXT, qty INTEGER,
            unit_price DECIMAL(18,2), line_amount DECIMAL(18,2));
        """
    )
    con.executemany("INSERT INTO t_customer VALUES (?,?,?,?,?,?,?,?,?,?,?)", customers)
    con.executemany("INSERT INTO t_opportunity VALUES (?,?,?,?,?,?,?,?)", opps)
    con.executemany("INSERT INTO t_quote_line VALUES (?,?,?,?,?,?)", [(i + 1, *q) for i, q in enumerate(quote_lines)])
    con.commit()
    con.execute("VACUUM")
    con.close()


def _write_erp_csv(path: Path, rows: list, g: Generator) -> None:
    with path.open("w", newline="", encoding="gbk", errors="strict") as fh:
        w = csv.writer(fh)
        w.writerow(["单位编码", "单位名称", "税号", "联系电话", "地址", "建档日期", "状态"])
        w.writerows(rows)
        w.writerow([])  # the export ends with a blank line and its footer: not records
        w.writerow([f"共{len(rows)}条记录，导出时间：2024-07-01 09:30", "", "", "", "", "", ""])
    g.non_records.append({"source": "erp_export", "row": len(rows) + 3 + sum(r[4].count("\n") for r in rows), "rule": "export_footer"})


def _write_workbook(path: Path, customers: list, opps: list, g: Generator, truth_c: list, truth_o: list) -> None:
    import xlsxwriter

    rng = g.rng
    wb = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_numbers": False})
    wb.set_properties({"created": datetime(2024, 7, 1), "author": "华南区销售部"})
    bold = wb.add_format({"bold": True})
    datefmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws = wb.add_worksheet("客户")
    ws.merge_range(0, 0, 0, 7, "2024年客户清单（销售部维护，请勿删除表头）", bold)
    g.non_records.append({"source": "sales_workbook", "row": 1, "rule": "title_row"})
    headers = ["客户名称", "统一社会信用代码", "联系电话", "邮箱", "地址", "行业", "负责人", "录入日期"]
    ws.write_row(1, 0, headers, bold)
    row = 2
    joined_at = int(len(customers) * 0.6)  # the sheet is two exports pasted together: the header again
    previous_code = ""
    for i, (c, name, phone, address, variant) in enumerate(customers):
        if rng.random() < 0.01:
            row += 1  # a blank row left by someone deleting a customer
        if i == joined_at and len(customers) > 20:
            ws.write_row(row, 0, headers, bold)
            g.non_records.append({"source": "sales_workbook", "row": row + 1, "rule": "repeated_header"})
            row += 1
        key = str(row + 1)  # the row number a person sees in Excel
        code = g.code_variant(c.code, "sales_workbook", key, c.reg15)
        if previous_code and previous_code != code and (rng.random() < 0.004 or i == len(customers) // 2):
            code = previous_code  # dragged down from the row above (Excel's fill handle): another company's code
            g.error("sales_workbook", "customer", key, "credit_code", "code_copied_from_row_above", code)
        previous_code = code
        if rng.random() < 0.006 or i == len(customers) // 3:  # at least one, whatever the size
            g.error("sales_workbook", "customer", key, "name", "name_missing", "")
            name = ""
        elif rng.random() < 0.003:
            name = name[:2] + "\u200b" + name[2:]  # a zero-width space pasted from a web page
            g.error("sales_workbook", "customer", key, "name", "zero_width_character", name)
        email = c.email if rng.random() > 0.3 else ""
        if email and rng.random() < 0.03:
            email = email.replace("@", "#")
            g.error("sales_workbook", "customer", key, "email", "email_invalid", email)
        values = [name, code, phone, email, address, c.industry[2], g.rep_as_typed(c.owner, "sales_workbook")]
        created = date_text(rng, c.created)
        copies = 2 if rng.random() < 0.005 and name else 1  # the same customer pasted twice
        for copy in range(copies):
            key = str(row + 1)
            for col, v in enumerate(values):
                ws.write_string(row, col, v) if v != "" else None
            if isinstance(created, date):
                ws.write_datetime(row, 7, datetime(created.year, created.month, created.day), datefmt)
            else:
                ws.write_string(row, 7, created)
            if copy:
                g.error("sales_workbook", "customer", key, "*", "pasted_twice", str(row))  # value: the row of the first copy
            truth_c.append({"source": "sales_workbook", "source_key": key, "entity_id": c.entity_id, "head_office_entity_id": c.head_of or "",
                            "variant": variant, "city": c.city, "sister_of": c.sister_of or "", "owner_employee_no": g.employee_no(c.owner)})
            row += 1
    row += 1
    ws.write_string(row, 0, f"共{len(customers)}条记录，导出时间：2024-07-01 10:12")
    g.non_records.append({"source": "sales_workbook", "row": row + 1, "rule": "export_footer"})
    ws2 = wb.add_worksheet("商机")
    ws2.write_row(0, 0, ["客户名称", "商机名称", "阶段", "金额", "预计成交日期", "备注"], bold)
    row = 1
    for opp_entity, c, cust_name, opp_name, stage, yuan, close in opps:
        key = str(row + 1)
        amount = amount_text(rng, yuan)
        if c is not None and yuan % 1000 == 0 and rng.random() < 0.02:
            amount = f"{yuan / 10000:g}w"  # 12.5w: how sales people write 万
            g.error("sales_workbook_opps", "opportunity", key, "amount", "informal_amount", amount)
        elif c is not None and rng.random() < 0.01:
            amount = f"-{yuan}"
            g.error("sales_workbook_opps", "opportunity", key, "amount", "negative_amount", amount)
        if c is not None and rng.random() < 0.01:
            stage = "待定"
            g.error("sales_workbook_opps", "opportunity", key, "stage", "unknown_stage", stage)
        if c is None:
            g.error("sales_workbook_opps", "opportunity", key, "customer_name", "customer_not_found", cust_name)
        closed = date_text(rng, close)
        note = rng.choice(["客户预算紧张", "老客户推荐", "需要上门演示"]) if rng.random() < 0.1 else None
        erroneous = c is None or any(e["source_key"] == key and e["source"] == "sales_workbook_opps" for e in g.errors[-3:])
        copies = 2 if not erroneous and rng.random() < 0.01 else 1  # the same deal pasted twice (a clean one: errors name one row)
        for copy in range(copies):
            key = str(row + 1)
            ws2.write_string(row, 0, cust_name)
            ws2.write_string(row, 1, opp_name)
            ws2.write_string(row, 2, stage)
            ws2.write(row, 3, amount)
            if isinstance(closed, date):
                ws2.write_datetime(row, 4, datetime(closed.year, closed.month, closed.day), datefmt)
            else:
                ws2.write_string(row, 4, closed)
            if note:
                ws2.write_string(row, 5, note)
            if copy:
                g.error("sales_workbook_opps", "opportunity", key, "*", "pasted_twice", str(row))  # value: the row of the first copy
            truth_o.append({"source": "sales_workbook_opps", "source_key": key, "opportunity_entity_id": opp_entity,
                            "customer_entity_id": c.entity_id if c else ""})
            row += 1
    ws2.write_string(row, 0, "合计")  # the totals under the data: a SUM the sheet keeps
    ws2.write_formula(row, 3, f"=SUM(D2:D{row})", None, 0)
    g.non_records.append({"source": "sales_workbook_opps", "row": row + 1, "rule": "totals_row"})
    wb.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entities", type=int, default=2000, help="number of real companies (default 2000)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "demo")
    args = ap.parse_args()
    stats = generate(args.entities, args.seed, args.out)
    print(", ".join(f"{k}: {v}" for k, v in stats.items()), f"-> {args.out}")


if __name__ == "__main__":
    main()
