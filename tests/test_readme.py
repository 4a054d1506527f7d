"""The README says only true things about the repository: every file, module, name and target it
cites exists, it stays short (the long material lives in docs/), and it states no test count that
would go stale. The test command it shows is checked against CI in tests/test_dry_runs.py, its
figure list against the registry in tests/test_targets.py."""

import importlib
import re
from pathlib import Path

import pytest
import yaml

from conftest import SCHEMA
from glassynets import config
from glassynets.targets import Targets

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MAX_LINES = 150

#: Top-level entries a cited path may start with: the repository's own, not what a run makes.
MADE_BY_RUNS = {"results", "resources", ".venv", ".snakemake", ".git"}
#: snakemake options followed by one value that is not a target.
VALUE_OPTIONS = {"--cores", "-j", "--jobs", "--profile", "--sdm", "--report", "--forcerun"}
VALUE_OPTIONS |= {"--resources", "--directory", "-s", "--snakefile", "--config"}
#: File name endings that make `a.b` a file name rather than a package module's name.
FILE_ENDINGS = {"py", "yaml", "md", "smk", "rst", "toml", "json", "csv", "png", "pdf", "parquet"}
#: A count of tests ("247 tests", "410 passed", "5 GPU tests").
TEST_COUNT = re.compile(r"\b\d[\d,]* (?:\w+ )?(?:tests|passed|skipped)\b")


def readme_text() -> str:
    return README.read_text()


def inline_spans(text: str) -> list[str]:
    """The inline code spans of the text (fenced blocks left out)."""
    prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.findall(r"`([^`\n]+)`", prose)


def slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    heading = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return heading.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {slug(h) for h in re.findall(r"^#+ (.+)$", path.read_text(), re.M)}


def missing_paths(text: str, source: Path = README) -> list[str]:
    """Paths in code spans (from the repository's root) and link targets (from ``source``'s
    folder) that name nothing in the repository, and links to headings that do not exist."""
    top = {p.name for p in ROOT.iterdir()} - MADE_BY_RUNS
    missing = []
    for span in inline_spans(text):
        for word in span.split():
            word = word.strip(",;:()'\"")
            first = word.split("/")[0]
            bare_module = re.fullmatch(r"\w+\.py", word)
            if first in MADE_BY_RUNS or not (first in top and "/" in word or bare_module):
                continue
            pattern = re.sub(r"<[^>]+>", "*", word).split("…")[0].rstrip("/")
            where = [ROOT, ROOT / "glassynets"] if bare_module else [ROOT]
            if not any(list(w.glob(pattern)) for w in where):
                missing.append(word)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+://", target):
            continue
        path, _, anchor = target.partition("#")
        file = (source.parent / path) if path else source
        if not file.exists():
            missing.append(target)
        elif anchor and (file.suffix != ".md" or anchor not in anchors(file)):
            missing.append(target)
    return missing


def marked(text: str) -> tuple[str, list[str]]:
    """The prose with each inline code span replaced by a marker ``\\x00<i>\\x01``, and the spans."""
    spans: list[str] = []

    def mark(match: re.Match) -> str:
        spans.append(match[1])
        return f"\x00{len(spans) - 1}\x01"

    prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`([^`\n]+)`", mark, prose), spans


SPAN = r"\x00(\d+)\x01"


def is_file_name(span: str) -> bool:
    return "/" in span or span.rsplit(".", 1)[-1] in FILE_ENDINGS


def schema_has(key: str, node: dict | None = None) -> bool:
    """Whether the config schema has the dotted key (``<name>``: any key at that level)."""
    schema = yaml.safe_load(SCHEMA.read_text())
    node = schema if node is None else node
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].split("/")[-1]]
    if not key:
        return True
    part, _, rest = key.partition(".")
    children = node.get("properties", {})
    if part.startswith("<"):
        options = list(children.values())
        if isinstance(node.get("additionalProperties"), dict):
            options.append(node["additionalProperties"])
        return any(schema_has(rest, child) for child in options)
    return part in children and schema_has(rest, children[part])


def config_key_of(span: str) -> str | None:
    """The config key a span names (`ljat19.source: regenerate`, `<dataset>.mirrors`), if any."""
    key = span.split(":")[0].strip()
    if not re.fullmatch(r"[a-z_<>0-9]+(\.[a-z_<>0-9]+)+", key):
        return None
    top = yaml.safe_load(SCHEMA.read_text())["properties"]
    return key if key.split(".")[0] in {*top, "<dataset>"} else None


def missing_names(text: str) -> list[str]:
    """Names cited beside the file that holds them (`NAME` (`path`), `path` (`NAME`, …),
    `NAME` [entry] in `path`), dotted `module.name` of the package, `glassynets.name` and dotted
    config keys, that the file, the package or the config schema does not have."""
    prose, spans = marked(text)
    cited: list[tuple[str, str]] = []
    for pattern in (rf"{SPAN} \({SPAN}\)", rf"{SPAN}(?: \w+)? in {SPAN}"):
        for a, b in re.findall(pattern, prose):
            cited.append((spans[int(a)], spans[int(b)]))
    for a, inside in re.findall(rf"{SPAN} \(([^()]*)\)", prose):
        cited += [(spans[int(b)], spans[int(a)]) for b in re.findall(SPAN, inside)]
    missing = []
    for name, path in cited:
        if not re.fullmatch(r"[A-Za-z_]\w*", name) or not is_file_name(path):
            continue
        if (ROOT / path).is_dir():
            continue
        file = ROOT / path
        if not file.is_file() or not re.search(rf"\b{name}\b", file.read_text()):
            missing.append(f"{name} in {path}")
    for span in spans:
        key = config_key_of(span)
        dotted = re.fullmatch(r"(\w+)\.(\w+)", span)
        module = dotted and ROOT / "glassynets" / f"{dotted[1]}.py"
        if dotted and dotted[2] not in FILE_ENDINGS and module.is_file():
            attribute = rf"^\s*(def |class )?{dotted[2]}\b|\bself\.{dotted[2]} ="
            if not re.search(attribute, module.read_text(), re.M) and not (key and schema_has(key)):
                missing.append(span)
        elif key and not schema_has(key):
            missing.append(span)
        if re.fullmatch(r"glassynets(\.\w+)+", span):
            thing = importlib.import_module("glassynets")
            for part in span.split(".")[1:]:
                try:
                    thing = getattr(thing, part)
                except AttributeError:
                    try:
                        thing = importlib.import_module(f"{thing.__name__}.{part}")
                    except (ImportError, AttributeError):
                        missing.append(span)
                        break
    return missing


def table_rows(text: str, header: str) -> list[list[str]]:
    """The cells of the rows of the Markdown table whose header row starts with ``header``."""
    lines = text.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def missing_modules(text: str) -> list[str]:
    """Names of the module table that are not modules (or subpackages) of the package."""
    rows = table_rows(text, "| module (`glassynets/`)")
    names = [n for row in rows for n in re.findall(r"`(\w+)`", row[0])]
    assert names, "no module table in the README"
    package = ROOT / "glassynets"
    return [
        n
        for n in names
        if not ((package / f"{n}.py").is_file() or (package / n / "__init__.py").is_file())
    ]


def snakemake_targets(text: str) -> list[str]:
    """The targets (rule names or files) of every snakemake command the README shows."""
    commands = []
    for chunk in [*inline_spans(text), *re.findall(r"^```bash\n(.*?)^```", text, re.S | re.M)]:
        commands += re.findall(r"(?:^|&& |\s)snakemake((?: [^`&;|#\n]+)?)", chunk, re.M)
    targets = []
    for command in commands:
        words = command.split()
        i = 0
        while i < len(words):
            word = words[i]
            if word == "--configfile":
                i += 1
                while i < len(words) and not words[i].startswith("-"):
                    i += 1  # files, checked by the path test
                continue
            if word in VALUE_OPTIONS:
                i += 2
                continue
            if not word.startswith("-"):
                targets.append(word)
            i += 1
    # Rule names cited alone, as in the scorecard row.
    targets += [s for s in inline_spans(text) if re.fullmatch(r"(fig[A-Z]?\d\w*|scorecard\w*)", s)]
    return targets


@pytest.fixture(scope="module")
def workflow_names():
    """Every rule name and every file target of the paper config."""
    rules = set()
    for smk in [ROOT / "Snakefile", *(ROOT / "workflow/rules").glob("*.smk")]:
        source = smk.read_text()
        rules |= set(re.findall(r"^rule (\w+):", source, re.M))
        rules |= set(re.findall(r"^use rule \w+ as (\w+)", source, re.M))
    targets = Targets(config.check_files([ROOT / "config.yaml"], SCHEMA))
    rules |= {f + (f"_{v}" if v else "") for f, v in targets.figure_variants()}
    rules |= {"scorecard", *(f"scorecard_{d}" for d in targets.datasets)}
    return rules, set(targets.targets(None)) | {
        t for d in targets.datasets for t in targets.targets(d)
    }


def test_readme_is_at_most_150_lines():
    n = len(readme_text().splitlines())
    assert n <= MAX_LINES, f"README.md has {n} lines: move the long material to docs/"


def test_every_path_and_link_of_the_readme_exists():
    assert missing_paths(readme_text()) == []


@pytest.mark.parametrize("page", sorted(p.name for p in (ROOT / "docs").glob("*.md")))
def test_every_link_of_the_docs_pages_exists(page):
    """What moved from the README to docs/ kept its links working."""
    source = ROOT / "docs" / page
    links = "\n".join(re.findall(r"\[[^\]]*\]\([^)\s]+\)", source.read_text()))
    assert missing_paths(links, source) == []


def test_every_module_of_the_readme_exists():
    assert missing_modules(readme_text()) == []


def test_every_name_the_readme_cites_with_its_file_exists_there():
    assert missing_names(readme_text()) == []


def test_every_snakemake_target_of_the_readme_is_a_rule_or_a_file_of_the_workflow(workflow_names):
    rules, files = workflow_names
    targets = snakemake_targets(readme_text())
    assert "ljat19" in targets and "figB2_ljat19" in targets  # the parser sees the commands
    unknown = [t for t in targets if t not in rules and t not in files]
    assert unknown == [], f"README cites snakemake targets that do not exist: {unknown}"


def test_readme_states_no_test_count():
    """Counts of tests go stale with every new test; docs/tests.md says how to count them."""
    counts = TEST_COUNT.findall(readme_text())
    assert counts == [], f"README states a test count: {counts}"


def test_the_checks_catch_what_they_are_for(workflow_names):
    """Each check fails on a README that cites what does not exist."""
    rules, files = workflow_names
    assert missing_paths("see `glassynets/nowhere.py` and `tests/config/none.yaml`") == [
        "glassynets/nowhere.py",
        "tests/config/none.yaml",
    ]
    assert missing_paths("[x](docs/none.md), [y](docs/cluster.md#no-such-heading)") == [
        "docs/none.md",
        "docs/cluster.md#no-such-heading",
    ]
    assert missing_paths("`workflow/report/<name>.rst`, `glassynets/figures.py`, `ck.py`") == []
    assert missing_names("`FIGURE_EXPERIMENTS` in `workflow/rules/common.smk`") != []
    assert missing_names("`glassynets/storage.py` (`SCHEMAS`, `NO_SUCH_TABLE`)") == [
        "NO_SUCH_TABLE in glassynets/storage.py"
    ]
    assert missing_names("`settings.nothing`, `glassynets.NoRecorder`") == [
        "settings.nothing",
        "glassynets.NoRecorder",
    ]
    assert missing_names("`settings.train`, `glassynets.AgingRecorder`") == []
    assert (
        missing_names("`ljat19.source: regenerate`, `<dataset>.mirrors`, `scorecard.tti_mu`") == []
    )
    assert missing_names("`ljat19.sauce`, `<dataset>.mirror`") == [
        "ljat19.sauce",
        "<dataset>.mirror",
    ]
    assert missing_modules("| module (`glassynets/`) | x |\n|---|---|\n| `aging`, `nope` | y |\n")
    assert snakemake_targets("`snakemake --cores 2 figZ9 --configfile a.yaml b.yaml`") == ["figZ9"]
    assert "figZ9" not in rules
    assert TEST_COUNT.findall("runs 247 tests; 410 passed and 5 GPU tests skipped") == [
        "247 tests",
        "410 passed",
        "5 GPU tests",
    ]
