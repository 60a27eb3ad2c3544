"""The Simplified Chinese catalogue: complete, compiled, in step with the sources, and shown.

locale/zh_Hans/LC_MESSAGES/django.po is the translation of every msgid the templates and Python
sources mark; django.mo is its compiled form, shipped in the repository so that a checkout
needs no gettext to show Chinese. `make messages` regenerates both.
"""

import ast
import gettext as stdlib_gettext
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation

LOCALE_DIR = Path(settings.BASE_DIR) / "locale"
CATALOGUE_DIR = LOCALE_DIR / "zh_Hans" / "LC_MESSAGES"
PO_FILE = CATALOGUE_DIR / "django.po"
MO_FILE = CATALOGUE_DIR / "django.mo"

MSGFMT = shutil.which("msgfmt") or ""
needs_msgfmt = pytest.mark.skipif(
    not MSGFMT, reason="GNU gettext's msgfmt is not installed (apt-get install gettext)"
)
# makemessages needs xgettext and msgmerge besides msgfmt; they come in the same package.
needs_gettext_tools = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("msgfmt", "xgettext", "msgmerge", "msguniq")),
    reason="GNU gettext (xgettext, msgmerge, msgfmt) is not installed (apt-get install gettext)",
)

# What `make messages` passes to makemessages: the folders whose strings users never see.
MAKEMESSAGES_IGNORES = (".venv", "bench", "tests", "docs")


# --- A small reader for the .po format ---------------------------------------------------


@dataclass
class Entry:
    """One catalogue entry; msgstr holds one string per plural form."""

    msgid: str
    line: int
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False

    def label(self) -> str:
        context = f" [{self.msgctxt}]" if self.msgctxt is not None else ""
        return f"line {self.line}{context}: {self.msgid!r}"


_KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")\s*$')


def read_po(path: Path) -> list[Entry]:
    """Every entry of a .po file, header included (msgid ""), obsolete ones marked."""
    entries: list[Entry] = []
    flags: set[str] = set()
    entry: Entry | None = None
    target: tuple[str, int] | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        obsolete = line.startswith("#~")
        if obsolete:
            line = line[2:].strip()
        if not line:
            if not obsolete:
                entry, target = None, None
            continue
        if line.startswith("#,"):
            flags |= {flag.strip() for flag in line[2:].split(",") if flag.strip()}
            continue
        if line.startswith("#"):
            continue
        match = _KEYWORD.match(line)
        if match:
            keyword, index, literal = match.groups()
            text = ast.literal_eval(literal)
            if entry is None or (keyword in ("msgctxt", "msgid") and entry.msgid != "\0pending"):
                entry = Entry(msgid="\0pending", line=number, flags=flags, obsolete=obsolete)
                entries.append(entry)
                flags = set()
            if keyword == "msgctxt":
                entry.msgctxt, target = text, ("msgctxt", 0)
            elif keyword == "msgid":
                entry.msgid, target = text, ("msgid", 0)
            elif keyword == "msgid_plural":
                entry.msgid_plural, target = text, ("msgid_plural", 0)
            else:
                position = int(index) if index is not None else 0
                entry.msgstr.extend([""] * (position + 1 - len(entry.msgstr)))
                entry.msgstr[position] = text
                target = ("msgstr", position)
            continue
        if line.startswith('"') and entry is not None and target is not None:
            text = ast.literal_eval(line)
            name, position = target
            if name == "msgstr":
                entry.msgstr[position] += text
            else:
                setattr(entry, name, getattr(entry, name) + text)
            continue
        raise AssertionError(f"{path}:{number}: cannot read {raw!r}")
    return entries


def live_entries(path: Path) -> list[Entry]:
    """The entries a catalogue translates: not the header, not obsolete ones."""
    return [entry for entry in read_po(path) if entry.msgid and not entry.obsolete]


def untranslated_or_fuzzy(entries: list[Entry]) -> list[str]:
    return [
        entry.label()
        for entry in entries
        if "fuzzy" in entry.flags or not entry.msgstr or not all(entry.msgstr)
    ]


# Placeholders: %(name)s, %s, %d, %%; and {name} for python-brace-format entries.
_PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[a-zA-Z%]")
_BRACE = re.compile(r"{[^{}]*}")


def placeholders(text: str, flags: set[str]) -> list[str]:
    found = _PERCENT.findall(text) if "python-format" in flags else []
    if "python-brace-format" in flags:
        found += _BRACE.findall(text)
    return sorted(found)


@pytest.fixture(scope="module")
def catalogue() -> list[Entry]:
    assert PO_FILE.is_file(), f"{PO_FILE} is missing: run `make messages`"
    return read_po(PO_FILE)


# --- (1) The catalogue is complete -----------------------------------------------------------


def test_the_catalogue_has_a_zh_hans_header_with_one_plural_form(catalogue) -> None:
    header = catalogue[0]
    assert header.msgid == ""
    assert "fuzzy" not in header.flags, "a fuzzy header is dropped by msgfmt"
    assert "Language: zh_Hans\n" in header.msgstr[0]
    assert "Content-Type: text/plain; charset=UTF-8\n" in header.msgstr[0]
    assert "Plural-Forms: nplurals=1; plural=0;\n" in header.msgstr[0]


def test_every_entry_is_translated_and_none_is_fuzzy(catalogue) -> None:
    entries = [entry for entry in catalogue[1:] if not entry.obsolete]
    assert len(entries) > 500, "the catalogue lost most of its entries"
    assert untranslated_or_fuzzy(entries) == []


def test_translations_are_chinese_with_one_plural_form(catalogue) -> None:
    # CJK ideographs, CJK punctuation (、。) and full-width forms (（）：).
    chinese = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
    wrong = []
    for entry in catalogue[1:]:
        if entry.obsolete:
            continue
        if entry.msgid_plural is not None and len(entry.msgstr) != 1:
            wrong.append(f"{entry.label()}: {len(entry.msgstr)} plural forms, zh has one")
        elif not all(chinese.search(text) for text in entry.msgstr):
            wrong.append(f"{entry.label()}: {entry.msgstr!r} has no Chinese")
    assert wrong == []


def test_translations_keep_every_placeholder(catalogue) -> None:
    wrong = []
    for entry in catalogue[1:]:
        if entry.obsolete:
            continue
        # Chinese has one form, so a plural entry's msgstr follows the plural msgid.
        expected = placeholders(entry.msgid_plural or entry.msgid, entry.flags)
        wrong += [
            f"{entry.label()}: {translated!r} does not keep {expected}"
            for translated in entry.msgstr
            if placeholders(translated, entry.flags) != expected
        ]
    assert wrong == []


@needs_msgfmt
def test_msgfmt_counts_no_untranslated_and_no_fuzzy_message(tmp_path: Path) -> None:
    result = subprocess.run(  # noqa: S603 (msgfmt on the repository's catalogue)
        [MSGFMT, "--check", "--statistics", "-o", str(tmp_path / "check.mo"), str(PO_FILE)],
        capture_output=True,
        text=True,
        env={**os.environ, "LC_ALL": "C"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"\d+ translated messages?\.\n", result.stderr), result.stderr


def test_the_reader_sees_what_is_wrong(tmp_path: Path) -> None:
    """The checks above can fail: an empty msgstr and a fuzzy entry are both reported."""
    sample = tmp_path / "sample.po"
    sample.write_text(
        'msgid ""\nmsgstr "Language: zh_Hans\\n"\n\n'
        '#, python-format\nmsgid "Ends on %(date)s"\nmsgstr ""\n\n'
        '#, fuzzy\nmsgctxt "status"\nmsgid "Active"\nmsgstr "有效"\n\n'
        'msgid "%(n)s line"\nmsgid_plural "%(n)s lines"\nmsgstr[0] ""\n"%(n)s 条"\n\n'
        '#~ msgid "Gone"\n#~ msgstr ""\n',
        encoding="utf-8",
    )
    entries = live_entries(sample)
    assert [(e.msgctxt, e.msgid, e.msgstr) for e in entries] == [
        (None, "Ends on %(date)s", [""]),
        ("status", "Active", ["有效"]),
        (None, "%(n)s line", ["%(n)s 条"]),
    ]
    assert untranslated_or_fuzzy(entries) == [
        "line 5: 'Ends on %(date)s'",
        "line 9 [status]: 'Active'",
    ]
    assert placeholders("%(n)s 条 %s 100%%", {"python-format"}) == ["%%", "%(n)s", "%s"]


# --- (2) The shipped .mo is the compiled .po -----------------------------------------------


def mo_catalogue(path: Path) -> dict[object, str]:
    with path.open("rb") as handle:
        catalogue = stdlib_gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
    # The header's dates change with every regeneration; the messages are what matter.
    return {key: value for key, value in catalogue.items() if key != ""}


@needs_msgfmt
def test_the_shipped_mo_is_the_compiled_po(tmp_path: Path) -> None:
    assert MO_FILE.is_file(), f"{MO_FILE} is missing: run `make messages` and commit it"
    fresh = tmp_path / "django.mo"
    subprocess.run([MSGFMT, "--check", "-o", str(fresh), str(PO_FILE)], check=True)  # noqa: S603
    shipped, compiled = mo_catalogue(MO_FILE), mo_catalogue(fresh)
    stale = sorted(str(key) for key in shipped.keys() ^ compiled.keys())
    changed = sorted(
        str(key) for key in shipped.keys() & compiled.keys() if shipped[key] != compiled[key]
    )
    assert (stale, changed) == ([], []), "django.mo is out of date: run `make messages`"


def test_django_translates_key_strings_from_the_shipped_catalogue() -> None:
    with translation.override("zh-hans"):
        assert translation.gettext("Log in") == "登录"
        assert translation.gettext("HealthCommunity staff admin") == "基层数字健共体工作台"
        assert translation.gettext("per capita") == "按人头付费"
        assert translation.pgettext("monitoring table", "Institution") == "机构"
        assert (
            translation.ngettext(
                "%(count)d bad row was not imported.", "%(count)d bad rows were not imported.", 3
            )
            % {"count": 3}
            == "3 行有误，未导入。"
        )
    with translation.override("en"):
        assert translation.gettext("Log in") == "Log in"


# --- (3) Pages render in Chinese ----------------------------------------------------------

ZH = {"Accept-Language": "zh-hans"}


def visible_text(html: str) -> str:
    """The page's text and attribute values a reader meets, without the markup itself."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    values = " ".join(re.findall(r'(?:title|aria-label|placeholder|alt|value)="([^"]*)"', html))
    return re.sub(r"<[^>]+>", " ", html) + " " + values


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "chinese", "english"),
    [
        (
            "/login/",
            ["登录", "手机号码", "密码", "登录遇到问题？", "基层数字健共体"],
            ["Log in", "Password", "Mobile phone number", "Trouble logging in?"],
        ),
        (
            "/",
            ["社区医疗，服务到家", "居家医疗服务", "随访", "如何获得账号？"],
            [
                "Welcome",
                "Home services",
                "Follow-ups",
                "How do I get an account?",
                "HealthCommunity",
            ],
        ),
    ],
)
def test_public_pages_render_in_chinese(
    client: Client, path: str, chinese: list[str], english: list[str]
) -> None:
    response = client.get(path, headers=ZH)
    assert response.status_code == 200
    assert response.headers["Content-Language"] == "zh-hans"
    text = visible_text(response.content.decode())
    assert [word for word in chinese if word not in text] == []
    assert [word for word in english if word in text] == []


@pytest.mark.django_db
def test_the_same_page_follows_an_english_browser(client: Client) -> None:
    """The Chinese comes from the catalogue, not from the templates."""
    text = visible_text(client.get("/login/", headers={"Accept-Language": "en"}).content.decode())
    assert "Trouble logging in?" in text
    assert "登录遇到问题？" not in text


@pytest.mark.django_db
def test_the_staff_admin_index_renders_in_chinese(staff_user_factory, home_institution) -> None:
    doctor = staff_user_factory(institution=home_institution)
    client = Client()
    client.force_login(doctor)
    response = client.get("/admin/", headers=ZH)
    assert response.status_code == 200
    text = visible_text(response.content.decode())
    assert [w for w in ["基层数字健共体工作台", "登记与档案", "云管理"] if w not in text] == []
    english = ["HealthCommunity staff admin", "Registry and records", "Cloud management"]
    assert [w for w in english if w in text] == []


@pytest.mark.django_db
def test_the_monitoring_dashboard_renders_in_chinese(city_regulator) -> None:
    client = Client()
    client.force_login(city_regulator)
    response = client.get("/dashboards/", headers=ZH)
    assert response.status_code == 200
    text = visible_text(response.content.decode())
    assert [w for w in ["运营监测", "已登记居民", "有效家庭医生签约"] if w not in text] == []
    english = ["Operations monitoring", "Residents registered", "Active family-doctor contracts"]
    assert [w for w in english if w in text] == []


# --- (4) The catalogue is in step with the sources -------------------------------------------

_NOT_SOURCES = shutil.ignore_patterns(
    ".git",
    ".venv",
    "__pycache__",
    "*.pyc",
    "*.sqlite3",
    "node_modules",
    "staticfiles",
    "var",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    *MAKEMESSAGES_IGNORES,
)


PROBE = "A probe msgid that no catalogue translates"


@needs_gettext_tools
def test_makemessages_finds_no_msgid_the_catalogue_lacks(tmp_path: Path) -> None:
    """What `make messages` would add or mark fuzzy is already translated in the catalogue.

    makemessages runs on a copy of the project, so the checkout's catalogue stays as it is;
    a probe msgid added to the copy shows that a missing translation is noticed.
    """
    before = PO_FILE.read_bytes()
    copy = tmp_path / "project"
    shutil.copytree(settings.BASE_DIR, copy, ignore=_NOT_SOURCES)
    (copy / "cloud_management" / "translation_probe.py").write_text(
        f"from django.utils.translation import gettext as _\n\n_({PROBE!r})\n", encoding="utf-8"
    )
    command = [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans"]
    command += [f"--ignore={folder}" for folder in MAKEMESSAGES_IGNORES]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "healthcommunity.settings"}
    env.pop("PYTHONPATH", None)
    result = subprocess.run(  # noqa: S603 (this interpreter, the copied manage.py)
        command, cwd=copy, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert PO_FILE.read_bytes() == before, "makemessages wrote into the checkout, not the copy"

    entries = read_po(copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po")
    missing = untranslated_or_fuzzy([entry for entry in entries[1:] if not entry.obsolete])
    probe = [label for label in missing if PROBE in label]
    assert len(probe) == 1, "makemessages did not run over the copied sources"
    missing.remove(probe[0])
    assert missing == [], "new or changed msgids: run `make messages` and translate them"
