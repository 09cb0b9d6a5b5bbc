from minzheng.core.choices import LabelledEnum


class Level(LabelledEnum):
    PROVINCE = "province", "省"
    CITY = "city", "市"
    DISTRICT = "district", "区"
    TOWNSHIP = "township", "街道/镇"
    VILLAGE = "village", "社区/村"
