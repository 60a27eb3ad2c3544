"""The home-service catalogue: services from the Tianjin "Internet + nursing" list (天津市
"互联网+护理服务"项目, 2020, 58 items) and the national pilot list (国卫办医函〔2019〕80号),
with the fee in CNY, the insurance category, the duration in minutes, who performs it, who may
book it and, for specimen collection, the exam items the specimen is tested for.
"""

from decimal import Decimal

from django.db import migrations

BEDBOUND = "行动不便、失能或半失能的居家患者，经机构首次评估适合上门服务。"
ELDERLY = "高龄、失能、半失能、出院后康复期或行动不便的居家患者，经机构首次评估适合上门服务。"
SPECIMEN = "病情稳定、需定期复查的居家患者（如器官移植术后、慢病长期随访），有医嘱开具的检验项目。"
MOTHER = "出院回家的产妇和 28 天内的新生儿。"
TUBE = "已留置相应导管、病情稳定的居家患者，经机构首次评估适合上门服务。"
HOSPICE = "经医生确认进入安宁疗护阶段、选择居家照护的患者。"

# code, name, category, fee, insurance category, minutes, performer, eligibility, exam items
CATALOGUE = [
    ("HS-BLD-TAC", "上门静脉采血（他克莫司血药浓度）", "specimen_collection", "60.00", "class_b", 30, "nurse", SPECIMEN, ["TAC"]),
    ("HS-BLD-CSA", "上门静脉采血（环孢素血药浓度）", "specimen_collection", "60.00", "class_b", 30, "nurse", SPECIMEN, ["CSA"]),
    ("HS-BLD-DM", "上门静脉采血（空腹血糖、糖化血红蛋白）", "specimen_collection", "60.00", "class_b", 30, "nurse", SPECIMEN, ["FBG", "HBA1C"]),
    ("HS-BLD-RENAL", "上门静脉采血（肾功能、血钾）", "specimen_collection", "60.00", "class_b", 30, "nurse", SPECIMEN, ["CREA", "K"]),
    ("HS-BLD-LIPID", "上门静脉采血（血脂四项）", "specimen_collection", "60.00", "class_b", 30, "nurse", SPECIMEN, ["TC", "TG", "HDLC", "LDLC"]),
    ("HS-BLD-LIVER", "上门静脉采血（肝功能 ALT）", "specimen_collection", "60.00", "class_b", 30, "nurse", SPECIMEN, ["ALT"]),
    ("HS-URINE", "上门尿标本采集（尿微量白蛋白/肌酐比值）", "specimen_collection", "40.00", "class_b", 20, "nurse", SPECIMEN, ["UACR"]),
    ("HS-GLU", "居家血糖监测（末梢血糖）", "chronic_disease", "50.00", "class_b", 20, "nurse", ELDERLY, []),
    ("HS-INSULIN", "胰岛素注射及注射技术指导", "chronic_disease", "60.00", "self_paid", 30, "nurse", ELDERLY, []),
    ("HS-DMFOOT", "糖尿病足护理", "chronic_disease", "120.00", "self_paid", 45, "nurse", ELDERLY, []),
    ("HS-VITALS", "生命体征监测", "basic_nursing", "40.00", "self_paid", 20, "nurse", ELDERLY, []),
    ("HS-IM", "肌内注射", "basic_nursing", "50.00", "class_a", 20, "nurse", ELDERLY, []),
    ("HS-SC", "皮下注射", "basic_nursing", "50.00", "class_a", 20, "nurse", ELDERLY, []),
    ("HS-FOLEY", "导尿（留置导尿管置管）", "specialist_nursing", "150.00", "class_b", 45, "nurse", BEDBOUND, []),
    ("HS-FOLEY-CARE", "留置导尿管护理", "specialist_nursing", "80.00", "class_b", 30, "nurse", TUBE, []),
    ("HS-BLADDER", "膀胱冲洗", "specialist_nursing", "100.00", "class_b", 40, "nurse", TUBE, []),
    ("HS-NGT", "鼻饲管置管", "specialist_nursing", "150.00", "class_b", 45, "nurse", BEDBOUND, []),
    ("HS-NGT-CARE", "鼻饲管护理及鼻饲", "specialist_nursing", "80.00", "class_b", 30, "nurse", TUBE, []),
    ("HS-PEG-CARE", "胃造瘘管护理", "specialist_nursing", "100.00", "self_paid", 40, "nurse", TUBE, []),
    ("HS-PICC", "PICC 导管维护", "specialist_nursing", "120.00", "class_b", 40, "nurse", TUBE, []),
    ("HS-WOUND", "伤口换药", "specialist_nursing", "80.00", "class_b", 30, "nurse", BEDBOUND, []),
    ("HS-SUTURE", "伤口拆线", "specialist_nursing", "60.00", "class_b", 20, "nurse", BEDBOUND, []),
    ("HS-PU", "压疮（压力性损伤）护理", "specialist_nursing", "120.00", "self_paid", 45, "nurse", BEDBOUND, []),
    ("HS-STOMA", "造口护理", "specialist_nursing", "100.00", "self_paid", 40, "nurse", TUBE, []),
    ("HS-TRACH", "气管切开护理", "specialist_nursing", "120.00", "self_paid", 40, "nurse", TUBE, []),
    ("HS-SUCTION", "经口鼻吸痰", "specialist_nursing", "60.00", "class_b", 20, "nurse", BEDBOUND, []),
    ("HS-ENEMA", "灌肠", "basic_nursing", "80.00", "class_b", 40, "nurse", BEDBOUND, []),
    ("HS-ORAL", "口腔护理", "basic_nursing", "40.00", "self_paid", 20, "nurse", BEDBOUND, []),
    ("HS-NEB", "雾化吸入", "basic_nursing", "40.00", "class_b", 30, "nurse", ELDERLY, []),
    ("HS-PD", "腹膜透析居家护理指导", "specialist_nursing", "100.00", "self_paid", 45, "nurse", TUBE, []),
    ("HS-REHAB-LIMB", "肢体功能康复训练指导", "rehabilitation", "100.00", "self_paid", 45, "nurse", ELDERLY, []),
    ("HS-REHAB-SWALLOW", "吞咽功能训练指导", "rehabilitation", "100.00", "self_paid", 45, "nurse", ELDERLY, []),
    ("HS-FALL", "跌倒风险评估与居家安全指导", "rehabilitation", "60.00", "self_paid", 30, "nurse", ELDERLY, []),
    ("HS-POSTPARTUM", "产后访视（母乳喂养及产后康复指导）", "maternal_infant", "100.00", "self_paid", 60, "nurse", MOTHER, []),
    ("HS-NEWBORN", "新生儿护理（沐浴、脐部护理）", "maternal_infant", "100.00", "self_paid", 60, "nurse", MOTHER, []),
    ("HS-JAUNDICE", "新生儿经皮黄疸监测", "maternal_infant", "50.00", "self_paid", 20, "nurse", MOTHER, []),
    ("HS-MOXA", "艾灸", "tcm_nursing", "60.00", "self_paid", 30, "nurse", ELDERLY, []),
    ("HS-CUPPING", "拔罐", "tcm_nursing", "50.00", "self_paid", 30, "nurse", ELDERLY, []),
    ("HS-ACUPATCH", "穴位贴敷", "tcm_nursing", "50.00", "self_paid", 20, "nurse", ELDERLY, []),
    ("HS-PAIN", "疼痛评估与居家疼痛护理", "hospice", "80.00", "self_paid", 40, "doctor", HOSPICE, []),
]


def seed(apps, schema_editor):
    ServiceItem = apps.get_model("cloud_services", "ServiceItem")
    ExamItem = apps.get_model("cloud_exams", "ExamItem")
    for order, (code, name, category, fee, insurance, minutes, role, eligibility, exams) in enumerate(
        CATALOGUE, start=1
    ):
        item, _created = ServiceItem.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "category": category,
                "fee": Decimal(fee),
                "insurance_category": insurance,
                "duration_minutes": minutes,
                "performing_role": role,
                "eligibility": eligibility,
                "sort_order": order,
                "is_active": True,
            },
        )
        found = list(ExamItem.objects.filter(code__in=exams))
        if len(found) != len(exams):
            raise RuntimeError(f"{code}: exam items {exams} are not all in the exam catalogue.")
        item.exam_items.set(found)


def unseed(apps, schema_editor):
    ServiceItem = apps.get_model("cloud_services", "ServiceItem")
    ServiceItem.objects.filter(code__in=[row[0] for row in CATALOGUE]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("cloud_services", "0001_initial"),
        ("cloud_exams", "0002_seed_catalogue"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
