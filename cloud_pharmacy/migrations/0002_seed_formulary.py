"""The formulary for diabetes, hypertension and transplant care, its contraindications and the
drug–drug interaction table.

Doses follow the Chinese package inserts (说明书) and the 2020 Chinese type 2 diabetes guideline;
interactions follow the inserts' interaction sections (clarithromycin and fluconazole as CYP3A4
and CYP2C9 inhibitors, warfarin's bleeding risk). Prices are per dispensing unit, typical of
Tianjin's volume-based procurement (集采) lists.
"""

from decimal import Decimal

from django.db import migrations

# code, generic name, brand, ATC, form, strength, strength unit, unit, price, insurance category,
# max daily dose, controlled, toxic, antimicrobial, pregnancy risk, min age, elderly caution age
DRUGS = [
    ("MET500", "盐酸二甲双胍片", "格华止", "A10BA02", "tablet", "500", "mg", "片", "0.10", "A", "2000", False, False, False, "caution", 10, None),
    ("GLZ30", "格列齐特缓释片", "达美康", "A10BB09", "sr_tablet", "30", "mg", "片", "0.35", "B", "120", False, False, False, "contraindicated", 18, 75),
    ("GLM2", "格列美脲片", "亚莫利", "A10BB12", "tablet", "2", "mg", "片", "0.25", "B", "6", False, False, False, "contraindicated", 18, 75),
    ("ACA50", "阿卡波糖片", "拜唐苹", "A10BF01", "tablet", "50", "mg", "片", "0.18", "B", "300", False, False, False, "caution", 18, None),
    ("SIT100", "磷酸西格列汀片", "捷诺维", "A10BH01", "tablet", "100", "mg", "片", "1.20", "B", "100", False, False, False, "caution", 18, None),
    ("DAP10", "达格列净片", "安达唐", "A10BK01", "tablet", "10", "mg", "片", "1.95", "B", "10", False, False, False, "contraindicated", 18, None),
    ("GLA300", "甘精胰岛素注射液", "来得时", "A10AE04", "pen", "300", "IU", "支", "68.00", "B", "100", False, False, False, "none", 6, None),
    ("ASP300", "门冬胰岛素注射液", "诺和锐", "A10AB05", "pen", "300", "IU", "支", "36.00", "B", "100", False, False, False, "none", 2, None),
    ("AML5", "苯磺酸氨氯地平片", "络活喜", "C08CA01", "tablet", "5", "mg", "片", "0.15", "A", "10", False, False, False, "caution", 6, None),
    ("NIF30", "硝苯地平控释片", "拜新同", "C08CA05", "sr_tablet", "30", "mg", "片", "1.10", "B", "120", False, False, False, "caution", 18, None),
    ("LOS50", "氯沙坦钾片", "科素亚", "C09CA01", "tablet", "50", "mg", "片", "0.30", "B", "100", False, False, False, "contraindicated", 6, None),
    ("ATO20", "阿托伐他汀钙片", "立普妥", "C10AA05", "tablet", "20", "mg", "片", "0.20", "A", "80", False, False, False, "contraindicated", 10, None),
    ("SIM20", "辛伐他汀片", "舒降之", "C10AA01", "tablet", "20", "mg", "片", "0.12", "A", "40", False, False, False, "contraindicated", 10, None),
    ("ASA100", "阿司匹林肠溶片", "拜阿司匹灵", "B01AC06", "tablet", "100", "mg", "片", "0.15", "A", "300", False, False, False, "caution", 16, None),
    ("WAR25", "华法林钠片", "", "B01AA03", "tablet", "2.5", "mg", "片", "0.40", "A", "15", False, False, False, "contraindicated", 18, 75),
    ("TAC1", "他克莫司胶囊", "普乐可复", "L04AD02", "capsule", "1", "mg", "粒", "8.50", "B", "20", False, False, False, "caution", None, None),
    ("MMF250", "吗替麦考酚酯胶囊", "骁悉", "L04AA06", "capsule", "250", "mg", "粒", "2.60", "B", "3000", False, False, False, "contraindicated", None, None),
    ("CLA250", "克拉霉素片", "克拉仙", "J01FA09", "tablet", "250", "mg", "片", "0.90", "B", "1000", False, False, True, "caution", 12, None),
    ("FLU50", "氟康唑胶囊", "大扶康", "J02AC01", "capsule", "50", "mg", "粒", "0.80", "A", "400", False, False, True, "contraindicated", None, None),
    ("LEV500", "左氧氟沙星片", "可乐必妥", "J01MA12", "tablet", "500", "mg", "片", "1.30", "A", "750", False, False, True, "contraindicated", 18, None),
    ("AMX250", "阿莫西林胶囊", "阿莫仙", "J01CA04", "capsule", "250", "mg", "粒", "0.12", "A", "4000", False, False, True, "none", None, None),
    ("TRA100", "盐酸曲马多缓释片", "奇曼丁", "N02AX02", "sr_tablet", "100", "mg", "片", "2.10", "B", "400", True, False, False, "contraindicated", 14, 75),
]

# drug code, ICD-10 prefix, severity, note
DIAGNOSIS_CONTRAINDICATIONS = [
    ("MET500", "N18.5", "block", "慢性肾脏病5期禁用二甲双胍"),
    ("MET500", "K72", "block", "肝功能衰竭禁用二甲双胍"),
    ("MET500", "E87.2", "block", "酸中毒（含乳酸酸中毒）禁用二甲双胍"),
    ("GLZ30", "E10", "block", "1型糖尿病不宜单用磺脲类"),
    ("GLZ30", "K72", "block", "严重肝功能不全禁用磺脲类"),
    ("GLM2", "E10", "block", "1型糖尿病不宜单用磺脲类"),
    ("GLM2", "K72", "block", "严重肝功能不全禁用磺脲类"),
    ("ACA50", "K50", "block", "炎症性肠病禁用阿卡波糖"),
    ("ACA50", "K56", "block", "肠梗阻禁用阿卡波糖"),
    ("SIT100", "K85", "warn", "胰腺炎病史者慎用DPP-4抑制剂"),
    ("DAP10", "E10", "warn", "1型糖尿病使用SGLT2抑制剂有酮症酸中毒风险"),
    ("ATO20", "K72", "block", "活动性肝病禁用他汀类"),
    ("SIM20", "K72", "block", "活动性肝病禁用他汀类"),
    ("ASA100", "K25", "warn", "胃溃疡者慎用阿司匹林"),
    ("ASA100", "K26", "warn", "十二指肠溃疡者慎用阿司匹林"),
    ("ASA100", "D69", "block", "出血性疾病禁用阿司匹林"),
    ("WAR25", "D69", "block", "出血性疾病禁用华法林"),
    ("NIF30", "R57.0", "block", "心源性休克禁用硝苯地平"),
    ("LEV500", "G40", "warn", "癫痫患者慎用喹诺酮类"),
    ("TRA100", "G40", "block", "未控制的癫痫禁用曲马多"),
]

# drug code, lab item, comparator, limit, severity, note
LAB_CONTRAINDICATIONS = [
    ("MET500", "EGFR", "lt", "30", "block", "eGFR<30禁用二甲双胍"),
    ("MET500", "EGFR", "lt", "45", "warn", "eGFR 30–45不宜起始二甲双胍，已用者减量"),
    ("DAP10", "EGFR", "lt", "25", "warn", "eGFR<25不建议起始达格列净"),
    ("ACA50", "EGFR", "lt", "25", "block", "严重肾功能损害（eGFR<25）禁用阿卡波糖"),
    ("GLM2", "EGFR", "lt", "30", "warn", "eGFR<30时格列美脲低血糖风险增加"),
    ("LOS50", "K", "gt", "5.5", "warn", "高钾血症时慎用ARB"),
    ("ATO20", "ALT", "gt", "120", "warn", "转氨酶超过正常上限3倍时停用他汀"),
    ("SIM20", "ALT", "gt", "120", "warn", "转氨酶超过正常上限3倍时停用他汀"),
    ("TAC1", "TAC", "gt", "15", "warn", "他克莫司谷浓度偏高，注意肾毒性"),
]

# ATC a, ATC b (a < b), severity, effect, source
INTERACTIONS = [
    ("J01FA09", "L04AD02", "block", "克拉霉素强效抑制CYP3A4，他克莫司血药浓度显著升高，致肾毒性", "普乐可复说明书"),
    ("J02AC01", "L04AD02", "warn", "氟康唑抑制CYP3A4，他克莫司浓度升高，需监测谷浓度并减量", "普乐可复说明书"),
    ("C10AA05", "J01FA09", "warn", "克拉霉素升高阿托伐他汀暴露，横纹肌溶解风险；阿托伐他汀不超过20mg", "立普妥说明书"),
    ("C10AA01", "J01FA09", "block", "克拉霉素与辛伐他汀合用禁忌（横纹肌溶解）", "舒降之说明书"),
    ("C10AA05", "J02AC01", "warn", "氟康唑抑制他汀代谢，肌病风险增加", "大扶康说明书"),
    ("B01AA03", "B01AC06", "warn", "华法林与阿司匹林合用出血风险增加", "华法林说明书"),
    ("B01AA03", "J02AC01", "warn", "氟康唑抑制CYP2C9，INR升高", "大扶康说明书"),
    ("B01AA03", "J01FA09", "warn", "克拉霉素增强华法林抗凝作用，INR升高", "克拉仙说明书"),
    ("B01AA03", "J01MA12", "warn", "左氧氟沙星增强华法林作用，出血风险", "可乐必妥说明书"),
    ("A10BB09", "J02AC01", "warn", "氟康唑抑制磺脲类代谢，低血糖风险", "大扶康说明书"),
    ("A10BB12", "J02AC01", "warn", "氟康唑抑制CYP2C9，格列美脲低血糖风险", "亚莫利说明书"),
    ("A10BB09", "J01MA12", "warn", "喹诺酮类与磺脲类合用可致血糖紊乱", "可乐必妥说明书"),
    ("A10BB12", "J01MA12", "warn", "喹诺酮类与磺脲类合用可致血糖紊乱", "可乐必妥说明书"),
    ("C08CA01", "J01FA09", "warn", "克拉霉素升高钙通道阻滞剂浓度，低血压和急性肾损伤风险", "克拉仙说明书"),
    ("C08CA05", "J01FA09", "warn", "克拉霉素升高硝苯地平浓度，低血压风险", "拜新同说明书"),
    ("C08CA05", "L04AD02", "info", "硝苯地平可升高他克莫司浓度，需监测谷浓度", "普乐可复说明书"),
    ("C09CA01", "L04AD02", "info", "他克莫司与ARB合用高钾血症风险", "普乐可复说明书"),
    ("C08CA01", "C10AA01", "info", "氨氯地平升高辛伐他汀暴露，辛伐他汀不超过20mg", "舒降之说明书"),
    ("B01AC06", "L04AA06", "info", "大剂量水杨酸可升高霉酚酸游离浓度", "骁悉说明书"),
    ("J01FA09", "N02AX02", "warn", "克拉霉素抑制曲马多代谢，血清素综合征和呼吸抑制风险", "奇曼丁说明书"),
]


def seed(apps, schema_editor):
    Drug = apps.get_model("cloud_pharmacy", "Drug")
    Contraindication = apps.get_model("cloud_pharmacy", "Contraindication")
    Interaction = apps.get_model("cloud_pharmacy", "Interaction")
    drugs = {}
    for row in DRUGS:
        (code, generic, brand, atc, form, strength, strength_unit, unit, price, category,
         max_daily, controlled, toxic, antimicrobial, pregnancy, min_age, elderly) = row
        drugs[code], _ = Drug.objects.update_or_create(
            code=code,
            defaults={
                "generic_name": generic,
                "brand_name": brand,
                "atc_code": atc,
                "form": form,
                "strength": Decimal(strength),
                "strength_unit": strength_unit,
                "unit": unit,
                "price": Decimal(price),
                "insurance_category": category,
                "max_daily_dose": Decimal(max_daily),
                "is_controlled": controlled,
                "is_toxic": toxic,
                "is_antimicrobial": antimicrobial,
                "pregnancy_risk": pregnancy,
                "min_age_years": min_age,
                "elderly_caution_age": elderly,
            },
        )
    for code, prefix, severity, note in DIAGNOSIS_CONTRAINDICATIONS:
        Contraindication.objects.get_or_create(
            drug=drugs[code], kind="diagnosis", icd10_prefix=prefix,
            defaults={"severity": severity, "note": note},
        )
    for code, item, comparator, limit, severity, note in LAB_CONTRAINDICATIONS:
        Contraindication.objects.get_or_create(
            drug=drugs[code], kind="lab", lab_item_code=item, comparator=comparator,
            limit=Decimal(limit), defaults={"severity": severity, "note": note},
        )
    for atc_a, atc_b, severity, effect, source in INTERACTIONS:
        Interaction.objects.update_or_create(
            atc_a=atc_a, atc_b=atc_b,
            defaults={"severity": severity, "effect": effect, "source": source},
        )


class Migration(migrations.Migration):
    dependencies = [("cloud_pharmacy", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
