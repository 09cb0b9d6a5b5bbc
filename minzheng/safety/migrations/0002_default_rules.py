"""The rules in force from the start, as data with their sources (eldercare.md §2.2, §3.2)."""

from datetime import date

from django.db import migrations

RULES = [
    ("sos", "critical", {}, "杭州安居守护“3+X”: 主动呼叫即时告警"),
    ("fall", "critical", {}, "定位手表跌倒检测: 即时告警"),
    ("smoke", "critical", {}, "烟感报警器: 即时告警"),
    ("gas", "critical", {}, "燃气报警器: 即时告警"),
    ("inactivity", "major",
     {"inactivity_hours": 4.0, "waking_start": "07:00", "waking_end": "22:00", "learn_window_days": 28,
      "learn_min_days": 7, "learn_margin": 1.3, "learn_pad_minutes": 25, "learn_min_minutes": 45,
      "learn_lookahead_hours": 1,
      "learn_max_minutes": 840, "exit_confirm_minutes": 15, "sensor_alive_minutes": 75},
     "临安: 红外4–5小时无人经过告警; 个人基线阈值: Cuddihy et al. 2007 (学习所得最长正常静默)"),
    ("night_exit", "major", {"night_start": "22:30", "night_end": "05:00", "night_return_minutes": 30},
     "合肥安居苑: 夜间频繁开门告警(参数为提议值)"),
    ("wander", "major", {"geofence_radius_m": 1000, "geofence_grace_minutes": 10}, "北京防走失手环: 离开安全区域告警"),
    ("water_none", "minor", {"water_none_hours": 12}, "上海江苏路、深圳龙岗: 12小时用水<0.01立方米告警"),
    ("water_leak", "minor", {"water_flow_hours": 6, "water_slot_minutes": 30},
     "深圳龙岗: 每半小时均有用水视为疑似漏水(龙岗为24小时, 此处6小时为提议值)"),
    ("device_offline", "warning", {"offline_minutes": 180, "low_battery_pct": 10, "battery_ok_pct": 20},
     "设备离线、低电量(<10%)报修"),
]


def forwards(apps, schema_editor):
    AlarmRule = apps.get_model("safety", "AlarmRule")
    for alarm_type, severity, params, source in RULES:
        AlarmRule.objects.get_or_create(
            alarm_type=alarm_type, effective_from=date(2024, 1, 1),
            defaults={"severity": severity, "params": params, "source": source, "enabled": True},
        )


def backwards(apps, schema_editor):
    apps.get_model("safety", "AlarmRule").objects.filter(effective_from=date(2024, 1, 1)).delete()


class Migration(migrations.Migration):
    dependencies = [("safety", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
