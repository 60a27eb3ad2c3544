"""The exam catalogue the platform starts with (ISSUE 4): codes, names, LOINC codes where one
exists, units in SI as Chinese laboratories report them, reference intervals and critical
limits, and default prices (CNY) an operator may change in the admin.

Sources of the limits:
- glucose: 3.9-6.1 mmol/L fasting (全国临床检验操作规程 第4版); 2-hour plasma glucose < 7.8
  mmol/L normal tolerance (中国2型糖尿病防治指南 2020年版);
- HbA1c 4.0-6.0 % (全国临床检验操作规程 第4版);
- lipids: the "appropriate" levels of 中国血脂管理指南 (2023): TC < 5.2, TG < 1.7, LDL-C < 3.4,
  HDL-C >= 1.0 mmol/L;
- creatinine (enzymatic), ALT (without pyridoxal phosphate) and potassium: the adult reference
  intervals of WS/T 404.5-2015, WS/T 404.1-2012 and WS/T 404.3-2012, by sex and age where the
  standard divides them;
- eGFR >= 90 mL/min/1.73 m² (KDIGO 2012 category G1); urine albumin/creatinine < 30 mg/g
  (KDIGO category A1);
- tacrolimus trough 5.0-15.0 ng/mL, cyclosporine trough 100-400 ng/mL (whole blood, the usual
  maintenance ranges of transplant laboratories);
- critical limits: glucose < 2.8 or > 22.2 mmol/L, potassium < 2.8 or > 6.2 mmol/L,
  creatinine > 707 µmol/L, tacrolimus > 20 ng/mL, as hospital critical-value lists commonly set.
"""

from decimal import Decimal

from django.db import migrations

D = Decimal

# code, name, LOINC, specimen, result type, unit, decimal places, price, insurance, calculated
ITEMS = [
    ("FBG", "空腹血糖", "14771-0", "plasma", "numeric", "mmol/L", 1, "6.00", "covered", False),
    ("PG2H", "餐后2小时血糖", "", "plasma", "numeric", "mmol/L", 1, "6.00", "covered", False),
    ("HBA1C", "糖化血红蛋白", "4548-4", "whole_blood", "numeric", "%", 1, "60.00", "covered", False),
    ("TC", "总胆固醇", "14647-2", "serum", "numeric", "mmol/L", 2, "5.00", "covered", False),
    ("TG", "甘油三酯", "14927-8", "serum", "numeric", "mmol/L", 2, "5.00", "covered", False),
    ("HDLC", "高密度脂蛋白胆固醇", "14646-4", "serum", "numeric", "mmol/L", 2, "8.00", "covered", False),
    ("LDLC", "低密度脂蛋白胆固醇", "22748-8", "serum", "numeric", "mmol/L", 2, "8.00", "covered", False),
    ("CREA", "肌酐", "14682-9", "serum", "numeric", "µmol/L", 0, "5.00", "covered", False),
    (
        "EGFR",
        "估算肾小球滤过率（CKD-EPI 2021）",
        "98979-8",
        "serum",
        "numeric",
        "mL/min/1.73m²",
        0,
        "0.00",
        "covered",
        True,
    ),
    ("UACR", "尿微量白蛋白/肌酐比值", "9318-7", "urine", "numeric", "mg/g", 1, "25.00", "covered", False),
    ("ALT", "丙氨酸氨基转移酶", "1742-6", "serum", "numeric", "U/L", 0, "4.00", "covered", False),
    ("K", "血钾", "2823-3", "serum", "numeric", "mmol/L", 2, "3.00", "covered", False),
    (
        "TAC",
        "他克莫司血药浓度（谷浓度）",
        "11253-2",
        "whole_blood",
        "numeric",
        "ng/mL",
        1,
        "180.00",
        "covered",
        False,
    ),
    (
        "CSA",
        "环孢素血药浓度（谷浓度）",
        "3520-4",
        "whole_blood",
        "numeric",
        "ng/mL",
        0,
        "150.00",
        "covered",
        False,
    ),
    ("ECG", "常规心电图检查（十二导联）", "11524-6", "none", "finding", "", 0, "25.00", "covered", False),
    ("FUNDUS", "眼底照相（糖尿病视网膜病变筛查）", "104212-6", "none", "finding", "", 0, "50.00", "self_paid", False),
]

# code, sex, age from, age below, low, high, critical low, critical high, source
RANGES = [
    ("FBG", "", 18, None, "3.9", "6.1", "2.8", "22.2", "全国临床检验操作规程 第4版"),
    ("PG2H", "", 18, None, None, "7.8", "2.8", "22.2", "中国2型糖尿病防治指南 2020年版"),
    ("HBA1C", "", 18, None, "4.0", "6.0", None, None, "全国临床检验操作规程 第4版"),
    ("TC", "", 18, None, None, "5.2", None, None, "中国血脂管理指南 2023"),
    ("TG", "", 18, None, None, "1.7", None, None, "中国血脂管理指南 2023"),
    ("HDLC", "", 18, None, "1.0", None, None, None, "中国血脂管理指南 2023"),
    ("LDLC", "", 18, None, None, "3.4", None, None, "中国血脂管理指南 2023"),
    ("CREA", "M", 20, 60, "57", "97", None, "707", "WS/T 404.5-2015"),
    ("CREA", "M", 60, None, "57", "111", None, "707", "WS/T 404.5-2015"),
    ("CREA", "F", 20, 60, "41", "73", None, "707", "WS/T 404.5-2015"),
    ("CREA", "F", 60, None, "41", "81", None, "707", "WS/T 404.5-2015"),
    ("EGFR", "", 18, None, "90", None, None, None, "KDIGO 2012 G1"),
    ("UACR", "", 18, None, None, "30", None, None, "KDIGO 2012 A1"),
    ("ALT", "M", 20, None, "9", "50", None, None, "WS/T 404.1-2012"),
    ("ALT", "F", 20, None, "7", "40", None, None, "WS/T 404.1-2012"),
    ("K", "", 18, None, "3.5", "5.3", "2.8", "6.2", "WS/T 404.3-2012"),
    ("TAC", "", 18, None, "5.0", "15.0", None, "20.0", "transplant maintenance trough range"),
    ("CSA", "", 18, None, "100", "400", None, None, "transplant maintenance trough range"),
]


def _decimal(text):
    return None if text is None else D(text)


def seed(apps, schema_editor):
    ExamItem = apps.get_model("cloud_exams", "ExamItem")
    ReferenceRange = apps.get_model("cloud_exams", "ReferenceRange")
    items = {}
    for code, name, loinc, specimen, result_type, unit, places, price, category, calc in ITEMS:
        item, _created = ExamItem.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "loinc_code": loinc,
                "specimen_type": specimen,
                "result_type": result_type,
                "unit": unit,
                "decimal_places": places,
                "price": D(price),
                "insurance_category": category,
                "is_calculated": calc,
                "is_active": True,
            },
        )
        items[code] = item
    for code, sex, age_from, age_to, low, high, crit_low, crit_high, source in RANGES:
        ReferenceRange.objects.update_or_create(
            item=items[code],
            sex=sex,
            age_from_years=age_from,
            defaults={
                "age_to_years": age_to,
                "low": _decimal(low),
                "high": _decimal(high),
                "critical_low": _decimal(crit_low),
                "critical_high": _decimal(crit_high),
                "source": source,
            },
        )


def unseed(apps, schema_editor):
    ExamItem = apps.get_model("cloud_exams", "ExamItem")
    ExamItem.objects.filter(code__in=[row[0] for row in ITEMS]).delete()


class Migration(migrations.Migration):
    dependencies = [("cloud_exams", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
