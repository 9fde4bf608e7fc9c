"""Chinese administrative region names used to read company names and addresses.

A compact built-in list (provinces and major cities); the address issue replaces it with a full
administrative-division data set.
"""
from __future__ import annotations

PROVINCES = [
    "北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽", "福建", "江西",
    "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州", "云南", "陕西", "甘肃", "青海", "台湾",
    "内蒙古", "广西", "西藏", "宁夏", "新疆", "香港", "澳门",
]
MUNICIPALITIES = {"北京", "天津", "上海", "重庆"}
# city short name -> province short name
CITIES = {
    "深圳": "广东", "广州": "广东", "东莞": "广东", "佛山": "广东", "珠海": "广东", "杭州": "浙江", "宁波": "浙江",
    "温州": "浙江", "南京": "江苏", "苏州": "江苏", "无锡": "江苏", "常州": "江苏", "徐州": "江苏", "福州": "福建",
    "厦门": "福建", "泉州": "福建", "成都": "四川", "武汉": "湖北", "长沙": "湖南", "济南": "山东", "青岛": "山东",
    "西安": "陕西", "长春": "吉林", "哈尔滨": "黑龙江", "沈阳": "辽宁", "大连": "辽宁", "南昌": "江西", "合肥": "安徽",
    "郑州": "河南", "开封": "河南", "石家庄": "河北", "太原": "山西", "昆明": "云南", "贵阳": "贵州", "南宁": "广西",
    "海口": "海南", "兰州": "甘肃", "西宁": "青海", "银川": "宁夏", "乌鲁木齐": "新疆", "拉萨": "西藏", "呼和浩特": "内蒙古",
}
for _m in MUNICIPALITIES:
    CITIES[_m] = _m
PROVINCE_SUFFIX = {"内蒙古": "自治区", "广西": "壮族自治区", "西藏": "自治区", "宁夏": "回族自治区", "新疆": "维吾尔自治区",
                   "香港": "特别行政区", "澳门": "特别行政区"}


def province_full(short: str) -> str:
    if short in MUNICIPALITIES:
        return short + "市"
    return short + PROVINCE_SUFFIX.get(short, "省")


# Longest first so that 哈尔滨 wins over a shorter prefix.
REGION_SHORT_NAMES = sorted(set(PROVINCES) | set(CITIES), key=len, reverse=True)
