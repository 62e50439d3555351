"""A deterministic, synthetic national-scale graph in our ontology, for benchmarks and parity tests.

Every entity is fictitious and says so: IRIs start with kgd:synth-, English labels end in
"(synthetic)", and every entity cites a synthetic source article. The shape of the graph
follows the bundled data (provinces contain cities contain industrial complexes, zones and
sites; projects sit on sites, get grants from several funding levels that sum to their
total budget; plans have strategies, tasks and targets), so every named query has answers.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from kg import progress

HEADER = """\
# Synthetic battery-kg graph (kg synth): fictitious entities for benchmarks and tests, not facts.
@prefix kg:   <https://w3id.org/battery-kg/ontology#> .
@prefix kgd:  <https://w3id.org/battery-kg/id/> .
@prefix kgc:  <https://w3id.org/battery-kg/concept/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd:  <http://www.w3.org/2001/XMLSchema#> .
"""

STAGES = [
    "raw-materials", "precursor", "cathode-material", "anode-material", "electrolyte", "separator",
    "cell", "module-pack", "end-use-ev", "end-use-ess", "used-battery", "recycling",
]  # fmt: skip
STAGE_KO = [
    "원료",
    "전구체",
    "양극재",
    "음극재",
    "전해질",
    "분리막",
    "셀",
    "모듈·팩",
    "전기차",
    "ESS",
    "사용후배터리",
    "재활용",
]
TECH = ["all-solid-state-battery", "leading-battery-technology", "materials-and-minerals", "used-batteries"]
LEVELS = [("national", "국비"), ("provincial", "도비"), ("municipal", "시비"), ("private", "민자")]
ORG_KINDS = [("ResearchInstitute", "연구원"), ("University", "대학교"), ("Technopark", "테크노파크")]
EVENTS = [("Conference", "컨퍼런스"), ("Event", "행사")]
SYLLABLES = ["han", "seo", "dong", "nam", "buk", "san", "gang", "won", "jin", "pyeong", "an", "cheon", "ju", "yang"]
KO_SYLLABLES = ["한", "서", "동", "남", "북", "산", "강", "원", "진", "평", "안", "천", "주", "양"]


class _Writer:
    """Turtle, one triple per line, counting as it goes."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.count = 0

    def add(self, s: str, p: str, o: str) -> None:
        self.lines.append(f"{s} {p} {o} .")
        self.count += 1

    def entity(self, iri: str, cls: str, en: str, ko: str, source: str) -> None:
        self.add(iri, "a", cls)
        self.add(iri, "rdfs:label", _en(f"{en} (synthetic)"))
        self.add(iri, "rdfs:label", _ko(ko))
        self.add(iri, "kg:source", source)

    def money(self, subject: str, prop: str, node: str, won: int, source: str) -> None:
        """A sum of money, with the source that gives it (one figure, one source)."""
        self.add(subject, prop, node)
        self.add(node, "a", "kg:MonetaryAmount")
        self.add(node, "kg:value", f'"{won}"^^xsd:decimal')
        self.add(node, "kg:currency", '"KRW"')
        self.add(node, "kg:source", source)


def _en(text: str) -> str:
    return '"' + text.replace('"', "'") + '"@en'


def _ko(text: str) -> str:
    return '"' + text + '"@ko'


def _date(rng: random.Random, year0: int = 2020) -> str:
    return f'"{rng.randint(year0, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"^^xsd:date'


def synth(triples: int, seed: int = 0) -> str:
    """Turtle text of at least `triples` triples (whole regions are added until it is reached)."""
    with progress.step("generating triples", total=triples) as bar:
        parts = []
        for chunk in _chunks(triples, seed):
            parts.append(f"{chunk}\n")
            bar.advance(chunk.count("\n") + 1)
    return "".join(parts)


def _chunks(target: int, seed: int) -> Iterator[str]:
    rng = random.Random(seed)
    out = _Writer()
    yield HEADER
    country = "kgd:synth-country"
    media = "kgd:synth-media"
    source = "kgd:synth-article-0"
    out.entity(country, "kg:Country", "Synthetic country", "가상 국가", source)
    out.add(country, "kg:iso3166Code", '"KR"')
    out.entity(media, "kg:MediaOrganisation", "Synthetic news agency", "가상 통신사", source)
    ministry = "kgd:synth-ministry"
    out.entity(ministry, "kg:Ministry", "Synthetic ministry of industry", "가상 산업부", source)
    out.add(ministry, "kg:areaServed", country)
    _article(out, rng, 0, media)
    articles = 0
    province_no = 0
    while True:
        province_no += 1
        p = f"kgd:synth-province-{province_no}"
        # One article per province: headline, publisher, date, language.
        articles += 1
        source = _article(out, rng, articles, media)
        name = _name(rng, province_no)
        out.entity(p, "kg:Province", f"{name[0].title()} Province", f"{name[1]}도", source)
        out.add(p, "kg:containedInPlace", country)
        out.add(p, "kg:iso3166Code", f'"KR-{province_no:02d}"')
        pgov = f"{p}-government"
        out.entity(
            pgov, "kg:ProvincialGovernment", f"{name[0].title()} Provincial Government", f"{name[1]}도청", source
        )
        out.add(pgov, "kg:areaServed", p)
        for city_no in range(1, rng.randint(3, 6) + 1):
            _city(out, rng, p, pgov, ministry, f"{p}-city-{city_no}", source)
        # A second article on the province's plan, disagreeing on its investment.
        articles += 1
        _plan(out, rng, p, pgov, source, _article(out, rng, articles, media))
        if out.count >= target:
            break
        if len(out.lines) > 50_000:
            yield "\n".join(out.lines)
            out.lines = []
    yield "\n".join(out.lines)


def _article(out: _Writer, rng: random.Random, number: int, media: str) -> str:
    """A synthetic source: headline, publisher, date and language, as SHACL asks of every source."""
    source = f"kgd:synth-article-{number}"
    out.add(source, "a", "kg:NewsArticle")
    out.add(source, "rdfs:label", _en(f"Synthetic article {number}"))
    out.add(source, "rdfs:label", _ko(f"가상 기사 {number}"))
    out.add(source, "kg:headline", _ko(f"가상 기사 제목 {number}"))
    out.add(source, "kg:publisher", media)
    out.add(source, "kg:datePublished", _date(rng))
    out.add(source, "kg:url", f'"https://news.example/synth/{number}"^^xsd:anyURI')
    out.add(source, "kg:trustLevel", "kgc:trust-news")
    out.add(source, "kg:inLanguage", '"ko"')
    return source


def _name(rng: random.Random, salt: int) -> tuple[str, str]:
    picks = [rng.randrange(len(SYLLABLES)) for _ in range(2)]
    return "".join(SYLLABLES[i] for i in picks) + f"-{salt}", "".join(KO_SYLLABLES[i] for i in picks) + str(salt)


def _city(out: _Writer, rng: random.Random, province: str, pgov: str, ministry: str, c: str, source: str) -> None:
    name = _name(rng, int(c.rsplit("-", 1)[1]))
    out.entity(c, "kg:City", f"{name[0].title()} City", f"{name[1]}시", source)
    out.add(c, "kg:containedInPlace", province)
    out.add(c, "kg:latitude", f"{rng.uniform(33, 38.5):.5f}")
    out.add(c, "kg:longitude", f"{rng.uniform(124.5, 130):.5f}")
    cgov = f"{c}-government"
    out.entity(cgov, "kg:CityGovernment", f"{name[0].title()} City Government", f"{name[1]}시청", source)
    out.add(cgov, "kg:areaServed", c)
    complex_ = f"{c}-complex"
    out.entity(complex_, "kg:IndustrialComplex", f"{name[0].title()} Industrial Complex", f"{name[1]} 산업단지", source)
    out.add(complex_, "kg:containedInPlace", province)
    zone = f"{complex_}-zone-1"
    out.entity(
        zone,
        "kg:IndustrialComplexZone",
        f"{name[0].title()} Industrial Complex, Zone 1",
        f"{name[1]} 산업단지 1공구",
        source,
    )
    out.add(zone, "kg:containedInPlace", complex_)
    out.add(zone, "kg:containedInPlace", c)
    sites = []
    for site_no in range(1, 3):
        site = f"{zone}-site-{site_no}"
        out.entity(
            site, "kg:Site", f"Site {site_no}, {name[0].title()} Zone 1", f"{name[1]} 1공구 부지 {site_no}", source
        )
        out.add(site, "kg:containedInPlace", zone)
        sites.append(site)
    orgs = []
    for kind, ko in ORG_KINDS:
        org = f"{c}-{kind.lower()}"
        out.entity(org, f"kg:{kind}", f"{name[0].title()} {kind}", f"{name[1]} {ko}", source)
        out.add(org, "kg:areaServed", c)
        orgs.append(org)
    unit = f"{c}-technopark-battery-unit"
    out.entity(
        unit,
        "kg:OrganisationalUnit",
        f"{name[0].title()} Technopark battery unit",
        f"{name[1]} 테크노파크 이차전지사업단",
        source,
    )
    out.add(unit, "kg:unitOf", orgs[2])
    # Companies per value-chain stage; a city covers some stages, never all (so gaps exist).
    covered = sorted(rng.sample(range(len(STAGES)), rng.randint(3, 8)))
    companies = []
    for i in covered:
        co = f"{c}-company-{STAGES[i]}"
        out.entity(co, "kg:Company", f"{name[0].title()} {STAGES[i]} company", f"{name[1]} {STAGE_KO[i]} 기업", source)
        out.add(co, "kg:location", rng.choice(sites))
        out.add(co, "kg:activeInStage", f"kgc:stage-{STAGES[i]}")
        companies.append(co)
    for project_no in range(1, rng.randint(2, 4) + 1):
        _project(
            out, rng, f"{c}-project-{project_no}", (ministry, pgov, cgov), companies, orgs, unit, sites, covered, source
        )
    for event_no, (kind, ko) in enumerate(EVENTS, start=1):
        ev = f"{c}-event-{event_no}"
        out.entity(ev, f"kg:{kind}", f"{name[0].title()} battery {kind.lower()}", f"{name[1]} 이차전지 {ko}", source)
        day = rng.randint(1, 27)
        out.add(ev, "kg:startDate", f'"2025-{rng.randint(1, 12):02d}-{day:02d}"^^xsd:date')
        out.add(ev, "kg:organizer", cgov)
        out.add(ev, "kg:about", c)


def _project(out, rng, pr, funders, companies, orgs, unit, sites, covered, source) -> None:
    ministry, pgov, cgov = funders
    kind = rng.choice(["kg:Project", "kg:Programme"])
    number = pr.rsplit("-", 1)[1]
    out.entity(pr, kind, f"Synthetic battery project {pr[4:]}", f"가상 이차전지 사업 {number}", source)
    out.add(pr, "kg:runBy", cgov)
    out.add(pr, "kg:runBy", pgov)
    out.add(pr, "kg:executedBy", rng.choice([unit, *orgs]))
    out.add(pr, "kg:selectedBy", ministry)
    out.add(pr, "kg:budgetSecuredBy", cgov)
    out.add(pr, "kg:location", rng.choice(sites))
    out.add(pr, "kg:selectionDate", f'"{rng.randint(2019, 2025)}-{rng.randint(1, 12):02d}"^^xsd:gYearMonth')
    out.add(pr, "kg:endDate", f'"{rng.randint(2026, 2032)}"^^xsd:gYear')
    for stage in sorted(rng.sample(covered, min(len(covered), rng.randint(1, 3)))):
        out.add(pr, "kg:supportsStage", f"kgc:stage-{STAGES[stage]}")
    out.add(pr, "kg:technologyField", f"kgc:tech-{rng.choice(TECH)}")
    for participant in rng.sample(companies, min(2, len(companies))):
        out.add(pr, "kg:participant", participant)
    # Grants from several levels, summing exactly to the total budget (in units of 100 million won).
    shares = [rng.randint(10, 200) * 100_000_000 for _ in LEVELS]
    levels = LEVELS if rng.random() < 0.5 else LEVELS[:3]
    total = sum(shares[: len(levels)])
    out.money(pr, "kg:totalBudget", f"_:{pr[4:]}-total", total, source)
    for (level, ko), won in zip(levels, shares, strict=False):
        fc = f"{pr}-{level}"
        out.entity(
            fc,
            "kg:FundingContribution",
            f"Synthetic {level} funding of project {number}",
            f"가상 사업 {number} {ko}",
            source,
        )
        out.add(pr, "kg:funding", fc)
        out.add(fc, "kg:fundingLevel", f"kgc:level-{level}")
        funder = {"national": ministry, "provincial": pgov, "municipal": cgov}.get(level)
        if funder:
            out.add(fc, "kg:funder", funder)
        out.money(fc, "kg:amount", f"_:{fc[4:]}-amount", won, source)


def _plan(out: _Writer, rng: random.Random, province: str, pgov: str, source: str, other: str) -> None:
    """A province's plan: strategies, tasks, targets, and its planned investment as two sources give it
    (`source` and `other`, a different figure), tied by a conflict record."""
    plan = f"{province}-plan"
    out.entity(plan, "kg:Plan", "Synthetic battery industry plan", "가상 이차전지 산업 육성계획", source)
    out.add(plan, "kg:establishedBy", pgov)
    figures = []
    for n, (cited, hundred_millions) in enumerate([(source, rng.randint(10, 500)), (other, rng.randint(501, 900))]):
        figure = f"_:{plan[4:]}-investment-{n + 1}"
        out.money(plan, "kg:plannedInvestment", figure, hundred_millions * 100_000_000, cited)
        figures.append(figure)
    conflict = f"{plan}-investment-conflict"
    out.entity(conflict, "kg:Conflict", "Synthetic plan's investment", "가상 계획 투자액", source)
    out.add(conflict, "kg:source", other)
    out.add(conflict, "kg:conflictCode", f'"C{province.rsplit("-", 1)[1]}"')
    for figure in figures:
        out.add(conflict, "kg:claim", figure)
    out.add(plan, "kg:startDate", f'"{rng.randint(2023, 2026)}"^^xsd:gYear')
    for s_no in range(1, 4):
        strategy = f"{plan}-strategy-{s_no}"
        out.entity(strategy, "kg:Strategy", f"Strategy {s_no}", f"전략 {s_no}", source)
        out.add(strategy, "kg:ordinal", str(s_no))
        out.add(strategy, "kg:partOf", plan)
        for t_no in range(1, 3):
            task = f"{strategy}-task-{t_no}"
            out.entity(task, "kg:Task", f"Task {s_no}.{t_no}", f"과제 {s_no}-{t_no}", source)
            out.add(task, "kg:partOf", strategy)
    for t_no, (unit, ko) in enumerate([("companies", "기업"), ("KRW", "원")], start=1):
        target = f"{plan}-target-{t_no}"
        out.entity(target, "kg:TargetIndicator", f"Synthetic target {t_no}", f"가상 목표 {t_no} ({ko})", source)
        value = rng.randint(5, 50) if unit == "companies" else rng.randint(1, 500) * 10_000_000_000
        out.add(target, "kg:value", f'"{value}"^^xsd:decimal' if unit == "KRW" else str(value))
        out.add(target, "kg:unitText", f'"{unit}"')
        out.add(target, "kg:targetYear", f'"{rng.choice([2028, 2030, 2035])}"^^xsd:gYear')
        out.add(plan, "kg:hasTarget", target)
