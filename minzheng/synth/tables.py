"""Fixed reference data of the synthetic district: pure constants, no Django.

Figures are plausible, not official: they shape the synthetic population (surname frequencies,
migrants' home provinces, age pyramids, how large and how old each kind of village is). Changing a
table changes the data every seed produces, so treat edits like a data migration.
"""

from __future__ import annotations

# Surname frequencies in percent. Locals (Zhejiang hukou) follow the Hangzhou pattern (陈 before 王,
# many 沈 金 俞 钱 陆 楼); migrants follow the national ranking (2020 household-registry statistics).
LOCAL_SURNAMES: tuple[tuple[str, float], ...] = (
    ("陈", 6.0), ("王", 5.5), ("张", 4.5), ("李", 3.5), ("徐", 3.0), ("吴", 3.0), ("周", 2.8),
    ("沈", 2.5), ("金", 2.4), ("朱", 2.2), ("杨", 2.0), ("胡", 2.0), ("黄", 1.8), ("陆", 1.6),
    ("俞", 1.6), ("刘", 1.5), ("钱", 1.4), ("孙", 1.4), ("章", 1.3), ("姚", 1.3), ("何", 1.3),
    ("方", 1.2), ("潘", 1.2), ("叶", 1.2), ("赵", 1.2), ("郑", 1.1), ("蒋", 1.1), ("汪", 1.0),
    ("许", 1.0), ("林", 1.0), ("高", 0.9), ("丁", 0.8), ("施", 0.8), ("顾", 0.8), ("严", 0.8),
    ("马", 0.8), ("冯", 0.8), ("余", 0.8), ("戴", 0.7), ("邵", 0.7), ("范", 0.7), ("卢", 0.7),
    ("董", 0.7), ("宋", 0.7), ("傅", 0.6), ("楼", 0.6), ("姜", 0.6), ("夏", 0.6), ("袁", 0.6),
    ("曹", 0.6), ("倪", 0.6), ("唐", 0.6), ("谢", 0.6), ("毛", 0.6), ("应", 0.5), ("韩", 0.5),
    ("盛", 0.5), ("程", 0.5), ("葛", 0.5), ("江", 0.5), ("褚", 0.4), ("骆", 0.4), ("屠", 0.4),
    ("鲍", 0.4), ("裘", 0.3), ("来", 0.3), ("费", 0.3), ("郎", 0.3), ("虞", 0.3), ("闻", 0.2),
    ("卜", 0.2), ("单", 0.2), ("欧阳", 0.05),
)
NATIONAL_SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 7.12), ("李", 7.06), ("张", 6.72), ("刘", 5.38), ("陈", 4.61), ("杨", 3.22), ("黄", 2.45),
    ("赵", 2.29), ("吴", 2.03), ("周", 1.94), ("徐", 1.60), ("孙", 1.52), ("马", 1.44), ("朱", 1.36),
    ("胡", 1.30), ("郭", 1.24), ("何", 1.18), ("林", 1.15), ("高", 1.14), ("罗", 1.07), ("郑", 1.00),
    ("梁", 0.95), ("谢", 0.88), ("宋", 0.84), ("唐", 0.81), ("许", 0.77), ("韩", 0.74), ("邓", 0.72),
    ("冯", 0.72), ("曹", 0.70), ("彭", 0.66), ("曾", 0.63), ("肖", 0.61), ("田", 0.60), ("董", 0.59),
    ("潘", 0.57), ("袁", 0.56), ("蔡", 0.54), ("蒋", 0.53), ("余", 0.52), ("于", 0.51), ("杜", 0.50),
    ("叶", 0.49), ("程", 0.48), ("魏", 0.46), ("苏", 0.45), ("吕", 0.44), ("丁", 0.43), ("任", 0.42),
    ("卢", 0.41), ("姚", 0.40), ("沈", 0.39), ("钟", 0.38), ("姜", 0.37), ("崔", 0.36), ("谭", 0.35),
    ("陆", 0.34), ("范", 0.33), ("汪", 0.33), ("廖", 0.32), ("石", 0.31), ("金", 0.31), ("韦", 0.30),
    ("贾", 0.29), ("夏", 0.28), ("付", 0.28), ("方", 0.27), ("邹", 0.26), ("熊", 0.26), ("白", 0.25),
    ("孟", 0.25), ("秦", 0.24), ("邱", 0.24), ("侯", 0.23), ("江", 0.23), ("尹", 0.22), ("薛", 0.22),
    ("闫", 0.21), ("段", 0.21), ("雷", 0.20), ("龙", 0.20), ("黎", 0.19), ("史", 0.19), ("陶", 0.18),
    ("贺", 0.18), ("毛", 0.17), ("郝", 0.17), ("顾", 0.16), ("龚", 0.16), ("邵", 0.16), ("万", 0.15),
    ("覃", 0.15), ("武", 0.15), ("钱", 0.14), ("戴", 0.14), ("严", 0.14), ("欧阳", 0.05), ("诸葛", 0.01),
)

# Given-name characters by birth cohort and gender: (first characters, second characters).
# A two-character name takes one of each; a one-character name takes a second character only.
GIVEN_NAME_CHARS: dict[tuple[str, str], tuple[str, str]] = {
    ("old", "M"): ("建国志永德明金文海忠华荣林福庆宝兴长关水阿有", "国民华明平强良林生荣根祥富发泉才军成山兴元昌"),
    ("old", "F"): ("秀桂美玉凤月金兰珍菊爱彩翠素月阿雪小巧", "英兰珍芳娟花琴凤梅仙娣妹宝云香娥莲凤珠仙"),
    ("mid", "M"): ("伟建志文海晓国永明小俊立红卫新春学宏", "军勇磊涛斌杰强刚鹏辉超波明峰浩健林东华平"),
    ("mid", "F"): ("丽晓秀海小红春美玉雪金亚月燕", "静敏燕艳娟霞芳红玲婷慧琳萍洁颖倩莉丹英华"),
    ("young", "M"): ("浩子梓俊博文睿泽宇一天家嘉思明煜沐", "宇轩博文睿泽辰逸昊然皓宸铭晨涵航杰豪阳诚"),
    ("young", "F"): ("子梓欣雨思梦诗佳可语若一紫嘉心依", "涵萱怡琪彤妍悦瑶然琳淇桐涵雯琦菲璐欣婷"),
}
ONE_CHAR_NAME_SHARE = {"old": 0.18, "mid": 0.22, "young": 0.08}

# Home provinces of migrants living in Hangzhou (GB/T 2260 prefix, share in percent).
# Taiwan, Hong Kong and Macau (71, 81, 82) are left out: their residents hold other documents.
MIGRANT_PROVINCES: tuple[tuple[str, float], ...] = (
    ("34", 25.0), ("36", 12.0), ("41", 12.0), ("51", 7.0), ("52", 6.0), ("43", 5.0), ("42", 5.0),
    ("32", 5.0), ("37", 4.0), ("53", 3.0), ("45", 3.0), ("50", 3.0), ("35", 2.0), ("62", 2.0),
    ("14", 1.5), ("13", 1.5), ("61", 1.5), ("44", 1.0), ("23", 1.0), ("22", 0.5), ("21", 0.5),
    ("31", 0.5), ("11", 0.3), ("15", 0.3), ("65", 0.2), ("64", 0.2), ("46", 0.2), ("12", 0.2),
    ("63", 0.1), ("54", 0.05),
)

# Age pyramids: weight per 5-year band (0–4, 5–9, …, 100–104), per person of the sub-population.
# "local_urban": Zhejiang hukou in 街道 communities (young talent settling in);
# "local_rural": Zhejiang hukou in villages and the western 镇 (older, children moved away);
# "migrant": non-Zhejiang hukou (working age, some children, few elders).
# The 80+ bands of the local pyramids are rescaled at planning time (see plan.calibrate) so that
# the 高龄津贴 population comes out at the seed's 18,700; the shape below is the starting point.
PYRAMIDS: dict[str, tuple[float, ...]] = {
    "local_urban": (5.0, 6.0, 5.5, 4.5, 5.0, 7.5, 9.5, 9.0, 7.0, 7.0, 7.5, 7.0, 5.0, 4.5, 3.2, 2.2,
                    1.6, 0.9, 0.35, 0.08, 0.01),
    "local_rural": (3.5, 4.5, 4.5, 4.0, 4.5, 5.0, 6.0, 6.5, 6.5, 7.5, 9.0, 9.0, 7.0, 6.5, 4.8, 3.2,
                    2.3, 1.3, 0.5, 0.12, 0.015),
    "migrant": (4.0, 5.0, 3.5, 2.5, 9.0, 13.0, 13.5, 11.0, 9.0, 8.0, 6.5, 4.5, 3.0, 1.8, 1.2, 0.7,
                0.25, 0.12, 0.03, 0.005, 0.0),
}
MAX_AGE = 104

# Township profiles: approximate resident population (persons, before scaling to the 1.3 M total),
# share of non-Zhejiang hukou among residents, and a few road names used for urban addresses.
# 街道 (urban, young, many migrants) versus the 5 western 镇 (rural, older, mostly local).
TOWNSHIPS: dict[str, tuple[int, float, tuple[str, ...]]] = {
    "五常街道": (170_000, 0.52, ("五常大道", "文一西路", "荆长路", "常二路", "荆丰路", "友谊路")),
    "仁和街道": (95_000, 0.40, ("仁和大道", "东西大道", "云会路", "獐山路", "奉口路")),
    "良渚街道": (330_000, 0.48, ("良渚路", "古墩路", "玉鸟路", "杭行路", "通运街", "金昌路")),
    "闲林街道": (140_000, 0.44, ("闲林西路", "闲兴路", "屏峰路", "方家山路", "华丰路")),
    "仓前街道": (175_000, 0.50, ("良睦路", "海曙路", "龙潭路", "仓兴街", "余杭塘路", "高教路")),
    "余杭街道": (160_000, 0.36, ("凤新路", "南渠街", "通济街", "禹航路", "文昌路")),
    "中泰街道": (55_000, 0.32, ("中泰路", "紫荆路", "泰峰路", "南湖路")),
    "径山镇": (52_000, 0.16, ("长乐路", "双溪路", "径山路")),
    "瓶窑镇": (92_000, 0.20, ("凤都路", "杨梅坞路", "窑北路", "瓶窑路")),
    "鸬鸟镇": (12_000, 0.08, ("鸬鸟路", "太公堂路")),
    "百丈镇": (9_000, 0.06, ("百丈路", "溪口路")),
    "黄湖镇": (18_000, 0.10, ("黄湖路", "青山路")),
}
WESTERN_TOWNS = frozenset({"径山镇", "瓶窑镇", "鸬鸟镇", "百丈镇", "黄湖镇"})

# Within a township a 社区 (urban community) holds this many times the people of a 村 (village).
COMMUNITY_VS_VILLAGE = 2.6
# Migrants concentrate in 社区 (rented flats); villages have fewer (rented rooms in village houses).
VILLAGE_MIGRANT_FACTOR = 0.6

# 小区 names are a first part and a suffix; each community gets a few, fixed by its code.
ESTATE_FIRST = (
    "金色", "绿城", "万科", "融创", "龙湖", "桂语", "春风", "江南", "翡翠", "西溪", "未来", "溪岸",
    "景瑞", "和园", "滨江", "华元", "中海", "阳光", "锦绣", "云栖", "北辰", "紫金", "星河", "玉兰",
)
ESTATE_SUFFIX = ("花园", "家园", "苑", "府", "里", "公寓", "新村", "雅苑", "名苑", "城", "湾", "庭")

# Mobile number prefixes in use in China (the eight digits after them are random).
MOBILE_PREFIXES = (
    "134", "135", "136", "137", "138", "139", "147", "150", "151", "152", "157", "158", "159",
    "172", "178", "182", "183", "184", "187", "188", "195", "198", "130", "131", "132", "155",
    "156", "166", "175", "176", "185", "186", "196", "133", "149", "153", "173", "177", "180",
    "181", "189", "190", "191", "193", "199",
)

# Disability categories (China's 2nd sample survey shares, percent) and grades 1 (most severe)–4.
DISABILITY_CATEGORIES: tuple[tuple[str, float], ...] = (
    ("physical", 29.1), ("hearing", 24.2), ("multiple", 16.3), ("visual", 14.9),
    ("mental", 7.4), ("intellectual", 6.7), ("speech", 1.4),
)
DISABILITY_GRADES: tuple[tuple[int, float], ...] = ((1, 12.0), (2, 20.0), (3, 28.0), (4, 40.0))
