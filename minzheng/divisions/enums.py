from django.db import models


class Level(models.TextChoices):
    PROVINCE = "province", "省"
    CITY = "city", "市"
    DISTRICT = "district", "区"
    TOWNSHIP = "township", "街道/镇"
    VILLAGE = "village", "社区/村"
