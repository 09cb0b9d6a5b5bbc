"""Places, identifiers and phones the people tests share."""

from __future__ import annotations

from minzheng.core.identifiers import check_digit

DISTRICT = "330110000000"
WUCHANG = "330110005000"  # 五常街道
COMMUNITY_A = "330110005001"  # 顾家桥社区
COMMUNITY_B = "330110005002"  # 沿山河社区
LIANGZHU = "330110010000"  # 良渚街道


def make_id(birth: str = "19500101", seq: int = 901) -> str:
    """A valid ID number in the synthetic space (city code 99 does not exist)."""
    first17 = f"339901{birth}{seq:03d}"
    return first17 + check_digit(first17)


ID_A = make_id("19500307", 91)
ID_B = make_id("19480512", 92)
PHONE_A = "13800001111"
PHONE_B = "13900002222"
ADDRESS_B = "五常街道沿山河路18号3幢2单元501室"
