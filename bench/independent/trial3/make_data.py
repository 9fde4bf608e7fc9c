#!/usr/bin/env python3
"""Realistic Chinese CRM migration data set (three legacy sources + ground truth).

Written independently of crm-migrate's own generator.  Deterministic for a given --seed.

    python make_data.py --out data --seed 1 [--companies 15000]

Writes into --out:
  sales_team.xlsx        sheets 说明 / 客户清单 / 商机跟进 (title row, two-row merged header, mixed formats)
  erp_customers.csv      GB18030 ERP customer export (title line, footer)
  legacy_crm.sqlite      tables tb_customer, tb_opportunity (amounts in 万元)
  truth/companies.csv    one row per real company (relations: group, parent, brand family)
  truth/customer_records.csv     source, source_key, source_row, company_id, tags, ...
  truth/opportunity_records.csv  source, source_key, source_row, company_id, deal_id, tags, ...
  truth/deals.csv        one row per real deal
"""
import argparse
import csv
import datetime as dt
import json
import os
import random
import sqlite3

SRC_CRM, SRC_ERP, SRC_WB = "legacy_crm", "erp_export", "sales_workbook"
SRC_CRM_OPP, SRC_WB_OPP = "legacy_crm_opps", "sales_workbook_opps"

# ---------------------------------------------------------------- reference data
# city, province (full), province (short), municipality?, area code, weight, districts, english
CITIES = [
    ("深圳", "广东省", "广东", False, "0755", 12, [("南山区", "440305"), ("福田区", "440304"), ("罗湖区", "440303"), ("宝安区", "440306"), ("龙岗区", "440307"), ("龙华区", "440309")], "Shenzhen"),
    ("广州", "广东省", "广东", False, "020", 10, [("天河区", "440106"), ("越秀区", "440104"), ("海珠区", "440105"), ("白云区", "440111"), ("番禺区", "440113"), ("黄埔区", "440112")], "Guangzhou"),
    ("东莞", "广东省", "广东", False, "0769", 5, [("南城街道", "441900"), ("东城街道", "441900"), ("长安镇", "441900"), ("虎门镇", "441900"), ("松山湖", "441900")], "Dongguan"),
    ("佛山", "广东省", "广东", False, "0757", 4, [("禅城区", "440604"), ("南海区", "440605"), ("顺德区", "440606")], "Foshan"),
    ("北京", None, "北京", True, "010", 11, [("朝阳区", "110105"), ("海淀区", "110108"), ("东城区", "110101"), ("西城区", "110102"), ("丰台区", "110106"), ("大兴区", "110115")], "Beijing"),
    ("上海", None, "上海", True, "021", 11, [("浦东新区", "310115"), ("徐汇区", "310104"), ("闵行区", "310112"), ("静安区", "310106"), ("长宁区", "310105"), ("嘉定区", "310114")], "Shanghai"),
    ("天津", None, "天津", True, "022", 3, [("和平区", "120101"), ("南开区", "120104"), ("滨海新区", "120116")], "Tianjin"),
    ("重庆", None, "重庆", True, "023", 3, [("渝中区", "500103"), ("江北区", "500105"), ("九龙坡区", "500107")], "Chongqing"),
    ("杭州", "浙江省", "浙江", False, "0571", 7, [("西湖区", "330106"), ("滨江区", "330108"), ("余杭区", "330110"), ("拱墅区", "330105")], "Hangzhou"),
    ("宁波", "浙江省", "浙江", False, "0574", 3, [("鄞州区", "330212"), ("海曙区", "330203"), ("北仑区", "330206")], "Ningbo"),
    ("温州", "浙江省", "浙江", False, "0577", 2, [("鹿城区", "330302"), ("瓯海区", "330304")], "Wenzhou"),
    ("南京", "江苏省", "江苏", False, "025", 5, [("鼓楼区", "320106"), ("玄武区", "320102"), ("江宁区", "320115"), ("建邺区", "320105")], "Nanjing"),
    ("苏州", "江苏省", "江苏", False, "0512", 6, [("姑苏区", "320508"), ("吴中区", "320506"), ("虎丘区", "320505"), ("相城区", "320507")], "Suzhou"),
    ("无锡", "江苏省", "江苏", False, "0510", 3, [("梁溪区", "320213"), ("滨湖区", "320211"), ("新吴区", "320214")], "Wuxi"),
    ("武汉", "湖北省", "湖北", False, "027", 4, [("江汉区", "420103"), ("洪山区", "420111"), ("武昌区", "420106"), ("江岸区", "420102")], "Wuhan"),
    ("成都", "四川省", "四川", False, "028", 5, [("武侯区", "510107"), ("锦江区", "510104"), ("成华区", "510108"), ("青羊区", "510105")], "Chengdu"),
    ("西安", "陕西省", "陕西", False, "029", 3, [("雁塔区", "610113"), ("碑林区", "610103"), ("未央区", "610112")], "Xi'an"),
    ("长沙", "湖南省", "湖南", False, "0731", 3, [("岳麓区", "430104"), ("天心区", "430103"), ("开福区", "430105")], "Changsha"),
    ("郑州", "河南省", "河南", False, "0371", 3, [("金水区", "410105"), ("二七区", "410103"), ("中原区", "410102")], "Zhengzhou"),
    ("济南", "山东省", "山东", False, "0531", 2, [("历下区", "370102"), ("市中区", "370103"), ("槐荫区", "370104")], "Jinan"),
    ("青岛", "山东省", "山东", False, "0532", 3, [("市南区", "370202"), ("市北区", "370203"), ("黄岛区", "370211"), ("崂山区", "370212")], "Qingdao"),
    ("厦门", "福建省", "福建", False, "0592", 3, [("思明区", "350203"), ("湖里区", "350206"), ("集美区", "350211")], "Xiamen"),
    ("福州", "福建省", "福建", False, "0591", 2, [("鼓楼区", "350102"), ("台江区", "350103"), ("仓山区", "350104")], "Fuzhou"),
    ("合肥", "安徽省", "安徽", False, "0551", 2, [("蜀山区", "340104"), ("包河区", "340111"), ("庐阳区", "340103")], "Hefei"),
    ("沈阳", "辽宁省", "辽宁", False, "024", 2, [("和平区", "210102"), ("沈河区", "210103"), ("铁西区", "210106")], "Shenyang"),
    ("大连", "辽宁省", "辽宁", False, "0411", 2, [("中山区", "210202"), ("沙河口区", "210204"), ("甘井子区", "210211")], "Dalian"),
    ("昆明", "云南省", "云南", False, "0871", 1, [("五华区", "530102"), ("盘龙区", "530103")], "Kunming"),
    ("南宁", "广西壮族自治区", "广西", False, "0771", 1, [("青秀区", "450103"), ("兴宁区", "450102")], "Nanning"),
    ("石家庄", "河北省", "河北", False, "0311", 1, [("长安区", "130102"), ("桥西区", "130104")], "Shijiazhuang"),
    ("太原", "山西省", "山西", False, "0351", 1, [("小店区", "140105"), ("迎泽区", "140106")], "Taiyuan"),
]
CITY_BY_NAME = {c[0]: c for c in CITIES}

ROADS = ["科技园路", "深南大道", "建设路", "人民路", "中山路", "解放路", "长江路", "黄河路", "高新路", "工业大道",
         "创业路", "文化路", "新华路", "和平路", "东风路", "学府路", "滨江大道", "环城路", "南京路", "迎宾大道",
         "发展大道", "振兴路", "光明路", "友谊路", "金融街", "软件园路", "开发大道", "湖滨路", "青年路", "科苑路",
         "天府大道", "星光大道", "延安路", "淮海路", "香山路", "民治大道", "江南大道", "华强北路", "体育西路", "天河北路"]
BUILDING_WORDS = ["大厦", "科技园", "广场", "中心", "工业园", "商务楼", "国际大厦", "创意园", "产业园", "写字楼"]

# brand characters (字号) with toneless pinyin
PY = dict(zip(
    "华信达通源鑫恒盛泰祥瑞丰宏昌隆兴福安康宁嘉佳德利顺成发旺金银海天宇星辰光明新创科智博睿思远航领先锐捷迅飞腾龙凤鹏辉晨阳东方南中环亚美正合和润泽汇聚众诚立永久长青云峰晟昊铭卓越凯旭尚品优精艺易联讯数维纳奥特力威雅灵逸朗晶钰弘鸿启拓展赢鼎宸皓豪骏驰轩翔冠益蓝百万千惠普邦仕泓澜沃霖琪璟瀚钧铂致耀麒麟杰俊英",
    "hua xin da tong yuan xin heng sheng tai xiang rui feng hong chang long xing fu an kang ning jia jia de li shun cheng fa wang jin yin hai tian yu xing chen guang ming xin chuang ke zhi bo rui si yuan hang ling xian rui jie xun fei teng long feng peng hui chen yang dong fang nan zhong huan ya mei zheng he he run ze hui ju zhong cheng li yong jiu chang qing yun feng sheng hao ming zhuo yue kai xu shang pin you jing yi yi lian xun shu wei na ao te li wei ya ling yi lang jing yu hong hong qi tuo zhan ying ding chen hao hao jun chi xuan xiang guan yi lan bai wan qian hui pu bang shi hong lan wo lin qi jing han jun bo zhi yao qi lin jie jun ying".split()))
BRAND_CHARS = list(PY.keys())
# a few brand characters are much more popular than others
POPULAR = "华信达通源鑫恒盛泰祥瑞丰宏兴安嘉德利顺金海天宇星创科智博远腾龙鹏辉东方中汇众诚永凯"
HOMOPHONES = {
    "华": "化桦", "信": "新欣鑫", "达": "大", "通": "同桐", "源": "元园原缘", "鑫": "新欣馨心", "恒": "衡横", "盛": "胜晟圣",
    "泰": "太态", "祥": "翔详", "瑞": "锐睿", "丰": "峰锋风", "宏": "鸿弘洪红", "昌": "常", "隆": "龙珑", "兴": "星行",
    "福": "富复", "康": "慷", "宁": "凝", "嘉": "佳家加", "佳": "嘉家", "德": "得", "利": "力立丽", "顺": "舜", "成": "诚城程",
    "发": "法", "旺": "望王", "金": "锦今津", "天": "添田", "宇": "雨禹羽", "星": "兴", "辰": "晨宸臣", "光": "广",
    "明": "铭名鸣", "新": "鑫欣信心", "创": "闯", "科": "可珂", "智": "志至致", "博": "柏泊波", "睿": "瑞锐", "思": "斯司",
    "远": "元源园", "航": "杭", "领": "岭灵", "锐": "瑞睿", "捷": "杰洁", "迅": "讯逊", "飞": "菲非霏", "腾": "藤滕",
    "龙": "隆珑", "鹏": "朋彭", "辉": "晖徽", "晨": "辰宸", "阳": "扬洋杨", "东": "冬", "方": "芳", "中": "忠众", "环": "寰",
    "亚": "雅", "美": "梅", "正": "政征", "合": "和禾", "和": "合禾", "润": "闰", "泽": "则", "汇": "惠慧", "聚": "巨炬",
    "众": "中重", "诚": "成城", "立": "力利", "永": "勇咏", "久": "玖九", "长": "昌常", "青": "清晴", "云": "芸运",
    "峰": "锋丰风", "晟": "盛胜", "昊": "浩皓", "铭": "明名", "越": "悦跃", "凯": "楷恺铠", "尚": "上商", "优": "友",
    "精": "晶京菁", "艺": "易亿义", "易": "艺亿奕", "联": "连莲", "讯": "迅训", "维": "唯伟", "纳": "娜", "奥": "澳傲",
    "力": "立利", "威": "维伟", "雅": "亚", "灵": "玲凌", "逸": "亿毅", "晶": "精京", "钰": "玉裕", "弘": "宏鸿",
    "鸿": "宏弘洪", "启": "起琪奇", "拓": "托", "赢": "盈营莹", "鼎": "顶定", "豪": "浩昊", "骏": "俊君", "驰": "池弛",
    "轩": "宣萱", "翔": "祥", "冠": "贯观", "益": "亿易", "惠": "汇慧", "泓": "宏鸿", "霖": "林琳", "琪": "琦奇",
    "瀚": "翰汉", "钧": "君均", "致": "智志", "耀": "曜", "杰": "捷洁", "俊": "骏君", "英": "鹰瑛",
}
# shape-similar characters (五笔 / handwriting / OCR slips)
LOOKALIKE = {p[0]: p[1] for p in """晨晟 晟晨 昊吴 博搏 瑞端 辉挥 腾滕 拓柘 泰秦 天夭 锐悦 铭洺 源塬 汇江 润涧 凯剀 峰蜂 科料 盛晟 皓浩 钰玉 瀚翰 华毕 达迭 通涌 恒桓 祥详 宏宠 昌冒 隆降 兴举 福幅 安宋 康唐 宁守 嘉喜 佳住 德徳 利刹 顺川 成戍 发友 旺汪 金全 银垠 海梅 宇字 星呈 辰唇 光先 明朋 新亲 创仓 智知 思恩 远运 航舫 领令 先洗 捷睫 迅汛 龙尤 凤风 阳杨 东车 方万 中申 环怀 亚严 美姜 正征 合含 和利 泽择 聚骤 众伞 诚减 立位 永水 久夕 长张 青菁 云芸 卓桌 越超 尚堂 品晶 优扰 精睛 艺芝 易汤 联关 数楼 维唯 纳钠 奥粤 特持 力办 威咸 雅稚 灵录 朗郎 晶品 弘引 鸿洪 启后 展殿 赢嬴 豪毫 骏竣 驰驱 轩杆 翔朔 冠寇 益盖 蓝监 百白 万方 千干 惠慧 普晋 邦帮 仕任 泓鸿 澜斓 沃沂 霖淋 琪棋 璟憬 钧钓 铂柏 致玫 耀曜 麒骐 麟鳞 杰烈 俊浚 英瑛 信言 丰主 宸宙 鼎晶 逸免 鹏朋 旭旮 睿壑 讯汛 飞乞 南甫""".split()}
# simplified -> traditional, enough to turn most company names
S2T = {p[0]: p[1] for p in """华華 东東 发發 电電 业業 实實 广廣 门門 龙龍 达達 丰豐 汇匯 兴興 宁寧 万萬 机機 网網 络絡 设設 备備 务務 团團 责責 长長 进進 创創 顺順 联聯 医醫 疗療 环環 筑築 饰飾 装裝 农農 药藥 车車 运運 输輸 际際 国國 云雲 数數 码碼 软軟 导導 体體 线線 资資 询詢 丝絲 纺紡 织織 饮飲 礼禮 仪儀 时時 乐樂 庆慶 贵貴 宝寶 荣榮 辉輝 晖暉 飞飛 腾騰 众眾 杰傑 优優 远遠 鸿鴻 凯凱 锐銳 铭銘 钢鋼 铁鐵 铝鋁 银銀 锦錦 骏駿 驰馳 鹏鵬 凤鳳 风風 亿億 维維 纬緯 经經 营營 厦廈 苏蘇 湾灣 岭嶺 区區 县縣 镇鎮 号號 楼樓 层層 园園 厂廠 贸貿 产產 开開 测測 试試 检檢 验驗 动動 节節 气氣 传傳 艺藝 术術 训訓 劳勞 质質 渔漁 粮糧 鲜鮮 链鏈 应應 项項 顾顧 问問 财財 税稅 审審 计計 会會 师師 汉漢 涛濤 赢贏 纳納 讯訊 阳陽 杨楊 马馬 张張 刘劉 陈陳 赵趙 吴吳 郑鄭 谢謝 许許 韩韓 邓鄧 罗羅 叶葉 钱錢 孙孫 冯馮 卫衛 蒋蔣 韦韋 吕呂 严嚴 邹鄒 窦竇 鲁魯 苗苗 鲍鮑 费費 贺賀 汤湯 毕畢 邬鄔 齐齊 顾顧 庞龐 纪紀 董董 阎閻 钟鍾 骆駱 卢盧 缪繆 龚龔 宁寧 广廣 东東 盛盛 鑫鑫 泰泰 锋鋒 连連 庄莊 铂鉑 钰鈺 澜瀾 鼎鼎 轩軒 冠冠 灵靈 逸逸 启啟 拓拓 展展 弘弘 宸宸 润潤 泽澤 聚聚 诚誠 青青 峰峰 晟晟 昊昊 卓卓 越越 尚尚 品品 艺藝 联聯 惠惠 邦邦 仕仕 泓泓 沃沃 霖霖 琪琪 璟璟 瀚瀚 钧鈞 致致 耀耀 麒麒 麟麟 俊俊 英英 亚亞 纳納 奥奧 威威 雅雅 晶晶 朗朗 昌昌 隆隆 福福 康康 嘉嘉 佳佳 德德 利利 旺旺 金金 海海 天天 宇宇 星星 辰辰 光光 明明 新新 科科 智智 博博 睿睿 思思 航航 领領 先先 捷捷 迅迅 晨晨 方方 南南 中中 合合 和和 永永 久久 立立 益益 蓝藍 百百 千千 普普 狮獅 钻鑽 扬揚 态態 详詳 锦錦 莲蓮 侨僑 伦倫 协協 荟薈 乔喬 汇匯 宏宏 源源 恒恆 鸣鳴""".split()}

# trade words: trade, industry label, english, synonyms (variation), renewable products likely?
TRADES = [
    ("科技", "信息技术", "Technology", ["技术"]),
    ("信息技术", "信息技术", "Information Technology", ["信息科技"]),
    ("电子科技", "制造业", "Electronic Technology", ["电子技术"]),
    ("网络科技", "信息技术", "Network Technology", ["网络技术"]),
    ("软件", "信息技术", "Software", ["软件技术"]),
    ("智能科技", "信息技术", "Intelligent Technology", ["智能技术"]),
    ("贸易", "批发零售", "Trading", ["商贸"]),
    ("商贸", "批发零售", "Trading", ["贸易"]),
    ("进出口贸易", "批发零售", "Import & Export", ["进出口"]),
    ("实业", "制造业", "Industrial", ["实业发展"]),
    ("建筑工程", "建筑业", "Construction Engineering", ["建设工程"]),
    ("环保科技", "环保", "Environmental Technology", ["环保技术"]),
    ("医疗器械", "医疗", "Medical Equipment", []),
    ("物流", "物流运输", "Logistics", ["物流服务"]),
    ("供应链管理", "物流运输", "Supply Chain Management", ["供应链"]),
    ("机械设备", "制造业", "Machinery & Equipment", ["机械"]),
    ("自动化设备", "制造业", "Automation Equipment", ["自动化科技"]),
    ("新材料", "制造业", "New Materials", ["新材料科技"]),
    ("生物科技", "医疗", "Biotechnology", ["生物技术"]),
    ("食品", "食品饮料", "Food", []),
    ("化工", "化工", "Chemical", []),
    ("文化传媒", "文化传媒", "Culture & Media", ["文化传播"]),
    ("广告", "文化传媒", "Advertising", []),
    ("装饰工程", "建筑业", "Decoration Engineering", ["装饰设计工程"]),
    ("企业管理咨询", "商务服务", "Management Consulting", ["管理咨询"]),
    ("电气", "制造业", "Electric", ["电气设备"]),
    ("光电科技", "制造业", "Optoelectronics", ["光电技术"]),
    ("汽车零部件", "制造业", "Auto Parts", ["汽车配件"]),
    ("五金制品", "制造业", "Hardware", ["五金"]),
    ("塑胶制品", "制造业", "Plastic Products", ["塑料制品"]),
    ("人力资源", "商务服务", "Human Resources", ["人力资源服务"]),
    ("餐饮管理", "餐饮", "Catering Management", ["餐饮"]),
    ("纺织", "制造业", "Textile", ["纺织品"]),
    ("印刷", "制造业", "Printing", ["包装印刷"]),
    ("精密机械", "制造业", "Precision Machinery", ["精密"]),
]
TRADE_WEIGHTS = [14, 6, 6, 4, 3, 3, 9, 4, 2, 4, 3, 2, 2, 3, 2, 3, 2, 2, 1, 2, 1, 2, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1]
TRADE = {t[0]: t for t in TRADES}
SISTER_TRADES = ["科技", "贸易", "物流", "实业", "电子科技", "供应链管理", "建筑工程", "进出口贸易", "新材料", "企业管理咨询"]
COMMON_BRANDS = ["华信", "恒通", "鑫源", "宏达", "金鑫", "天宇", "瑞丰", "永盛", "东方", "华安", "金龙", "中天", "华泰", "恒达",
                 "盛世", "鸿运", "鼎盛", "嘉禾", "顺达", "宏远", "新世纪", "长城", "环宇", "汇通", "海天"]
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英", "霞", "平",
         "刚", "桂英", "建华", "建国", "志强", "海燕", "晓明", "丹", "鹏", "辉", "婷", "玲", "华", "飞", "斌", "宇", "浩", "凯",
         "健", "俊", "帆", "帅", "雪", "琳", "晶", "燕", "倩", "慧", "莉", "佳", "欣", "怡", "文", "博", "思远", "雨涵", "梦瑶",
         "子轩", "浩然", "一鸣", "国强", "春梅", "红梅", "立新", "永刚", "小军", "晓燕", "振华", "德明"]
SURNAME_PY = {}
PRODUCTS = [  # product, renewable?, typical amount range (yuan)
    ("ERP系统", False, (80000, 1500000)), ("CRM系统", False, (50000, 600000)), ("服务器采购", False, (30000, 800000)),
    ("网络设备", False, (20000, 500000)), ("年度维保服务", True, (10000, 200000)), ("云服务订阅", True, (12000, 360000)),
    ("安防监控系统", False, (30000, 900000)), ("办公设备", False, (5000, 120000)), ("数据中心改造", False, (200000, 5000000)),
    ("培训服务", True, (8000, 80000)), ("软件许可", True, (20000, 500000)), ("实验室设备", False, (50000, 2000000)),
    ("生产线自动化改造", False, (300000, 6000000)), ("MES系统", False, (150000, 2000000)), ("OA系统", False, (30000, 300000)),
    ("视频会议系统", False, (20000, 400000)), ("财务软件", True, (10000, 150000)), ("仓储管理系统", False, (80000, 900000)),
    ("条码打印机", False, (5000, 60000)), ("UPS电源", False, (8000, 200000)), ("技术支持服务", True, (10000, 120000)),
    ("防火墙", False, (15000, 300000)), ("存储扩容", False, (50000, 1200000)), ("信息安全等保测评", True, (30000, 200000)),
]
STAGES_CRM = ["S1", "S2", "S3", "S4", "S5", "S6"]
STAGES_WB = {1: ["初步接触", "线索"], 2: ["需求确认", "需求分析"], 3: ["方案报价", "报价"], 4: ["商务谈判", "合同审批"],
             5: ["已签约", "赢单", "成交"], 6: ["丢单", "输单"]}
SALES = ["王磊", "李娜", "张伟", "刘洋", "陈静", "杨帆", "赵敏", "黄俊", "周婷", "吴昊", "徐凯", "孙丽", "马超", "朱琳", "胡斌"]
EXPORT_DAY = dt.datetime(2024, 6, 28, 17, 0)
LOCAL_LEN = {"0592": 7, "0771": 7, "0351": 7}  # cities whose local numbers have 7 digits
try:  # only to keep generated landlines inside real number ranges
    import phonenumbers as _pn
except ImportError:  # pragma: no cover
    _pn = None


# ---------------------------------------------------------------- codes (GB 11714, GB 32100, ISO 7064 MOD 11,10)
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_W = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
ORG_W = [3, 7, 9, 10, 5, 8, 4, 2]


def org_check(body8):
    s = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body8, ORG_W))
    c = 11 - s % 11
    return "X" if c == 10 else ("0" if c == 11 else str(c))


def uscc_check(body17):
    s = sum(USCC_CHARS.index(c) * w for c, w in zip(body17, USCC_W))
    return USCC_CHARS[(31 - s % 31) % 31]


def uscc_valid(code):
    if len(code) != 18 or any(c not in USCC_CHARS for c in code):
        return False
    return uscc_check(code[:17]) == code[17] and org_check(code[8:16]) == code[16]


def reg15_check(body14):
    p = 10
    for ch in body14:
        s = (p + int(ch)) % 10
        s = 10 if s == 0 else s
        p = (s * 2) % 11
    return str((11 - p) % 10)


# ---------------------------------------------------------------- helpers
class G:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.used_names = set()
        self.used_codes = set()
        self.used_phones = set()
        self.used_domains = set()
        self.used_org = set()

    def w(self, items, weights):
        return self.r.choices(items, weights=weights, k=1)[0]

    def p(self, x):
        return self.r.random() < x

    # --- people, phones
    def person(self):
        return self.r.choice(SURNAMES) + self.r.choice(GIVEN)

    def mobile(self):
        while True:
            pre = self.r.choice(["130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155",
                                 "156", "158", "159", "177", "180", "181", "185", "186", "187", "188", "189", "199", "176"])
            m = pre + "".join(self.r.choice("0123456789") for _ in range(8))
            if m not in self.used_phones:
                self.used_phones.add(m)
                return m

    def landline(self, area):
        n = LOCAL_LEN.get(area, 8)
        while True:
            num = self.r.choice("2345678") + "".join(self.r.choice("0123456789") for _ in range(n - 1))
            if _pn is not None and not _pn.is_valid_number(_pn.parse(area + num, "CN")):
                continue
            if (area, num) not in self.used_phones:
                self.used_phones.add((area, num))
                return num

    # --- codes
    def org_code(self, modern):
        while True:
            if modern:
                body = "MA" + self.r.choice("0123456789ABCDEFGH") + "".join(
                    self.r.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(5))
            else:
                body = self.r.choice("1234567") + "".join(self.r.choice("0123456789") for _ in range(7))
            ck = org_check(body)
            if body not in self.used_org:
                self.used_org.add(body)
                return body + ck

    def uscc(self, division, org9):
        body = "91" + division + org9
        code = body + uscc_check(body)
        assert uscc_valid(code), code
        return code

    def reg15(self, division):
        body = division + self.r.choice("0123456") + "".join(self.r.choice("0123456789") for _ in range(7))
        return body + reg15_check(body)

    def domain(self, brand, trade):
        py = "".join(PY.get(c, "x") for c in brand)
        extra = {"科技": "tech", "贸易": "trade", "电子科技": "elec", "物流": "log", "实业": "group"}.get(trade, "")
        for cand in [py, py + extra, py + "-" + (extra or "co"), py + str(self.r.randint(1, 99)), py + "gp"]:
            for tld in [self.r.choice([".com", ".com.cn", ".cn", ".net"])]:
                d = cand + tld
                if d not in self.used_domains:
                    self.used_domains.add(d)
                    return d
        d = py + str(len(self.used_domains)) + ".com"
        self.used_domains.add(d)
        return d


def compose(p, style=None, trade=None, form=None, brand=None, branch=True):
    """Company name from its parts."""
    style = style or p["style"]
    b = p["brand"] if brand is None else brand
    t = p["trade"] if trade is None else trade
    f = p["form"] if form is None else form
    city, ps = p["city"], p["prov_short"]
    muni = CITY_BY_NAME[city][3]
    if style == "city_shi":
        s = f"{city}市{b}{t}{f}"
    elif style == "city":
        s = f"{city}{b}{t}{f}"
    elif style == "bracket":
        s = f"{b}（{city}）{t}{f}"
    elif style == "province":
        s = f"{ps}{b}{t}{f}" if not muni else f"{city}{b}{t}{f}"
    elif style == "province_city":
        s = f"{city}市{b}{t}{f}" if muni else f"{CITY_BY_NAME[city][1]}{city}市{b}{t}{f}"
    else:  # none
        s = f"{b}{t}{f}"
    if branch and p.get("branch"):
        s += p["branch"]
    return s


def to_traditional(s):
    return "".join(S2T.get(c, c) for c in s)


class Company:
    __slots__ = ("cid", "kind", "parts", "name", "city", "district", "division", "code", "org", "reg15", "tax15",
                 "modern", "founded", "switchboard", "area", "fax", "domain", "contacts", "address", "addr_parts",
                 "old_address", "old_phone", "former_parts", "group", "parent", "family", "industry", "n_records",
                 "en", "second_line")

    def __init__(self, **kw):
        for k in self.__slots__:
            setattr(self, k, kw.get(k))


# ---------------------------------------------------------------- the company universe
def make_address(g, cityrow, district=None):
    city, prov, _, muni, *_ = cityrow
    d = district or g.r.choice(cityrow[6])
    road = g.r.choice(ROADS)
    num = g.r.randint(1, 3999) if g.p(0.7) else g.r.randint(1, 300)
    bw = g.r.choice(BUILDING_WORDS)
    bname = g.r.choice(BRAND_CHARS) + g.r.choice(BRAND_CHARS)
    if bw in ("科技园", "工业园", "创意园", "产业园"):
        building = f"{bname}{bw}{g.r.randint(1, 12)}栋"
    elif bw == "广场":
        building = f"{bname}{bw}{g.r.choice('ABCDE')}座"
    else:
        building = f"{bname}{bw}"
    floor = g.r.randint(1, 32)
    room = f"{floor}{g.r.randint(1, 30):02d}室" if g.p(0.8) else f"{floor}楼"
    return dict(prov=prov or "", city=city, muni=muni, district=d[0], road=road, num=f"{num}号", building=building,
                room=room)


def addr_text(a, form):
    c = a["city"] + "市"
    full_tail = f"{a['district']}{a['road']}{a['num']}{a['building']}{a['room']}"
    if form == "full":
        return (a["prov"] if not a["muni"] else "") + c + full_tail
    if form == "no_province":
        return c + full_tail
    if form == "no_city":
        return full_tail
    if form == "short":
        return c + f"{a['district']}{a['road']}{a['num']}"
    if form == "building_only":
        return f"{a['road']}{a['num']}{a['building']}"
    if form == "no_room":
        return c + f"{a['district']}{a['road']}{a['num']}{a['building']}"
    raise ValueError(form)


def new_company(g, companies, kind, brand=None, cityrow=None, trade=None, form=None, style=None, branch=None,
                district=None, family=None):
    cityrow = cityrow or g.w(CITIES, [c[5] for c in CITIES])
    for attempt in range(200):
        b = brand
        if b is None:
            n = g.w([2, 3, 4], [88, 9, 3])
            chars = []
            for _ in range(n):
                chars.append(g.r.choice(POPULAR) if g.p(0.35) else g.r.choice(BRAND_CHARS))
            b = "".join(chars)
            if len(set(b)) < len(b):
                continue
            if b in COMMON_BRANDS:
                continue
        t = trade if trade is not None else g.w([x[0] for x in TRADES], TRADE_WEIGHTS)
        f = form or g.w(["有限公司", "有限责任公司", "股份有限公司"], [78, 13, 9])
        if style:
            st = style
        elif cityrow[3]:
            st = g.w(["city", "city_shi", "bracket", "none"], [68, 14, 6, 12])
        else:
            st = g.w(["city_shi", "city", "bracket", "province", "none"], [55, 14, 6, 12, 13])
        parts = dict(style=st, brand=b, trade=t, form=f, city=cityrow[0], prov_short=cityrow[2], branch=branch)
        name = compose(parts)
        if name in g.used_names:
            if attempt > 5:
                style = None
            if attempt > 10:
                trade = None
            continue
        break
    else:
        raise RuntimeError("could not make a unique name")
    g.used_names.add(name)
    a = make_address(g, cityrow, district)
    dname, dcode = next((d for d in cityrow[6] if d[0] == a["district"]))
    founded = g.w(list(range(1996, 2024)), [1] * 5 + [2] * 10 + [3] * 13)
    modern = founded >= 2016 or (founded == 2015 and g.p(0.5))
    org = g.org_code(modern)
    division = dcode if g.p(0.7) else dcode[:4] + "00"
    code = g.uscc(division, org[:8] + org[8])
    reg = None if modern else g.reg15(division)
    tax15 = None if modern else division + org
    area = cityrow[4]
    c = Company(cid=f"C{len(companies) + 1:05d}", kind=kind, parts=parts, name=name, city=cityrow[0],
                district=a["district"], division=division, code=code, org=org, reg15=reg, tax15=tax15, modern=modern,
                founded=founded, switchboard=(area, g.landline(area)), area=area,
                fax=(area, g.landline(area)) if g.p(0.3) else None, domain=g.domain(b, t) if g.p(0.7) else None,
                contacts=[(g.person(), g.mobile()) for _ in range(g.w([1, 2, 3], [50, 35, 15]))],
                address=a, old_address=None, old_phone=None, former_parts=None, group=None, parent=None,
                family=family, industry=TRADE[t][1] if t in TRADE else "综合", n_records=1,
                en=None, second_line=(area, g.landline(area)) if g.p(0.15) else None)
    if kind == "office":  # 办事处: no registration of its own
        c.code = c.org = c.reg15 = c.tax15 = None
    companies.append(c)
    return c


def build_universe(g, n_target):
    comps = []
    # sister companies of groups
    n_groups = int(n_target * 0.027)
    for gi in range(n_groups):
        cityrow = g.w(CITIES, [c[5] for c in CITIES])
        head = new_company(g, comps, "sister", cityrow=cityrow, trade="", form=g.w(["集团有限公司", "集团股份有限公司", "控股集团有限公司"], [75, 15, 10]),
                           style=g.w(["none", "city", "city_shi"], [45, 35, 20]))
        head.group = f"G{gi + 1:04d}"
        brand = head.parts["brand"]
        trades = g.r.sample(SISTER_TRADES, g.w([1, 2, 3], [45, 40, 15]))
        members = [head]
        for t in trades:
            c = new_company(g, comps, "sister", brand=brand, cityrow=cityrow, trade=t, form="有限公司",
                            style=g.w(["city_shi", "city", "none"], [60, 25, 15]))
            c.group = head.group
            members.append(c)
        # shared: switchboard, address (building), mail domain, sometimes the finance contact
        shared_addr = dict(head.address)
        dom = head.domain or g.domain(brand, "")
        head.domain = dom
        for c in members[1:]:
            if g.p(0.75):
                c.switchboard = head.switchboard
            if g.p(0.8):
                a = dict(shared_addr)
                if g.p(0.4):
                    a["room"] = f"{g.r.randint(1, 32)}{g.r.randint(1, 30):02d}室"
                c.address, c.district = a, a["district"]
            if g.p(0.9):
                c.domain = dom
            if g.p(0.3):
                c.contacts = [head.contacts[0]] + c.contacts[1:]
    # head offices with branches / offices
    n_heads = int(n_target * 0.024)
    for hi in range(n_heads):
        head = new_company(g, comps, "head")
        for _ in range(g.w([1, 2, 3], [60, 28, 12])):
            same_city = g.p(0.15)
            if same_city:
                bcity = CITY_BY_NAME[head.city]
                dist = g.r.choice([d for d in bcity[6] if d[0] != head.district] or bcity[6])
                place = dist[0][:-1] if dist[0][-1] in "区镇" else dist[0]
                district = dist
            else:
                bcity = g.w([c for c in CITIES if c[0] != head.city], [c[5] for c in CITIES if c[0] != head.city])
                place, district = bcity[0], None
            office = g.p(0.15) and not same_city
            bstyle = "office" if office else g.w(["plain", "bracket"], [82, 18])
            suffix = f"{place}办事处" if office else (f"{place}分公司" if bstyle == "plain" else f"（{place}分公司）")
            hp = head.parts
            if compose(hp) + suffix in g.used_names:
                continue
            b = new_company(g, comps, "office" if office else "branch", brand=hp["brand"], cityrow=bcity,
                            trade=hp["trade"], form=hp["form"], style=hp["style"], branch=suffix, district=district)
            # the branch's name is the head office's name + suffix, whatever city it sits in
            b.parts = dict(hp, branch=suffix)
            g.used_names.discard(b.name)
            b.name = compose(b.parts)
            g.used_names.add(b.name)
            b.parent = head.cid
            if head.domain and g.p(0.85):
                b.domain = head.domain
            b.industry = head.industry
    # same 字号 in different cities
    n_pairs = int(n_target * 0.035)
    for fi in range(n_pairs):
        a = new_company(g, comps, "normal")
        fam = f"F{fi + 1:04d}"
        a.family = fam
        for _ in range(g.w([1, 2], [75, 25])):
            cityrow = g.w([c for c in CITIES if c[0] != a.city], [c[5] for c in CITIES if c[0] != a.city])
            st = g.w(["city_shi", "city", "bracket"], [60, 30, 10]) if not cityrow[3] else "city"
            try:
                c = new_company(g, comps, "normal", brand=a.parts["brand"], cityrow=cityrow,
                                trade=a.parts["trade"] if g.p(0.65) else None, style=st, family=fam)
            except RuntimeError:
                continue
    # common 字号 used by many unrelated companies
    for bi, brand in enumerate(COMMON_BRANDS):
        for _ in range(g.r.randint(6, 22)):
            try:
                new_company(g, comps, "normal", brand=brand, family=f"CB{bi + 1:02d}")
            except RuntimeError:
                pass
    # the rest: ordinary companies
    while len(comps) < n_target:
        new_company(g, comps, "normal")
    # renamed companies (更名): the old name differs in brand, trade or form
    for c in comps:
        if c.kind in ("normal", "head") and g.p(0.05):
            fp = dict(c.parts)
            how = g.w(["brand", "trade", "form"], [45, 35, 20])
            if how == "brand":
                fp["brand"] = "".join(g.r.sample(BRAND_CHARS, len(c.parts["brand"])))
            elif how == "trade":
                fp["trade"] = g.r.choice([t[0] for t in TRADES if t[0] != c.parts["trade"]])
            else:
                fp["form"] = "有限公司" if c.parts["form"] == "股份有限公司" else "股份有限公司"
                if fp["form"] == c.parts["form"]:
                    fp["trade"] = g.r.choice([t[0] for t in TRADES if t[0] != c.parts["trade"]])
            if compose(fp) not in g.used_names:
                c.former_parts = fp
    # moved companies: older records carry the old address and sometimes the old switchboard
    for c in comps:
        if g.p(0.08):
            cityrow = CITY_BY_NAME[c.city]
            c.old_address = make_address(g, cityrow)
            if g.p(0.5):
                c.old_phone = (c.area, g.landline(c.area))
    return comps


# ---------------------------------------------------------------- record variations
SOURCES = [SRC_CRM, SRC_ERP, SRC_WB]
NAME_RATES = {  # per source
    "short": {SRC_WB: .20, SRC_CRM: .10, SRC_ERP: .02},
    "form_dropped": {SRC_WB: .12, SRC_CRM: .06, SRC_ERP: .01},
    "note": {SRC_WB: .05, SRC_CRM: .07, SRC_ERP: .05},
    "trade_synonym": {SRC_WB: .06, SRC_CRM: .06, SRC_ERP: .04},
    "legal_form": {SRC_WB: .04, SRC_CRM: .05, SRC_ERP: .06},
    "region": {SRC_WB: .10, SRC_CRM: .10, SRC_ERP: .08},
    "traditional": {SRC_WB: .01, SRC_CRM: .015, SRC_ERP: .03},
    "homophone": {SRC_WB: .04, SRC_CRM: .03, SRC_ERP: .01},
    "typo": {SRC_WB: .03, SRC_CRM: .03, SRC_ERP: .015},
    "dup_swap": {SRC_WB: .015, SRC_CRM: .015, SRC_ERP: .01},
    "spacing": {SRC_WB: .04, SRC_CRM: .03, SRC_ERP: .02},
}
CODE_PRESENT = {SRC_ERP: .80, SRC_CRM: .50, SRC_WB: .30}
NOTES_SUFFIX = ["（老客户）", "(老客户)", "-停用", "（停用）", "(作废)", "作废", "（重复）", "(勿删)", "（已转公海）", "(VIP)",
                "（黑名单）", "-{contact}", "（{year}年签约）", "（备注：{note}）", "【重点】", "（暂停合作）", " 重复录入"]
NOTES_PREFIX = ["【重点】", "【VIP】", "*", "作废-", "（停用）", "(老)", "【A类】"]
NOTE_TEXTS = ["开票用", "与总部同一客户", "原客户经理离职", "见合同", "只做零星采购", "代理商"]


def vary_name(g, c, src, tags, when):
    """Return the name as written on a record of company c in source src."""
    p = dict(c.parts)
    use_former = c.former_parts is not None and when == "old" and g.p(0.65)
    if use_former:
        p = dict(c.former_parts)
        tags.append("former_name")
    is_branch = bool(p.get("branch"))

    def rate(k):
        return NAME_RATES[k][src]

    # region of the name
    if g.p(rate("region")):
        st = p["style"]
        opts = []
        if st != "none":
            opts += ["region_dropped"]
        if st not in ("bracket",):
            opts += ["region_bracketed"]
        if st in ("city_shi", "city", "none", "province") and not CITY_BY_NAME[p["city"]][3]:
            opts += ["region_province_city"]
        if st == "city_shi":
            opts += ["region_short"]
        if st in ("none", "province"):
            opts += ["region_added"]
        k = g.r.choice(opts)
        tags.append(k)
        p["style"] = {"region_dropped": "none", "region_bracketed": "bracket", "region_province_city": "province_city",
                      "region_short": "city", "region_added": "city"}[k]
    if g.p(rate("trade_synonym")) and p["trade"] in TRADE and TRADE[p["trade"]][3]:
        p["trade"] = g.r.choice(TRADE[p["trade"]][3])
        tags.append("trade_synonym")
    en = False
    if g.p(rate("legal_form")):
        if p["form"] == "有限公司" and g.p(0.6):
            p["form"] = "有限责任公司"
            tags.append("form_swap")
        elif p["form"] == "有限责任公司":
            p["form"] = "有限公司"
            tags.append("form_swap")
        elif p["form"] == "股份有限公司":
            p["form"] = "有限公司"
            tags.append("form_gufen_dropped")
        elif not is_branch and p["trade"] in TRADE:
            en = True
            tags.append("legal_form_en")
    # brand-level typing errors
    b = p["brand"]
    if g.p(rate("homophone")):
        idx = [i for i, ch in enumerate(b) if ch in HOMOPHONES]
        if idx:
            i = g.r.choice(idx)
            b = b[:i] + g.r.choice(HOMOPHONES[b[i]]) + b[i + 1:]
            tags.append("homophone")
    elif g.p(rate("typo")):
        i = g.r.randrange(len(b))
        rep = LOOKALIKE.get(b[i]) if g.p(0.8) else None
        rep = rep if rep and rep != b[i] else g.r.choice([x for x in BRAND_CHARS if x != b[i]])
        b = b[:i] + rep + b[i + 1:]
        tags.append("typo")
    elif g.p(rate("dup_swap")):
        if g.p(0.5) and len(b) >= 2:
            b = b[1] + b[0] + b[2:]
            tags.append("swap_char")
        else:
            i = g.r.randrange(len(b))
            b = b[:i + 1] + b[i] + b[i + 1:]
            tags.append("dup_char")
    p["brand"] = b
    # short names
    name = None
    if g.p(rate("short")):
        city = p["city"]
        k = g.w(["short_city_brand", "short_brand_trade", "short_brand", "short_city_brand_trade"], [35, 40, 8, 17])
        tr = p["trade"] if p["trade"] else "集团"
        br = p.get("branch") or ""
        br = br.strip("（）()") if br else ""
        name = {"short_city_brand": f"{city}{b}", "short_brand_trade": f"{b}{tr}", "short_brand": b,
                "short_city_brand_trade": f"{city}{b}{tr}"}[k] + br
        tags.append(k)
    elif en:
        cr = CITY_BY_NAME[p["city"]]
        trade_en = TRADE[p["trade"]][2]
        bpy = "".join(PY.get(ch, "x") for ch in p["brand"]).capitalize()
        if g.p(0.5):
            name = compose(p, form="") + g.r.choice([" Co., Ltd.", " Co.,Ltd", " CO.,LTD."])
        else:
            name = f"{cr[7]} {bpy} {trade_en} Co., Ltd." if p["style"] != "bracket" else f"{bpy} {trade_en} ({cr[7]}) Co., Ltd."
    elif g.p(rate("form_dropped")):
        name = compose(p, form="")
        tags.append("form_dropped")
    else:
        name = compose(p)
    if g.p(rate("traditional")):
        t = to_traditional(name)
        if t != name:
            name = t
            tags.append("traditional")
    if g.p(rate("note")):
        if g.p(0.75):
            n = g.r.choice(NOTES_SUFFIX).format(contact=c.contacts[0][0][0] + "经理", year=g.r.randint(2015, 2023),
                                                note=g.r.choice(NOTE_TEXTS))
            name = name + n
        else:
            name = g.r.choice(NOTES_PREFIX) + name
        tags.append("note")
    if g.p(rate("spacing")):
        k = g.r.randrange(4)
        if k == 0:
            name = name.replace("（", "(").replace("）", ")") if "（" in name else " " + name + " "
        elif k == 1 and len(name) > 4:
            i = g.r.randrange(2, len(name) - 2)
            name = name[:i] + " " + name[i:]
        elif k == 2:
            name = name + "公司" if name.endswith("有限公司") else name + "  "
        else:
            name = name.replace("有限", "有限 ") if "有限" in name else name + "\n"
        tags.append("spacing")
    return name


def vary_code(g, c, src, tags, when):
    if c.code is None:
        tags.append("code_none_exists")
        return ""
    if not g.p(CODE_PRESENT[src]):
        tags.append("code_missing")
        return ""
    old = not c.modern
    opts, wts = ["full"], [55 if (old and when == "old") else 80]
    if old:
        opts += ["org9", "reg15"]
        wts += [5 if src == SRC_CRM else 2, 4]
        if src == SRC_ERP:
            opts.append("tax15")
            wts.append(6)
    opts += ["spaces", "lower", "typo", "apostrophe"]
    wts += [3, 2, 3, 0 if src == SRC_CRM else 1]
    k = g.w(opts, wts)
    code = c.code
    if k == "full":
        tags.append("code_full")
        return code
    if k == "org9":
        tags.append("code_org9")
        return c.org[:8] + "-" + c.org[8] if g.p(0.8) else c.org
    if k == "reg15":
        tags.append("code_reg15")
        return c.reg15
    if k == "tax15":
        tags.append("code_tax15")
        return c.tax15
    if k == "spaces":
        tags.append("code_spaces")
        if g.p(0.5):
            return " ".join(code[i:i + 4] for i in range(0, 18, 4))
        return code[:6] + " " + code[6:] + (" " if g.p(0.5) else "")
    if k == "lower":
        if any(ch.isalpha() for ch in code):
            tags.append("code_lowercase")
            return code.lower()
        tags.append("code_full")
        return code
    if k == "apostrophe":
        tags.append("code_apostrophe")
        return "'" + code
    # typo: one character changed, never a valid code
    for _ in range(50):
        i = g.r.randrange(18)
        ch = g.r.choice("0123456789")
        t = code[:i] + ch + code[i + 1:]
        if t != code and not uscc_valid(t):
            tags.append("code_typo")
            return t
    tags.append("code_full")
    return code


def fmt_landline(g, area, num, tags, src):
    a = area
    k = g.w(["dash", "plain", "paren", "space", "plus86", "local", "ext", "ext_dash"],
            [50, 10, 8, 8, 5, 6, 9, 4])
    ext = str(g.r.randint(800, 8999))
    if k == "dash":
        return f"{a}-{num}"
    if k == "plain":
        return f"{a}{num}"
    if k == "paren":
        return f"({a}){num}" if g.p(0.5) else f"（{a}）{num}"
    if k == "space":
        return f"{a} {num[:4]} {num[4:]}"
    if k == "plus86":
        tags.append("phone_plus86")
        return f"+86 {a[1:]} {num[:4]} {num[4:]}" if g.p(0.6) else f"+86-{a[1:]}-{num}"
    if k == "local":
        tags.append("phone_local8")
        return num
    if k == "ext":
        tags.append("phone_ext")
        return f"{a}-{num}转{ext}"
    tags.append("phone_ext")
    return f"{a}-{num}-{ext}"


def fmt_mobile(g, m, tags):
    k = g.w(["plain", "dash", "space", "plus86"], [70, 10, 12, 8])
    if k == "plain":
        return m
    if k == "dash":
        return f"{m[:3]}-{m[3:7]}-{m[7:]}"
    if k == "space":
        return f"{m[:3]} {m[3:7]} {m[7:]}"
    tags.append("phone_plus86")
    return f"+86{m}" if g.p(0.5) else f"+86 {m}"


def vary_phone(g, c, src, tags, when, contact):
    """Returns (phone, mobile) as written.  The workbook and ERP have one phone column; the CRM has two."""
    sw = c.switchboard
    if when == "old" and c.old_phone:
        sw = c.old_phone
        tags.append("phone_changed")
    mob = contact[1]
    if src == SRC_CRM:
        tel = "" if g.p(0.1) else fmt_landline(g, sw[0], sw[1], tags, src)
        if tel and g.p(0.04) and c.second_line:
            tel += g.r.choice(["/", "，", "、", " "]) + c.second_line[1]
            tags.append("phone_multi")
        mobile = fmt_mobile(g, mob, tags) if g.p(0.6) else ""
        if not tel and not mobile:
            tags.append("phone_missing")
        elif not tel:
            tags.append("phone_mobile_only")
        return tel, mobile
    if src == SRC_ERP:
        r = g.r.random()
        if r < 0.08:
            tags.append("phone_missing")
            return "", ""
        if r < 0.78:
            t = fmt_landline(g, sw[0], sw[1], tags, src)
        elif r < 0.90:
            t = fmt_landline(g, sw[0], sw[1], tags, src) + g.r.choice([" ", "/", ";", "，"]) + fmt_mobile(g, mob, tags)
            tags.append("phone_multi")
        else:
            t = fmt_mobile(g, mob, tags)
            tags.append("phone_mobile_only")
        return t, ""
    # workbook: the salesperson writes the contact's mobile
    r = g.r.random()
    if r < 0.10:
        tags.append("phone_missing")
        return "", ""
    if r < 0.70:
        tags.append("phone_mobile_only")
        t = fmt_mobile(g, mob, tags)
        if g.p(0.05):
            t += f"（{contact[0][0]}总）"
        return t, ""
    if r < 0.92:
        return fmt_landline(g, sw[0], sw[1], tags, src), ""
    tags.append("phone_multi")
    return fmt_landline(g, sw[0], sw[1], tags, src) + g.r.choice(["\n", "/", " ", "；"]) + fmt_mobile(g, mob, tags), ""


def vary_address(g, c, src, tags, when):
    a = c.address
    if when == "old" and c.old_address:
        a = c.old_address
        tags.append("addr_moved")
    miss = {SRC_CRM: .12, SRC_ERP: .06, SRC_WB: .25}[src]
    if g.p(miss):
        tags.append("addr_missing")
        return ""
    form = g.w(["full", "no_province", "no_city", "short", "building_only", "no_room"],
               {SRC_CRM: [35, 35, 8, 10, 4, 8], SRC_ERP: [55, 25, 4, 6, 2, 8], SRC_WB: [15, 30, 15, 20, 12, 8]}[src])
    tags.append("addr_" + form)
    return addr_text(a, form)


def vary_email(g, c, src, tags, contact):
    pres = {SRC_CRM: .55, SRC_ERP: .15, SRC_WB: .45}[src]
    if not g.p(pres):
        return ""
    name_py = "".join(g.r.choice("abcdefghjklmnpqrstwxyz") for _ in range(g.r.randint(2, 3)))
    if c.domain and g.p(0.6):
        tags.append("email_company")
        local = g.r.choice(["sales", "info", "admin", "purchase", "cg", "hr", "finance"]) if g.p(0.3) else \
            name_py + g.r.choice(["", "", str(g.r.randint(1, 99))])
        return f"{local}@{c.domain}"
    tags.append("email_public")
    dom = g.w(["qq.com", "163.com", "126.com", "sina.com", "139.com", "hotmail.com", "foxmail.com"], [45, 25, 10, 6, 5, 4, 5])
    if dom in ("qq.com", "foxmail.com"):
        return f"{g.r.randint(10000, 3999999999)}@{dom}"
    return f"{name_py}{g.r.randint(1, 9999)}@{dom}"


# ---------------------------------------------------------------- customer records
def build_customer_records(g, comps):
    recs = []  # dicts: source, company, name, code, tel, mobile, email, address, contact, created, tags, ...
    count_w = {1: 54, 2: 27, 3: 12, 4: 5, 5: 1.5, 6: 0.5}
    for c in comps:
        n = g.w(list(count_w), list(count_w.values()))
        if c.former_parts is not None and n == 1 and g.p(0.6):
            n = 2
        c.n_records = n
        first = g.w(SOURCES, [42, 33, 25])
        srcs = [first]
        for _ in range(n - 1):
            unused = [s for s in SOURCES if s not in srcs]
            if unused and g.p(0.7):
                srcs.append(g.w(unused, [{SRC_CRM: 42, SRC_ERP: 33, SRC_WB: 25}[s] for s in unused]))
            else:
                srcs.append(g.w(SOURCES, [40, 25, 35]))
        base = dt.datetime(2012, 1, 1) + dt.timedelta(days=g.r.randint(0, 365 * 11))
        base = max(base, dt.datetime(c.founded, 6, 1))
        dates = sorted(min(base + dt.timedelta(days=g.r.randint(0, 900) * (i > 0), hours=g.r.randint(8, 19),
                                               minutes=g.r.randint(0, 59)), EXPORT_DAY - dt.timedelta(days=g.r.randint(1, 60)))
                       for i in range(n))
        prior_wb = None
        for i, s in enumerate(srcs):
            tags = []
            when = "old" if (i < n - 1 and (c.former_parts or c.old_address or c.old_phone)) else "new"
            if s == SRC_WB and prior_wb is not None and g.p(0.15):
                r = dict(prior_wb)
                r["tags"] = ["exact_copy"] + [t for t in prior_wb["tags"] if t != "exact_copy"]
                r["created"] = dates[i]
                recs.append(r)
                continue
            contact = g.r.choice(c.contacts)
            name = vary_name(g, c, s, tags, when)
            code = vary_code(g, c, s, tags, when)
            if "former_name" in tags and code and "code_typo" not in tags:
                tags.append("former_name_with_code")
            tel, mobile = vary_phone(g, c, s, tags, when, contact)
            addr = vary_address(g, c, s, tags, when)
            email = vary_email(g, c, s, tags, contact)
            r = dict(source=s, company=c, name=name, code=code, tel=tel, mobile=mobile, email=email, address=addr,
                     contact=contact[0], created=dates[i], tags=tags)
            recs.append(r)
            if s == SRC_WB:
                prior_wb = r
        # the branch's record written under the head office's name, with the branch's address and phone
    for c in comps:
        if c.kind == "branch" and g.p(0.18) or c.kind == "office" and g.p(0.12):
            tags = ["branch_as_head_office"]
            s = g.w(SOURCES, [45, 15, 40])
            p = dict(c.parts, branch=None)
            name = compose(p)
            if g.p(0.3):
                name = compose(p, form="")
                tags.append("form_dropped")
            code = ""
            if c.code and g.p(0.3 if s != SRC_ERP else 0.7):
                code = c.code
                tags.append("code_full")
            else:
                tags.append("code_missing")
            contact = g.r.choice(c.contacts)
            tel, mobile = vary_phone(g, c, s, tags, "new", contact)
            addr = vary_address(g, c, s, tags, "new")
            email = vary_email(g, c, s, tags, contact)
            recs.append(dict(source=s, company=c, name=name, code=code, tel=tel, mobile=mobile, email=email,
                             address=addr, contact=contact[0],
                             created=dt.datetime(2016, 1, 1) + dt.timedelta(days=g.r.randint(0, 2900)), tags=tags))
            c.n_records += 1
    return recs


def add_people_and_junk(g, comps, recs):
    """Individual customers (个人客户, sharing common names) and test / separator rows."""
    people = []
    for i in range(80):
        pid = f"P{i + 1:04d}"
        nm = g.r.choice(SURNAMES[:12]) + g.r.choice(GIVEN[:20])
        mob = g.mobile()
        n = g.w([1, 2], [80, 20])
        for j in range(n):
            s = g.w([SRC_CRM, SRC_WB], [60, 40])
            tags = ["individual"]
            name = nm + g.r.choice(["", "", "（个人）", "(个人客户)", "先生" if j else ""])
            recs.append(dict(source=s, company=None, pid=pid, person_name=nm, name=name, code="", tel="",
                             mobile=mob if s == SRC_CRM else "", email="", address="", contact=nm,
                             created=dt.datetime(2015, 1, 1) + dt.timedelta(days=g.r.randint(0, 3000)), tags=tags,
                             wb_phone=mob))
        people.append((pid, nm))
    junk_names = ["测试", "test", "测试客户请勿删除", "aaa", "111", "临时客户", "测试公司1", "演示数据", "张三测试",
                  "xxx公司"]
    for i, jn in enumerate(junk_names):
        recs.append(dict(source=SRC_CRM, company=None, pid=f"J{i + 1:03d}", name=jn, code="", tel="",
                         mobile="13800138000" if i % 3 == 0 else "", email="", address="", contact="",
                         created=dt.datetime(2014, 3, 1) + dt.timedelta(days=i * 40), tags=["junk"]))
    return people


# ---------------------------------------------------------------- deals
def build_deals(g, comps):
    deals = []
    for c in comps:
        k = g.w([0, 1, 2, 3, 4], [40, 36, 15, 6, 3])
        for _ in range(k):
            prod, renewable, (lo, hi) = g.r.choice(PRODUCTS)
            amount = round(g.r.uniform(lo, hi), -3 if g.p(0.7) else -2)
            if g.p(0.2):
                amount = round(amount, -4)
            amount = max(amount, 1000)
            close = dt.date(2021, 1, 1) + dt.timedelta(days=g.r.randint(0, 1200))
            stage = g.w([1, 2, 3, 4, 5, 6], [10, 15, 20, 15, 28, 12])
            tmpl = g.w(["short_prod_proj", "prod_caigou", "year_prod", "short_dash_prod", "phase", "prod"],
                       [25, 20, 15, 15, 10, 15])
            d = dict(deal_id=f"D{len(deals) + 1:06d}", company=c, product=prod, amount=amount, close=close, stage=stage,
                     tmpl=tmpl, phase=g.r.choice(["一", "二", "1", "2", "三"]), renewal_of="", kind="new",
                     owner=g.r.choice(SALES))
            deals.append(d)
            if renewable and g.p(0.35) or g.p(0.05):
                r = dict(d, deal_id=f"D{len(deals) + 1:06d}", close=close + dt.timedelta(days=365 + g.r.randint(-8, 8)),
                         stage=g.w([1, 2, 3, 4, 5], [20, 20, 20, 20, 20]), renewal_of=d["deal_id"], kind="renewal")
                if r["close"].year <= 2025:
                    deals.append(r)
            if g.p(0.015):  # a second, separate batch of the same order within weeks
                r = dict(d, deal_id=f"D{len(deals) + 1:06d}", close=close + dt.timedelta(days=g.r.randint(15, 40)),
                         renewal_of=d["deal_id"], kind="repeat_order", tmpl="batch2")
                deals.append(r)
    return deals


def deal_name(g, d, short):
    prod = d["product"]
    y = d["close"].year
    t = d["tmpl"]
    if t == "short_prod_proj":
        return f"{short}{prod}项目"
    if t == "prod_caigou":
        return prod if prod.endswith("采购") else f"{prod}采购"
    if t == "year_prod":
        return f"{y}年{prod}"
    if t == "short_dash_prod":
        return f"{short}-{prod}"
    if t == "phase":
        return f"{prod}（{d['phase']}期）"
    if t == "batch2":
        return f"{prod}采购（第二批）"
    return prod


def vary_deal_name(g, nm, tags):
    ops = []
    if nm.endswith("项目"):
        ops.append(lambda s: s[:-2])
    else:
        ops.append(lambda s: s + "项目")
    if "采购" in nm and "采购项目" not in nm:
        ops.append(lambda s: s.replace("采购", "采购项目"))
    if "-" in nm:
        ops.append(lambda s: s.replace("-", " ", 1))
        ops.append(lambda s: s.split("-", 1)[1])
    if "（" in nm:
        ops.append(lambda s: s.replace("（", "(").replace("）", ")"))
    if "系统" in nm:
        ops.append(lambda s: s.replace("系统", "系统建设"))
    ops.append(lambda s: s + " ")
    ops.append(lambda s: s.replace("服务", "服务合同") if "服务" in s else s + "（跟进中）")
    f = g.r.choice(ops)
    out = f(nm).strip()
    if out != nm:
        tags.append("dup_name_changed")
    return out


# ---------------------------------------------------------------- writers
def fmt_amount_wb(g, amount, tags):
    k = g.w(["number", "wan", "yen", "comma", "w", "yuan", "approx"], [42, 20, 14, 10, 3, 8, 3])
    if k == "number":
        return amount if g.p(0.8) else int(amount)
    wan = amount / 10000
    ws = f"{wan:.4f}".rstrip("0").rstrip(".")
    if k == "wan":
        tags.append("amount_wan")
        return ws + "万"
    if k == "yen":
        tags.append("amount_yen")
        return f"¥{amount:,.0f}" if g.p(0.6) else f"￥{amount:,.2f}"
    if k == "comma":
        return f"{amount:,.2f}"
    if k == "w":
        tags.append("amount_w")
        return ws + "w"
    if k == "yuan":
        return f"{amount:.0f}元"
    tags.append("amount_approx")
    return "约" + ws + "万"


def fmt_date_wb(g, d, tags, allow_month=False):
    k = g.w(["cell", "slash", "cn", "dot", "iso", "compact", "month"], [50, 18, 10, 8, 8, 3, 3 if allow_month else 0])
    if k == "cell":
        return dt.datetime(d.year, d.month, d.day)
    if k == "slash":
        return f"{d.year}/{d.month}/{d.day}"
    if k == "cn":
        return f"{d.year}年{d.month}月{d.day}日"
    if k == "dot":
        return f"{d.year}.{d.month}.{d.day}"
    if k == "iso":
        return d.strftime("%Y-%m-%d")
    if k == "compact":
        return d.strftime("%Y%m%d")
    tags.append("date_month_only")
    return f"{d.year}年{d.month}月"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--companies", type=int, default=15000)
    args = ap.parse_args()
    g = G(args.seed)
    out = args.out
    os.makedirs(os.path.join(out, "truth"), exist_ok=True)

    comps = build_universe(g, args.companies)
    comp_by_id = {c.cid: c for c in comps}
    recs = build_customer_records(g, comps)
    people = add_people_and_junk(g, comps, recs)

    # ---------------- order and keys per source
    crm = sorted([r for r in recs if r["source"] == SRC_CRM], key=lambda r: r["created"])
    erp = [r for r in recs if r["source"] == SRC_ERP]
    wb = [r for r in recs if r["source"] == SRC_WB]
    g.r.shuffle(erp)
    erp.sort(key=lambda r: r["created"].year)  # ERP codes were issued roughly in time order
    wb.sort(key=lambda r: (r["created"].year, r["created"].month, r["created"].day // 8))
    # copy-pasted workbook rows sit in a later block: spread them out a bit
    for i, r in enumerate(crm):
        r["key"] = str(100000 + i * 3 + g.r.randint(0, 2))
        r["deleted"] = 1 if ("note" in r["tags"] and any(x in r["name"] for x in ("作废", "重复"))) else 0
    for i, r in enumerate(erp):
        r["key"] = f"{(r['created'].year % 100):02d}{i + 1:06d}"
    # fill-down of a code onto the rows below (workbook and ERP)
    for rows in (wb, erp):
        i = 1
        while i < len(rows):
            r, prev = rows[i], rows[i - 1]
            if (not r["code"] and prev["code"] and r.get("company") is not None and prev.get("company") is not r.get("company")
                    and g.p(0.06 if rows is wb else 0.03)):
                span = g.w([1, 2, 3], [70, 20, 10])
                for j in range(i, min(i + span, len(rows))):
                    rj = rows[j]
                    if rj.get("company") is prev.get("company") or rj["code"]:
                        break
                    rj["code"] = prev["code"]
                    rj["tags"] = [t for t in rj["tags"] if not t.startswith("code_")] + ["code_filldown"]
                    rj["filled_from"] = prev["company"].cid if prev.get("company") else ""
                i += span
            i += 1

    truth_rows = []

    def truth(r, source, key, row):
        c = r.get("company")
        cid = c.cid if c is not None else r["pid"]
        truth_rows.append(dict(source=source, source_key=key, source_row=row, company_id=cid,
                               tags=";".join(dict.fromkeys(r["tags"])), name=r["name"], code=r["code"],
                               phone=r.get("tel") or r.get("wb_phone") or "", address=r.get("address") or "",
                               filled_from=r.get("filled_from", "")))

    # ---------------- SQLite legacy CRM
    db = os.path.join(out, "legacy_crm.sqlite")
    if os.path.exists(db):
        os.remove(db)
    con = sqlite3.connect(db)
    con.executescript("""
        CREATE TABLE tb_customer (
            cust_id INTEGER PRIMARY KEY, cust_no TEXT, cust_name TEXT NOT NULL, credit_no TEXT, province TEXT, city TEXT,
            address TEXT, tel TEXT, mobile TEXT, fax TEXT, email TEXT, industry TEXT, cust_level TEXT, contact TEXT,
            sales_rep TEXT, status TEXT, is_deleted INTEGER DEFAULT 0, create_time TEXT, update_time TEXT, remark TEXT);
        CREATE TABLE tb_opportunity (
            opp_id INTEGER PRIMARY KEY, cust_id INTEGER, opp_name TEXT, product TEXT, est_amount REAL,
            stage TEXT, win_rate INTEGER, expect_date TEXT, owner TEXT, create_time TEXT, update_time TEXT, remark TEXT);
    """)
    crm_keys_by_company = {}
    for r in crm:
        c = r.get("company")
        created = r["created"]
        upd = created + dt.timedelta(days=g.r.randint(0, 1500))
        status = g.w(["正常", "潜在", "停用", "注销", ""], [70, 15, 8, 2, 5])
        if r.get("deleted"):
            status = "停用"
        prov = city = ""
        if c is not None and g.p(0.7):
            cr = CITY_BY_NAME[c.city]
            prov = cr[1] or (cr[0] + "市")
            city = cr[0] + "市" if g.p(0.6) else cr[0]
        ind = c.industry if c is not None and g.p(0.8) else ""
        ctime = created.strftime("%Y-%m-%d %H:%M:%S") if g.p(0.9) else created.strftime("%Y/%m/%d %H:%M")
        con.execute("INSERT INTO tb_customer VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", (
            int(r["key"]), f"KH{created.year}{int(r['key']) % 100000:05d}", r["name"], r["code"] or None, prov, city,
            r["address"] or None, r["tel"] or None, r["mobile"] or None,
            (f"{c.fax[0]}-{c.fax[1]}" if c is not None and c.fax and g.p(0.5) else None), r["email"] or None, ind,
            g.w(["A", "B", "C", ""], [15, 35, 35, 15]), r["contact"] or None, g.r.choice(SALES), status,
            r.get("deleted", 0), ctime, upd.strftime("%Y-%m-%d %H:%M:%S"), None))
        truth(r, SRC_CRM, r["key"], r["key"])
        if c is not None:
            crm_keys_by_company.setdefault(c.cid, []).append(r)

    # ---------------- ERP CSV (GB18030)
    erp_path = os.path.join(out, "erp_customers.csv")
    header = ["客户编码", "客户名称", "客户简称", "客户分类", "税号", "开户银行", "银行账号", "地址", "电话", "联系人", "手机",
              "建档日期", "停用", "备注"]
    banks = ["中国工商银行", "中国建设银行", "招商银行", "中国银行", "农业银行", "交通银行", "浦发银行", "兴业银行", "平安银行"]
    lines = []
    for r in erp:
        c = r.get("company")
        short = ""
        if c is not None and g.p(0.35):
            short = c.parts["brand"] + (c.parts["trade"][:2] if c.parts["trade"] else "集团")
        bank = ""
        acct = ""
        if g.p(0.6):
            bank = g.r.choice(banks) + (CITY_BY_NAME[c.city][0] if c is not None else "") + g.r.choice(["分行", "支行", "高新支行", "营业部"])
            acct = "".join(g.r.choice("0123456789") for _ in range(g.r.choice([16, 19, 12])))
        created = r["created"]
        cdate = created.strftime("%Y-%m-%d") if g.p(0.7) else f"{created.year}/{created.month}/{created.day} 0:00:00"
        stop = g.w(["否", "是", ""], [85, 8, 7])
        lines.append([r["key"], r["name"], short, g.w(["终端客户", "经销商", "代理商", "集团客户", "个人"], [70, 12, 8, 8, 2]),
                      r["code"], bank, acct, r["address"], r["tel"], r["contact"] if g.p(0.7) else "",
                      "", cdate, stop, ""])
        truth(r, SRC_ERP, r["key"], None)
    with open(erp_path, "w", encoding="gb18030", newline="") as f:
        f.write("客户档案\r\n")
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(header)
        for ln in lines:
            w.writerow(ln)
        f.write(f"共{len(lines)}条记录\r\n")
    # line numbers of the ERP records (title line 1, header line 2; embedded newlines shift later lines)
    line_no = 3
    erp_truth = [t for t in truth_rows if t["source"] == SRC_ERP]
    for t, ln in zip(erp_truth, lines):
        t["source_row"] = line_no
        line_no += 1 + sum(str(v).count("\n") for v in ln)

    # ---------------- workbook
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    wbk = Workbook()
    ws0 = wbk.active
    ws0.title = "说明"
    ws0["A1"] = "华南/华东大区销售客户台账，请勿修改表头。客户名称请填写营业执照全称！"
    ws0["A2"] = "更新：每周五下班前"
    ws = wbk.create_sheet("客户清单")
    cols = ["序号", "客户名称", "统一社会信用代码", "联系人", None, None, "地址", "行业", "客户级别", "负责销售", "录入日期", "备注"]
    ws.append(["2019-2024 销售部客户台账（内部资料）"])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=12)
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(cols)
    ws.append([None, None, None, "姓名", "电话", "邮箱", None, None, None, None, None, None])
    for col in (1, 2, 3, 7, 8, 9, 10, 11, 12):
        ws.merge_cells(start_row=2, start_column=col, end_row=3, end_column=col)
    ws.merge_cells(start_row=2, start_column=4, end_row=2, end_column=6)
    row = 4
    seq = 0
    wb_truth = []
    last_code = [None, None]  # the previous row's code: as typed, as the cell holds it
    sep_done = set()
    for r in wb:
        y = r["created"].year
        if y >= 2021 and y not in sep_done:
            sep_done.add(y)
            ws.append([None, f"==== 以下为{y}年新增客户 ===="])
            row += 1
            if y == 2022:
                ws.append([])
                row += 1
        seq += 1
        c = r.get("company")
        tags = r["tags"]
        code = r["code"]
        orig_code = code
        if code and "code_filldown" in tags and code == last_code[0]:
            code = last_code[1]  # Excel's fill-down copies the cell as it is
            if isinstance(code, float):
                tags.append("code_excel_number")
                r["code"] = "%.14E" % code
        elif code and code.isdigit() and len(code) == 18 and g.p(0.5):
            code = float("%.15g" % int(code))
            tags.append("code_excel_number")
            r["code"] = "%.14E" % code  # what the cell really holds: 15 significant digits
        last_code[:] = [orig_code, code]
        phone = r["tel"] if r.get("company") is not None else r.get("wb_phone", "")
        if isinstance(phone, str) and phone.isdigit() and len(phone) == 11 and g.p(0.3):
            phone = int(phone)
        ind = ""
        if c is not None and g.p(0.6):
            ind = g.r.choice({"信息技术": ["IT", "软件", "信息技术", "互联网"], "制造业": ["制造", "制造业", "工厂", "电子"],
                              "批发零售": ["贸易", "批发零售", "零售"], "建筑业": ["建筑", "工程"],
                              "物流运输": ["物流", "运输"], "医疗": ["医疗", "医药"]}.get(c.industry, [c.industry]))
        remark = ""
        if g.p(0.08):
            remark = g.r.choice(["老客户转介绍", "展会", "已签框架协议", "需跟进", "价格敏感", "总部在外地", "回款慢"])
        ws.append([seq, r["name"], code or None, r["contact"] or None, phone or None, r["email"] or None,
                   r["address"] or None, ind or None, g.w(["A", "B", "C", "重点", None], [15, 30, 30, 5, 20]),
                   g.r.choice(SALES), fmt_date_wb(g, r["created"].date(), []), remark or None])
        if isinstance(code, float):
            ws.cell(row=row, column=3).number_format = "0.00E+00"
        cell = ws.cell(row=row, column=11)
        if isinstance(cell.value, dt.datetime):
            cell.number_format = "yyyy/m/d"
        truth(r, SRC_WB, str(row), row)
        row += 1
    # hidden columns / widths like a real sheet
    ws.column_dimensions["B"].width = 38
    ws.column_dimensions["C"].width = 22
    ws.column_dimensions["G"].width = 40

    # ---------------- deals and opportunity records
    deals = build_deals(g, comps)
    wb_names_by_company = {}
    for r in wb:
        if r.get("company") is not None:
            wb_names_by_company.setdefault(r["company"].cid, []).append(r["name"])
    opp_crm, opp_wb = [], []
    for d in deals:
        c = d["company"]
        crm_recs = [r for r in crm_keys_by_company.get(c.cid, [])]
        in_crm = bool(crm_recs) and g.p(0.75)
        short = c.parts["brand"] if g.p(0.6) else (c.city + c.parts["brand"])
        nm = deal_name(g, d, short)
        copies = 1 + (g.p(0.13)) + (g.p(0.012))
        places = []
        for k in range(copies):
            if k == 0:
                places.append("crm" if in_crm else "wb")
            else:
                if places[0] == "crm":
                    places.append("wb" if g.p(0.6) else "crm")
                else:
                    places.append("crm" if crm_recs and g.p(0.3) else "wb")
        for k, pl in enumerate(places):
            tags = []
            name = nm
            close = d["close"]
            amount = d["amount"]
            stage = d["stage"]
            if k > 0:
                tags.append("dup_deal")
                tags.append("dup_" + ("cross" if pl != places[0] else "same") + "_source")
                if g.p(0.7):
                    name = vary_deal_name(g, nm, tags)
                if g.p(0.6):
                    close = close + dt.timedelta(days=g.r.choice([-1, 1]) * g.r.randint(1, 10))
                    tags.append("dup_close_shift")
                if g.p(0.08):
                    amount = round(amount * g.r.choice([0.9, 0.95, 0.85]), -2)
                    tags.append("dup_amount_changed")
                if g.p(0.4) and stage < 5:
                    stage += 1
            if d["kind"] != "new":
                tags.append(d["kind"])
            o = dict(deal=d, company=c, name=name, close=close, amount=amount, stage=stage, tags=tags,
                     created=dt.datetime.combine(close, dt.time(10)) - dt.timedelta(days=g.r.randint(20, 200)))
            if pl == "crm":
                cr = g.r.choice(crm_recs)
                o["cust_key"] = cr["key"]
                if cr.get("deleted"):
                    tags.append("cust_record_deleted")
                opp_crm.append(o)
            else:
                opts = ["full", "city_brand", "brand_trade", "brand", "note", "typo"]
                wts = [25, 15, 15, 5, 3, 2]
                if wb_names_by_company.get(c.cid):
                    opts.append("as_sheet")
                    wts.append(35)
                k2 = g.w(opts, wts)
                p = c.parts
                tr = p["trade"] or "集团"
                br = (p.get("branch") or "").strip("（）()")
                if k2 == "as_sheet":
                    cn = g.r.choice(wb_names_by_company[c.cid])
                elif k2 == "full":
                    cn = c.name
                elif k2 == "city_brand":
                    cn = c.city + p["brand"] + br
                elif k2 == "brand_trade":
                    cn = p["brand"] + tr + br
                elif k2 == "brand":
                    cn = p["brand"] + br
                elif k2 == "note":
                    cn = p["brand"] + tr + br + g.r.choice(["（老客户）", "(新)", "【重点】"])
                else:
                    b = p["brand"]
                    i = g.r.randrange(len(b))
                    if b[i] in HOMOPHONES:
                        b = b[:i] + g.r.choice(HOMOPHONES[b[i]]) + b[i + 1:]
                    cn = b + tr + br
                tags.append("custname_" + k2)
                o["cust_name"] = cn
                opp_wb.append(o)
    # orphans: the CRM's customer row was hard-deleted long ago
    for o in opp_crm:
        if g.p(0.008):
            o["cust_key"] = str(900000 + g.r.randint(0, 99999))
            o["tags"].append("orphan_customer_key")
    # people buy things too (individual customers), by key in the CRM
    # SQLite opportunities
    opp_crm.sort(key=lambda o: o["created"])
    opp_truth = []
    for i, o in enumerate(opp_crm):
        key = 500000 + i
        amt_wan = round(o["amount"] / 10000, 4)
        ed = o["close"]
        edate = ed.strftime("%Y-%m-%d") if g.p(0.85) else ed.strftime("%Y/%m/%d")
        con.execute("INSERT INTO tb_opportunity VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", (
            key, int(o["cust_key"]), o["name"], o["deal"]["product"], amt_wan, STAGES_CRM[o["stage"] - 1],
            [10, 20, 40, 60, 100, 0][o["stage"] - 1], edate, o["deal"]["owner"],
            o["created"].strftime("%Y-%m-%d %H:%M:%S"), o["created"].strftime("%Y-%m-%d %H:%M:%S"), None))
        opp_truth.append(dict(source=SRC_CRM_OPP, source_key=str(key), source_row=str(key), company_id=o["company"].cid,
                              deal_id=o["deal"]["deal_id"], tags=";".join(o["tags"]), customer_ref=o["cust_key"],
                              deal_name=o["name"], amount=o["amount"], close=o["close"].isoformat()))
    con.commit()
    con.close()

    # workbook opportunity sheet
    ws2 = wbk.create_sheet("商机跟进")
    ws2.append(["商机跟进表（2021-2025）"])
    ws2.merge_cells(start_row=1, start_column=1, end_row=1, end_column=10)
    ws2.append(["序号", "客户名称", "商机名称", "产品", "预计金额", "阶段", "预计成交日期", "销售", "更新日期", "备注"])
    opp_wb.sort(key=lambda o: (o["created"].year, o["created"].month))
    # pasted twice: same-source duplicates sit far apart, so order is by creation
    row = 3
    nums = []
    for i, o in enumerate(opp_wb):
        tags = o["tags"]
        amt = fmt_amount_wb(g, o["amount"], tags)
        if isinstance(amt, (int, float)):
            nums.append(row)
        stage = g.r.choice(STAGES_WB[o["stage"]]) if g.p(0.95) else g.r.choice(["暂缓", "待定", "跟进中"])
        ws2.append([i + 1, o["cust_name"], o["name"], o["deal"]["product"] if g.p(0.7) else None, amt, stage,
                    fmt_date_wb(g, o["close"], tags, allow_month=True), o["deal"]["owner"],
                    fmt_date_wb(g, (o["created"] + dt.timedelta(days=g.r.randint(0, 60))).date(), []), None])
        for col in (7, 9):
            cell = ws2.cell(row=row, column=col)
            if isinstance(cell.value, dt.datetime):
                cell.number_format = "yyyy-mm-dd" if g.p(0.5) else "yyyy/m/d"
        opp_truth.append(dict(source=SRC_WB_OPP, source_key=str(row), source_row=str(row), company_id=o["company"].cid,
                              deal_id=o["deal"]["deal_id"], tags=";".join(tags), customer_ref=o["cust_name"],
                              deal_name=o["name"], amount=o["amount"], close=o["close"].isoformat()))
        row += 1
    ws2.append([None, "合计", None, None, f"=SUM(E3:E{row - 1})"])
    wbk.save(os.path.join(out, "sales_team.xlsx"))

    # ---------------- truth
    with open(os.path.join(out, "truth", "customer_records.csv"), "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(truth_rows[0].keys()))
        w.writeheader()
        w.writerows(truth_rows)
    with open(os.path.join(out, "truth", "opportunity_records.csv"), "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(opp_truth[0].keys()))
        w.writeheader()
        w.writerows(opp_truth)
    with open(os.path.join(out, "truth", "companies.csv"), "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["company_id", "kind", "name", "brand", "trade", "form", "city", "district", "credit_code", "org_code",
                    "reg15", "tax15", "group_id", "parent_id", "family", "former_name", "switchboard", "domain",
                    "n_records"])
        for c in comps:
            w.writerow([c.cid, c.kind, c.name, c.parts["brand"], c.parts["trade"], c.parts["form"], c.city, c.district,
                        c.code or "", c.org or "", c.reg15 or "", c.tax15 or "", c.group or "", c.parent or "",
                        c.family or "", compose(c.former_parts) if c.former_parts else "",
                        f"{c.switchboard[0]}-{c.switchboard[1]}", c.domain or "", c.n_records])
        for pid, nm in people:
            w.writerow([pid, "person", nm, "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", ""])
    with open(os.path.join(out, "truth", "deals.csv"), "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["deal_id", "company_id", "product", "amount", "close", "kind", "renewal_of"])
        for d in deals:
            w.writerow([d["deal_id"], d["company"].cid, d["product"], d["amount"], d["close"].isoformat(), d["kind"],
                        d["renewal_of"]])
    # summary
    ncomp = len(comps)
    multi = sum(1 for c in comps if c.n_records > 1)
    summary = dict(seed=args.seed, companies=ncomp, companies_multi_record=multi, share_multi=round(multi / ncomp, 3),
                   customer_records={s: sum(1 for t in truth_rows if t["source"] == s) for s in SOURCES},
                   deals=len(deals), opportunity_records={SRC_CRM_OPP: len(opp_crm), SRC_WB_OPP: len(opp_wb)},
                   kinds={k: sum(1 for c in comps if c.kind == k) for k in ("normal", "head", "branch", "office", "sister")})
    with open(os.path.join(out, "truth", "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, ensure_ascii=False, indent=1)
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
