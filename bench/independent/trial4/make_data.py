"""Synthetic but realistic CRM migration for an industrial-equipment distributor.

Writes into /work/trial4/data:
  legacy_crm.sqlite   tables khda (customers) and xsjh (opportunities)
  sales_team.xlsx     sheets 客户清单 and 商机跟进 (messy)
  erp_customers.csv   GBK ERP export
  truth_customers.csv source, source_key, company_id   (+ kind of variant, for diagnosis)
  truth_opps.csv      source, source_key, deal_id, company_id
  companies.csv       the true companies
Seeded and deterministic.
"""
import csv, datetime as dt, os, random, sqlite3, json
import openpyxl
from openpyxl.styles import Font, Alignment

import argparse  # bench/independent.py passes --out and --seed (--companies is accepted, the count is fixed)
_args = argparse.ArgumentParser()
_args.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "data"))
_args.add_argument("--seed", type=int, default=20261203)
_args.add_argument("--companies", type=int, default=4000)
_args = _args.parse_args()
SEED = _args.seed
R = random.Random(SEED)
OUT = _args.out
os.makedirs(OUT, exist_ok=True)

# ---------------------------------------------------------------- codes
USCC_CH = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_W = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
ORG_W = [3, 7, 9, 10, 5, 8, 4, 2]
ORG_CH = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def org_code():
    body = "".join(R.choice("0123456789") for _ in range(8)) if R.random() < .8 else \
        "".join(R.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(8))
    s = sum(ORG_CH.index(c) * w for c, w in zip(body, ORG_W))
    c9 = 11 - s % 11
    c9 = "X" if c9 == 10 else ("0" if c9 == 11 else str(c9))
    return body + c9


def uscc(div, org):
    body = "91" + div + org
    s = sum(USCC_CH.index(c) * w for c, w in zip(body, USCC_W))
    c = 31 - s % 31
    return body + USCC_CH[0 if c == 31 else c]


def reg15(div):
    # 15-digit registration number: division + 8 digits + ISO 7064 MOD 11,10 check
    body = div + "".join(R.choice("0123456789") for _ in range(8))
    p = 10
    for ch in body:
        s = (p + int(ch)) % 10
        s = 10 if s == 0 else s
        p = (s * 2) % 11
    check = (11 - p) % 10
    return body + str(check)


# ---------------------------------------------------------------- geography
CITIES = [  # city, province, division, area code, districts, roads
    ("苏州", "江苏", "320500", "0512", ["吴中区", "相城区", "工业园区", "吴江区"]),
    ("无锡", "江苏", "320200", "0510", ["惠山区", "锡山区", "新吴区"]),
    ("常州", "江苏", "320400", "0519", ["武进区", "新北区", "金坛区"]),
    ("南京", "江苏", "320100", "025", ["江宁区", "浦口区", "栖霞区"]),
    ("宁波", "浙江", "330200", "0574", ["北仑区", "鄞州区", "镇海区", "慈溪市"]),
    ("杭州", "浙江", "330100", "0571", ["萧山区", "余杭区", "滨江区"]),
    ("温州", "浙江", "330300", "0577", ["瓯海区", "龙湾区", "乐清市"]),
    ("台州", "浙江", "331000", "0576", ["黄岩区", "路桥区", "温岭市"]),
    ("佛山", "广东", "440600", "0757", ["顺德区", "南海区", "禅城区"]),
    ("东莞", "广东", "441900", "0769", ["长安镇", "虎门镇", "松山湖"]),
    ("深圳", "广东", "440300", "0755", ["宝安区", "龙岗区", "光明区"]),
    ("广州", "广东", "440100", "020", ["番禺区", "白云区", "黄埔区"]),
    ("青岛", "山东", "370200", "0532", ["黄岛区", "城阳区", "即墨区"]),
    ("济南", "山东", "370100", "0531", ["历城区", "章丘区", "槐荫区"]),
    ("潍坊", "山东", "370700", "0536", ["奎文区", "寿光市", "高密市"]),
    ("烟台", "山东", "370600", "0535", ["福山区", "莱山区", "龙口市"]),
    ("天津", "天津", "120000", "022", ["滨海新区", "西青区", "北辰区"]),
    ("沈阳", "辽宁", "210100", "024", ["铁西区", "浑南区", "于洪区"]),
    ("大连", "辽宁", "210200", "0411", ["甘井子区", "金州区", "旅顺口区"]),
    ("长沙", "湖南", "430100", "0731", ["雨花区", "望城区", "长沙县"]),
    ("武汉", "湖北", "420100", "027", ["东西湖区", "汉阳区", "江夏区"]),
    ("郑州", "河南", "410100", "0371", ["中原区", "管城区", "新郑市"]),
    ("洛阳", "河南", "410300", "0379", ["涧西区", "洛龙区", "偃师区"]),
    ("合肥", "安徽", "340100", "0551", ["包河区", "蜀山区", "肥西县"]),
    ("成都", "四川", "510100", "028", ["新都区", "郫都区", "龙泉驿区"]),
    ("重庆", "重庆", "500000", "023", ["九龙坡区", "渝北区", "璧山区"]),
    ("西安", "陕西", "610100", "029", ["未央区", "长安区", "高陵区"]),
    ("唐山", "河北", "130200", "0315", ["丰润区", "路北区", "迁安市"]),
    ("泉州", "福建", "350500", "0595", ["晋江市", "南安市", "丰泽区"]),
    ("厦门", "福建", "350200", "0592", ["集美区", "海沧区", "同安区"]),
    ("上海", "上海", "310000", "021", ["嘉定区", "松江区", "闵行区", "浦东新区"]),
    ("北京", "北京", "110000", "010", ["大兴区", "顺义区", "昌平区"]),
]
CITY = {c[0]: c for c in CITIES}
MUNI = {"上海", "北京", "天津", "重庆"}
ROADS = ["工业", "兴业", "创业", "长江", "黄河", "人民", "建设", "民营", "机场", "环城", "科技", "开发", "金山",
         "通达", "永安", "富民", "新华", "振兴", "东方", "滨江", "湖滨", "太湖", "珠江", "泰山"]
BR = "恒力鑫华宏泰达盛通瑞丰精诚联创金鼎隆兴永安昌凯威德海天正伟佳宇锦博振新长远顺利东方明光荣宝嘉亿万众汇合信和富广弘腾飞越奥星辉峰晟祥旺邦奇骏豪耀川格迈锐捷力拓中屹"
BR = "".join(dict.fromkeys(BR))
TRADES = ["机械设备", "机械制造", "精密机械", "重工机械", "五金制品", "五金机电", "模具", "精密模具", "自动化设备",
          "自动化科技", "液压设备", "液压机械", "轴承", "轴承制造", "电气", "电气设备", "电气自动化", "化工", "精细化工",
          "包装材料", "包装制品", "钢材贸易", "钢铁", "特钢", "机电设备", "紧固件", "阀门", "泵业", "传动设备",
          "数控机床", "工业设备", "环保设备", "铸造", "锻造", "橡塑制品", "焊接设备", "空压机", "工具", "刀具",
          "起重设备", "输送设备", "电机", "线缆", "智能装备", "机电科技"]
TSHORT = {t: t[:2] for t in TRADES}
TSHORT.update({"精密机械": "机械", "重工机械": "重工", "精密模具": "模具", "精细化工": "化工", "钢材贸易": "钢材",
               "自动化设备": "自动化", "自动化科技": "自动化", "轴承制造": "轴承", "液压设备": "液压", "液压机械": "液压",
               "电气设备": "电气", "电气自动化": "电气", "机电设备": "机电", "机电科技": "机电", "五金制品": "五金",
               "五金机电": "五金"})
SURN = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国建华志强志明海燕红梅文斌国平振华永刚立新晓东春雷"
REPS = ["张伟", "王磊", "李娜", "刘洋", "陈杰", "杨帆", "赵敏", "周强", "吴刚", "徐静", "孙丽", "马超"]

TRAD = dict(zip("机设备电气钢铁华达丰诚联兴凯伟锦顺东广宝亿万众汇业门阀轴压动苏无锡宁庆阳长汉郑济烟台绍温连庄厦厂装贸紧传数环铸锻线缆输实团发术制龙飞腾云变国际区县镇号责风车锐鸿义乐营",
                "機設備電氣鋼鐵華達豐誠聯興凱偉錦順東廣寶億萬眾匯業門閥軸壓動蘇無錫寧慶陽長漢鄭濟煙臺紹溫連莊廈廠裝貿緊傳數環鑄鍛線纜輸實團發術製龍飛騰雲變國際區縣鎮號責風車銳鴻義樂營"))
TYPO = {"恒": "衡", "力": "立", "鑫": "新", "华": "化", "宏": "弘", "泰": "太", "达": "大", "盛": "胜", "通": "同", "瑞": "锐",
        "丰": "峰", "精": "晶", "诚": "成", "联": "连", "金": "今", "鼎": "顶", "隆": "龙", "兴": "星", "永": "勇", "安": "按",
        "昌": "长", "凯": "铠", "威": "伟", "德": "得", "海": "每", "天": "夭", "正": "政", "佳": "家", "宇": "雨", "锦": "金",
        "博": "搏", "振": "震", "新": "欣", "远": "源", "顺": "舜", "明": "名", "光": "广", "荣": "容", "宝": "保", "嘉": "佳",
        "亿": "忆", "众": "重", "汇": "惠", "合": "和", "信": "新", "富": "福", "广": "光", "腾": "滕", "飞": "非", "越": "跃",
        "星": "兴", "辉": "晖", "峰": "锋", "晟": "盛", "祥": "翔", "旺": "望", "邦": "帮", "奇": "琦", "骏": "俊", "豪": "浩",
        "耀": "曜", "川": "州", "格": "阁", "迈": "麦", "锐": "瑞", "捷": "杰", "拓": "托", "中": "忠", "屹": "亿", "长": "常",
        "东": "冬", "方": "芳", "利": "立", "创": "闯", "弘": "宏", "奥": "澳", "和": "合"}


def trad(s):
    return "".join(TRAD.get(c, c) for c in s)


# ---------------------------------------------------------------- companies
companies = []  # dicts
used_names = set()


def mk_phone(city, mobile_ok=True):
    if mobile_ok and R.random() < .25:
        return ("m", R.choice(["138", "139", "135", "136", "137", "150", "151", "158", "186", "187", "189", "133", "180", "199"])
                + "".join(R.choice("0123456789") for _ in range(8)))
    ac = CITY[city][3]
    n = 8 if len(ac) == 3 or ac in ("0512", "0510", "0574", "0571", "0757", "0769", "0755", "0532", "0531", "0731", "0371", "0551", "0577", "0519") else 7
    first = R.choice("2345678")
    return ("l", ac + first + "".join(R.choice("0123456789") for _ in range(n - 1)))


def mk_addr(city):
    c = CITY[city]
    d = R.choice(c[4])
    tail = R.choice([f"{R.choice(ROADS)}路{R.randint(1, 999)}号", f"{R.choice(ROADS)}大道{R.randint(1, 3000)}号",
                     f"{R.choice(ROADS)}路{R.randint(1, 300)}号{R.randint(1, 12)}幢", f"{R.choice(ROADS)}工业园{R.choice('ABCDEFG')}区{R.randint(1, 40)}号"])
    return d, tail


def mk_company(brand=None, city=None, trade=None, kind="normal", parent=None):
    for _ in range(100):
        b = brand or (R.choice(BR) + R.choice(BR))
        if b[0] == b[1]:
            continue
        c = city or R.choice(CITIES)[0]
        t = trade or R.choice(TRADES)
        r = R.random()
        form = "有限公司" if r < .58 else "有限责任公司" if r < .72 else "股份有限公司" if r < .82 else \
            "实业有限公司" if r < .88 else "厂" if r < .94 else "集团有限公司"
        style = R.random()
        prov = CITY[c][1]
        if form == "厂":
            d = R.choice(CITY[c][4])
            full = f"{c}市{d}{b}{t}厂" if c not in MUNI else f"{c}市{d}{b}{t}厂"
            stylen = "factory"
        elif style < .45:
            full, stylen = f"{c}市{b}{t}{form}", "citysi"
        elif style < .62:
            full, stylen = f"{c}{b}{t}{form}", "city"
        elif style < .78 and c not in MUNI:
            full, stylen = f"{prov}{b}{t}{form}", "prov"
        elif style < .90:
            full, stylen = f"{b}（{c}）{t}{form}", "bracket"
        else:
            full, stylen = f"{b}{t}{form}", "noregion"
        if full in used_names:
            continue
        used_names.add(full)
        cid = f"C{len(companies) + 1:05d}"
        div = CITY[c][2]
        oc = org_code()
        co = dict(id=cid, brand=b, city=c, trade=t, form=form, full=full, style=stylen, kind=kind, parent=parent,
                  div=div, org=oc, uscc=uscc(div, oc), reg=reg15(div), phone=mk_phone(c), addr=mk_addr(c),
                  contact=R.choice(SURN) + R.choice(GIVEN) + (R.choice(GIVEN) if R.random() < .5 else ""),
                  mobile="1" + R.choice("3589") + "".join(R.choice("0123456789") for _ in range(9)),
                  old_name=None, email_dom=None)
        if R.random() < .3:
            co["email_dom"] = f"{''.join(R.choice('abcdefghjkmnpqrstwxyz') for _ in range(R.randint(3, 6)))}.com"
        companies.append(co)
        return co
    raise RuntimeError


N_BASE = 3500
for i in range(N_BASE):
    mk_company()
base = list(companies)
# branches: distinct companies
for h in R.sample(base, 160):
    bc = R.choice([c for c in CITY if c != h["city"]])
    co = mk_company(brand=h["brand"], city=bc, trade=h["trade"], kind="branch", parent=h["id"])
    used_names.discard(co["full"])
    co["full"] = h["full"] + f"{bc}分公司"
    co["form"] = h["form"]
# sister companies (same brand, same city, other trade, shared phone/address)
for h in R.sample(base, 170):
    t = R.choice([x for x in TRADES if TSHORT[x] != TSHORT[h["trade"]]])
    co = mk_company(brand=h["brand"], city=h["city"], trade=t, kind="sister", parent=h["id"])
    co["phone"], co["addr"] = h["phone"], h["addr"]
# same brand, other city
for h in R.sample(base, 170):
    co = mk_company(brand=h["brand"], city=R.choice([c for c in CITY if c != h["city"]]),
                    trade=h["trade"] if R.random() < .6 else None, kind="samebrand", parent=h["id"])
# renames
for h in R.sample(base, 70):
    nb = R.choice(BR) + R.choice(BR)
    h["old_name"] = h["full"].replace(h["brand"], nb, 1)
print("companies", len(companies))


# ---------------------------------------------------------------- variants
def fmt_phone(p, co):
    kind, num = p
    r = R.random()
    if kind == "m":
        return R.choice([num, f"{num[:3]} {num[3:7]} {num[7:]}", f"{num[:3]}-{num[3:7]}-{num[7:]}", f"+86 {num}",
                         f"86-{num}", f"+86-{num[:3]}-{num[3:7]}-{num[7:]}", f"{num} "])
    ac = num[:4] if num[:3] not in ("021", "010", "020", "022", "023", "024", "025", "027", "028", "029") else num[:3]
    loc = num[len(ac):]
    if r < .3:
        return f"{ac}-{loc}"
    if r < .45:
        return f"({ac}){loc}"
    if r < .55:
        return num
    if r < .65:
        return f"{ac}-{loc[:4]} {loc[4:]}"
    if r < .72:
        return f"+86 {ac[1:]} {loc}"
    if r < .80:
        return f"{ac}-{loc}转{R.randint(800, 8999)}"
    if r < .86:
        return f"{ac} {loc}-{R.randint(1, 99)}"
    if r < .93:
        return f"{ac}-{loc}/{co['mobile']}"
    return f"{ac}－{loc}"  # full-width dash


def fmt_code(co, src):
    """returns (value, code_kind)"""
    r = R.random()
    miss = {"crm": .35, "erp": .12, "xls": .7}[src]
    if r < miss:
        return "", "none"
    r = R.random()
    u = co["uscc"]
    if r < .80:
        return u, "uscc"
    if r < .85:  # mistyped digit
        i = R.randrange(8, 17)
        ch = R.choice([c for c in "0123456789" if c != u[i]])
        return u[:i] + ch + u[i + 1:], "typo"
    if r < .88:
        return u.lower() if R.random() < .5 else f"{u[:6]} {u[6:12]} {u[12:]}", "fmt"
    if r < .90:  # transposition
        i = R.randrange(2, 16)
        return u[:i] + u[i + 1] + u[i] + u[i + 2:], "swap"
    if r < .94:
        return co["reg"], "reg15"
    if r < .97:
        return f"{co['org'][:8]}-{co['org'][8]}", "org9"
    return co["div"] + co["org"], "tax15"


NOTES = ["(老客户)", "（老客户）", "-停用", "（重复）", "【重点】", "*", "(已合作)", "（勿删）", " 作废", "(VIP)"]


def half_brackets(s):
    return s.replace("（", "(").replace("）", ")")


def name_variant(co, src):
    """returns (name, variant kind)"""
    full = co["full"]
    r = R.random()
    probs = {"crm": [.62, .07, .05, .04, .04, .04, .04, .04, .03, .03],
             "erp": [.80, .05, .03, .02, .02, .03, .01, .02, .01, .01],
             "xls": [.30, .05, .04, .20, .10, .08, .08, .06, .05, .04]}[src]
    kinds = ["full", "suffix", "bracket", "short", "noregion", "note", "typo", "trad", "space", "addregion"]
    k = R.choices(kinds, probs)[0]
    if co["kind"] == "branch" and k in ("short", "noregion", "addregion"):
        k = "full"
    if k == "full":
        return full, k
    if k == "suffix":
        if "有限责任公司" in full:
            return full.replace("有限责任公司", "有限公司"), k
        if "股份有限公司" in full:
            return full.replace("股份有限公司", "有限公司"), k
        if full.endswith("有限公司"):
            return full[:-4] + R.choice(["有限责任公司", "公司", "有限公司 "]), k
        return full + "有限公司", k
    if k == "bracket":
        if "（" in full:
            return half_brackets(full), k
        if co["style"] in ("citysi", "city", "prov"):
            reg = co["city"] if co["style"] != "prov" else CITY[co["city"]][1]
            rest = full.split(co["brand"], 1)[1]
            return f"{co['brand']}({reg}){rest}", k
        return full, "full"
    if k == "short":
        b, ts = co["brand"], TSHORT[co["trade"]]
        return R.choice([f"{b}{ts}", f"{co['city']}{b}", f"{b}{co['trade']}", f"{co['city']}{b}{ts}", f"{b}公司", b]), k
    if k == "noregion":
        if co["style"] in ("noregion",):
            return full, "full"
        return f"{co['brand']}{co['trade']}{co['form']}", k
    if k == "note":
        n = R.choice(NOTES)
        return (n + full) if n.startswith("【") else full + n, k
    if k == "typo":
        b = co["brand"]
        i = R.randrange(2)
        nb = b[:i] + TYPO.get(b[i], b[i]) + b[i + 1:]
        if nb == b:
            nb = b[::-1]
        return full.replace(b, nb, 1), k
    if k == "trad":
        return trad(full), k
    if k == "space":
        return R.choice([" " + full, full + "  ", full.replace("有限", " 有限", 1), full.replace("公司", "公 司")]), k
    if k == "addregion":
        if co["style"] == "noregion":
            return f"{co['city']}{full}", k
        if co["style"] == "city":
            return f"{CITY[co['city']][1]}省{full}" if co["city"] not in MUNI else full, k
        return full, "full"
    return full, "full"


def fmt_date(d):
    r = R.random()
    if r < .35:
        return d.strftime("%Y-%m-%d")
    if r < .55:
        return f"{d.year}/{d.month}/{d.day}"
    if r < .65:
        return d.strftime("%Y.%m.%d")
    if r < .75:
        return d.strftime("%Y%m%d")
    if r < .88:
        return f"{d.year}年{d.month}月{d.day}日"
    return d.strftime("%Y-%m-%d %H:%M:%S")


def fmt_amount(a):
    r = R.random()
    if r < .25:
        return f"{a:.0f}"
    if r < .40:
        w = a / 10000
        return (f"{w:g}万" if R.random() < .6 else f"{w:g}万元")
    if r < .55:
        return f"¥{a:,.0f}"
    if r < .75:
        return f"{a:,.2f}"
    if r < .82:
        return f"{a:.2f}"
    if r < .90:
        return f"{a:.0f}元"
    return f"RMB {a:,.0f}"


def addr_str(co, src):
    c = CITY[co["city"]]
    d, tail = co["addr"]
    r = R.random()
    if r < .35:
        return f"{c[1]}省{c[0]}市{d}{tail}" if c[0] not in MUNI else f"{c[0]}市{d}{tail}"
    if r < .65:
        return f"{c[0]}市{d}{tail}"
    if r < .8:
        return f"{d}{tail}"
    if r < .9:
        return f"{c[0]}{d}{tail}"
    return f"{c[0]}市{d}{tail}".replace("号", "號") if R.random() < .3 else f"{c[1]}{c[0]}{d}{tail}"


# ---------------------------------------------------------------- presence
recs = {"crm": [], "erp": [], "xls": []}
truth_c = []
for co in companies:
    pc, pe, px = .62, .48, .33
    if co["kind"] == "branch":
        pe = .7
    srcs = [s for s, p in (("crm", pc), ("erp", pe), ("xls", px)) if R.random() < p]
    if not srcs:
        srcs = [R.choice(["crm", "erp", "xls"])]
    for s in srcs:
        n = 1 + (R.random() < {"crm": .05, "erp": .04, "xls": .04}[s])
        for j in range(n):
            recs[s].append((co, j))

# ---------------------------------------------------------------- legacy CRM
dbp = os.path.join(OUT, "legacy_crm.sqlite")
if os.path.exists(dbp):
    os.remove(dbp)
db = sqlite3.connect(dbp)
db.execute("""CREATE TABLE khda (kh_id INTEGER PRIMARY KEY, kh_mc TEXT, tyxydm TEXT, lxr TEXT, lxdh TEXT, sj TEXT,
  yx TEXT, dz TEXT, hy TEXT, zt TEXT, ywy TEXT, jdrq TEXT, gxrq TEXT, bz TEXT)""")
R.shuffle(recs["crm"])
crm_key_of = {}  # company id -> list of crm keys
HY = {"机械": "机械制造", "五金": "五金", "模具": "模具", "自动": "自动化", "液压": "液压气动", "轴承": "轴承",
      "电气": "电气", "化工": "化工", "包装": "包装", "钢材": "钢材", "钢铁": "钢材", "特钢": "钢材"}
kid = 100000
for co, j in recs["crm"]:
    kid += R.randint(1, 7)
    nm, vk = name_variant(co, "crm")
    if co["old_name"] and R.random() < .6:
        nm, vk = co["old_name"], "oldname"
    code, ck = fmt_code(co, "crm")
    if vk == "oldname" and ck not in ("uscc", "fmt"):
        code, ck = co["uscc"], "uscc"
    # branch recorded under head-office name
    if co["kind"] == "branch" and R.random() < .08:
        nm, vk = nm.split("有限公司")[0] + "有限公司" if "有限公司" in nm else nm, "branch_as_head"
    created = dt.date(2012, 1, 1) + dt.timedelta(days=R.randint(0, 4000))
    updated = created + dt.timedelta(days=R.randint(0, 1500))
    ph = fmt_phone(co["phone"], co) if R.random() < .9 else ""
    hy = next((v for k, v in HY.items() if k in co["trade"]), "其他")
    db.execute("INSERT INTO khda VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
               (kid, nm, code, co["contact"], ph, co["mobile"] if R.random() < .4 else None,
                f"{R.choice(['sales', 'info', 'purchase', 'cg'])}@{co['email_dom']}" if co["email_dom"] and R.random() < .6 else
                (f"{R.randint(10000, 999999999)}@qq.com" if R.random() < .15 else None),
                addr_str(co, "crm") if R.random() < .85 else None, hy,
                R.choice(["正常"] * 8 + ["停用", "潜在", "流失"]), R.choice(REPS),
                fmt_date(created) if R.random() < .7 else created.isoformat(), updated.isoformat() + " 10:%02d:00" % R.randint(0, 59),
                R.choice([None, None, None, "老客户", "年度框架", "重点跟进", "款期60天"])))
    crm_key_of.setdefault(co["id"], []).append(kid)
    truth_c.append(("legacy_crm", str(kid), co["id"], vk, ck, nm))

# ---------------------------------------------------------------- ERP CSV (GBK)
R.shuffle(recs["erp"])
erp_rows = []
for i, (co, j) in enumerate(recs["erp"]):
    key = f"KH{R.choice(['01', '02', '03'])}{i + 1:05d}"
    nm, vk = name_variant(co, "erp")
    if j == 1 and R.random() < .5:
        nm, vk = nm + R.choice(["-停用", "(停用)", "（作废）"]), "note"
    if co["kind"] == "branch" and R.random() < .1:
        nm, vk = co["full"].split("分公司")[0].rsplit(co["city"], 1)[0], "branch_as_head"
    code, ck = fmt_code(co, "erp")
    try:
        nm.encode("gbk")
    except UnicodeEncodeError:
        nm = co["full"]
    created = dt.date(2010, 1, 1) + dt.timedelta(days=R.randint(0, 5000))
    erp_rows.append([key, nm, code, fmt_phone(co["phone"], co) if R.random() < .85 else "", addr_str(co, "erp"),
                     "停用" if "停用" in nm else R.choice(["正常"] * 9 + ["冻结"]), created.strftime(R.choice(["%Y-%m-%d", "%Y/%m/%d"])),
                     R.choice(["华东一部", "华东二部", "华南", "华北", "西南"]), f"{R.randint(0, 500000)}.{R.randint(0, 99):02d}"])
    truth_c.append(("erp_export", key, co["id"], vk, ck, nm))
with open(os.path.join(OUT, "erp_customers.csv"), "w", encoding="gbk", newline="") as f:
    w = csv.writer(f)
    w.writerow(["客户编码", "客户全称", "纳税人识别号", "电话", "开票地址", "状态", "建档日期", "所属部门", "应收余额"])
    w.writerows(erp_rows)
    f.write(f"共{len(erp_rows)}条记录\r\n")
    f.write("导出时间：2024-06-28 17:03:22,操作员：admin\r\n")

# ---------------------------------------------------------------- workbook
wb = openpyxl.Workbook()
ws = wb.active
ws.title = "客户清单"
ws.append(["华东区销售部 客户清单（2024年6月更新）"])
ws.merge_cells("A1:J1")
ws.append(["序号", "客户名称", "统一社会信用代码", "联系方式", None, "地址", "行业", "负责人", "录入日期", "备注"])
ws.append([None, None, None, "联系人", "电话", None, None, None, None, None])
for col in "ABCFGHIJ":
    ws.merge_cells(f"{col}2:{col}3")
ws.merge_cells("D2:E2")
for c in ws[2] + ws[3]:
    c.font = Font(bold=True)
    c.alignment = Alignment(horizontal="center")
R.shuffle(recs["xls"])
by_rep = {}
for co, j in recs["xls"]:
    by_rep.setdefault(R.choice(REPS[:8]), []).append((co, j))
for rep, items in by_rep.items():
    ws.append([f"【{rep}负责客户】"])
    for n, (co, j) in enumerate(items, 1):
        nm, vk = name_variant(co, "xls")
        code, ck = fmt_code(co, "xls")
        ph = fmt_phone(("m", co["mobile"]), co) if R.random() < .5 else fmt_phone(co["phone"], co)
        d = dt.date(2018, 1, 1) + dt.timedelta(days=R.randint(0, 2300))
        dv = d if R.random() < .5 else fmt_date(d)
        ws.append([n, nm, code, co["contact"] if R.random() < .8 else None, ph if R.random() < .92 else None,
                   addr_str(co, "xls") if R.random() < .6 else None, R.choice(["机械", "制造业", "五金", "化工", None]),
                   rep, dv, R.choice([None] * 6 + ["老客户", "需回访", "已报价", "展会认识"])])
        row = ws.max_row
        truth_c.append(("sales_workbook", row, co["id"], vk, ck, nm))
    ws.append([None, "小计", f"{len(items)}家"])
ws.append([])
ws.append(["合计", None, None, None, None, None, None, None, None, len(recs["xls"])])
ws.append(["注：本表仅供内部使用，信用代码以营业执照为准。"])

# ---------------------------------------------------------------- opportunities
PRODUCTS = ["数控车床CK6150", "立式加工中心VMC850", "液压站", "轴承年度供货", "伺服电机", "变频器", "空压机", "行车起重机",
            "输送线改造", "自动化产线", "焊接机器人", "模具钢", "不锈钢板材", "紧固件年度框架", "阀门采购", "离心泵",
            "减速机", "PLC控制柜", "激光切割机", "折弯机", "冷却塔", "环保除尘设备", "包装机", "注塑机", "刀具年度采购",
            "电缆", "配电柜", "叉车", "检测设备", "备品备件"]
SUFF = ["采购项目", "项目", "采购", "", "改造项目", "(一期)", "(二期)", "年度合同"]
CRM_STAGE = {"prospecting": "线索", "qualification": "意向客户", "proposal": "已报价", "negotiation": "商务谈判",
             "closed_won": "已签约", "closed_lost": "丢单"}
XLS_STAGE = {"prospecting": "初步接洽", "qualification": "需求确认", "proposal": "报价中", "negotiation": "谈判中",
             "closed_won": "签了", "closed_lost": "黄了"}
deals = []
for co in companies:
    k = R.choices([0, 1, 2, 3], [.15, .55, .22, .08])[0]
    for _ in range(k):
        p = R.choice(PRODUCTS)
        amt = R.choice([R.randint(2, 300) * 5000, R.randint(10, 2000) * 1000, R.randint(1, 80) * 12500])
        close = dt.date(2021, 1, 1) + dt.timedelta(days=R.randint(0, 1100))
        deals.append(dict(id=f"D{len(deals) + 1:05d}", co=co, name=p + R.choice(SUFF), amount=float(amt), close=close,
                          stage=R.choice(list(CRM_STAGE)), renewal_of=None))
for d in R.sample(deals, 400):
    nm = d["name"]
    deals.append(dict(id=f"D{len(deals) + 1:05d}", co=d["co"], name=nm, amount=d["amount"] if R.random() < .8 else d["amount"] * 1.05,
                      close=d["close"] + dt.timedelta(days=R.randint(355, 380)), stage=R.choice(list(CRM_STAGE)), renewal_of=d["id"]))
print("deals", len(deals))

db.execute("""CREATE TABLE xsjh (jh_id TEXT PRIMARY KEY, kh_id INTEGER, jh_mc TEXT, je TEXT, jd TEXT, yjqyrq TEXT,
  cjsj TEXT, ywy TEXT, bz TEXT)""")
truth_o = []
xls_deals = []
oid = 0
for d in deals:
    co = d["co"]
    in_crm = co["id"] in crm_key_of and R.random() < .75
    in_xls = R.random() < (.35 if in_crm else .6)
    if not in_crm and not in_xls:
        continue
    if in_crm:
        oid += 1
        key = f"SJ{oid:06d}"
        db.execute("INSERT INTO xsjh VALUES (?,?,?,?,?,?,?,?,?)",
                   (key, R.choice(crm_key_of[co["id"]]), d["name"], fmt_amount(d["amount"]), CRM_STAGE[d["stage"]],
                    fmt_date(d["close"]), (d["close"] - dt.timedelta(days=R.randint(20, 200))).isoformat(), R.choice(REPS), None))
        truth_o.append(("legacy_crm_opps", key, d["id"], co["id"]))
    if in_xls:
        xls_deals.append(d)
db.commit()
db.close()

# deals sheet
ws2 = wb.create_sheet("商机跟进")
ws2.append(["2023-2024 商机跟进表（销售部）"])
ws2.merge_cells("A1:H1")
ws2.append(["制表：销售管理部", None, None, None, None, "单位：元（部分为万元）"])
ws2.append(["序号", "客户", "项目名称", "金额", "阶段", "预计签约", "销售", "备注"])
R.shuffle(xls_deals)
by_rep = {}
for d in xls_deals:
    by_rep.setdefault(R.choice(REPS), []).append(d)
for rep, items in by_rep.items():
    ws2.append([f"销售：{rep}"])
    tot = 0
    for n, d in enumerate(items, 1):
        co = d["co"]
        r = R.random()
        if r < .45:
            b, ts = co["brand"], TSHORT[co["trade"]]
            cn = R.choice([f"{b}{ts}", f"{co['city']}{b}", b, f"{co['city']}{b}{ts}"]) if co["kind"] != "branch" else \
                f"{b}{co['city']}分公司"
        elif r < .75:
            cn = co["full"]
        else:
            cn = name_variant(co, "xls")[0]
        nm = d["name"]
        rr = R.random()
        if rr < .15:
            nm = nm.replace("采购项目", "采购").replace("项目", "")
        elif rr < .25:
            nm = co["brand"] + nm
        elif rr < .3:
            nm = trad(nm)
        amt = d["amount"]
        if R.random() < .05:
            amt = round(amt / 10000, 1) * 10000  # rounded in the sheet
        av = amt if R.random() < .45 else fmt_amount(amt)
        close = d["close"] + dt.timedelta(days=R.choice([0, 0, 0, R.randint(-20, 20)]))
        cv = close if R.random() < .5 else fmt_date(close)
        ws2.append([n, cn, nm, av, XLS_STAGE[d["stage"]], cv, rep, R.choice([None] * 5 + ["含税", "等招标", "老客户复购"])])
        truth_o.append(("sales_workbook_opps", ws2.max_row, d["id"], co["id"]))
        tot += amt
    ws2.append(["小计", None, None, tot])
ws2.append(["注：金额未特别说明均为含税价"])
wb.save(os.path.join(OUT, "sales_team.xlsx"))

with open(os.path.join(OUT, "truth_customers.csv"), "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f)
    w.writerow(["source", "source_key", "company_id", "variant", "code_kind", "name"])
    w.writerows(truth_c)
with open(os.path.join(OUT, "truth_opps.csv"), "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f)
    w.writerow(["source", "source_key", "deal_id", "company_id"])
    w.writerows(truth_o)
with open(os.path.join(OUT, "companies.csv"), "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f)
    w.writerow(["id", "full", "kind", "parent", "brand", "city", "trade", "uscc", "old_name"])
    for co in companies:
        w.writerow([co[k] for k in ("id", "full", "kind", "parent", "brand", "city", "trade", "uscc", "old_name")])
print({s: len(v) for s, v in recs.items()}, "cust records", len(truth_c), "opp records", len(truth_o))
