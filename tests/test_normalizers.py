from datetime import datetime
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import example, given, settings, strategies as st

from transforms import credit_code as cc
from transforms.addresses import parse_address
from transforms.amounts import parse_amount
from transforms.dates import parse_date
from transforms.emails import parse_email
from transforms.names import parse_name
from transforms.phones import parse_phone
from transforms.value_maps import apply_value_map
from crm_migrate.flags import init_flags


@pytest.mark.parametrize(
    "a, b",
    [
        ("深圳市腾飞电子科技有限公司", "腾飞电子科技（深圳）有限公司"),
        ("深圳市腾飞电子科技有限公司", "深圳腾飞电子科技有限责任公司"),
        ("深圳市腾飞电子科技有限公司", "深圳市腾飞电子科技 有限公司"),
        ("深圳市腾飞电子科技有限公司", "深圳市腾飞·电子科技有限公司"),
        ("深圳市腾飞电子科技有限公司", "深圳市「腾飞」电子科技有限公司"),
    ],
)
def test_name_variants_share_a_key(a, b):
    assert parse_name(a)[1] == parse_name(b)[1]


@pytest.mark.parametrize(
    "a, b",
    [
        ("深圳市腾飞电子科技有限公司", "广州市腾飞电子科技有限公司"),  # same brand, another city
        ("深圳市腾飞电子科技有限公司", "深圳市腾飞电子科技有限公司北京分公司"),  # branch
        ("深圳市腾飞电子科技有限公司", "深圳市腾飞电子科技股份有限公司"),  # another legal form
    ],
)
def test_different_companies_keep_different_keys(a, b):
    assert parse_name(a)[1] != parse_name(b)[1]


def test_name_structure_traditional_characters_and_branches():
    from transforms.names import parse_company

    p = parse_company("深圳市腾飞电子科技有限公司北京分公司")
    assert (p.region, p.brand, p.industry, p.form, p.branch) == ("深圳", "腾飞", "电子科技", "有限公司", "北京分公司")
    assert parse_company("廣州市華鑫貿易有限公司").normalized == "广州市华鑫贸易有限公司"
    assert parse_company("廣州市華鑫貿易有限公司").key == parse_company("广州华鑫贸易有限责任公司").key
    assert parse_company("腾飞电子科技【深圳】有限公司").region == "深圳"
    assert parse_company("黄山旅游发展股份有限公司").region is None  # a brand that starts like a city is not a region
    assert parse_company("黄山市旅游发展有限公司").region == "黄山"
    # Province and city written together: the city is the region, and the key is the city's own
    for full in ("江苏省南京市洪龙企业管理咨询有限公司", "江苏南京洪龙企业管理咨询有限公司"):
        assert parse_company(full).key == parse_company("南京市洪龙企业管理咨询有限公司").key == "南京|洪龙企业管理咨询有限公司"
    assert parse_company("广东省腾飞科技有限公司").region == "广东"  # a province alone stays the region
    english = parse_company("ACME Trading Co., Ltd.")
    assert (english.brand, english.industry, english.form) == ("acme", "贸易", "有限公司")
    # The English name of a Chinese company: its place, trade and form, and its brand as pinyin.
    wuhan = parse_company("Wuhan Xianghua Trading Co., Ltd.")
    assert (wuhan.region, wuhan.brand, wuhan.trade_key, wuhan.form) == ("武汉", "xianghua", "贸易", "有限公司")
    assert parse_company("Tuotong Food (Jinan) Co., Ltd. 重复录入").region == "济南"
    assert parse_company("Suzhou Huaxin Trading Co., Ltd.").region is None  # 苏州 or 宿州: no guess
    assert parse_company("ACME Corp").key == "acme"  # no place, no trade: the words are the brand
    # Notes after the legal name, a form typed twice or in English, a branch in brackets or without a form.
    for noted in ("温州市恒腾装饰工程有限公司 重复录入", "温州市恒腾装饰工程有限公司公司", "作废-温州市恒腾装饰工程有限公司",
                  "温州市恒腾装饰工程 Co., Ltd."):
        assert parse_company(noted).key == "温州|恒腾装饰工程有限公司", noted
    for branch in ("深圳市宸飞软件有限公司（上海分公司）", "深圳市宸飞软件有限公司上海分公司"):
        assert (parse_company(branch).brand, parse_company(branch).branch) == ("宸飞", "上海分公司")
    assert (parse_company("通钧科技南京办事处").brand, parse_company("通钧科技南京办事处").branch) == ("通钧", "南京办事处")
    assert parse_company("中国建设银行股份有限公司深圳分行").branch == "深圳分行"
    # Trades outside the first list: the brand stops where the trade starts.
    assert (parse_company("佛山市新俊塑胶制品有限公司").brand, parse_company("佛山市新俊塑胶制品有限公司").trade_key) == ("新俊", "塑料")  # 塑胶 = 塑料
    # A short name written with 集团 (a deal's 恒飞集团 for 北京市恒飞集团有限公司): the brand without it, a group's trade.
    for short in ("恒飞集团", "恒飞集团公司"):
        p = parse_company(short)
        assert (p.brand, p.trade_key) == ("恒飞", "集团") == (parse_company("北京市恒飞集团有限公司").brand, parse_company("北京市恒飞集团有限公司").trade_key)


def test_name_parts():
    assert parse_name("深圳市腾飞电子科技有限公司北京分公司")[3] is True
    assert parse_name("腾飞电子科技有限公司")[2] is False  # no region: never merged on name alone
    assert parse_name("Acme Co., Ltd.")[:2] == ("Acme Co., Ltd.", "acme")


@pytest.mark.parametrize(
    "raw, phone, kind, other, flag",
    [
        ("+86 138-1234-5678", "+8613812345678", "mobile", None, None),
        ("0755-26012345转123", "+8675526012345;ext=123", "landline", None, None),
        ("(010)62345678", "+861062345678", "landline", None, None),
        ("400-810-8888", "+864008108888", "landline", None, None),
        ("手机:13812345678，座机:010-62345678", "+8613812345678", "mobile", "+861062345678", "multiple_phones"),
        ("13812345678 / 075526", "+8613812345678", "mobile", None, "multiple_phones;invalid_phone"),
        ("075526", "075526", None, None, "invalid_phone"),
        ("(852) 9019 1643", "+85290191643", "mobile", None, None),  # Hong Kong written without its +
        ("853-2888-1234", "+85328881234", "landline", None, None),
        ("", None, None, None, None),
    ],
)
def test_phones(raw, phone, kind, other, flag):
    assert parse_phone(raw) == (phone, kind, other, flag)


@pytest.mark.parametrize(
    "raw, expected",
    [(" Info@QQ.con ", ("info@qq.con", "email_typo_domain")), ("a#b.com", ("a#b.com", "invalid_email")), ("x@163.com", ("x@163.com", None)),
     ("x@126.co", ("x@126.co", "email_typo_domain")), ("x@vip.163.com", ("x@vip.163.com", None)), ("x@sina.cn", ("x@sina.cn", None)),
     ("a..b@qq.com", ("a..b@qq.com", "invalid_email")), (".a@qq.com", (".a@qq.com", "invalid_email")),
     ("che njun@163.com", ("che njun@163.com", "invalid_email")),  # which half was meant is a guess: kept, flagged
     ("Li＠163.com", ("li@163.com", "email_repaired")), ("li@163.com；", ("li@163.com", "email_repaired")),
     ("a_b+c@sub.example.com.cn", ("a_b+c@sub.example.com.cn", None))],
)
def test_emails(raw, expected):
    assert parse_email(raw) == expected


@pytest.mark.parametrize(
    "raw, day_first, expected",
    [
        ("2023年5月1日", False, datetime(2023, 5, 1)),
        ("2023/5/1", False, datetime(2023, 5, 1)),
        ("2023.5.1", False, datetime(2023, 5, 1)),
        ("20230501", False, datetime(2023, 5, 1)),
        ("01/05/2023", True, datetime(2023, 5, 1)),
        ("01/05/2023", False, datetime(2023, 1, 5)),
        ("45047", False, datetime(2023, 5, 1)),  # Excel serial
        ("2023-05-01 08:30:00", False, datetime(2023, 5, 1, 8, 30)),
        ("2023-05-01T00:30:00Z", False, datetime(2023, 5, 1, 8, 30)),  # offsets -> China Standard Time
        ("2023-05-01T08:30:00+08:00", False, datetime(2023, 5, 1, 8, 30)),
        ("2023年5月1日 8时30分", False, datetime(2023, 5, 1, 8, 30)),
    ],
)
def test_dates(raw, day_first, expected):
    assert parse_date(raw, day_first) == (expected, None)


@pytest.mark.parametrize("raw", ["0000-00-00 00:00:00", "2023-02-30", "not a date"])
def test_impossible_dates_are_flagged(raw):
    assert parse_date(raw) == (None, "invalid_date")


@pytest.mark.parametrize(
    "raw, amount, currency",
    [
        ("12.5万", Decimal("125000.00"), None),
        ("¥125,000", Decimal("125000.00"), "CNY"),
        ("￥125,000", Decimal("125000.00"), "CNY"),
        ("(3,000.50)", Decimal("-3000.50"), None),
        ("1.2亿", Decimal("120000000.00"), None),
        ("８８００元", Decimal("8800.00"), "CNY"),
    ],
)
def test_amounts(raw, amount, currency):
    assert parse_amount(raw) == (amount, currency, None)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("深圳市南山区科技园路1号", ("广东省", "深圳市", "南山区", None)),  # province filled from the city
        ("北京市海淀区中关村大街1号", ("北京市", "北京市", "海淀区", None)),  # a municipality is its own city
        ("上海浦东新区世纪大道100号", ("上海市", "上海市", "浦东新区", None)),
        ("南京市鼓楼区中山路1号", ("江苏省", "南京市", "鼓楼区", None)),  # ambiguous district, resolved by the city
        ("福建省福州市鼓楼区五一路", ("福建省", "福州市", "鼓楼区", None)),
        ("鼓楼区中山路1号", (None, None, "鼓楼区", "ambiguous_district")),  # 南京, 福州, 徐州, 开封: flagged
        ("朝阳区建国路", (None, None, "朝阳区", "ambiguous_district")),  # 北京 or 长春, not the city 朝阳
        ("吉林省长春市朝阳区人民大街", ("吉林省", "长春市", "朝阳区", None)),
        ("海淀区中关村大街1号", ("北京市", "北京市", "海淀区", None)),  # a district in one city only fills the city
        ("南山区科技园", (None, None, "南山区", "ambiguous_district")),  # 深圳 and 鹤岗 both have one
        ("随便写的地址", (None, None, None, None)),
    ],
)
def test_addresses(raw, expected):
    assert parse_address(raw)[1:] == expected


def test_unknown_picklist_value_is_kept_and_flagged():
    df = init_flags(pl.DataFrame({"stage": ["赢单", "待定", None]}))
    out = apply_value_map(df, "stage", {"赢单": "closed_won"})
    assert out["stage"].to_list() == ["closed_won", "待定", None]
    assert out["_flags"].to_list() == [[], ["unknown_stage:待定"], []]


text = st.one_of(st.none(), st.text(max_size=40), st.sampled_from(["", " ", "无", "12.5万", "2023年5月1日", "（深圳）", "0755-1234"]))


@settings(max_examples=300, deadline=None)
@given(text)
@example("T¨")  # lower-casing left a decomposed letter that a second pass composed
def test_normalizers_never_raise_and_are_idempotent(value):
    name = parse_name(value)[0]
    assert parse_name(name)[0] == name
    phone = parse_phone(value)[0]
    assert parse_phone(phone)[0] == phone
    code = cc.normalize(value)[0]
    assert cc.normalize(code)[0] == code
    email = parse_email(value)[0]
    assert parse_email(email)[0] == email
    address = parse_address(value)[0]
    assert parse_address(address)[0] == address
    amount = parse_amount(value)[0]
    if amount is not None:
        assert parse_amount(str(amount))[0] == amount
    parse_date(value)


def test_standardize_counts_what_each_rule_changed_and_keeps_extra_columns():
    from transforms.standardize import SourceMappingSpec, standardize

    raw = pl.DataFrame({
        "_source": ["s"] * 3, "_source_key": ["1", "2", "3"], "_row": [2, 3, 4],
        "名称": ["深圳市腾飞电子科技有限公司", "广州市华鑫贸易 有限公司", None],
        "代码": ["91440300708461136T", "91440300708461136t", "暂无"],
        "日期": ["2023-05-01", "2023/5/1", "0000-00-00 00:00:00"],
        "备注": ["a", None, "c"],
    })
    spec = SourceMappingSpec({"name": "名称", "credit_code": "代码", "created_at": "日期"}, {"status": "active"}, False, {})
    out, stats = standardize(raw, "customer", "s", spec)
    by = {s.rule: s for s in stats}
    assert (by["company_name"].values, by["company_name"].changed) == (2, 1)
    assert (by["credit_code"].values, by["credit_code"].changed) == (3, 2)  # lower case repaired, placeholder nulled
    assert (by["created_at"].values, by["created_at"].changed, by["created_at"].flagged) == (3, 2, 1)
    assert out["extra"].to_list() == ['{"备注":"a"}', '{"备注":null}', '{"备注":"c"}']
    assert out["status"].to_list() == ["active"] * 3
    assert out["_flags"].to_list() == [[], ["credit_code_repaired"], ["invalid_date"]]


def test_amount_statistics_count_value_changes_not_formatting():
    from transforms.standardize import SourceMappingSpec, standardize

    raw = pl.DataFrame({"_source": ["s"] * 3, "_source_key": ["1", "2", "3"], "_row": [2, 3, 4],
                        "商机": ["a", "b", "c"], "金额": ["431000", "12.5万", "431000.00"]})
    spec = SourceMappingSpec({"name": "商机", "amount": "金额"}, {}, False, {})
    out, stats = standardize(raw, "opportunity", "s", spec)
    by = {s.rule: s for s in stats}
    assert (by["amount"].values, by["amount"].changed) == (3, 1)  # only 12.5万 became a different text
    assert [str(v) for v in out["amount"].to_list()] == ["431000.00", "125000.00", "431000.00"]


def test_flags_are_credited_to_the_rule_that_raised_them():
    from transforms.standardize import SourceMappingSpec, standardize

    raw = pl.DataFrame({"_source": ["s"] * 2, "_source_key": ["1", "2"], "_row": [2, 3], "名称": ["深圳市腾飞电子科技有限公司", "广州市华鑫贸易有限公司"],
                        "代码": ["70846113-6", "91440300708461136T"], "建": ["2023-05-01", "2023-05-01"], "改": ["2023-02-30", "2023-05-02"]})
    spec = SourceMappingSpec({"name": "名称", "credit_code": "代码", "created_at": "建", "updated_at": "改"}, {}, False, {})
    _, stats = standardize(raw, "customer", "s", spec)
    by = {s.rule: s.flagged for s in stats}
    assert by["credit_code"] == 1  # one record, though it carries invalid_credit_code and legacy_organization_code
    assert (by["created_at"], by["updated_at"]) == (0, 1)


@pytest.mark.parametrize("raw, amount", [("12.5w", "125000.00"), ("3K", "3000.00"), ("2万亿", "2000000000000.00"),
                                         ("1 234 567", "1234567.00"), ("12.5 万", "125000.00"), ("-100", "-100.00")])
def test_amount_units_and_separators(raw, amount):
    assert parse_amount(raw)[0] == Decimal(amount)


@pytest.mark.parametrize("raw", ["1,2,3", "12,5", "1.234,56", "12.5万万", "1亿亿", "1 2 3", "1,234.5.6", "1e5", "12.5万元万"])
def test_amounts_nobody_can_be_sure_of_are_flagged_not_guessed(raw):
    assert parse_amount(raw)[0] is None and parse_amount(raw)[2] == "invalid_amount"


@pytest.mark.parametrize("raw, flag", [("99999", "invalid_date"), ("0001-01-01", "implausible_date"), ("9999-12-31", "implausible_date"),
                                       ("2173-10-13", "implausible_date"), ("1899-12-31 00:00:00", "implausible_date")])
def test_implausible_dates_are_flagged_not_read(raw, flag):
    assert parse_date(raw) == (None, flag)


def test_an_excel_serial_stays_a_date_inside_the_plausible_years():
    assert parse_date("45000") == (datetime(2023, 3, 15), None) and parse_date("73050") == (datetime(2099, 12, 31), None)


@pytest.mark.parametrize("raw, code", [
    ("`91330110MA56TDJKX5", "91330110MA56TDJKX5"), ('="91440300708461136T"', "91440300708461136T"),
    ('"91440300708461136T"', "91440300708461136T"), ("统一社会信用代码：91440300708461136T", "91440300708461136T"),
    ("【91440300708461136T】", "91440300708461136T"), ("\u200b91440300708461136T\ufeff", "91440300708461136T"),
    ("91440300708461136T*", "91440300708461136T"), ("\t914403001922038216 ", "914403001922038216")])
def test_credit_codes_lose_the_junk_spreadsheets_wrap_around_them(raw, code):
    assert cc.normalize(raw)[0] == code and cc.normalize(raw)[1] in (cc.VALID, cc.REPAIRED)


def test_control_and_bidi_characters_are_removed_and_flagged():
    from transforms.standardize import SourceMappingSpec, standardize

    raw = pl.DataFrame({"_source": ["s"] * 3, "_source_key": ["1", "2", "3"], "_row": [2, 3, 4],
                        "名称": ["深圳市腾飞\x00科技有限公司", "\u202e广州市华鑫贸易有限公司", "正常公司"], "电话": ["138\u200b00001111", None, None]})
    out, stats = standardize(raw, "customer", "s", SourceMappingSpec({"name": "名称", "phone": "电话"}, {}, False, {}))
    assert out["name"].to_list() == ["深圳市腾飞科技有限公司", "广州市华鑫贸易有限公司", "正常公司"]
    assert out["phone"].to_list()[0] == "+8613800001111"
    assert [sorted(f for f in fl if f.startswith("control")) for fl in out["_flags"].to_list()] == [
        ["control_characters:name", "control_characters:phone"], ["control_characters:name"], []]
    assert {(s.rule, s.field, s.changed) for s in stats if s.rule == "control_characters"} == {("control_characters", "name", 2), ("control_characters", "phone", 1)}


@pytest.mark.parametrize("raw, phone", [("0755-26781234-801", "+8675526781234;ext=801"), ("010-12345678-12", "+861012345678;ext=12"),
                                        ("021-5555-6666", "+862155556666")])
def test_an_extension_after_a_dash(raw, phone):
    assert parse_phone(raw)[0] == phone


@pytest.mark.parametrize("raw, city, phone, other", [
    ("26781234", "深圳", "+8675526781234", None),        # a local number in a Shenzhen record
    ("26781234", None, "26781234", None),                # no city: kept as written, flagged
    ("2237444", "太原", "+863512237444", None),          # seven digits
    ("0411-87898331 82373115", None, "+8641187898331", "+8641182373115"),  # the second in the first one's area
    ("0574-55125790 55512124", "深圳", "+8657455125790", "+8657455512124"),  # the number's own area wins
    ("0755 2678 1234", None, "+8675526781234", None),    # one number written in groups
    ("(0512)58056060\n13882185094", None, "+8651258056060", "+8613882185094"),
    ("059136377889/52716001", None, "+8659136377889", "+8659152716001"),
])
def test_local_numbers_take_the_area_code_of_their_city_or_cell(raw, city, phone, other):
    got = parse_phone(raw, city)
    assert (got[0], got[2]) == (phone, other)


def test_area_codes_come_from_the_numbering_plan():
    from transforms.phones import area_codes

    codes = area_codes()
    assert (codes["深圳"], codes["北京"], codes["东莞"], codes["乌鲁木齐"]) == ("755", "10", "769", "991")
    assert "晋中" not in codes  # two codes (354, 358) for one description: no guess


@pytest.mark.parametrize("address, city", [
    ("南京路1650号优创工业园5栋", None), ("延安西路100号", None), ("四川北路100号", None), ("长安街1号", None),
    ("天津市南开区南京路1650号", "天津市"), ("南京鼓楼区中山路1号", "南京市"), ("南京市鼓楼区", "南京市"),
])
def test_a_road_named_after_a_place_is_not_that_place(address, city):
    from transforms.regions import parse_divisions

    assert parse_divisions(address)[1] == city


@pytest.mark.parametrize("raw", ["2022年3月", "2022-03", "2022/3", "2022年3月份"])
def test_a_month_without_its_day_is_its_first_day_flagged(raw):
    assert parse_date(raw) == (datetime(2022, 3, 1), "date_month_only")


@pytest.mark.parametrize("name, region, brand", [
    ("唐山宏宝", "唐山", "宏宝"),                      # any prefecture-level city, not only the well-known ones
    ("烟台锦天环保", "烟台", "锦天"),
    ("中山大洋电机股份有限公司", "中山", "大洋"),
    ("金华科技有限公司", None, "金华"),                # nothing but a trade after the city: the city was the brand
    ("黄山旅游发展股份有限公司", None, "黄山"),
    ("江门", None, "江门"),
])
def test_a_name_starting_with_any_city_has_that_region_when_a_brand_follows(name, region, brand):
    from transforms.names import parse_company

    parsed = parse_company(name)
    assert (parsed.region, parsed.brand) == (region, brand)


def test_industrial_trade_words_part_brand_from_trade_and_tell_sister_factories_apart():
    from transforms.names import parse_company

    a, b = parse_company("济南市威川液压设备股份有限公司"), parse_company("济南市威川空压机有限公司")
    assert (a.brand, b.brand) == ("威川", "威川") and a.trade_key != b.trade_key
    assert parse_company("青岛佳腾特钢有限公司").brand == "佳腾"
    assert parse_company("东越紧固件").trade_key == parse_company("东越标准件").trade_key  # one trade, two words


@pytest.mark.parametrize("name, brand, form", [
    ("深圳市南山区腾飞电子科技有限公司", "腾飞", "有限公司"),   # the district is where it is registered, not the brand
    ("合肥市肥西县昌骏钢铁厂", "昌骏", "厂"),                  # a factory (厂) is a form
    ("北京市朝阳区科技有限公司", "朝阳区", "有限公司"),         # nothing but a trade after the district: it stays
])
def test_a_district_after_the_city_is_not_part_of_the_brand(name, brand, form):
    from transforms.names import parse_company

    parsed = parse_company(name)
    assert (parsed.brand, parsed.form) == (brand, form)
    assert parse_company("深圳市南山区腾飞电子科技有限公司").key != parse_company("深圳市腾飞电子科技有限公司").key  # exact names stay exact


def test_placeholders_are_no_value_in_any_text_field_but_picklists():
    from transforms.standardize import SourceMappingSpec, standardize

    raw = pl.DataFrame({"_source": ["s"] * 4, "_source_key": ["1", "2", "3", "4"], "_row": [1, 2, 3, 4],
                        "名称": ["暂无", "深圳市腾飞电子科技有限公司", " n/a ", "不详"], "联系人": ["-", "张三", "无", "李四"],
                        "状态": ["无", "正常", "正常", "正常"], "_flags": [[], [], [], []]})
    spec = SourceMappingSpec({"name": "名称", "contact_name": "联系人", "status": "状态"}, {}, False, {}, {})
    out, stats = standardize(raw, "customer", "s", spec)
    assert out["name"].to_list() == [None, "深圳市腾飞电子科技有限公司", None, None]
    assert out["contact_name"].to_list() == [None, "张三", None, "李四"]
    assert out["status"].to_list()[0] == "无"  # a picklist field: its value map and picklist rule judge it
    assert out["_flags"].to_list()[0] == ["placeholder:name", "placeholder:contact_name"]
    assert {(s.rule, s.field) for s in stats if s.rule == "placeholder"} == {("placeholder", "name"), ("placeholder", "contact_name")}
