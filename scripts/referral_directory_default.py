# ruff: noqa: E501 (the TOML text it writes has long lines)
"""Write journalist_app/data/referral_directory.toml, the default referral directory.

Built from the project's Moroccan reference data (shared/data/morocco/: territories.csv
and courts.md, copied as journalist_app/data/territories.csv): each prefecture or
province is given the court of appeal whose first-instance seats lie in it (courts.md
§3, an HCP lookup, indicative only), and each court of appeal its prosecutor (§2) and
the regional judicial police brigade of its area (§4, the 2016 BRPJ areas, an
inference). Rows the sources leave open are tagged ``unverified`` with the reason.
No entry has a key: the unit adds each partner's OpenPGP key and fingerprint, then
imports the file (``iblagh-officer referral directory import``).

Run from the repository root: ``.venv/bin/python scripts/referral_directory_default.py``.
"""

import csv
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TERRITORIES = ROOT / "journalist_app" / "data" / "territories.csv"
OUT = ROOT / "journalist_app" / "data" / "referral_directory.toml"
SOURCE = "shared/data/morocco/courts.md"

# Court of appeal id -> (French name, Arabic name) as courts.md §3 lists them.
COURTS = {
    "rabat": ("Rabat", "بالرباط"),
    "kenitra": ("Kénitra", "بالقنيطرة"),
    "casablanca": ("Casablanca", "بالدار البيضاء"),
    "el-jadida": ("El Jadida", "بالجديدة"),
    "settat": ("Settat", "بسطات"),
    "fes": ("Fès", "بفاس"),
    "taza": ("Taza", "بتازة"),
    "meknes": ("Meknès", "بمكناس"),
    "marrakech": ("Marrakech", "بمراكش"),
    "safi": ("Safi", "بآسفي"),
    "ouarzazate": ("Ouarzazate", "بورزازات"),
    "errachidia": ("Errachidia", "بالرشيدية"),
    "beni-mellal": ("Béni Mellal", "ببني ملال"),
    "khouribga": ("Khouribga", "بخريبكة"),
    "agadir": ("Agadir", "بأكادير"),
    "guelmim": ("Guelmim", "بكلميم"),
    "laayoune": ("Laâyoune", "بالعيون"),
    "tanger": ("Tanger", "بطنجة"),
    "tetouan": ("Tétouan", "بتطوان"),
    "oujda": ("Oujda", "بوجدة"),
    "nador": ("Nador", "بالناظور"),
    "al-hoceima": ("Al Hoceima", "بالحسيمة"),
}

# Territory code -> court of appeal (courts.md §3: where each court's TPI seats lie).
# A code not listed there is mapped to its neighbour and tagged unverified, with why.
COURT_OF = {
    "01.511": "tanger",
    "01.573": "tetouan",
    "01.571": "tetouan",
    "01.227": "tanger",
    "01.331": "tanger",
    "01.051": "al-hoceima",
    "01.151": "tetouan",
    "01.405": "tetouan",
    "02.411": "oujda",
    "02.381": "nador",
    "02.167": "nador",
    "02.275": "oujda",
    "02.113": "oujda",
    "02.533": "oujda",
    "02.265": "taza",
    "02.251": "oujda",
    "03.231": "fes",
    "03.061": "meknes",
    "03.171": "meknes",
    "03.271": "meknes",
    "03.591": "fes",
    "03.451": "fes",
    "03.131": "fes",
    "03.531": "fes",
    "03.561": "taza",
    "04.421": "rabat",
    "04.441": "rabat",
    "04.501": "rabat",
    "04.281": "kenitra",
    "04.291": "rabat",
    "04.481": "kenitra",
    "04.491": "kenitra",
    "05.091": "beni-mellal",
    "05.081": "beni-mellal",
    "05.255": "beni-mellal",
    "05.301": "beni-mellal",
    "05.311": "khouribga",
    "06.141": "casablanca",
    "06.371": "casablanca",
    "06.181": "el-jadida",
    "06.385": "casablanca",
    "06.355": "casablanca",
    "06.111": "casablanca",
    "06.117": "settat",
    "06.461": "settat",
    "06.467": "el-jadida",
    "07.351": "marrakech",
    "07.161": "marrakech",
    "07.041": "marrakech",
    "07.191": "marrakech",
    "07.211": "safi",
    "07.427": "marrakech",
    "07.431": "safi",
    "07.585": "safi",
    "08.201": "errachidia",
    "08.401": "ouarzazate",
    "08.363": "errachidia",
    "08.577": "ouarzazate",
    "08.587": "ouarzazate",
    "09.001": "agadir",
    "09.273": "agadir",
    "09.163": "agadir",
    "09.541": "agadir",
    "09.581": "agadir",
    "09.551": "agadir",
    "10.261": "guelmim",
    "10.071": "guelmim",
    "10.521": "guelmim",
    "10.473": "guelmim",
    "11.321": "laayoune",
    "11.121": "laayoune",
    "11.537": "laayoune",
    "11.221": "laayoune",
    "12.391": "laayoune",
    "12.066": "laayoune",
}
UNVERIFIED = {
    "01.227": "No TPI seat in Fahs-Anjra; its court is UNVERIFIED (courts.md §3).",
    "03.591": "No TPI seat in Moulay Yacoub; its court is UNVERIFIED (courts.md §3).",
    "06.385": "No TPI seat in Nouaceur; which court covers it is UNVERIFIED (courts.md §3).",
    "06.355": "No TPI seat in Médiouna; which court covers it is UNVERIFIED (courts.md §3).",
    "11.537": "No TPI seat in Tarfaya; a 'centre judiciaire' is reported (courts.md §3).",
    "12.391": "The Dakhla court of appeal (decree 2.22.61) may not be running: the "
    "Laâyoune PGR was seen at the Dakhla TPI (courts.md §1). Check before use.",
    "12.066": "Resident judge at Bir Gandouz; court as for Oued Ed-Dahab (courts.md §1).",
}

# The 2016 BRPJ areas (courts.md §4, huffpost), read as court-of-appeal ressorts: an
# inference of the source's author. Guelmim (created 2017 from Agadir's ressort) is put
# with Marrakech, which holds Agadir and Laâyoune: unverified.
BRIGADES = {
    "rabat": ("Rabat", "بالرباط", ["rabat", "kenitra", "tanger", "tetouan"]),
    "casablanca": (
        "Casablanca",
        "بالدار البيضاء",
        ["casablanca", "settat", "el-jadida", "khouribga", "beni-mellal"],
    ),
    "fes": (
        "Fès",
        "بفاس",
        ["fes", "oujda", "errachidia", "meknes", "taza", "al-hoceima", "nador"],
    ),
    "marrakech": (
        "Marrakech",
        "بمراكش",
        ["marrakech", "safi", "ouarzazate", "agadir", "laayoune", "guelmim"],
    ),
}


def q(value: object) -> str:
    """A TOML value: JSON's string and array syntax is valid TOML."""
    return json.dumps(value, ensure_ascii=False)


def main() -> None:
    with TERRITORIES.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    codes = [row["hcp_unit_code"] for row in rows]
    missing = sorted(set(codes) - set(COURT_OF))
    if missing:
        raise SystemExit(f"no court of appeal for {missing}")
    lines = [HEADER.strip(), ""]
    lines += ["# --- Courts of appeal and their territories (indicative: courts.md §3) ---", ""]
    for court, (fr, ar) in COURTS.items():
        territories = [c for c in codes if COURT_OF[c] == court]
        doubtful = [c for c in territories if c in UNVERIFIED]
        lines += [
            "[[court]]",
            f"id = {q('ca-' + court)}",
            f"name_fr = {q(f'Cour d’appel de {fr}')}",
            f"name_ar = {q(f'محكمة الاستئناف {ar}')}",
            f"territories = {q(territories)}",
            'confidence = "indicative"',
        ]
        if doubtful:
            pairs = ", ".join(f"{q(c)} = {q(UNVERIFIED[c])}" for c in doubtful)
            lines.append(f"unverified = {{ {pairs} }}")
        lines += [f"source = {q(SOURCE + ' §3')}", ""]
    lines += ["# --- Prosecutors (courts.md §2): the PGR of each court of appeal ---", ""]
    for court, (fr, ar) in COURTS.items():
        lines += [
            "[[prosecutor]]",
            f"id = {q('pgr-' + court)}",
            f"name_fr = {q(f'Procureur général du Roi près la Cour d’appel de {fr}')}",
            f"name_ar = {q(f'الوكيل العام للملك لدى محكمة الاستئناف {ar}')}",
            f"court = {q('ca-' + court)}",
            'languages = ["ar", "fr"]',
            'contact = ""',
            'fingerprint = ""',
            'key = ""',
            'confidence = "indicative"',
            f"source = {q(SOURCE + ' §2, §3')}",
            "",
        ]
    lines += [PROSECUTOR_TERRORISM.strip(), ""]
    lines += ["# --- Judicial police (courts.md §4) ---", ""]
    for brigade, (fr, ar, courts) in BRIGADES.items():
        lines += [
            "[[police]]",
            f"id = {q('brpj-' + brigade)}",
            f"name_fr = {q(f'Brigade régionale de la police judiciaire de {fr}')}",
            f"name_ar = {q(f'الفرقة الجهوية للشرطة القضائية {ar}')}",
            f"courts = {q(['ca-' + c for c in courts])}",
            'languages = ["ar", "fr"]',
            'contact = ""',
            'fingerprint = ""',
            'key = ""',
            'confidence = "inference"',
            f"source = {q(SOURCE + ' §4 (2016 BRPJ areas; read as court ressorts)')}",
        ]
        if brigade == "marrakech":
            lines.append(
                'unverified = { "ca-guelmim" = "Guelmim (2017) is not in the 2016 list; '
                'put with Marrakech, which holds Agadir and Laâyoune." }'
            )
        lines.append("")
    lines += [TAIL.strip(), ""]
    OUT.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(codes)} territories, {len(COURTS)} courts")


HEADER = """
# The referral directory (docs/referral.md): who receives a case, by territory and
# category, with each partner's OpenPGP key. DATA, not code: the unit edits this file
# and imports it with `iblagh-officer referral directory import --officer NAME FILE`.
# Every key is checked on import and again before every use (expired, revoked, or not
# the fingerprint written here: refused).
#
# Default built by scripts/referral_directory_default.py from the project's Moroccan
# reference data (territories.csv, courts.md). Confidence tags follow courts.md:
# "verified" (official or several concordant sources), "indicative" (court-to-province
# links from an HCP lookup of court seats, not the legal ressort), "inference" (the
# compiler's reading of a source), "unverified" (an open question; the reason is given).
# The directory has no key yet: a packet cannot be sent until the unit adds them.

version = 1
country = "MA"

[unit]
# The sending unit, as the packets and notices name it (never an officer's name).
name_fr = "Unité nationale de signalement des contenus illicites en ligne"
name_ar = "الوحدة الوطنية للتبليغ عن المحتوى غير المشروع على الإنترنت"
signing_role_fr = "Cellule des renvois (signature de l’unité)"
signing_role_ar = "خلية الإحالات (توقيع الوحدة)"
# The e-mail address in the unit's OpenPGP key (no host name of the officer host).
key_email = "referrals@unit.invalid"

# Competence rules, first match wins. "by-territory" means: the court of appeal whose
# territories hold the case's territory, its prosecutor, and the police entry whose
# courts include that court.
[[rule]]
id = "terrorism-central"
categories = ["terrorism"]
police = "bnpj"
prosecutor = "pgr-rabat-terrorism"
basis_fr = "Loi 03-03, art. 7 et loi 38.15, art. 67 : compétence nationale de la Cour d’appel de Rabat (annexe de Salé) pour le terrorisme."
basis_ar = "القانون 03-03، المادة 7، والقانون 38.15، المادة 67: اختصاص وطني لمحكمة الاستئناف بالرباط (ملحقة سلا) في قضايا الإرهاب."
confidence = "verified"
source = "shared/data/morocco/courts.md §2 (Offences handled centrally)"

[[rule]]
id = "territorial"
categories = ["*"]
police = "by-territory"
prosecutor = "by-territory"
basis_fr = "Compétence territoriale : parquet général de la cour d’appel du lieu (CPP art. 16–17) ; ressorts indicatifs."
basis_ar = "الاختصاص الترابي: النيابة العامة لدى محكمة الاستئناف المختصة مكانيا (المادتان 16 و17 من ق.م.ج)؛ الدوائر على سبيل الاستئناس."
confidence = "indicative"
source = "shared/data/morocco/courts.md §2, §3, §6"
"""

PROSECUTOR_TERRORISM = """
[[prosecutor]]
id = "pgr-rabat-terrorism"
name_fr = "Procureur général du Roi près la Cour d’appel de Rabat — section antiterroriste (annexe de Salé)"
name_ar = "الوكيل العام للملك لدى محكمة الاستئناف بالرباط — قسم الإرهاب (ملحقة سلا)"
court = "ca-rabat"
languages = ["ar", "fr"]
contact = ""
fingerprint = ""
key = ""
confidence = "verified"
source = "shared/data/morocco/courts.md §2 (terrorism goes to the Cour d’appel de Rabat, Salé annex)"
"""

TAIL = """
[[police]]
id = "bnpj"
name_fr = "Brigade nationale de la police judiciaire (BNPJ), Casablanca"
name_ar = "الفرقة الوطنية للشرطة القضائية، الدار البيضاء"
# National: reached through the rules, not by territory.
courts = []
languages = ["ar", "fr"]
contact = ""
fingerprint = ""
key = ""
confidence = "verified"
source = "shared/data/morocco/courts.md §4 (BNPJ offices: cybercrime, terrorism)"

# --- Proposed legal qualifications: the officer picks one; the dossier names it ---
# UNVERIFIED: article numbers from the Moroccan Penal Code as commonly cited; the unit's
# legal adviser confirms or corrects each before use. gravity: "crime" or "delit".

[[qualification]]
id = "terrorism-apology"
categories = ["terrorism"]
gravity = "delit"
label_fr = "Apologie d’actes de terrorisme (Code pénal, art. 218-2)"
label_ar = "الإشادة بأفعال إرهابية (القانون الجنائي، الفصل 218-2)"

[[qualification]]
id = "terrorism-incitement"
categories = ["terrorism"]
gravity = "crime"
label_fr = "Incitation à commettre des actes de terrorisme (Code pénal, art. 218-5)"
label_ar = "التحريض على ارتكاب أفعال إرهابية (القانون الجنائي، الفصل 218-5)"

[[qualification]]
id = "child-sexual-abuse-material"
categories = ["child_abuse"]
gravity = "crime"
label_fr = "Pornographie mettant en scène des mineurs (Code pénal, art. 503-2)"
label_ar = "استغلال الأطفال في المواد الإباحية (القانون الجنائي، الفصل 503-2)"

[[qualification]]
id = "intimate-images"
categories = ["sextortion"]
gravity = "delit"
label_fr = "Diffusion d’images privées sans consentement (Code pénal, art. 447-1 et 447-2)"
label_ar = "بث صور خاصة دون موافقة (القانون الجنائي، الفصلان 447-1 و447-2)"

[[qualification]]
id = "extortion"
categories = ["sextortion", "fraud"]
gravity = "crime"
label_fr = "Extorsion (Code pénal, art. 538)"
label_ar = "الابتزاز (القانون الجنائي، الفصل 538)"

[[qualification]]
id = "threats"
categories = ["incitement", "threat_to_life"]
gravity = "delit"
label_fr = "Menaces (Code pénal, art. 425 à 429)"
label_ar = "التهديد (القانون الجنائي، الفصول 425 إلى 429)"

[[qualification]]
id = "discrimination-hate"
categories = ["hate", "incitement"]
gravity = "delit"
label_fr = "Incitation à la discrimination ou à la haine (Code pénal, art. 431-1 à 431-5)"
label_ar = "التحريض على التمييز أو الكراهية (القانون الجنائي، الفصول 431-1 إلى 431-5)"

[[qualification]]
id = "fraud"
categories = ["fraud"]
gravity = "delit"
label_fr = "Escroquerie (Code pénal, art. 540)"
label_ar = "النصب (القانون الجنائي، الفصل 540)"

[[qualification]]
id = "other"
categories = ["*"]
gravity = "delit"
label_fr = "Autre infraction : à qualifier par le parquet"
label_ar = "جريمة أخرى: يعود تكييفها للنيابة العامة"

# --- Deadlines (hours), per category and step: the unit's policy, not the law ---
# refer: from the case's reception to the packet sent; acknowledge: from the packet sent
# to the receiving unit's signed acknowledgement. "default" covers any other category.
[deadlines.default]
refer = 120
acknowledge = 72

[deadlines.terrorism]
refer = 6
acknowledge = 24

[deadlines.threat_to_life]
refer = 2
acknowledge = 12

[deadlines.child_abuse]
refer = 12
acknowledge = 24

[deadlines.sextortion]
refer = 48
acknowledge = 48

[deadlines.incitement]
refer = 48
acknowledge = 48
"""

if __name__ == "__main__":
    main()
